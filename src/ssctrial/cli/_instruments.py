"""``ssctrial score`` and ``ssctrial instruments``: score a CSV with any registered instrument, list them."""

from __future__ import annotations

import inspect
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from ssctrial.exceptions import InputError
from ssctrial.instruments import get_instrument, list_instruments

logger = logging.getLogger(__name__)

_BOOL_TEXT = {"true": True, "false": False, "yes": True, "no": False}


def _parse_value(text: str) -> Any:
    """Read an option value given on the command line: int, float, boolean word or text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return _BOOL_TEXT.get(text.strip().lower(), text)


def _scorer_keywords(scorer: Any) -> list[str]:
    params = inspect.signature(scorer).parameters.values()
    return [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)][1:]


def build_options(
    code: str,
    *,
    value_set: str | None = None,
    equation: str | None = None,
    threshold: float | None = None,
    extra: list[str] | None = None,
) -> dict[str, Any]:
    """Turn the command-line options into keyword arguments for the instrument's scorer.

    Each option must be one the scorer accepts; otherwise the error lists those it does.
    """
    inst = get_instrument(code)
    accepted = _scorer_keywords(inst.scorer)
    given: dict[str, Any] = {}
    for name, value in (("value_set", value_set), ("equation", equation), ("threshold", threshold)):
        if value is not None:
            given[name] = value
    for pair in extra or []:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            msg = f"--option {pair!r} is not of the form NAME=VALUE (e.g. --option scoring=without_aids)"
            raise InputError(msg)
        given[key] = _parse_value(text.strip())
    for key in given:
        if key not in accepted:
            known = ", ".join(accepted) if accepted else "none"
            flag = f"--{key.replace('_', '-')}" if key in ("value_set", "equation", "threshold") else key
            msg = f"instrument {inst.code} has no option {flag!r}; its options are: {known}"
            raise InputError(msg)
    return given


def score_csv(code: str, source: Path, *, options: dict[str, Any]) -> pd.DataFrame:
    """Read ``source``, score it with instrument ``code``; return identifiers plus score columns."""
    inst = get_instrument(code)
    if not source.is_file():
        msg = f"input file {str(source)!r} does not exist or is not a file"
        raise InputError(msg)
    try:
        data = pd.read_csv(source)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        msg = f"cannot read {str(source)!r} as CSV: {exc}"
        raise InputError(msg) from None
    scores = inst.scorer(data, **options)
    item_codes = {item.code for item in inst.items}
    keep = [c for c in data.columns if c not in item_codes and c not in scores.columns]
    return pd.concat([data[keep], scores], axis=1)


def _instruments_table() -> Table:
    table = Table(title="Registered instruments", show_lines=False)
    for header in ("code", "name", "items", "outputs (PARAMCD)", "range", "per visit", "options"):
        table.add_column(header, overflow="fold")
    for inst in list_instruments():
        outputs = ", ".join(f"{k}->{v}" for k, v in inst.outputs.items() if v) or "-"
        options = ", ".join(f"{k}={v}" for k, v in inst.options.items()) or "-"
        table.add_row(
            inst.code,
            inst.name,
            str(len(inst.items)),
            outputs,
            inst.score_range,
            "yes" if inst.per_visit else "no",
            options,
        )
    return table


def _items_table(code: str) -> Table:
    inst = get_instrument(code)
    table = Table(title=f"{inst.code}: {inst.name}")
    for header in ("item", "label", "type", "allowed", "required"):
        table.add_column(header, overflow="fold")
    for item in inst.items:
        table.add_row(item.code, item.label, item.type, item.allowed_text(), "yes" if item.required else "no")
    return table


def register(app: typer.Typer) -> None:
    """Add the ``score`` and ``instruments`` commands to ``app``."""

    @app.command("score")
    def score(
        instrument: Annotated[
            str, typer.Argument(help="Registry code, e.g. MRSS, HAQ_DI, ACR_CRISS, EQ5D_5L.")
        ],
        source: Annotated[Path, typer.Option("--in", help="CSV with one column per item code.")],
        out: Annotated[
            Path | None, typer.Option("--out", help="Where to write the scores (CSV); stdout if omitted.")
        ] = None,
        value_set: Annotated[
            str | None, typer.Option("--value-set", help="Value set id (EQ-5D), e.g. CN_5L_Luo2017.")
        ] = None,
        equation: Annotated[
            str | None, typer.Option("--equation", help="Reference equation (lung function), e.g. GLI-2012.")
        ] = None,
        threshold: Annotated[
            float | None,
            typer.Option(
                "--threshold", help="Response/activity threshold (ACR-CRISS 0.60, rCRISS 20, EUSTAR 2.5)."
            ),
        ] = None,
        option: Annotated[
            list[str] | None,
            typer.Option("--option", "-o", help="Any other scorer option as NAME=VALUE (repeatable)."),
        ] = None,
    ) -> None:
        """Score every row of a CSV with a registered instrument and write the scores as CSV."""
        options = build_options(
            instrument, value_set=value_set, equation=equation, threshold=threshold, extra=option
        )
        result = score_csv(instrument, source, options=options)
        if out is None:
            result.to_csv(sys.stdout, index=False)
            return
        result.to_csv(out, index=False)
        Console(stderr=True).print(
            f"Scored {len(result)} row(s) with {get_instrument(instrument).code} -> {out}", highlight=False
        )

    @app.command("instruments")
    def instruments(
        code: Annotated[
            str | None, typer.Argument(help="Show the items of this instrument instead of the list.")
        ] = None,
    ) -> None:
        """List the instrument registry (or one instrument's items)."""
        console = Console(width=200)
        console.print(_items_table(code) if code else _instruments_table())
