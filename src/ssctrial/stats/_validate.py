"""Input checks shared by the statistics functions (run once, at the public entry point)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ssctrial.exceptions import InputError


def assert_data_frame(data: object, required: Iterable[str], *, what: str = "data") -> pd.DataFrame:
    """Check that ``data`` is a DataFrame holding every ``required`` column."""
    if not isinstance(data, pd.DataFrame):
        msg = f"{what} must be a pandas DataFrame, got {type(data).__name__}"
        raise InputError(msg)
    missing = [c for c in required if c not in data.columns]
    if missing:
        msg = (f"{what} has no column(s) {missing}; available columns: {list(map(str, data.columns))}")
        raise InputError(msg)
    return data


def assert_numeric(data: pd.DataFrame, column: str) -> None:
    """Check that ``column`` holds numbers (NaN allowed)."""
    if not (pd.api.types.is_numeric_dtype(data[column]) and not pd.api.types.is_bool_dtype(data[column])):
        bad = data[column][pd.to_numeric(data[column], errors="coerce").isna() & data[column].notna()]
        example = f" (e.g. {bad.iloc[0]!r})" if len(bad) else ""
        msg = (f"column {column!r} must be numeric, got dtype {data[column].dtype}{example}; "
               "convert it with pd.to_numeric")
        raise InputError(msg)


def group_levels(data: pd.DataFrame, group: str) -> list:
    """Levels of a grouping column: Categorical order when given, else sorted order of observed values."""
    col = data[group]
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = set(col.dropna().unique())
        return [lev for lev in col.cat.categories if lev in present]
    return sorted(col.dropna().unique().tolist())


def assert_reference(levels: Sequence, reference: object, *, group: str) -> None:
    """Check that ``reference`` is one of the group's levels, listing them if not."""
    if reference not in list(levels):
        msg = f"reference level {reference!r} is not a level of {group!r}; levels are {list(levels)}"
        raise InputError(msg)


def assert_min_per_group(values: pd.Series, groups: pd.Series, *, minimum: int, what: str) -> None:
    """Check every group has at least ``minimum`` non-missing values."""
    counts = values.notna().groupby(groups, observed=True).sum()
    small = counts[counts < minimum]
    if len(small):
        detail = ", ".join(f"{k!r}: {int(v)}" for k, v in small.items())
        msg = (f"{what}: each group needs at least {minimum} non-missing observations; "
               f"too few in {detail}")
        raise InputError(msg)


def assert_choice(value: object, allowed: Sequence, *, name: str) -> None:
    """Check that an option takes one of its allowed values."""
    if value not in allowed:
        msg = f"{name}={value!r} is not allowed; choose one of {list(allowed)}"
        raise InputError(msg)


def assert_level(level: float, *, name: str = "conf_level") -> None:
    """Check a confidence level is strictly between 0 and 1."""
    if not (isinstance(level, float | int) and 0 < level < 1 and np.isfinite(level)):
        msg = f"{name}={level!r} must be a number strictly between 0 and 1 (e.g. 0.95)"
        raise InputError(msg)
