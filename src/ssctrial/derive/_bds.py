"""Basic Data Structure (BDS) verbs: analysis visits by window, baseline, change, analysis flags.

Each verb takes a DataFrame and returns a new one with the same rows in the same order plus the
columns it derives (admiral's ``derive_var_*`` / ``derive_vars_*`` convention); the input is
never modified.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from ssctrial.exceptions import InputError

if TYPE_CHECKING:
    from ssctrial.design import StudyDesign

__all__ = [
    "assert_columns",
    "derive_var_ablfl",
    "derive_var_anl01fl",
    "derive_var_base",
    "derive_var_chg",
    "derive_var_pchg",
    "derive_vars_visit_window",
]

_KEYS = ("USUBJID", "PARAMCD")

# Study days: the schedule's target days count from baseline = day 0, so the verbs work on the
# relative day ARELDY (= ADT - TRTSDT). ADY (CDISC: ADT - TRTSDT + 1 on or after TRTSDT) is
# derived beside it for listings.

WindowRule = Literal["window", "nominal"]


def assert_columns(data: pd.DataFrame, required: Sequence[str], *, what: str = "data") -> None:
    """Raise :class:`InputError` naming every required column missing from ``data``."""
    if not isinstance(data, pd.DataFrame):
        msg = f"{what} must be a pandas DataFrame, got {type(data).__name__}"
        raise TypeError(msg)
    missing = [c for c in required if c not in data.columns]
    if missing:
        msg = f"{what} lacks required column(s) {missing}; it has {list(data.columns)}"
        raise InputError(msg)


def derive_vars_visit_window(
    data: pd.DataFrame,
    design: StudyDesign,
    *,
    rule: WindowRule = "window",
    day_col: str = "ARELDY",
    visit_col: str = "VISIT",
) -> pd.DataFrame:
    """Assign analysis visits (AVISIT, AVISITN) and window variables from the visit schedule.

    Parameters
    ----------
    data
        Records with a study day (``day_col``, baseline = day 0) and the nominal visit code
        (``visit_col``) they were captured at.
    design
        The study design; its visits give targets and windows.
    rule
        ``"window"``: the analysis visit is the scheduled visit whose window
        ``[day - window_before, day + window_after]`` contains the study day (a record outside
        every window gets no analysis visit); records on or before day 0 are baseline-period
        records and keep their nominal visit. ``"nominal"``: the analysis visit is the visit the
        record was captured at, whatever its day.
    day_col, visit_col
        Column names of the study day and the nominal visit code.

    Returns
    -------
    DataFrame
        ``data`` plus: ``AVISIT`` (visit label), ``AVISITCD`` (visit code), ``AVISITN`` (target
        week: target day / 7), ``AWTARGET`` (target day), ``AWLO``/``AWHI`` (window limits, days),
        ``AWTDIFF`` (|day - target|), ``AWU`` ("DAYS"), ``AWRULE`` (the rule used).

    Notes
    -----
    Windows of the schedule must not overlap (the design checks this); where they would, the
    earlier visit wins.
    """
    assert_columns(data, [day_col, visit_col])
    if rule not in ("window", "nominal"):
        msg = f"rule must be 'window' or 'nominal', got {rule!r}"
        raise InputError(msg)
    visits = list(design.visits)
    codes = np.array([v.code for v in visits], dtype=object)
    labels = {v.code: v.label for v in visits}
    target = {v.code: v.day for v in visits}
    lo = {v.code: v.day - v.window_before for v in visits}
    hi = {v.code: v.day + v.window_after for v in visits}
    out = data.copy()
    day = pd.to_numeric(out[day_col], errors="coerce").to_numpy(dtype=float)
    nominal = out[visit_col].astype(object).to_numpy()
    unknown = sorted(set(nominal[pd.notna(nominal)]) - set(codes))
    if unknown:
        msg = f"{visit_col} has visit code(s) {unknown} not in the schedule {list(codes)}"
        raise InputError(msg)
    if rule == "nominal":
        assigned = nominal.copy()
    else:
        assigned = np.full(len(out), None, dtype=object)
        for v in reversed(visits):  # earlier visits overwrite later ones where windows overlap
            inside = (day >= lo[v.code]) & (day <= hi[v.code])
            assigned[inside] = v.code
        pre = (day <= 0) | np.isnan(day)
        assigned[pre] = nominal[pre]
    has = pd.notna(assigned)
    out["AVISITCD"] = assigned
    out["AVISIT"] = [labels[c] if h else None for c, h in zip(assigned, has, strict=True)]
    out["AWTARGET"] = [target[c] if h else np.nan for c, h in zip(assigned, has, strict=True)]
    out["AVISITN"] = out["AWTARGET"] / 7.0
    out["AWLO"] = [lo[c] if h else np.nan for c, h in zip(assigned, has, strict=True)]
    out["AWHI"] = [hi[c] if h else np.nan for c, h in zip(assigned, has, strict=True)]
    out["AWTDIFF"] = np.abs(day - out["AWTARGET"].to_numpy(dtype=float))
    out["AWU"] = "DAYS"
    out["AWRULE"] = rule
    return out


def derive_var_ablfl(
    data: pd.DataFrame,
    *,
    by: Sequence[str] = _KEYS,
    day_col: str = "ARELDY",
    value_col: str = "AVAL",
    baseline_day: int = 0,
) -> pd.DataFrame:
    """Flag the baseline record (ABLFL = "Y"): the last non-missing value on or before day 0.

    Within each ``by`` group, among records with a non-missing ``value_col`` and
    ``day_col <= baseline_day``, the latest one is the baseline (ties: the later row). A group
    with no such record has no baseline, and so no change from baseline.

    Returns
    -------
    DataFrame
        ``data`` plus ``ABLFL`` ("Y" or "").
    """
    assert_columns(data, [*by, day_col, value_col])
    out = data.copy()
    day = pd.to_numeric(out[day_col], errors="coerce")
    eligible = out[value_col].notna() & day.notna() & (day <= baseline_day)
    candidates = out.loc[eligible, list(by)].assign(_day=day[eligible], _row=np.flatnonzero(eligible))
    chosen = candidates.sort_values([*by, "_day", "_row"]).groupby(list(by), sort=False).tail(1)["_row"]
    flag = np.full(len(out), "", dtype=object)
    flag[chosen.to_numpy()] = "Y"
    out["ABLFL"] = flag
    return out


def derive_var_base(
    data: pd.DataFrame,
    *,
    by: Sequence[str] = _KEYS,
    source_col: str = "AVAL",
    new_col: str = "BASE",
) -> pd.DataFrame:
    """Copy the baseline record's value (ABLFL = "Y") to every record of its ``by`` group.

    Raises
    ------
    InputError
        If a group has more than one baseline record (listing the first few groups).
    """
    assert_columns(data, [*by, source_col, "ABLFL"])
    base = data.loc[data["ABLFL"] == "Y", [*by, source_col]]
    duplicated = base.duplicated(list(by), keep=False)
    if duplicated.any():
        groups = base.loc[duplicated, list(by)].drop_duplicates().head(5).to_dict("records")
        msg = f"more than one baseline record (ABLFL='Y') for {groups}; derive ABLFL with derive_var_ablfl"
        raise InputError(msg)
    lookup = base.rename(columns={source_col: new_col})
    out = data.drop(columns=[new_col], errors="ignore")
    merged = out[list(by)].merge(lookup, on=list(by), how="left")
    out[new_col] = merged[new_col].to_numpy()
    return out


def derive_var_chg(data: pd.DataFrame, *, day_col: str = "ARELDY") -> pd.DataFrame:
    """Change from baseline: CHG = AVAL - BASE for post-baseline records (missing otherwise).

    Post-baseline means not the baseline record and, where ``day_col`` is a column, a relative
    study day after day 0 (baseline = day 0).
    """
    assert_columns(data, ["AVAL", "BASE", "ABLFL"])
    out = data.copy()
    post = out["ABLFL"] != "Y"
    if day_col in out.columns:
        post &= pd.to_numeric(out[day_col], errors="coerce") > 0
    out["CHG"] = np.where(post, out["AVAL"] - out["BASE"], np.nan)
    return out


def derive_var_pchg(data: pd.DataFrame) -> pd.DataFrame:
    """Percent change from baseline: PCHG = 100 * CHG / BASE (missing when BASE is 0 or missing)."""
    assert_columns(data, ["CHG", "BASE"])
    out = data.copy()
    base = out["BASE"].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pchg = 100.0 * out["CHG"].astype(float) / base
    out["PCHG"] = np.where(base.notna() & (base != 0), pchg, np.nan)
    return out


def derive_var_anl01fl(
    data: pd.DataFrame,
    *,
    by: Sequence[str] = ("USUBJID", "PARAMCD", "AVISITCD"),
    day_col: str = "ARELDY",
) -> pd.DataFrame:
    """Flag the one record per subject, parameter and analysis visit used in analyses (ANL01FL).

    Among records with a non-missing AVAL and an analysis visit, the baseline record is kept at
    baseline; at other visits the record closest to the target day (smallest ``AWTDIFF``) is
    kept, ties going to the later record (later day, then later row).

    Returns
    -------
    DataFrame
        ``data`` plus ``ANL01FL`` ("Y" or "").
    """
    assert_columns(data, [*by, "AVAL", "AWTDIFF", "ABLFL", day_col])
    out = data.copy()
    eligible = out["AVAL"].notna() & out["AVISITCD"].notna() if "AVISITCD" in out else out["AVAL"].notna()
    frame = out.loc[eligible, list(by)].assign(
        _base=(out.loc[eligible, "ABLFL"] == "Y").astype(int),
        _diff=out.loc[eligible, "AWTDIFF"].fillna(np.inf),
        _day=pd.to_numeric(out.loc[eligible, day_col], errors="coerce").fillna(-np.inf),
        _row=np.flatnonzero(eligible),
    )
    order = [True] * len(by) + [False, True, False, False]
    frame = frame.sort_values([*by, "_base", "_diff", "_day", "_row"], ascending=order)
    chosen = frame.groupby(list(by), sort=False, dropna=True).head(1)["_row"]
    flag = np.full(len(out), "", dtype=object)
    flag[chosen.to_numpy()] = "Y"
    out["ANL01FL"] = flag
    return out
