"""The one validated path for item-level data: :func:`record_observations`.

Validation is vectorised: rows are grouped by (instrument, item) and each distinct raw value is
checked once with the instrument registry's ``Item.check``; rows are then bulk-inserted with
Core ``executemany`` and their audit rows appended in bulk, all in one transaction.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import insert, select, update

from ssctrial.exceptions import InputError, NotFoundError
from ssctrial.store._audit import append_audit, append_audit_inserts, insert_sql, now_utc
from ssctrial.store._models import Allocation, Observation, Subject, Visit
from ssctrial.store._subjects import today

if TYPE_CHECKING:
    from ssctrial.store._store import Store

__all__ = ["ObservationError", "RecordResult", "record_observations", "validate_observations"]

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS: tuple[str, ...] = ("subject", "visit", "instrument", "item", "value")
OPTIONAL_COLUMNS: tuple[str, ...] = ("unit", "reason", "visit_date")
_CHUNK = 50_000
_MAX_SHOWN = 20

Progress = Callable[[str, int, int], None]


class ObservationError(InputError):
    """Rows refused by validation; ``errors`` is a DataFrame with one row per problem.

    Columns of ``errors``: ``row``, ``subject``, ``visit``, ``instrument``, ``item``, ``value``,
    ``error``.
    """

    def __init__(self, message: str, errors: pd.DataFrame) -> None:
        super().__init__(message)
        self.errors = errors


@dataclass
class RecordResult:
    """What :func:`record_observations` wrote.

    Attributes
    ----------
    n_rows
        Rows given.
    n_inserted
        New observations.
    n_updated
        Corrected observations (each with its reason in the audit log).
    n_unchanged
        Rows identical to what was stored (nothing written).
    n_visits
        Visit rows created or whose date was set.
    """

    n_rows: int = 0
    n_inserted: int = 0
    n_updated: int = 0
    n_unchanged: int = 0
    n_visits: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Validated:
    data: (
        pd.DataFrame
    )  # valid rows with columns subject, visit, instrument, item, value_text, value_num, unit,
    # reason, visit_date (date or None), row
    errors: pd.DataFrame


def _registry() -> Any:
    import importlib

    return importlib.import_module("ssctrial.instruments")


def _canonical(value: Any, item_type: str) -> tuple[str | None, float | None]:
    """Return (text, number) stored for a converted value."""
    if value is None:
        return None, None
    if item_type == "integer":
        return str(int(value)), float(value)
    if item_type == "number":
        return repr(float(value)), float(value)
    if item_type == "boolean":
        return ("true" if value else "false"), (1.0 if value else 0.0)
    if item_type == "date":
        return value.isoformat(), None
    if isinstance(value, bool):
        return ("true" if value else "false"), (1.0 if value else 0.0)
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
        text = str(int(number)) if number.is_integer() else repr(number)
        return text, number
    return str(value), None


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value == ""


def _fmt_value(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def validate_observations(
    store: Store,
    data: pd.DataFrame,
    *,
    row_numbers: np.ndarray | None = None,
    reason: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate long-format observations without writing anything.

    Returns
    -------
    tuple of DataFrame
        ``(valid, errors)``: the valid rows, canonicalised (columns ``row``, ``subject``,
        ``visit``, ``instrument``, ``item``, ``value_text``, ``value_num``, ``unit``,
        ``reason``, ``visit_date``), and one row per problem (``row``, ``subject``, ``visit``,
        ``instrument``, ``item``, ``value``, ``error``). A row with any problem is not in ``valid``.
    """
    with store.reader.connect() as conn:
        v = _validate(store, conn, data, row_numbers=row_numbers, reason=reason)
    return v.data, v.errors


