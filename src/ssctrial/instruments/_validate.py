"""Vectorised validation of instrument items shared by every clinical scorer.

A scorer accepts either one record (a mapping of item code to a plain value) or a DataFrame
with one column per item code. Both go through :func:`prepare_input`, which turns a record into
a one-row DataFrame, so the single-record and the DataFrame result are computed by the same
code. :func:`validate_items` checks every item column at once with numpy and, when values break
the item's rule, raises one :class:`ItemValueError` listing every offending row (by index label),
the item, the value and what is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ssctrial.exceptions import InputError
from ssctrial.instruments._registry import Item

__all__ = [
    "ItemValueError",
    "assert_items",
    "bool_array",
    "finish_output",
    "int_array",
    "prepare_input",
    "validate_items",
]

_TRUE_TEXT = frozenset({"1", "1.0", "true", "yes", "y", "t"})
_FALSE_TEXT = frozenset({"0", "0.0", "false", "no", "n", "f"})
_MISSING_TEXT = frozenset({"", "na", "nan", "none", "null"})


class ItemValueError(InputError):
    """Values of one or more items break their rule.

    Attributes
    ----------
    errors
        One row per offending value: ``row`` (index label, ``None`` for a single record),
        ``item``, ``value`` and ``allowed``.
    """

    def __init__(self, message: str, errors: pd.DataFrame) -> None:
        super().__init__(message)
        self.errors = errors


def prepare_input(
    data: pd.DataFrame | Mapping[str, Any],
    items: Sequence[Item],
    *,
    instrument: str,
    extra: Iterable[str] = (),
) -> tuple[pd.DataFrame, bool]:
    """Return ``(frame, single)``: the input as a DataFrame and whether it was one record.

    A record (mapping) may leave out items (they count as missing) but may not name unknown
    items: a typo would otherwise pass silently. A DataFrame may carry other columns (subject,
    visit, ...), which are ignored, but must have a column for every required item.
    """
    known = {item.code for item in items} | set(extra)
    if isinstance(data, pd.DataFrame):
        missing = [item.code for item in items if item.required and item.code not in data.columns]
        if missing:
            msg = (
                f"{instrument}: the data has no column for required item(s) {', '.join(missing)}; "
                f"{instrument} needs a column for each of: "
                f"{', '.join(i.code for i in items if i.required)}"
            )
            raise InputError(msg)
        return data, False
    if not isinstance(data, Mapping):
        msg = (
            f"{instrument}: expected a mapping of item code to value or a DataFrame, "
            f"got {type(data).__name__}"
        )
        raise InputError(msg)
    unknown = [str(k) for k in data if k not in known]
    if unknown:
        msg = (
            f"{instrument}: unknown item(s) {', '.join(repr(u) for u in unknown)}; "
            f"allowed items are: {', '.join(sorted(known))}"
        )
        raise InputError(msg)
    # one column per item, typed by its value (bool, int, float, text; a missing value is a float
    # NaN), so that a record takes the same typed code path as a DataFrame read from a file
    row = {item.code: [_cell(data.get(item.code))] for item in items}
    row.update({code: [_cell(data[code])] for code in known if code in data and code not in row})
    return pd.DataFrame(row, index=pd.RangeIndex(1)), True


def _cell(value: Any) -> Any:
    return np.nan if value is None or value is pd.NA else value


def _numeric(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(values, bad)``: float values (NaN for missing) and a mask of unparseable entries."""
    if pd.api.types.is_bool_dtype(col.dtype):
        values = col.to_numpy(dtype=float, na_value=np.nan)
        return values, np.asarray(col.notna().to_numpy(), dtype=bool)  # booleans are not numbers
    if pd.api.types.is_numeric_dtype(col.dtype):
        values = col.to_numpy(dtype=float, na_value=np.nan)
        return values, np.isinf(values)
    return _numeric_object(col.to_numpy(dtype=object))


