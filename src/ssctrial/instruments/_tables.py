"""Shipped coefficient tables (read once, cached) and row-wise error reporting for DataFrame scorers.

The tables live in ``ssctrial/instruments/data/`` (see ``PROVENANCE.md`` there) and are read with
:mod:`importlib.resources`, so they work from a wheel, a zip or an editable install, offline.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

__all__: list[str] = []

logger = logging.getLogger(__name__)


@functools.cache
def read_table(name: str) -> pd.DataFrame:
    """Return the shipped CSV table ``name`` (comment lines starting with ``#`` skipped)."""
    path = resources.files("ssctrial.instruments").joinpath("data", name)
    with path.open("r", encoding="utf-8") as handle:
        table = pd.read_csv(handle, comment="#")
    logger.debug("read instrument table %s (%d rows)", name, len(table))
    return table


def format_bad_rows(index: pd.Index, mask: np.ndarray, values: Any) -> str:
    """List every offending row as ``label=value`` (index label of the row, the value found)."""
    positions = np.flatnonzero(mask)
    labels = index[positions]
    vals = np.asarray(values, dtype=object)[positions]
    return ", ".join(f"row {label!r}: {_show(v)}" for label, v in zip(labels, vals, strict=True))


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, np.floating) and float(value).is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, str) else str(value)


def column_problem(where: str, index: pd.Index, mask: np.ndarray, values: Any, allowed: str) -> str:
    """One message naming the field, every offending row and value, and what is allowed."""
    count = int(np.count_nonzero(mask))
    rows = "row" if count == 1 else "rows"
    return f"{where}: {count} {rows} not allowed (expected {allowed}): {format_bad_rows(index, mask, values)}"


def as_float_column(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(values, unparseable)``: the column as float64 (missing -> NaN) and a mask.

    The mask flags text that is not a number (reported as an error, never silently made missing).
    """
    if pd.api.types.is_bool_dtype(series.dtype):
        return np.full(len(series), np.nan), np.ones(len(series), dtype=bool)
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan), np.zeros(len(series), dtype=bool)
    raw = series.to_numpy(dtype=object)
    missing = pd.isna(raw)
    is_bool = np.fromiter((isinstance(v, bool | np.bool_) for v in raw), dtype=bool, count=len(raw))
    cleaned = raw.copy()
    cleaned[is_bool] = None
    converted = pd.to_numeric(pd.Series(cleaned), errors="coerce")
    values = converted.to_numpy(dtype=np.float64, na_value=np.nan)
    unparseable = (np.isnan(values) & ~missing) | is_bool
    values[unparseable] = np.nan
    return values, unparseable


def require_columns(data: pd.DataFrame, columns: Sequence[str], *, what: str) -> None:
    """Raise :class:`InputError` naming every required column that ``data`` lacks."""
    from ssctrial.exceptions import InputError

    if not isinstance(data, pd.DataFrame):
        msg = f"{what}: data must be a pandas DataFrame, got {type(data).__name__}"
        raise InputError(msg)
    missing = [c for c in columns if c not in data.columns]
    if missing:
        have = ", ".join(map(str, data.columns)) or "(none)"
        msg = f"{what}: data has no column {', '.join(map(repr, missing))}; its columns are: {have}"
        raise InputError(msg)
