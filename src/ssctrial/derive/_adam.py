"""ADSL, ADEFF and ADAE: CDISC ADaM-shaped analysis datasets derived from the store.

The store holds what was captured (subjects, allocations, visit dates, item-level observations,
adverse events); everything an analysis reads is derived here, by documented rules
(``docs/derivation.md``), and only from the store, so the same locked database always gives the
same datasets.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ssctrial.derive._bds import (
    WindowRule,
    derive_var_ablfl,
    derive_var_anl01fl,
    derive_var_base,
    derive_var_chg,
    derive_var_pchg,
    derive_vars_visit_window,
)
from ssctrial.derive._scores import _is_yes, compute_visit_scores
from ssctrial.exceptions import InputError
from ssctrial.instruments import BACKGROUND_THERAPIES, get_instrument

if TYPE_CHECKING:
    from ssctrial.design import StudyDesign
    from ssctrial.store import Store

__all__ = ["AnalysisDatasets", "create_adae", "create_adeff", "create_adsl", "create_analysis_datasets"]

logger = logging.getLogger(__name__)

_BG_CODES = {
    "glucocorticoid_low_dose": "BGGC",
    "mycophenolate": "BGMMF",
    "methotrexate": "BGMTX",
    "cyclophosphamide": "BGCYC",
    "calcium_channel_blocker": "BGCCB",
    "other_immunosuppressant": "BGOIS",
}

ADSL_LABELS: dict[str, str] = {
    "STUDYID": "Study Identifier",
    "USUBJID": "Unique Subject Identifier",
    "SUBJID": "Subject Identifier for the Study",
    "SITEID": "Study Site Identifier",
    "CONSDT": "Date of Informed Consent",
    "SCRFFL": "Screen Failure Flag",
    "SCRFREAS": "Reason for Screen Failure",
    "RANDFL": "Randomized Population Flag",
    "ITTFL": "Intent-To-Treat Population Flag",
    "SAFFL": "Safety Population Flag",
    "PPROTFL": "Per-Protocol Population Flag",
    "TRT01P": "Planned Treatment for Period 01",
    "TRT01PN": "Planned Treatment for Period 01 (N)",
    "TRT01A": "Actual Treatment for Period 01",
    "TRT01AN": "Actual Treatment for Period 01 (N)",
    "ARM": "Description of Planned Arm",
    "RANDDT": "Date of Randomization",
    "TRTSDT": "Date of First Exposure to Treatment",
    "TRTEDT": "Date of Last Exposure to Treatment",
    "TRTDURD": "Total Treatment Duration (Days)",
    "SEX": "Sex",
    "BRTHDT": "Date of Birth",
    "AGE": "Age",
    "AGEU": "Age Units",
    "HEIGHTBL": "Height at Baseline (cm)",
    "WEIGHTBL": "Weight at Baseline (kg)",
    "BMIBL": "Body Mass Index at Baseline (kg/m2)",
    "ETHNIC": "Ethnic Group (GLI-2012)",
    "SSCTYPE": "SSc Subtype",
    "DISDURM": "Disease Duration (Months)",
    "AUTOAB": "Dominant SSc Autoantibody",
    "BGGC": "Background Low-Dose Glucocorticoid",
    "BGMMF": "Background Mycophenolate",
    "BGMTX": "Background Methotrexate",
    "BGCYC": "Background Cyclophosphamide",
    "BGCCB": "Background Calcium Channel Blocker",
    "BGOIS": "Background Other Immunosuppressant",
    "STRATUM": "Randomization Stratum",
    "EOSSTT": "End of Study Status",
    "DCSREAS": "Reason for Discontinuation from Study",
    "MRSSBL": "Baseline mRSS",
    "FVCPPBL": "Baseline FVC % Predicted",
    "DLCOPPBL": "Baseline DLCO % Predicted",
    "HAQDIBL": "Baseline HAQ-DI",
}

ADEFF_LABELS: dict[str, str] = {
    "STUDYID": "Study Identifier",
    "USUBJID": "Unique Subject Identifier",
    "TRT01P": "Planned Treatment for Period 01",
    "TRT01A": "Actual Treatment for Period 01",
    "ITTFL": "Intent-To-Treat Population Flag",
    "SAFFL": "Safety Population Flag",
    "PARAMCD": "Parameter Code",
    "PARAM": "Parameter",
    "VISIT": "Visit Code (as Captured)",
    "ADT": "Analysis Date",
    "ADY": "Analysis Relative Day",
    "ARELDY": "Days Since Baseline (Baseline = 0)",
    "AVISITCD": "Analysis Visit Code",
    "AVISIT": "Analysis Visit",
    "AVISITN": "Analysis Visit (N, Weeks)",
    "AWTARGET": "Analysis Window Target",
    "AWLO": "Analysis Window Beginning Timepoint",
    "AWHI": "Analysis Window Ending Timepoint",
    "AWTDIFF": "Analysis Window Diff from Target",
    "AWU": "Analysis Window Unit",
    "AWRULE": "Analysis Window Rule",
    "AVAL": "Analysis Value",
    "BASE": "Baseline Value",
    "CHG": "Change from Baseline",
    "PCHG": "Percent Change from Baseline",
    "ABLFL": "Baseline Record Flag",
    "ANL01FL": "Analysis Flag 01",
    "CRIT1": "Analysis Criterion 1",
    "CRIT1FL": "Criterion 1 Evaluation Result Flag",
}

ADAE_LABELS: dict[str, str] = {
    "STUDYID": "Study Identifier",
    "USUBJID": "Unique Subject Identifier",
    "TRT01A": "Actual Treatment for Period 01",
    "SAFFL": "Safety Population Flag",
    "AESEQ": "Sequence Number",
    "AETERM": "Reported Term for the Adverse Event",
    "AEDECOD": "Dictionary-Derived Term",
    "AESOC": "Primary System Organ Class",
    "ASTDT": "Analysis Start Date",
    "AENDT": "Analysis End Date",
    "ASTDY": "Analysis Start Relative Day",
    "AETOXGR": "Analysis Toxicity Grade",
    "AESER": "Serious Event",
    "AEREL": "Causality",
    "AEOUT": "Outcome of Adverse Event",
    "AEACN": "Action Taken with Study Treatment",
    "TRTEMFL": "Treatment Emergent Analysis Flag",
    "ADURN": "AE Duration (Days)",
}


def _label(data: pd.DataFrame, name: str, label: str, labels: dict[str, str]) -> pd.DataFrame:
    data.attrs.update(name=name, label=label, labels={c: labels.get(c, c) for c in data.columns})
    return data


def _to_date(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, errors="coerce").dt.date


def _days(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (pd.to_datetime(later) - pd.to_datetime(earlier)).dt.days.astype(float)


def _wide_form(observations: pd.DataFrame, instrument: str) -> pd.DataFrame:
    """One row per subject (first visit with the form) of a pass-through form's items, as text."""
    rows = observations[observations["instrument"] == instrument]
    if rows.empty:
        return pd.DataFrame(columns=["subject"])
    wide = rows.pivot_table(index="subject", columns="item", values="value", aggfunc="first")
    return wide.reset_index()


