"""Revised EUSTAR activity index (Valentini 2017) with its active-disease threshold."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ssctrial.exceptions import InputError
from ssctrial.instruments._registry import Instrument, Item, register
from ssctrial.instruments._validate import bool_array, finish_output, prepare_input, validate_items

__all__ = ["EUSTAR_AI_WEIGHTS", "score_eustar_ai"]

logger = logging.getLogger(__name__)

#: Points per item (Valentini et al. 2017, abstract).
EUSTAR_AI_WEIGHTS: dict[str, float] = {
    "delta_skin": 1.5,
    "mrss_gt_18": 1.5,
    "digital_ulcers": 1.5,
    "tendon_friction_rubs": 2.25,
    "crp_gt_1_mg_dl": 2.25,
    "dlco_lt_70": 1.0,
}
_DEFAULT_THRESHOLD = 2.5

_ITEMS: tuple[Item, ...] = (
    Item("delta_skin", "Patient-assessed worsening of skin in the previous month", "boolean"),
    Item(
        "mrss",
        "Modified Rodnan skin score (total)",
        "number",
        min=0,
        max=51,
        description="Scores 1.5 when > 18",
    ),
    Item("digital_ulcers", "Active digital ulcers present", "boolean"),
    Item("tendon_friction_rubs", "Tendon friction rubs present", "boolean"),
    Item(
        "crp_mg_dl",
        "C-reactive protein (mg/dL)",
        "number",
        min=0,
        max=100,
        unit="mg/dL",
        required=False,
        description="Scores 2.25 when > 1 mg/dL; give this or crp_mg_l",
    ),
    Item(
        "crp_mg_l",
        "C-reactive protein (mg/L)",
        "number",
        min=0,
        max=1000,
        unit="mg/L",
        required=False,
        description="Scores 2.25 when > 10 mg/L; give this or crp_mg_dl",
    ),
    Item(
        "dlco_pct_pred",
        "DLCO % predicted",
        "number",
        min=0,
        max=250,
        unit="%",
        description="Scores 1.0 when < 70 %",
    ),
)


def score_eustar_ai(
    data: pd.DataFrame | Mapping[str, Any],
    *,
    threshold: float = _DEFAULT_THRESHOLD,
) -> pd.DataFrame | dict[str, Any]:
    """Score the revised EUSTAR activity index for one record or every row of a DataFrame.

    Parameters
    ----------
    data
        One record or a DataFrame with ``delta_skin``, ``digital_ulcers``,
        ``tendon_friction_rubs`` (booleans), ``mrss`` (total 0-51), ``dlco_pct_pred`` and CRP as
        ``crp_mg_dl`` or ``crp_mg_l`` (10 mg/L = 1 mg/dL).
    threshold
        Active disease when the score is at least this (2.5, Valentini 2017).

    Returns
    -------
    DataFrame or dict
        Same index as ``data`` with ``score`` (0-10 in steps of 0.25; missing if any item is
        missing) and ``active`` (``score >= threshold``; missing with the score).

    Raises
    ------
    InputError
        A value outside its range (every offending row listed), CRP given in neither unit, a row
        whose two CRP values disagree, or a threshold outside 0-10.

    Notes
    -----
    Valentini G et al., Ann Rheum Dis 2017;76:270-6: delta-skin 1.5; mRSS > 18 1.5; digital
    ulcers 1.5; tendon friction rubs 2.25; CRP > 1 mg/dL 2.25; DLCO < 70 % predicted 1.0. The
    inequalities are strict as printed (mRSS 18, CRP 1.0 mg/dL and DLCO 70 % score 0). No
    published rule for missing items, so the score is missing.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 10:
        msg = f"EUSTAR_AI option threshold={threshold!r} is not allowed; expected a number from 0 to 10"
        raise InputError(msg)
    frame, single = prepare_input(data, _ITEMS, instrument="EUSTAR_AI")
    if not single and "crp_mg_dl" not in frame.columns and "crp_mg_l" not in frame.columns:
        msg = "EUSTAR_AI: the data has neither crp_mg_dl nor crp_mg_l; give CRP in one of these units"
        raise InputError(msg)
    v = validate_items(frame, _ITEMS, instrument="EUSTAR_AI", single=single)
    from_l = v["crp_mg_l"] / 10.0
    clash = ~np.isnan(v["crp_mg_dl"]) & ~np.isnan(from_l) & (np.abs(v["crp_mg_dl"] - from_l) > 1e-9)
    if clash.any():
        rows = ", ".join(str(r) for r in frame.index[clash])
        msg = f"EUSTAR_AI items crp_mg_dl and crp_mg_l disagree (10 mg/L = 1 mg/dL) in row(s) {rows}"
        raise InputError(msg)
    crp = np.where(np.isnan(v["crp_mg_dl"]), from_l, v["crp_mg_dl"])
    w = EUSTAR_AI_WEIGHTS
    parts = (
        (v["delta_skin"], w["delta_skin"], v["delta_skin"] == 1.0),
        (v["mrss"], w["mrss_gt_18"], v["mrss"] > 18),
        (v["digital_ulcers"], w["digital_ulcers"], v["digital_ulcers"] == 1.0),
        (v["tendon_friction_rubs"], w["tendon_friction_rubs"], v["tendon_friction_rubs"] == 1.0),
        (crp, w["crp_gt_1_mg_dl"], crp > 1.0),
        (v["dlco_pct_pred"], w["dlco_lt_70"], v["dlco_pct_pred"] < 70),
    )
    n = len(frame)
    score = np.zeros(n)
    missing = np.zeros(n, dtype=bool)
    for raw, points, hit in parts:
        score += np.where(hit, points, 0.0)
        missing |= np.isnan(raw)
    score = np.where(missing, np.nan, score)
    active = bool_array(score >= threshold, missing)
    result = pd.DataFrame({"score": score, "active": active}, index=frame.index)
    return finish_output(result, single=single)


EUSTAR_AI = register(
    Instrument(
        code="EUSTAR_AI",
        name="Revised EUSTAR activity index",
        items=_ITEMS,
        scorer=score_eustar_ai,
        outputs={"score": "EUSTARAI", "active": None},
        score_range="0-10 (steps of 0.25); active disease >= 2.5",
        missing_rule="Any item missing: score missing (no published rule).",
        citation=("Valentini G et al. Ann Rheum Dis 2017;76(1):270-6, doi:10.1136/annrheumdis-2016-209768"),
        options={"threshold": _DEFAULT_THRESHOLD},
    )
)