def _numeric_object(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numbers from an object column (mixed input, a form), without a Python loop over rows.

    Numbers keep their exact value; text is parsed by numpy (correctly rounded); booleans and
    other objects are not numbers.
    """
    n = len(raw)
    values = np.full(n, np.nan)
    bad = np.zeros(n, dtype=bool)
    types = pd.Series(raw, dtype=object).map(type)
    is_str = types.isin([str, np.str_]).to_numpy(dtype=bool)
    is_bool = types.isin([bool, np.bool_]).to_numpy(dtype=bool)
    missing = np.asarray(pd.isna(raw), dtype=bool) & ~is_str
    other = ~(is_str | is_bool | missing)
    if other.any():
        nums = pd.to_numeric(pd.Series(raw[other], dtype=object), errors="coerce")
        nums_np = nums.to_numpy(dtype=float, na_value=np.nan)
        values[other] = nums_np
        bad[other] = np.isnan(nums_np)
    if is_str.any():
        text = np.char.strip(raw[is_str].astype(str))
        blank = np.isin(np.char.lower(text), list(_MISSING_TEXT))
        parsed = np.full(len(text), np.nan)
        coerced = pd.to_numeric(pd.Series(text[~blank]), errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
        ok = ~np.isnan(coerced)
        try:
            coerced[ok] = text[~blank][ok].astype(float)  # exact parse of the valid ones
        except ValueError:
            pass  # a text pandas accepts but numpy does not: keep pandas' value
        parsed[~blank] = coerced
        values[is_str] = parsed
        bad[is_str] = ~blank & np.isnan(parsed)
    bad |= is_bool | np.isinf(values)
    values[bad] = np.nan
    return values, bad


def _boolean(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    if pd.api.types.is_bool_dtype(col.dtype):
        values = col.to_numpy(dtype=float, na_value=np.nan)
        return values, np.zeros(len(values), dtype=bool)
    if pd.api.types.is_numeric_dtype(col.dtype):
        values = col.to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isnan(values) & (values != 0.0) & (values != 1.0)
        values = values.copy()
        values[bad] = np.nan
        return values, bad
    text = col.astype("string").str.strip().str.lower()
    blank = (text.isna() | text.isin(_MISSING_TEXT)).to_numpy(dtype=bool)
    is_true = text.isin(_TRUE_TEXT).to_numpy(dtype=bool)
    is_false = text.isin(_FALSE_TEXT).to_numpy(dtype=bool)
    values = np.full(len(col), np.nan)
    values[is_true] = 1.0
    values[is_false] = 0.0
    bad = ~(blank | is_true | is_false)
    return values, bad


def _categorical(col: pd.Series, allowed: tuple[Any, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Return the position of each value in ``allowed`` (NaN for missing) and the bad mask."""
    text = col.astype("string").str.strip()
    # numbers read from a CSV arrive as 1.0; compare integer-valued numbers as integers
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        num = col.to_numpy(dtype=float, na_value=np.nan)
        as_int = np.where(np.isfinite(num) & (num == np.round(num)), num, np.nan)
        text = pd.Series(
            np.where(
                np.isnan(as_int),
                text.to_numpy(dtype=object),
                np.where(np.isnan(as_int), 0, as_int).astype("int64").astype(str),
            ),
            index=col.index,
            dtype="string",
        ).mask(col.isna())
    else:
        text = text.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)
    blank = (text.isna() | text.str.lower().isin(_MISSING_TEXT)).to_numpy(dtype=bool)
    codes = np.full(len(col), np.nan)
    matched = np.zeros(len(col), dtype=bool)
    for position, value in enumerate(allowed):
        hit = (text == str(value)).fillna(False).to_numpy(dtype=bool)
        codes[hit] = position
        matched |= hit
    bad = ~(blank | matched)
    return codes, bad


def _check_column(col: pd.Series, item: Item) -> tuple[np.ndarray, np.ndarray]:
    if item.type == "boolean":
        return _boolean(col)
    if item.type == "categorical":
        return _categorical(col, item.allowed or ())
    if item.type in ("integer", "number"):
        values, bad = _numeric(col)
        finite = ~np.isnan(values)
        if item.type == "integer":
            bad |= finite & (values != np.floor(values))
        if item.min is not None:
            bad |= finite & (values < item.min)
        if item.max is not None:
            bad |= finite & (values > item.max)
        if item.allowed is not None:
            bad |= finite & ~np.isin(values, np.asarray(item.allowed, dtype=float))
        values = values.copy()
        values[bad] = np.nan
        return values, bad
    # text and date items are carried along, not scored: accept anything
    return np.full(len(col), np.nan), np.zeros(len(col), dtype=bool)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float) and value.is_integer() and not math.isinf(value):
        return str(value)
    return str(value)