def _validate(
    store: Store, conn: Any, data: pd.DataFrame, *, row_numbers: np.ndarray | None, reason: str | None
) -> _Validated:
    if not isinstance(data, pd.DataFrame):
        msg = f"observations must be a pandas DataFrame, got {type(data).__name__}"
        raise InputError(msg)
    missing = [c for c in REQUIRED_COLUMNS if c not in data.columns]
    if missing:
        msg = (
            f"observations: missing column(s) {', '.join(missing)}; required: {', '.join(REQUIRED_COLUMNS)}"
            f" (optional: {', '.join(OPTIONAL_COLUMNS)}); got: {', '.join(map(str, data.columns))}"
        )
        raise InputError(msg)
    n = len(data)
    rows = np.asarray(row_numbers) if row_numbers is not None else data.index.to_numpy()
    df = pd.DataFrame(
        {
            "row": rows,
            "subject": _normalise(data["subject"], str.strip),
            "visit": _normalise(data["visit"], str.strip),
            "instrument": _normalise(data["instrument"], lambda x: x.strip().upper().replace("-", "_")),
            "item": _normalise(data["item"], str.strip),
            "raw": data["value"].to_numpy(dtype=object),
        }
    )
    df["unit_in"] = data["unit"].to_numpy(dtype=object) if "unit" in data.columns else None
    if "reason" in data.columns:
        df["reason"] = [None if _is_missing(r) else str(r) for r in data["reason"].to_numpy(dtype=object)]
    else:
        df["reason"] = reason
    df["visit_date_raw"] = data["visit_date"].to_numpy(dtype=object) if "visit_date" in data.columns else None
    err_idx: list[np.ndarray] = []
    err_msg: list[np.ndarray] = []
    bad = np.zeros(n, dtype=bool)

    def flag(mask: np.ndarray, messages: Any) -> None:
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return
        if isinstance(messages, str):
            msgs = np.full(idx.size, messages, dtype=object)
        else:
            msgs = np.asarray(messages, dtype=object)
            if msgs.size != idx.size:
                msgs = msgs[idx]
        err_idx.append(idx)
        err_msg.append(msgs)
        bad[idx] = True

    design = store.design
    # --- subjects
    subjects = pd.unique(df["subject"])
    info = _subject_info(conn, list(subjects))
    known_subject = df["subject"].isin(info.index).to_numpy()
    flag(~known_subject, "unknown subject; enrol the subject first")
    # --- visits against the schedule
    visit_codes = design.visit_codes
    known_visit = df["visit"].isin(visit_codes).to_numpy()
    flag(~known_visit, f"unknown visit; visits are: {', '.join(visit_codes)}")
    schedule = {v.code: set(v.instruments) for v in design.visits}
    registered = {i.code for i in _registry().list_instruments()}
    pairs = df.groupby(["visit", "instrument"], sort=False).indices
    for (v_code, i_code), idx in pairs.items():
        if v_code in schedule and i_code in registered and i_code not in schedule[v_code]:
            flag(
                _mask(n, idx),
                f"instrument {i_code} is not collected at visit {v_code}; "
                f"scheduled there: {', '.join(sorted(schedule[v_code])) or '(none)'}",
            )
    # --- randomised before post-baseline data
    base_day = design.baseline_visit.day
    post = {v.code for v in design.visits if v.day > base_day}
    is_post = df["visit"].isin(post).to_numpy()
    if is_post.any() and len(info):
        randomised = df["subject"].map(info["randomised"]).fillna(False).to_numpy(dtype=bool)
        flag(
            is_post & known_subject & ~randomised,
            f"the subject is not randomised; post-baseline data (after {design.baseline_visit.code}) "
            "needs randomisation first",
        )
    # --- items: one check per distinct (instrument, item, raw value)
    registry = _registry()
    value_text = np.full(n, None, dtype=object)
    value_num = np.full(n, np.nan)
    unit_out = np.full(n, None, dtype=object)
    is_date_item = np.zeros(n, dtype=bool)
    converted_dates = np.full(n, None, dtype=object)
    groups = df.groupby(["instrument", "item"], sort=False).indices
    instruments: dict[str, Any] = {}
    unit_in_all = df["unit_in"].to_numpy()
    any_unit = bool(df["unit_in"].notna().any())  # once, not per (instrument, item)
    for (inst_code, item_code), idx in groups.items():
        if inst_code not in instruments:
            try:
                instruments[inst_code] = registry.get_instrument(inst_code)
            except NotFoundError as exc:
                instruments[inst_code] = exc
        inst = instruments[inst_code]
        mask = np.zeros(n, dtype=bool)
        mask[idx] = True
        if isinstance(inst, Exception):
            flag(mask, str(inst))
            continue
        try:
            item = inst.item(item_code)
        except NotFoundError as exc:
            flag(mask, str(exc))
            continue
        raws = df["raw"].to_numpy()[idx]
        codes, uniques = pd.factorize(raws, use_na_sentinel=True)
        if any(isinstance(u, bool | np.bool_) for u in uniques) and len(uniques) > 1:
            # factorize merges True with 1 and False with 0: keep booleans apart (as their text)
            raws = np.array([str(r) if isinstance(r, bool | np.bool_) else r for r in raws], dtype=object)
            codes, uniques = pd.factorize(raws, use_na_sentinel=True)
        u_text = np.empty(len(uniques) + 1, dtype=object)
        u_num = np.full(len(uniques) + 1, np.nan)
        u_conv = np.full(len(uniques) + 1, None, dtype=object)
        u_err = np.full(len(uniques) + 1, None, dtype=object)
        u_text[-1] = None  # code -1: missing value
        for k, raw in enumerate(uniques):
            if _is_missing(raw):
                u_text[k] = None
                continue
            try:
                c = item.check(raw.strip() if isinstance(raw, str) else raw, instrument=inst.code)
            except InputError as exc:
                u_err[k] = str(exc)
                continue
            text, num = _canonical(c, item.type)
            u_text[k] = text
            u_num[k] = np.nan if num is None else num
            u_conv[k] = c
        texts = u_text[codes]
        nums = u_num[codes]
        conv = u_conv[codes]
        errs = u_err[codes]
        value_text[idx] = texts
        value_num[idx] = nums
        bad_vals = np.array([e is not None for e in errs], dtype=bool)
        if bad_vals.any():
            sub = np.zeros(n, dtype=bool)
            sub[idx[bad_vals]] = True
            flag(sub, errs[bad_vals])
        if item.type == "date":
            is_date_item[idx] = True
            converted_dates[idx] = conv
        # units
        units_in = unit_in_all[idx] if any_unit else None
        if units_in is not None:
            given = np.array([not _is_missing(u) for u in units_in], dtype=bool)
            if given.any():
                expected = item.unit
                wrong = given & np.array(
                    [expected is None or str(u).strip() != expected for u in units_in],
                    dtype=bool,
                )
                if wrong.any():
                    sub = np.zeros(n, dtype=bool)
                    sub[idx[wrong]] = True
                    allowed = f"expected {expected!r}" if expected else "this item has no unit"
                    msgs = [
                        f"{inst.code} item {item_code!r}: unit {u!r} is not allowed; {allowed}"
                        for u in units_in[wrong]
                    ]
                    flag(sub, msgs)
        unit_out[idx] = item.unit
    # --- dates: not in the future, not before consent
    limit = today()
    consent = (
        df["subject"].map(info["consent_date"]).to_numpy(dtype=object) if len(info) else np.full(n, None)
    )
    if is_date_item.any():
        for i in np.flatnonzero(is_date_item):
            d = converted_dates[i]
            if d is None:
                continue
            if d > limit:
                flag(
                    _one(n, i),
                    f"date {d.isoformat()} is in the future; expected on or before {limit.isoformat()}",
                )
            elif consent[i] is not None and d < consent[i]:
                flag(_one(n, i), f"date {d.isoformat()} is before consent ({consent[i].isoformat()})")
    visit_dates = np.full(n, None, dtype=object)
    if df["visit_date_raw"].notna().any():
        _parse_visit_dates(df, consent, limit, visit_dates, flag)
    if any(d is not None for d in visit_dates):
        _check_visit_dates(store, conn, df, visit_dates, flag)
    # --- duplicates within the input
    dup = df.duplicated(["subject", "visit", "instrument", "item"], keep=False).to_numpy()
    if dup.any():
        first_rows = df.loc[dup].groupby(["subject", "visit", "instrument", "item"])["row"].transform("first")
        msgs = [
            f"duplicate of row {r}: the same subject, visit, instrument and item twice" for r in first_rows
        ]
        flag(dup, msgs)
    # --- assemble
    out = pd.DataFrame(
        {
            "row": df["row"].to_numpy(),
            "subject": df["subject"].to_numpy(),
            "visit": df["visit"].to_numpy(),
            "instrument": df["instrument"].to_numpy(),
            "item": df["item"].to_numpy(),
            "value_text": value_text,
            "value_num": value_num,
            "unit": unit_out,
            "reason": df["reason"].to_numpy(),
            "visit_date": visit_dates,
        }
    )
    if err_idx:
        idx_all = np.concatenate(err_idx)
        msg_all = np.concatenate(err_msg)
        errors = (
            pd.DataFrame(
                {
                    "row": df["row"].to_numpy()[idx_all],
                    "subject": df["subject"].to_numpy()[idx_all],
                    "visit": df["visit"].to_numpy()[idx_all],
                    "instrument": df["instrument"].to_numpy()[idx_all],
                    "item": df["item"].to_numpy()[idx_all],
                    "value": df["raw"].to_numpy()[idx_all],
                    "error": msg_all,
                    "_pos": idx_all,
                }
            )
            .sort_values(["_pos"], kind="stable")
            .drop(columns="_pos")
            .reset_index(drop=True)
        )
    else:
        errors = _empty_errors()
    return _Validated(out.loc[~bad].reset_index(drop=True), errors)


