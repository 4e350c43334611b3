"""Safety tables from ADAE and ADSL: subjects with events by arm, SOC/term, maximum grade, EAIRs."""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from ssctrial.exceptions import InputError
from ssctrial.stats._contingency import fisher_exact_kx2
from ssctrial.stats._result import StatsResult
from ssctrial.stats._validate import assert_choice, assert_data_frame, assert_level, group_levels

__all__ = ["create_ae_by_grade", "create_ae_by_term", "create_ae_overview", "compute_eair"]

logger = logging.getLogger(__name__)

_DISCONTINUED = {"DRUG WITHDRAWN", "Y", "YES", "TRUE", "1"}
_UNIT_DAYS = {"days": 1.0, "weeks": 7.0, "years": 365.25}


def _prepare(
    adae: pd.DataFrame, adsl: pd.DataFrame, arm_col: str, subject_col: str, *, emergent_only: bool,
    extra: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    assert_data_frame(adsl, [subject_col, arm_col], what="adsl")
    assert_data_frame(adae, [subject_col, *extra, *(["TRTEMFL"] if emergent_only else [])], what="adae")
    if adsl[subject_col].duplicated().any():
        dup = adsl.loc[adsl[subject_col].duplicated(), subject_col].iloc[0]
        msg = f"adsl must have one row per subject; {subject_col}={dup!r} appears more than once"
        raise InputError(msg)
    pop = adsl[adsl["SAFFL"].astype(str).str.upper() == "Y"] if "SAFFL" in adsl.columns else adsl
    unknown = sorted(set(adae[subject_col]) - set(adsl[subject_col]))
    if unknown:
        msg = f"adae has subjects not in adsl ({subject_col}): {unknown[:5]}; add them to adsl"
        raise InputError(msg)
    ae = adae.drop(columns=[c for c in (arm_col,) if c in adae.columns])
    ae = ae.merge(pop[[subject_col, arm_col]], on=subject_col, how="inner")  # safety population only
    if emergent_only:
        ae = ae[ae["TRTEMFL"].astype(str).str.upper() == "Y"]
    levels = group_levels(pop, arm_col)
    return ae, pop, levels


def _rows_for(label: dict, ae_subjects: pd.DataFrame, pop: pd.DataFrame, arm_col: str, subject_col: str,
              levels: list, *, test: bool) -> list[dict]:
    totals = pop.groupby(arm_col, observed=True)[subject_col].nunique()
    counts = ae_subjects.groupby(arm_col, observed=True)[subject_col].nunique()
    n = np.array([int(counts.get(lev, 0)) for lev in levels])
    big_n = np.array([int(totals.get(lev, 0)) for lev in levels])
    p = fisher_exact_kx2(n, big_n) if test and len(levels) > 1 else np.nan
    return [label | {arm_col: lev, "n": int(k), "N": int(nn), "percent": 100 * k / nn if nn else np.nan,
                     "p": p} for lev, k, nn in zip(levels, n, big_n, strict=True)]


def create_ae_overview(
    adae: pd.DataFrame,
    adsl: pd.DataFrame,
    *,
    arm_col: str = "TRT01A",
    subject_col: str = "USUBJID",
    discontinuation_col: str = "AEACN",
    emergent_only: bool = True,
) -> StatsResult:
    """Subjects with any AE, any serious AE, any grade >= 3 AE and any AE leading to discontinuation.

    Parameters
    ----------
    adae
        One row per adverse event with ``USUBJID``, ``AESER`` (Y/N), ``AETOXGR`` (grade 1-5),
        ``TRTEMFL`` (Y/N) and the discontinuation column.
    adsl
        One row per subject with the arm column; if it has ``SAFFL``, only ``SAFFL == "Y"`` subjects
        count (numerators and denominators).
    arm_col
        Arm column in ``adsl`` (actual treatment, ``TRT01A``); the arm in ``adae`` is ignored.
    subject_col
        Subject identifier.
    discontinuation_col
        ``AEACN`` (``"DRUG WITHDRAWN"`` means discontinuation) or a Y/N flag column.
    emergent_only
        Count treatment-emergent events only (``TRTEMFL == "Y"``).

    Returns
    -------
    StatsResult
        One row per category and arm: ``category``, ``<arm_col>``, ``n`` (subjects with at least one
        such event), ``N`` (subjects in the arm), ``percent``, ``p`` (Fisher–Freeman–Halton exact test
        across arms of subjects with vs without), ``method``.
    """
    ae, pop, levels = _prepare(adae, adsl, arm_col, subject_col, emergent_only=emergent_only,
                               extra=["AESER", "AETOXGR", discontinuation_col])
    grade = pd.to_numeric(ae["AETOXGR"], errors="coerce")
    cats = {
        "Any AE": ae,
        "Serious AE": ae[ae["AESER"].astype(str).str.upper() == "Y"],
        "Grade >= 3 AE": ae[grade >= 3],
        "AE leading to discontinuation": ae[
            ae[discontinuation_col].astype(str).str.upper().isin(_DISCONTINUED)],
    }
    rows = []
    for label, sub in cats.items():
        rows += _rows_for({"category": label}, sub, pop, arm_col, subject_col, levels, test=True)
    table = pd.DataFrame(rows)
    table["method"] = "subjects with >= 1 event; Fisher-Freeman-Halton exact test across arms"
    return StatsResult(table, title="Overview of " + ("treatment-emergent " if emergent_only else "")
                       + "adverse events (subjects)",
                       notes=[f"safety population: {len(pop)} subjects"])


def create_ae_by_term(
    adae: pd.DataFrame,
    adsl: pd.DataFrame,
    *,
    arm_col: str = "TRT01A",
    subject_col: str = "USUBJID",
    serious_only: bool = False,
    min_grade: int | None = None,
    emergent_only: bool = True,
) -> StatsResult:
    """Subjects with AEs by system organ class (``AESOC``) and preferred term (``AEDECOD``), by arm.

    Parameters
    ----------
    adae, adsl, arm_col, subject_col, emergent_only
        As for :func:`create_ae_overview`.
    serious_only
        Count serious events (``AESER == "Y"``) only.
    min_grade
        Count only events of at least this grade (``AETOXGR``), e.g. 3 for severe events.

    Returns
    -------
    StatsResult
        One row per SOC (``AEDECOD`` empty) and per SOC/term, and arm: ``AESOC``, ``AEDECOD``,
        ``<arm_col>``, ``n``, ``N``, ``percent``, ``p`` (Fisher–Freeman–Halton exact test across
        arms), ``method``. SOCs and terms in alphabetical order, each SOC row before its terms.
    """
    if min_grade is not None and min_grade not in (1, 2, 3, 4, 5):
        msg = f"min_grade={min_grade!r} must be a grade 1 to 5 (or None)"
        raise InputError(msg)
    ae, pop, levels = _prepare(adae, adsl, arm_col, subject_col, emergent_only=emergent_only,
                               extra=["AESOC", "AEDECOD", *(["AESER"] if serious_only else []),
                                      *(["AETOXGR"] if min_grade else [])])
    if serious_only:
        ae = ae[ae["AESER"].astype(str).str.upper() == "Y"]
    if min_grade is not None:
        ae = ae[pd.to_numeric(ae["AETOXGR"], errors="coerce") >= min_grade]
    rows = []
    for soc in sorted(ae["AESOC"].dropna().unique()):
        in_soc = ae[ae["AESOC"] == soc]
        rows += _rows_for({"AESOC": soc, "AEDECOD": ""}, in_soc, pop, arm_col, subject_col, levels, test=True)
        for term in sorted(in_soc["AEDECOD"].dropna().unique()):
            rows += _rows_for({"AESOC": soc, "AEDECOD": term}, in_soc[in_soc["AEDECOD"] == term], pop,
                              arm_col, subject_col, levels, test=True)
    table = pd.DataFrame(rows, columns=["AESOC", "AEDECOD", arm_col, "n", "N", "percent", "p"])
    table["method"] = "subjects with >= 1 event; Fisher-Freeman-Halton exact test across arms"
    kind = ("serious " if serious_only else "") + (f"grade >= {min_grade} " if min_grade else "")
    return StatsResult(table, title=f"Subjects with {kind}adverse events by SOC and preferred term",
                       notes=[f"safety population: {len(pop)} subjects"])


def create_ae_by_grade(
    adae: pd.DataFrame,
    adsl: pd.DataFrame,
    *,
    arm_col: str = "TRT01A",
    subject_col: str = "USUBJID",
    emergent_only: bool = True,
) -> StatsResult:
    """Subjects by the maximum grade of their adverse events (CTCAE ``AETOXGR``), by arm.

    Parameters
    ----------
    adae, adsl, arm_col, subject_col, emergent_only
        As for :func:`create_ae_overview`.

    Returns
    -------
    StatsResult
        One row per maximum grade (``"No AE"``, 1 to 5) and arm: ``max_grade``, ``<arm_col>``, ``n``,
        ``N``, ``percent``, ``method``. Each subject is counted once, at their highest grade.
    """
    ae, pop, levels = _prepare(adae, adsl, arm_col, subject_col, emergent_only=emergent_only,
                               extra=["AETOXGR"])
    grade = pd.to_numeric(ae["AETOXGR"], errors="coerce")
    bad = ae.loc[grade.isna() | ~grade.isin([1, 2, 3, 4, 5]), "AETOXGR"]
    if len(bad):
        msg = f"AETOXGR must be a grade 1 to 5; got {bad.iloc[0]!r}"
        raise InputError(msg)
    max_grade = grade.groupby(ae[subject_col]).max()
    subj = pop[[subject_col, arm_col]].copy()
    subj["max_grade"] = subj[subject_col].map(max_grade)
    rows = []
    for g in ["No AE", 1, 2, 3, 4, 5]:
        for lev in levels:
            in_arm = subj[subj[arm_col] == lev]
            mg = in_arm["max_grade"]
            k = int(mg.isna().sum()) if g == "No AE" else int((mg == g).sum())
            rows.append({"max_grade": str(g), arm_col: lev, "n": k, "N": len(in_arm),
                         "percent": 100 * k / len(in_arm) if len(in_arm) else np.nan})
    table = pd.DataFrame(rows)
    table["method"] = "subjects counted once at their maximum grade"
    return StatsResult(table, title="Subjects by maximum adverse-event grade",
                       notes=[f"safety population: {len(pop)} subjects"])


def compute_eair(
    adae: pd.DataFrame,
    adsl: pd.DataFrame,
    *,
    exposure_col: str = "TRTDURD",
    exposure_unit: Literal["days", "weeks", "years"] = "days",
    by: Literal["any", "soc", "term"] = "any",
    arm_col: str = "TRT01A",
    subject_col: str = "USUBJID",
    per: float = 100.0,
    conf_level: float = 0.95,
    emergent_only: bool = True,
) -> StatsResult:
    """Exposure-adjusted incidence rates (subjects with an event per ``per`` patient-years), by arm.

    Parameters
    ----------
    adae, adsl, arm_col, subject_col, emergent_only
        As for :func:`create_ae_overview`.
    exposure_col
        Exposure (treatment duration) per subject in ``adsl``.
    exposure_unit
        Unit of ``exposure_col``: ``"days"``, ``"weeks"`` or ``"years"`` (a year is 365.25 days).
    by
        ``"any"`` (any AE), ``"soc"`` or ``"term"`` (``AESOC`` / ``AEDECOD``).
    per
        Rates are per ``per`` patient-years.
    conf_level
        Confidence level of the exact (Garwood) Poisson interval.

    Returns
    -------
    StatsResult
        One row per event category and arm: ``category``, ``<arm_col>``, ``n`` (subjects with the
        event), ``patient_years`` (total exposure of the arm), ``rate``, ``lower``, ``upper``,
        ``method``.

    Notes
    -----
    EAIR = subjects with >= 1 event / total patient-years of exposure in the arm (the common
    "exposure-adjusted incidence rate"; exposure is not censored at the first event). The CI treats
    the count as Poisson: ``chi2(a/2, 2n)/2`` to ``chi2(1 - a/2, 2n + 2)/2`` (Garwood 1936), as R's
    ``poisson.test``.
    """
    assert_choice(exposure_unit, tuple(_UNIT_DAYS), name="exposure_unit")
    assert_choice(by, ("any", "soc", "term"), name="by")
    assert_level(conf_level)
    assert_data_frame(adsl, [exposure_col], what="adsl")
    extra = {"any": [], "soc": ["AESOC"], "term": ["AESOC", "AEDECOD"]}[by]
    ae, pop, levels = _prepare(adae, adsl, arm_col, subject_col, emergent_only=emergent_only, extra=extra)
    expo = pd.to_numeric(pop[exposure_col], errors="coerce")
    if expo.isna().any() or (expo < 0).any():
        bad = pop.loc[expo.isna() | (expo < 0), exposure_col].iloc[0]
        msg = f"adsl column {exposure_col!r} must be a non-negative number for every subject; got {bad!r}"
        raise InputError(msg)
    years = expo * _UNIT_DAYS[exposure_unit] / 365.25
    py = years.groupby(pop[arm_col]).sum()
    if by == "any":
        groups = [("Any AE", ae)]
    elif by == "soc":
        groups = [(soc, ae[ae["AESOC"] == soc]) for soc in sorted(ae["AESOC"].dropna().unique())]
    else:
        groups = [(f"{soc} / {t}", g) for (soc, t), g in ae.groupby(["AESOC", "AEDECOD"], sort=True)]
    alpha = 1 - conf_level
    rows = []
    for label, sub in groups:
        counts = sub.groupby(arm_col, observed=True)[subject_col].nunique()
        for lev in levels:
            k = int(counts.get(lev, 0))
            t = float(py.get(lev, 0.0))
            lo = stats.chi2.ppf(alpha / 2, 2 * k) / 2 if k > 0 else 0.0
            hi = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2
            rows.append({"category": label, arm_col: lev, "n": k, "patient_years": t,
                         "rate": per * k / t if t > 0 else np.nan,
                         "lower": per * lo / t if t > 0 else np.nan,
                         "upper": per * hi / t if t > 0 else np.nan})
    table = pd.DataFrame(rows)
    table["method"] = f"subjects with event per {per:g} patient-years; exact Poisson (Garwood) CI"
    return StatsResult(table, title="Exposure-adjusted incidence rates",
                       notes=[f"exposure from adsl column {exposure_col!r} ({exposure_unit})"])