def validate_items(
    frame: pd.DataFrame,
    items: Sequence[Item],
    *,
    instrument: str,
    single: bool = False,
) -> dict[str, np.ndarray]:
    """Check every item column at once; return each item's values as a float array.

    Missing values are NaN. Booleans become 0.0/1.0, categorical values their position in
    ``Item.allowed``. Columns absent from ``frame`` (optional items) are all NaN.

    Raises
    ------
    ItemValueError
        Listing every offending row of every item, with the value and what is allowed.
    """
    out: dict[str, np.ndarray] = {}
    problems: list[tuple[Item, np.ndarray]] = []
    n = len(frame)
    for item in items:
        if item.code not in frame.columns:
            out[item.code] = np.full(n, np.nan)
            continue
        values, bad = _check_column(frame[item.code], item)
        out[item.code] = values
        if bad.any():
            problems.append((item, np.flatnonzero(bad)))
    if problems:
        raise _build_error(frame, problems, instrument=instrument, single=single)
    return out


def _build_error(
    frame: pd.DataFrame,
    problems: list[tuple[Item, np.ndarray]],
    *,
    instrument: str,
    single: bool,
) -> ItemValueError:
    records: list[dict[str, Any]] = []
    lines: list[str] = []
    for item, positions in problems:
        raw = frame[item.code].to_numpy(dtype=object)[positions]
        labels = frame.index[positions]
        for label, value in zip(labels, raw, strict=True):
            records.append(
                {
                    "row": None if single else label,
                    "item": item.code,
                    "value": value,
                    "allowed": item.allowed_text(),
                }
            )
        if single:
            lines.append(
                f"{instrument} item {item.code!r} ({item.label}): value {_show(raw[0])} is not allowed; "
                f"expected {item.allowed_text()}"
            )
        else:
            shown = "; ".join(f"row {lab}: {_show(v)}" for lab, v in zip(labels, raw, strict=True))
            lines.append(
                f"{instrument} item {item.code!r} ({item.label}): {len(positions)} value(s) not allowed "
                f"(expected {item.allowed_text()}) in {shown}"
            )
    errors = pd.DataFrame.from_records(records, columns=["row", "item", "value", "allowed"])
    if single:
        message = "\n".join(lines)
    else:
        n_rows = errors["row"].nunique()
        message = f"{instrument}: {len(errors)} invalid value(s) in {n_rows} row(s):\n" + "\n".join(lines)
    return ItemValueError(message, errors)


def with_range(item: Item, *, min: float | None, max: float | None, unit: str | None = None) -> Item:  # noqa: A002
    """Return a copy of ``item`` with another range (for scorer options such as a VAS length)."""
    return replace(item, min=min, max=max, unit=unit if unit is not None else item.unit)


def int_array(values: np.ndarray) -> pd.arrays.IntegerArray:
    """Return float ``values`` (integer-valued, NaN = missing) as a nullable ``Int64`` array, fast."""
    values = np.asarray(values, dtype=float)
    mask = np.isnan(values)
    return pd.arrays.IntegerArray(np.where(mask, 0, values).astype(np.int64), mask)


def bool_array(values: np.ndarray, missing: np.ndarray) -> pd.arrays.BooleanArray:
    """Return ``values`` as a nullable ``boolean`` array with ``missing`` masked, fast."""
    return pd.arrays.BooleanArray(np.asarray(values, dtype=bool) & ~missing, np.asarray(missing, dtype=bool))


def finish_output(result: pd.DataFrame, *, single: bool) -> pd.DataFrame | dict[str, Any]:
    """Return ``result`` as is, or, for a single record, as a dict of plain Python values."""
    if not single:
        return result
    row = result.iloc[0]
    out: dict[str, Any] = {}
    for key, value in row.items():
        out[str(key)] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return None if math.isnan(float(value)) else float(value)
    return value


def assert_items(
    data: pd.DataFrame | Mapping[str, Any],
    instrument: str,
) -> None:
    """Check a record or DataFrame against a registered instrument's items; raise on any bad value.

    Parameters
    ----------
    data
        One record (item code to value) or a DataFrame with one column per item code (other
        columns are ignored).
    instrument
        Registry code, for example ``"MRSS"``.

    Raises
    ------
    ItemValueError
        Naming every offending row (DataFrame index label), item, value and what is allowed.
    """
    from ssctrial.instruments._registry import get_instrument

    inst = get_instrument(instrument)
    frame, single = prepare_input(data, inst.items, instrument=inst.code)
    validate_items(frame, inst.items, instrument=inst.code, single=single)
