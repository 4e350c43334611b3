"""Load and validate a study file (YAML) into a :class:`StudyDesign`."""

from __future__ import annotations

import hashlib
import logging
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ssctrial.design._models import _CROSS_MARK, StudyDesign
from ssctrial.exceptions import InputError, NotFoundError

__all__ = ["list_studies", "load_study", "study_file_hash", "validate_study"]

logger = logging.getLogger(__name__)

_PACKAGED = "ssctrial.design.studies"


def list_studies() -> list[str]:
    """Return the names of the study files shipped with ssctrial (``["basics"]``)."""
    folder = resources.files(_PACKAGED)
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def _resolve(path_or_name: str | Path) -> tuple[str, str]:
    """Return ``(source description, YAML text)`` for a path or a packaged study name."""
    path = Path(path_or_name)
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            msg = f"study file {str(path)!r} does not exist"
            raise NotFoundError(msg)
        return str(path), path.read_text(encoding="utf-8")
    name = str(path_or_name).lower()
    resource = resources.files(_PACKAGED) / f"{name}.yaml"
    if not resource.is_file():
        msg = (
            f"unknown study {str(path_or_name)!r}: not a file, and not a packaged study "
            f"(packaged: {', '.join(list_studies())})"
        )
        raise NotFoundError(msg)
    return f"packaged study {name!r}", resource.read_text(encoding="utf-8")


def load_study(path_or_name: str | Path, *, check_instruments: bool = True) -> StudyDesign:
    """Load a study definition from a YAML file or a packaged study name.

    Parameters
    ----------
    path_or_name
        Path of a ``.yaml`` study file, or the name of a packaged study (``"basics"``).
    check_instruments
        Check that every instrument named in the visit schedule and the endpoints is in
        the instrument registry (when the registry can be imported).

    Returns
    -------
    StudyDesign
        The validated study.

    Raises
    ------
    InputError
        The file breaks the schema: the message has one line per wrong field, each starting
        with the field's YAML path (``arms[2].ratio: must be a positive integer, got -1``).
    NotFoundError
        No such file or packaged study.

    Examples
    --------
    >>> from ssctrial.design import load_study
    >>> design = load_study("basics", check_instruments=False)
    >>> design.arm_codes
    ['BARI4', 'BARI2', 'CTRL']
    """
    source, text = _resolve(path_or_name)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        msg = f"{source}: not valid YAML: {exc}"
        raise InputError(msg) from None
    design = validate_study(data, source=source, check_instruments=check_instruments)
    logger.debug("loaded %s (%s)", design.study_id, source)
    return design


def validate_study(data: Any, *, source: str = "study", check_instruments: bool = True) -> StudyDesign:
    """Validate a parsed study mapping (as read from YAML) into a :class:`StudyDesign`.

    Every problem is reported, one per line, with its YAML path; see :func:`load_study`.
    """
    if not isinstance(data, dict):
        msg = f"{source}: a study file must be a YAML mapping (key: value), got {type(data).__name__}"
        raise InputError(msg)
    try:
        return StudyDesign.model_validate(data, context={"check_instruments": check_instruments})
    except ValidationError as exc:
        lines = _format_errors(exc)
        msg = f"{source} is not a valid study definition ({len(lines)} problem(s)):\n  " + "\n  ".join(lines)
        raise InputError(msg) from None


def _yaml_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _format_errors(exc: ValidationError) -> list[str]:
    lines: list[str] = []
    for err in exc.errors(include_url=False):
        message = str(err.get("msg", ""))
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        if _CROSS_MARK in message:
            lines.extend(message.split(_CROSS_MARK, 1)[1].splitlines())
            continue
        loc = tuple(err.get("loc", ()))
        etype = err.get("type", "")
        if etype == "extra_forbidden":
            message = "unknown field (check the spelling)"
        elif etype == "missing":
            message = "required field is missing"
        elif etype != "value_error" and "input" in err:
            message = f"{message[:1].lower()}{message[1:]}, got {err['input']!r}"
        lines.append(f"{_yaml_path(loc)}: {message}")
    return lines


def study_file_hash(path_or_name: str | Path) -> str:
    """Return the SHA-256 of a study file's text (recorded in reports for reproducibility)."""
    _, text = _resolve(path_or_name)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