def create_adsl(
    store: Store, design: StudyDesign, *, observations: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Derive ADSL: one row per screened subject, with populations, treatment and baseline data.

    Parameters
    ----------
    store
        The trial store.
    design
        The study design (arms, strata).
    observations
        The store's observations, when already read (avoids reading them twice).

    Returns
    -------
    DataFrame
        One row per subject; the columns of ``ADSL_LABELS`` (strata as one column per factor,
        named by the factor code, plus ``STRATUM``). Rules: ``RANDFL``/``ITTFL`` = randomised;
        ``SAFFL`` = randomised with a baseline visit date (open label: the first dose is given at
        baseline, so ``TRTSDT`` = baseline date); ``TRT01A`` = ``TRT01P`` (no dosing deviations
        are captured); ``TRTEDT`` = the last visit date; ``AGE`` = whole years at consent;
        ``EOSSTT`` = COMPLETED / DISCONTINUED / ONGOING (randomised) or SCREEN FAILURE;
        ``PPROTFL`` is set by :func:`create_analysis_datasets` (needs the primary endpoint).
    """
    subjects = store.read_table("subject")
    allocation = store.read_table("allocation")
    visits = store.read_table("visit")
    obs = store.observations() if observations is None else observations
    study = store.read_table("study")
    study_id = str(study["study_id"].iloc[0]) if len(study) else design.study_id

    adsl = pd.DataFrame(
        {"STUDYID": study_id, "USUBJID": subjects["subject_id"], "SUBJID": subjects["subject_id"]}
    )
    adsl["SITEID"] = subjects["site_code"].to_numpy()
    adsl["CONSDT"] = _to_date(subjects["consent_date"]).to_numpy()
    status = subjects["status"].astype(str).to_numpy()
    alloc = allocation.set_index("subject_id")
    arm = adsl["USUBJID"].map(alloc["arm"]) if len(alloc) else pd.Series(None, index=adsl.index)
    randomised = arm.notna().to_numpy()
    adsl["SCRFFL"] = np.where(status == "screen_failed", "Y", "")
    reason = subjects["status_reason"].fillna("").astype(str).to_numpy()
    adsl["SCRFREAS"] = np.where(status == "screen_failed", reason, "")
    adsl["RANDFL"] = np.where(randomised, "Y", "")
    adsl["ITTFL"] = adsl["RANDFL"]
    arm_order = {a.code: i + 1 for i, a in enumerate(design.arms)}
    arm_label = {a.code: a.label for a in design.arms}
    adsl["TRT01P"] = arm.to_numpy()
    adsl["TRT01PN"] = arm.map(arm_order).astype(float).to_numpy()
    adsl["TRT01A"] = adsl["TRT01P"]
    adsl["TRT01AN"] = adsl["TRT01PN"]
    adsl["ARM"] = arm.map(arm_label).to_numpy()
    randomized_at = (
        adsl["USUBJID"].map(alloc["randomized_at"]) if len(alloc) else pd.Series(pd.NaT, index=adsl.index)
    )
    adsl["RANDDT"] = _to_date(randomized_at).to_numpy()

    baseline_code = design.baseline_visit.code
    dated = visits.dropna(subset=["visit_date"])
    base_dates = dated[dated["visit_code"] == baseline_code].groupby("subject_id")["visit_date"].min()
    last_dates = dated.groupby("subject_id")["visit_date"].max()
    adsl["TRTSDT"] = _to_date(adsl["USUBJID"].map(base_dates)).where(randomised, None).to_numpy()
    adsl["TRTEDT"] = (
        _to_date(adsl["USUBJID"].map(last_dates)).where(pd.notna(adsl["TRTSDT"]).to_numpy(), None).to_numpy()
    )
    adsl["TRTDURD"] = _days(adsl["TRTEDT"], adsl["TRTSDT"]) + 1
    adsl["SAFFL"] = np.where(randomised & pd.notna(adsl["TRTSDT"]).to_numpy(), "Y", "")
    adsl["PPROTFL"] = ""

    adsl["SEX"] = subjects["sex"].to_numpy()
    adsl["BRTHDT"] = _to_date(subjects["birth_date"]).to_numpy()
    age_days = _days(adsl["CONSDT"], adsl["BRTHDT"])
    adsl["AGE"] = np.floor(age_days / 365.25)
    adsl["AGEU"] = "YEARS"
    adsl["HEIGHTBL"] = subjects["height_cm"].astype(float).to_numpy()

    demog = _wide_form(obs, "DEMOG").set_index("subject") if "DEMOG" in set(obs["instrument"]) else None

    def demog_col(item: str) -> pd.Series:
        if demog is None or item not in demog.columns:
            return pd.Series([None] * len(adsl), index=adsl.index, dtype=object)
        return adsl["USUBJID"].map(demog[item])

    adsl["WEIGHTBL"] = pd.to_numeric(demog_col("weight_kg"), errors="coerce").to_numpy()
    adsl["BMIBL"] = np.round(adsl["WEIGHTBL"] / (adsl["HEIGHTBL"] / 100.0) ** 2, 1)
    adsl["ETHNIC"] = demog_col("ethnicity").to_numpy()
    adsl["SSCTYPE"] = demog_col("subtype").to_numpy()
    adsl["DISDURM"] = pd.to_numeric(demog_col("disease_duration_months"), errors="coerce").to_numpy()
    adsl["AUTOAB"] = demog_col("autoantibody").to_numpy()
    for name in BACKGROUND_THERAPIES:
        text = demog_col(f"bg_{name}")
        adsl[_BG_CODES[name]] = np.where(_is_yes(text), "Y", np.where(text.isna(), "", "N"))

    strata = subjects["strata"].map(lambda s: json.loads(s) if isinstance(s, str) and s else {})
    for factor in design.strata:
        adsl[factor.code] = strata.map(lambda d, code=factor.code: d.get(code)).to_numpy()
    adsl["STRATUM"] = subjects["stratum"].to_numpy()

    eos = np.select(
        [status == "screen_failed", status == "completed", status == "withdrawn", randomised],
        ["SCREEN FAILURE", "COMPLETED", "DISCONTINUED", "ONGOING"],
        default="NOT RANDOMIZED",
    )
    adsl["EOSSTT"] = eos
    adsl["DCSREAS"] = np.where(status == "withdrawn", reason, "")
    labels = {**ADSL_LABELS, **{f.code: f"Stratum: {f.label}"[:40] for f in design.strata}}
    return _label(adsl, "ADSL", "Subject-Level Analysis Dataset", labels)


def _param_labels(design: StudyDesign) -> dict[str, str]:
    labels = {e.paramcd: e.label for e in design.endpoints}
    labels.setdefault("CRISS", "ACR-CRISS predicted probability of improvement")
    labels.setdefault("RCRISS", "Revised CRISS responder (1 = responder)")
    return labels


def create_adeff(
    store: Store,
    design: StudyDesign,
    adsl: pd.DataFrame,
    *,
    window_rule: WindowRule = "window",
    observations: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Derive ADEFF (BDS): one row per randomised subject, parameter and captured visit.

    Scores come from the instrument registry applied to the item-level observations (each
    instrument's own missing-item rule); then analysis visits by ``window_rule``, baseline
    (last non-missing value on or before day 0), BASE, CHG, PCHG and ANL01FL (one record per
    analysis visit, closest to the target day). ACR-CRISS (``CRISS``, with CRIT1FL = improved at
    the study's threshold) and revised CRISS (``RCRISS``) are derived at each post-baseline
    analysis visit from the ANL01FL records of their five components and the ORGAN form's step-1
    events recorded up to that visit.

    Returns
    -------
    DataFrame
        The columns of ``ADEFF_LABELS``, sorted by subject, parameter and day.
    """
    obs = store.observations() if observations is None else observations
    subjects = store.read_table("subject").rename(columns={"subject_id": "subject"})
    visits = store.read_table("visit").rename(columns={"subject_id": "subject", "visit_code": "visit"})
    scores = compute_visit_scores(obs, design, subjects=subjects, visit_dates=visits)
    itt = adsl[adsl["ITTFL"] == "Y"]
    keep = [
        "USUBJID",
        "STUDYID",
        "TRT01P",
        "TRT01A",
        "ITTFL",
        "SAFFL",
        "TRTSDT",
        *(f.code for f in design.strata),
    ]
    data = scores.rename(columns={"subject": "USUBJID", "visit": "VISIT"}).merge(
        itt[keep], on="USUBJID", how="inner"
    )
    dates = visits.rename(columns={"subject": "USUBJID", "visit": "VISIT"})[
        ["USUBJID", "VISIT", "visit_date"]
    ]
    data = data.merge(dates, on=["USUBJID", "VISIT"], how="left")
    data["ADT"] = _to_date(data.pop("visit_date"))
    data["ARELDY"] = _days(data["ADT"], data["TRTSDT"])
    data["ADY"] = np.where(data["ARELDY"] >= 0, data["ARELDY"] + 1, data["ARELDY"])
    data["PARAM"] = data["PARAMCD"].map(_param_labels(design)).fillna(data["PARAMCD"])
    data = derive_vars_visit_window(data, design, rule=window_rule, visit_col="VISIT")
    data = derive_var_ablfl(data)
    data = derive_var_base(data)
    data = derive_var_chg(data)
    data = derive_var_pchg(data)
    data = derive_var_anl01fl(data)
    data["CRIT1"] = ""
    data["CRIT1FL"] = ""
    criss = _derive_criss(data, obs, design)
    data = pd.concat([data, criss], ignore_index=True) if len(criss) else data
    order = [
        "STUDYID",
        "USUBJID",
        "TRT01P",
        "TRT01A",
        "ITTFL",
        "SAFFL",
        *(f.code for f in design.strata),
        "PARAMCD",
        "PARAM",
        "VISIT",
        "ADT",
        "ADY",
        "ARELDY",
        "AVISITCD",
        "AVISIT",
        "AVISITN",
        "AWTARGET",
        "AWLO",
        "AWHI",
        "AWTDIFF",
        "AWU",
        "AWRULE",
        "AVAL",
        "BASE",
        "CHG",
        "PCHG",
        "ABLFL",
        "ANL01FL",
        "CRIT1",
        "CRIT1FL",
    ]
    data = data.sort_values(["USUBJID", "PARAMCD", "ARELDY"], kind="stable")[order].reset_index(drop=True)
    labels = {**ADEFF_LABELS, **{f.code: f"Stratum: {f.label}"[:40] for f in design.strata}}
    return _label(data, "ADEFF", "Efficacy Analysis Dataset", labels)


_CRISS_COMPONENTS = {
    "MRSS": "mrss",
    "FVCPP": "fvc_pct_pred",
    "PTGLOBAL": "pt_global",
    "MDGLOBAL": "md_global",
    "HAQDI": "haq_di",
}


def _derive_criss(data: pd.DataFrame, observations: pd.DataFrame, design: StudyDesign) -> pd.DataFrame:
    """ACR-CRISS and revised CRISS records at each post-baseline analysis visit."""
    anl = data[(data["ANL01FL"] == "Y") & (data["ABLFL"] != "Y") & data["PARAMCD"].isin(_CRISS_COMPONENTS)]
    anl = anl[anl["ARELDY"] > 0]
    if anl.empty:
        return pd.DataFrame(columns=data.columns)
    keys = ["USUBJID", "AVISITCD"]
    aval = anl.pivot_table(index=keys, columns="PARAMCD", values="AVAL", aggfunc="first")
    base = anl.pivot_table(index=keys, columns="PARAMCD", values="BASE", aggfunc="first")
    wide = pd.DataFrame(index=aval.index)
    for paramcd, item in _CRISS_COMPONENTS.items():
        wide[item] = aval[paramcd] if paramcd in aval else np.nan
        wide[f"{item}_base"] = base[paramcd] if paramcd in base else np.nan
    # step 1: any ORGAN event recorded on or before the analysis visit's day
    mrss = anl[anl["PARAMCD"] == "MRSS"].set_index(keys)
    context = anl.drop_duplicates(keys).set_index(keys)
    day = mrss["ARELDY"].reindex(wide.index).fillna(context["ARELDY"].reindex(wide.index))
    events = _organ_events(observations, data)
    for event in ("renal_crisis", "fvc_decline", "lv_failure", "pah"):
        first = events.get(event, pd.Series(dtype=float))
        first_day = pd.Series(wide.index.get_level_values("USUBJID"), index=wide.index).map(first)
        wide[event] = (first_day.notna() & (first_day <= day)).to_numpy()
    endpoint = next((e for e in design.endpoints if e.paramcd == "CRISS"), None)
    threshold = endpoint.responder_threshold if endpoint and endpoint.responder_threshold else 0.6
    scored = get_instrument("ACR_CRISS").scorer(wide.reset_index(drop=True), threshold=threshold)
    revised = get_instrument("RCRISS").scorer(wide.reset_index(drop=True))
    ctx = context.reindex(wide.index)
    out = []
    for paramcd, values, crit in (
        ("CRISS", scored["probability"], f"ACR-CRISS probability >= {threshold:.2f}"),
        ("RCRISS", revised["responder"], ""),
    ):
        frame = ctx.reset_index().copy()
        frame["PARAMCD"] = paramcd
        frame["PARAM"] = _param_labels(design)[paramcd]
        frame["AVAL"] = pd.to_numeric(pd.Series(values), errors="coerce").astype(float).to_numpy()
        frame["BASE"] = np.nan
        frame["CHG"] = np.nan
        frame["PCHG"] = np.nan
        frame["ABLFL"] = ""
        frame["ANL01FL"] = np.where(frame["AVAL"].notna(), "Y", "")
        frame["ADT"] = mrss["ADT"].reindex(wide.index).to_numpy() if "ADT" in mrss else frame["ADT"]
        frame["ARELDY"] = day.to_numpy()
        frame["CRIT1"] = crit
        if crit:
            improved = pd.Series(scored["improved"]).astype("boolean")
            frame["CRIT1FL"] = np.where(improved.isna(), "", np.where(improved.fillna(False), "Y", "N"))
        else:
            frame["CRIT1FL"] = ""
        frame["VISIT"] = frame["AVISITCD"]
        out.append(frame[data.columns])
    return pd.concat(out, ignore_index=True)


def _organ_events(observations: pd.DataFrame, data: pd.DataFrame) -> dict[str, pd.Series]:
    """First relative day (per subject) at which each ORGAN step-1 event was recorded."""
    organ = observations[observations["instrument"] == "ORGAN"]
    if organ.empty:
        return {}
    yes = organ[_is_yes(organ["value"])]
    days = data.drop_duplicates(["USUBJID", "VISIT"]).set_index(["USUBJID", "VISIT"])["ARELDY"]
    yes = yes.assign(
        day=[days.get((s, v), np.nan) for s, v in zip(yes["subject"], yes["visit"], strict=True)]
    )
    return {str(event): grp.groupby("subject")["day"].min() for event, grp in yes.groupby("item")}


def create_adae(store: Store, adsl: pd.DataFrame) -> pd.DataFrame:
    """Derive ADAE: one row per adverse event of a randomised subject.

    Rules: ``AEDECOD`` = the reported term (the store does not code to MedDRA; terms are entered
    from a controlled list) and ``AESOC`` = the body system entered with it; ``TRTEMFL`` = "Y"
    when the event starts on or after ``TRTSDT``; ``AETOXGR`` = CTCAE grade 1-5; ``AEACN`` =
    "DRUG WITHDRAWN" when the event's action taken was withdrawal of study treatment (where the
    store records it), else "".
    """
    ae = store.read_table("adverse_event")
    base = adsl.loc[adsl["RANDFL"] == "Y", ["STUDYID", "USUBJID", "TRT01A", "SAFFL", "TRTSDT"]]
    ae = ae.rename(columns={"subject_id": "USUBJID"}).merge(base, on="USUBJID", how="inner")
    ae = ae.sort_values(["USUBJID", "start_date", "id"], kind="stable").reset_index(drop=True)
    out = pd.DataFrame(
        {
            "STUDYID": ae["STUDYID"],
            "USUBJID": ae["USUBJID"],
            "TRT01A": ae["TRT01A"],
            "SAFFL": ae["SAFFL"],
            "AESEQ": ae.groupby("USUBJID").cumcount() + 1,
            "AETERM": ae["term"],
            "AEDECOD": ae["term"],
            "AESOC": ae["body_system"],
            "ASTDT": _to_date(ae["start_date"]),
            "AENDT": _to_date(ae["stop_date"]),
        }
    )
    out["ASTDY"] = _days(out["ASTDT"], ae["TRTSDT"])
    out["ASTDY"] = np.where(out["ASTDY"] >= 0, out["ASTDY"] + 1, out["ASTDY"])
    out["AETOXGR"] = ae["grade"].astype(int)
    out["AESER"] = np.where(ae["serious"].astype(bool), "Y", "N")
    out["AEREL"] = ae["relatedness"].astype(str)
    out["AEOUT"] = ae["outcome"].astype(str)
    action = ae["action_taken"].astype(str) if "action_taken" in ae else pd.Series("", index=ae.index)
    out["AEACN"] = np.where(action.str.lower() == "drug_withdrawn", "DRUG WITHDRAWN", "")
    out["TRTEMFL"] = np.where(
        pd.notna(ae["TRTSDT"]).to_numpy() & (_days(out["ASTDT"], ae["TRTSDT"]) >= 0).to_numpy(), "Y", ""
    )
    out["ADURN"] = _days(out["AENDT"], out["ASTDT"]) + 1
    return _label(out, "ADAE", "Adverse Events Analysis Dataset", ADAE_LABELS)


@dataclass(frozen=True)
class AnalysisDatasets:
    """The ADaM datasets of one snapshot of the store."""

    adsl: pd.DataFrame
    adeff: pd.DataFrame
    adae: pd.DataFrame

    def items(self) -> list[tuple[str, pd.DataFrame]]:
        """``[("ADSL", adsl), ("ADEFF", adeff), ("ADAE", adae)]``."""
        return [("ADSL", self.adsl), ("ADEFF", self.adeff), ("ADAE", self.adae)]


def create_analysis_datasets(
    store: Store, design: StudyDesign, *, window_rule: WindowRule = "window"
) -> AnalysisDatasets:
    """Derive ADSL, ADEFF and ADAE, and complete ADSL with PPROTFL and baseline values.

    ``PPROTFL`` = "Y" for ITT subjects with the primary endpoint's value at its analysis visit
    (an ANL01FL record inside the visit window). Baseline values of MRSS, FVCPP, DLCOPP and HAQDI
    are copied to ADSL (``MRSSBL``...) for Table 1.
    """
    obs = store.observations()
    adsl = create_adsl(store, design, observations=obs)
    adeff = create_adeff(store, design, adsl, window_rule=window_rule, observations=obs)
    adae = create_adae(store, adsl)
    primary = design.primary_endpoint
    if primary is None:
        msg = "the study file defines no primary endpoint (role: primary)"
        raise InputError(msg)
    visit = primary.visits[-1]
    ok = adeff[
        (adeff["PARAMCD"] == primary.paramcd) & (adeff["AVISITCD"] == visit) & (adeff["ANL01FL"] == "Y")
    ]
    value = "CHG" if primary.analysis == "change" else "AVAL"
    pp = set(ok.loc[ok[value].notna(), "USUBJID"])
    adsl = adsl.copy()
    adsl["PPROTFL"] = np.where(adsl["USUBJID"].isin(pp) & (adsl["ITTFL"] == "Y"), "Y", "")
    bl = adeff[adeff["ABLFL"] == "Y"]
    for paramcd, col in (
        ("MRSS", "MRSSBL"),
        ("FVCPP", "FVCPPBL"),
        ("DLCOPP", "DLCOPPBL"),
        ("HAQDI", "HAQDIBL"),
    ):
        values = bl[bl["PARAMCD"] == paramcd].set_index("USUBJID")["AVAL"]
        adsl[col] = adsl["USUBJID"].map(values).astype(float)
    _label(adsl, "ADSL", "Subject-Level Analysis Dataset", {**adsl.attrs.get("labels", {}), **ADSL_LABELS})
    return AnalysisDatasets(adsl=adsl, adeff=adeff, adae=adae)