def _normalise(column: pd.Series, fn: Callable[[str], str]) -> np.ndarray:
    """Apply ``fn`` to the text of each distinct value (fast on long, repetitive columns)."""
    codes, uniques = pd.factorize(column.to_numpy(dtype=object), use_na_sentinel=False)
    cleaned = np.array([fn("" if _is_missing(u) else str(u)) for u in uniques] + [""], dtype=object)
    return cleaned[codes]


def _distinct_rows(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows with equal values in all ``columns``: ``(first row of each distinct key, key of each row)``.

    Values are compared as :func:`pandas.factorize` does (missing values form one key of their own).
    """
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        codes, uniques = pd.factorize(column, use_na_sentinel=False)
        key = key * (len(uniques) + 1) + codes  # mixed radix; re-factorised below so it stays small
        key = pd.factorize(key)[0].astype(np.int64)
    n_keys = int(key.max()) + 1 if len(key) else 0
    first = np.empty(n_keys, dtype=np.int64)
    first[key[::-1]] = np.arange(len(key) - 1, -1, -1)  # last write wins: the first occurrence
    return first, key


def _has_numbers(values: np.ndarray) -> bool:
    """Whether an object array holds booleans or numbers.

    :func:`pandas.factorize` merges ``True``, ``1`` and ``1.0``, whose messages differ, so such
    rows must be checked one by one.
    """
    numbers = bool | np.bool_ | int | float | np.number
    return any(isinstance(u, numbers) and not _is_missing(u) for u in pd.unique(values))


def _parse_visit_dates(
    df: pd.DataFrame, consent: np.ndarray, limit: date, visit_dates: np.ndarray, flag: Callable[..., None]
) -> None:
    """Parse and check the ``visit_date`` column; set ``visit_dates`` of the good rows.

    Each distinct (subject, raw value) is parsed and checked once, and the outcome (date or the
    message) given to every row that has it: the same messages, row by row, as checking each row.
    """
    from ssctrial.store._store import as_date

    raws = df["visit_date_raw"].to_numpy()
    n = len(raws)
    if _has_numbers(raws):
        first, inverse = np.arange(n), np.arange(n)
    else:
        first, inverse = _distinct_rows(df["subject"].to_numpy(), raws)
    n_keys = len(first)
    out = np.full(n_keys, None, dtype=object)
    errs = np.full(n_keys, None, dtype=object)
    for k, i in enumerate(first):
        raw = raws[i]
        if _is_missing(raw):
            continue
        try:
            d = as_date(raw, field="visit_date")
        except InputError as exc:
            errs[k] = str(exc)
            continue
        if d is not None and d > limit:
            errs[k] = f"visit_date {d.isoformat()} is in the future"
        elif d is not None and consent[i] is not None and d < consent[i]:
            errs[k] = f"visit_date {d.isoformat()} is before consent ({consent[i].isoformat()})"
        else:
            out[k] = d
    row_errs = errs[inverse]
    bad = np.array([e is not None for e in row_errs], dtype=bool)
    if bad.any():
        flag(bad, row_errs[bad])
    visit_dates[:] = out[inverse]


def _check_visit_dates(
    store: Store, conn: Any, df: pd.DataFrame, visit_dates: np.ndarray, flag: Callable[..., None]
) -> None:
    """Visit dates: one per subject-visit, inside the window, a changed date needs a reason."""
    from datetime import timedelta

    design = store.design
    base = design.baseline_visit
    n = len(df)
    has = np.array([d is not None for d in visit_dates], dtype=bool)
    frame = pd.DataFrame(
        {
            "subject": df["subject"].to_numpy()[has],
            "visit": df["visit"].to_numpy()[has],
            "date": visit_dates[has],
        }
    )
    pos = np.flatnonzero(has)
    # one date per subject-visit within the input
    n_dates = frame.groupby(["subject", "visit"])["date"].transform("nunique").to_numpy()
    if (n_dates > 1).any():
        flag(_mask(n, pos[n_dates > 1]), "different visit_date values for the same subject and visit")
    stored: dict[tuple[str, str], date | None] = {}
    subjects = list(pd.unique(frame["subject"]))
    for start in range(0, len(subjects), 500):
        q = select(Visit.subject_id, Visit.visit_code, Visit.visit_date).where(
            Visit.subject_id.in_(subjects[start : start + 500])
        )
        for sid, vc, vd in conn.execute(q):
            stored[(sid, vc)] = vd
    given_base = (
        frame.loc[frame["visit"] == base.code].drop_duplicates("subject").set_index("subject")["date"]
    )
    reasons = df["reason"].to_numpy()[pos]
    has_reason = np.array([bool(r and str(r).strip()) for r in reasons], dtype=bool)
    # the outcome depends only on (subject, visit, date, whether a reason is given): check each
    # distinct combination once and give its message to every row that has it
    subj_a = frame["subject"].to_numpy()
    visit_a = frame["visit"].to_numpy()
    date_a = frame["date"].to_numpy()
    first, inverse = _distinct_rows(subj_a, visit_a, date_a, has_reason)
    codes = set(design.visit_codes)
    visits = {v.code: v for v in design.visits}
    errs = np.full(len(first), None, dtype=object)
    for k, j in enumerate(first):
        sid, vc, d = subj_a[j], visit_a[j], date_a[j]
        old = stored.get((sid, vc))
        if old is not None and old != d and not has_reason[j]:
            errs[k] = (
                f"visit_date already recorded as {old.isoformat()}; a correction to {d.isoformat()} "
                "needs a reason"
            )
            continue
        if vc == base.code or vc not in codes:
            continue
        base_date = given_base.get(sid, stored.get((sid, base.code)))
        if base_date is None:
            continue
        v = visits[vc]
        day = (d - base_date).days + base.day
        if not v.earliest_day <= day <= v.latest_day:
            lo = base_date + timedelta(days=v.earliest_day - base.day)
            hi = base_date + timedelta(days=v.latest_day - base.day)
            errs[k] = (
                f"visit_date {d.isoformat()} is study day {day}, outside the window of {vc} "
                f"(days {v.earliest_day}..{v.latest_day}: {lo.isoformat()} to {hi.isoformat()})"
            )
    row_errs = errs[inverse]
    bad = np.array([e is not None for e in row_errs], dtype=bool)
    if bad.any():
        flag(_mask(n, pos[bad]), row_errs[bad])


def _mask(n: int, idx: np.ndarray) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[idx] = True
    return mask


def _one(n: int, i: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[i] = True
    return mask


def _empty_errors() -> pd.DataFrame:
    return pd.DataFrame(
        {
            c: pd.Series(dtype=object)
            for c in ("row", "subject", "visit", "instrument", "item", "value", "error")
        }
    )


def _subject_info(conn: Any, subjects: list[str]) -> pd.DataFrame:
    """Consent date and randomisation status of the given subjects (index: subject id)."""
    records = []
    for start in range(0, len(subjects), 500):
        chunk = subjects[start : start + 500]
        q = (
            select(Subject.subject_id, Subject.consent_date, Allocation.id)
            .outerjoin(Allocation, Allocation.subject_id == Subject.subject_id)
            .where(Subject.subject_id.in_(chunk))
        )
        records.extend(conn.execute(q).all())
    info = pd.DataFrame(records, columns=["subject_id", "consent_date", "allocation_id"])
    info["randomised"] = info["allocation_id"].notna()
    return info.set_index("subject_id")


def describe_errors(errors: pd.DataFrame, *, n_rows: int, what: str = "rows") -> str:
    """One message for a validation failure: a summary line, then one line per problem (max 20)."""
    n_bad_rows = errors["row"].nunique()
    lines = [f"{n_bad_rows} of {n_rows} {what} refused; nothing was written:"]
    for rec in errors.head(_MAX_SHOWN).itertuples(index=False):
        where = f"row {rec.row}: subject {rec.subject}, visit {rec.visit}, {rec.instrument} item {rec.item!r}"
        lines.append(f"  {where}, value {_fmt_value(rec.value)}: {rec.error}")
    if len(errors) > _MAX_SHOWN:
        lines.append(f"  ... and {len(errors) - _MAX_SHOWN} more problem(s)")
    return "\n".join(lines)


def record_observations(
    store: Store,
    data: pd.DataFrame,
    *,
    user: str,
    reason: str | None = None,
    progress: Progress | None = None,
) -> RecordResult:
    """Validate and write long-format observations, all or nothing.

    Parameters
    ----------
    store
        The open store.
    data
        One row per item value: ``subject``, ``visit``, ``instrument``, ``item``, ``value``;
        optional ``unit`` (must equal the item's unit), ``reason`` (per-row correction reason),
        ``visit_date`` (sets the visit's date) and ``row`` (row labels for error messages;
        default: the DataFrame index).
    user
        Who writes (role investigator or admin).
    reason
        Reason for corrections of values already stored (unless a ``reason`` column is given).
    progress
        Optional callback ``progress(stage, done, total)``; stages ``validate`` and ``write``.

    Returns
    -------
    RecordResult
        Counts of inserted, corrected and unchanged observations.

    Raises
    ------
    ObservationError
        Any row is invalid (unknown subject, visit or item; value outside the item's range;
        wrong unit; instrument not scheduled at the visit; subject not randomised for a
        post-baseline visit; date in the future or before consent; duplicate row; a correction
        without a reason). Nothing is written. ``errors`` lists every problem.
    PermissionDeniedError
        The user may not record data.

    Notes
    -----
    Re-recording a value identical to the stored one changes nothing and is not audited.
    """
    return record_many(store, data, user=user, reason=reason, progress=progress, drop_invalid=False)[0]


def record_many(
    store: Store,
    data: pd.DataFrame,
    *,
    user: str,
    reason: str | None,
    progress: Progress | None,
    drop_invalid: bool,
) -> tuple[RecordResult, pd.DataFrame]:
    """Validate and write; with ``drop_invalid`` write the valid rows and return the errors.

    Rows sharing a ``row`` label (one line of a wide file) are kept or dropped together.
    """
    n = len(data) if isinstance(data, pd.DataFrame) else 0
    result = RecordResult(n_rows=n)
    row_numbers = data["row"].to_numpy() if isinstance(data, pd.DataFrame) and "row" in data.columns else None
    with store.session() as s:
        store.check_role(s, user, "record")
        conn = s.connection()
        if progress:
            progress("validate", 0, n)
        v = _validate(store, conn, data, row_numbers=row_numbers, reason=reason)
        errors = v.errors
        valid = v.data
        if len(errors):
            if not drop_invalid:
                raise ObservationError(describe_errors(errors, n_rows=n), errors)
            valid = valid.loc[~valid["row"].isin(set(errors["row"]))].reset_index(drop=True)
        # corrections: compare with what is stored
        existing = _existing(conn, valid)
        if len(existing):
            merged = valid.merge(existing, on=["subject", "visit", "instrument", "item"], how="left")
            stored = merged["obs_id"].notna().to_numpy()
            old_text = merged["old_text"].to_numpy(dtype=object)
            new_text = merged["value_text"].to_numpy(dtype=object)
            same = stored & np.array([a == b for a, b in zip(old_text, new_text, strict=True)], dtype=bool)
            changed = stored & ~same
            no_reason = changed & merged["reason"].map(lambda r: r is None or not str(r).strip()).to_numpy(
                dtype=bool
            )
            if no_reason.any():
                sub = merged.loc[no_reason]
                more = pd.DataFrame(
                    {
                        "row": sub["row"].to_numpy(),
                        "subject": sub["subject"].to_numpy(),
                        "visit": sub["visit"].to_numpy(),
                        "instrument": sub["instrument"].to_numpy(),
                        "item": sub["item"].to_numpy(),
                        "value": sub["value_text"].to_numpy(),
                        "error": [
                            f"already recorded as {o!r}; a correction needs a reason" for o in sub["old_text"]
                        ],
                    }
                )
                errors = pd.concat([errors, more], ignore_index=True) if len(errors) else more
                if not drop_invalid:
                    raise ObservationError(describe_errors(errors, n_rows=n), errors)
                keep = ~merged["row"].isin(set(more["row"])).to_numpy()
                merged, stored, same, changed = merged.loc[keep], stored[keep], same[keep], changed[keep]
                valid = valid.loc[~valid["row"].isin(set(more["row"]))]
            updates = merged.loc[changed]
            inserts = merged.loc[~stored].drop(columns=["obs_id", "old_text", "old_unit"])
            result.n_unchanged = int(same.sum())
        else:
            updates = valid.iloc[0:0]
            inserts = valid
        at = now_utc()
        result.n_visits = _ensure_visits(s, store, valid, user=user, at=at)
        _insert(s, inserts, user=user, at=at, progress=progress, total=n)
        _update(s, updates, user=user, at=at)
        result.n_inserted = len(inserts)
        result.n_updated = len(updates)
    logger.info(
        "recorded %d observations (%d new, %d corrected, %d unchanged, %d refused)",
        n,
        result.n_inserted,
        result.n_updated,
        result.n_unchanged,
        len(errors),
    )
    return result, errors


def _existing(conn: Any, valid: pd.DataFrame) -> pd.DataFrame:
    subjects = list(pd.unique(valid["subject"]))
    records = []
    for start in range(0, len(subjects), 500):
        chunk = subjects[start : start + 500]
        q = select(
            Observation.subject_id,
            Observation.visit_code,
            Observation.instrument,
            Observation.item,
            Observation.id,
            Observation.value,
            Observation.unit,
        ).where(Observation.subject_id.in_(chunk))
        records.extend(conn.execute(q).all())
    return pd.DataFrame(
        records, columns=["subject", "visit", "instrument", "item", "obs_id", "old_text", "old_unit"]
    )


def _ensure_visits(session: Any, store: Store, valid: pd.DataFrame, *, user: str, at: Any) -> int:
    """Create missing visit rows (and set given visit dates); audited."""
    from ssctrial.store._subjects import write_visit

    pairs = valid[["subject", "visit", "visit_date", "reason"]].copy()
    pairs["has_date"] = pairs["visit_date"].notna()
    pairs = pairs.sort_values("has_date", ascending=False).drop_duplicates(["subject", "visit"])
    subjects = list(pd.unique(pairs["subject"]))
    existing: dict[tuple[str, str], date | None] = {}
    for start in range(0, len(subjects), 500):
        chunk = subjects[start : start + 500]
        q = select(Visit.subject_id, Visit.visit_code, Visit.visit_date).where(Visit.subject_id.in_(chunk))
        for sid, vc, vd in session.execute(q):
            existing[(sid, vc)] = vd
    new_rows = []
    audit_rows = []
    count = 0
    base = store.design.baseline_visit.code
    # baseline first, so that windows of later visits can be checked against its date
    pairs = pairs.assign(_b=pairs["visit"] != base).sort_values("_b", kind="stable")
    for sid, vc, vd, why in pairs[["subject", "visit", "visit_date", "reason"]].itertuples(index=False):
        key = (sid, vc)
        if key not in existing:
            new_rows.append(
                {"subject_id": sid, "visit_code": vc, "visit_date": vd, "entered_at": at, "entered_by": user}
            )
            audit_rows.append(
                (
                    "insert",
                    "visit",
                    f"{sid}/{vc}",
                    None,
                    json.dumps({"visit_date": None if vd is None else vd.isoformat()}),
                    None,
                )
            )
            existing[key] = vd
            count += 1
            if vc == base and vd is not None:
                session.execute(insert(Visit), [new_rows.pop()])
        elif vd is not None and existing[key] != vd:
            write_visit(session, store, sid, vc, vd, user=user, reason=why)
            count += 1
    if new_rows:
        session.execute(insert(Visit), new_rows)
    if audit_rows:
        append_audit(session, audit_rows, user=user, at=at)
    return count


def _insert(
    session: Any, rows: pd.DataFrame, *, user: str, at: Any, progress: Progress | None, total: int
) -> None:
    n = len(rows)
    if n == 0:
        return
    conn = session.connection()
    sql = insert_sql(
        conn,
        "observation",
        (
            "subject_id",
            "visit_code",
            "instrument",
            "item",
            "value",
            "value_num",
            "unit",
            "entered_at",
            "entered_by",
        ),
    )
    stamp = db_timestamp(conn, at)
    subj = rows["subject"].to_numpy(dtype=object)
    visit = rows["visit"].to_numpy(dtype=object)
    inst = rows["instrument"].to_numpy(dtype=object)
    item = rows["item"].to_numpy(dtype=object)
    text = rows["value_text"].to_numpy(dtype=object)
    num = rows["value_num"].to_numpy(dtype=float)
    nums = np.where(np.isnan(num), None, num).tolist()
    unit = rows["unit"].to_numpy(dtype=object)
    # JSON of (unit, value) once per distinct pair
    dumps = json.dumps
    new_json: dict[tuple[Any, Any], str] = {}

    def as_json(u_: Any, t_: Any) -> str:
        js = '{"unit":' + dumps(u_) + ',"value":' + dumps(t_) + "}"
        new_json[(u_, t_)] = js
        return js

    get = new_json.get
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        sl = slice(start, stop)
        s_l, v_l, i_l, it_l = subj[sl].tolist(), visit[sl].tolist(), inst[sl].tolist(), item[sl].tolist()
        t_l, u_l = text[sl].tolist(), unit[sl].tolist()
        m = stop - start
        n_l = nums[start:stop]
        conn.exec_driver_sql(
            sql, list(zip(s_l, v_l, i_l, it_l, t_l, n_l, u_l, [stamp] * m, [user] * m, strict=True))
        )
        records = [f"{a}/{b}/{c}/{d}" for a, b, c, d in zip(s_l, v_l, i_l, it_l, strict=True)]
        values = [get((u_, t_)) or as_json(u_, t_) for u_, t_ in zip(u_l, t_l, strict=True)]
        append_audit_inserts(session, "observation", records, values, user=user, at=at)
        if progress:
            progress("write", stop, total)


def db_timestamp(conn: Any, at: Any) -> Any:
    """Return a timestamp parameter for plain ``executemany`` (text on SQLite, as SQLAlchemy stores it)."""
    if conn.dialect.name == "sqlite":
        return at.strftime("%Y-%m-%d %H:%M:%S.%f")
    return at


def _update(session: Any, rows: pd.DataFrame, *, user: str, at: Any) -> None:
    if len(rows) == 0:
        return
    audit = []
    for rec in rows.itertuples(index=False):
        num = None if rec.value_num != rec.value_num else float(rec.value_num)
        session.execute(
            update(Observation)
            .where(Observation.id == int(rec.obs_id))
            .values(value=rec.value_text, value_num=num, unit=rec.unit, entered_at=at, entered_by=user)
        )
        record = f"{rec.subject}/{rec.visit}/{rec.instrument}/{rec.item}"
        old = json.dumps({"unit": rec.old_unit, "value": rec.old_text}, sort_keys=True, separators=(",", ":"))
        new = json.dumps({"unit": rec.unit, "value": rec.value_text}, sort_keys=True, separators=(",", ":"))
        audit.append(("update", "observation", record, old, new, str(rec.reason)))
    append_audit(session, audit, user=user, at=at)
