"""Score simulated item-level data through the instruments' own scorers (test helper)."""

from __future__ import annotations

import pandas as pd

from ssctrial.instruments import (
    score_acr_criss,
    score_globals,
    score_haq_di,
    score_mrss,
    score_pft,
)


def wide(observations: pd.DataFrame, instrument: str) -> pd.DataFrame:
    """One row per subject and visit, one column per item of ``instrument``."""
    part = observations[observations["instrument"] == instrument]
    return part.pivot(index=["subject", "visit"], columns="item", values="value")


def score_visits(trial) -> pd.DataFrame:
    """MRSS total, FVC % predicted, globals and HAQ-DI per subject and visit, from the items."""
    obs = trial.observations
    mrss = score_mrss(wide(obs, "MRSS"))[["total"]].rename(columns={"total": "mrss"})
    glob = score_globals(wide(obs, "GLOBAL"))[["pt_global", "md_global"]]
    haq = score_haq_di(wide(obs, "HAQ_DI"))[["haq_di"]]
    pft = wide(obs, "PFT").reset_index()
    subj = trial.subjects.set_index("subject")
    vis = trial.visits.set_index(["subject", "visit"])
    pft["sex"] = subj.loc[pft["subject"], "sex"].to_numpy()
    day = vis.loc[list(zip(pft["subject"], pft["visit"], strict=True)), "day"].to_numpy()
    pft["age"] = subj.loc[pft["subject"], "age"].to_numpy() + day / 365.25
    lung = trial.design.lung_equation
    scored = score_pft(pft, equation=lung.spirometry, ethnicity=lung.ethnicity)
    fvc = pd.DataFrame(
        {"fvc_pct_pred": scored["fvc_pct_pred"].to_numpy()},
        index=pd.MultiIndex.from_frame(pft[["subject", "visit"]]),
    )
    return mrss.join([glob, haq, fvc], how="outer")


def score_criss(trial, visit: str, *, baseline: str = "BL") -> pd.DataFrame:
    """ACR-CRISS at ``visit`` for every randomised subject with data there (step 1 from organ events)."""
    s = score_visits(trial)
    base = s.xs(baseline, level="visit")
    follow = s.xs(visit, level="visit")
    cols = ["mrss", "fvc_pct_pred", "pt_global", "md_global", "haq_di"]
    data = follow[cols].join(base[cols].add_suffix("_base"), how="inner")
    day = trial.visits.set_index(["subject", "visit"]).xs(visit, level="visit")["day"]
    ev = trial.organ_events
    for name in ("renal_crisis", "fvc_decline", "lv_failure", "pah"):
        e = ev[ev["event"] == name].set_index("subject")["day"]
        data[name] = [bool(sub in e.index and e.loc[sub] <= day.loc[sub]) for sub in data.index]
    out = score_acr_criss(data)
    arm = trial.subjects.set_index("subject")["arm"]
    out["arm"] = arm.loc[out.index].to_numpy()
    return out
