"""Every simulation parameter is documented in docs/simulation.md (STYLE.md section 11)."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from pydantic import BaseModel

from ssctrial.simulate import SimulationParameters

DOC = Path(__file__).resolve().parents[2] / "docs" / "simulation.md"


# distribution-shaped models whose fields (mean, sd, min, max, ...) are described once
_GENERIC = ("Normal", "LogNormal", "Range", "Responders", "StratumRule")


def _models(annotation):
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models(arg)


def _leaves(model: type[BaseModel], prefix: str = ""):
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        yield path
        for sub in _models(field.annotation):
            if sub.__module__.startswith("ssctrial.simulate") and sub.__name__ not in _GENERIC:
                yield from _leaves(sub, f"{path}.")


def test_every_parameter_is_documented():
    text = re.sub(r"```.*?```", "", DOC.read_text(encoding="utf-8"), flags=re.S)
    code_spans = " ".join(re.findall(r"`([^`]+)`", text))
    missing = [p for p in _leaves(SimulationParameters) if p.split(".")[-1] not in code_spans]
    assert not missing, f"parameters missing from docs/simulation.md: {missing}"
