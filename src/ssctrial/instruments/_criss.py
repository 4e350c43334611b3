"""ACR-CRISS (Khanna 2016): step 1 (forced non-improvement) and step 2 (predicted probability)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import expit

from ssctrial.exceptions import InputError
from ssctrial.instruments._registry import Instrument, Item, register
from ssctrial.instruments._validate import (
    bool_array,
    finish_output,
    prepare_input,
    validate_items,
    with_range,
)

__all__ = [
    "CRISS_COEFFICIENTS",
    "compute_criss_probability",
    "compute_criss_step1_fvc",
    "compute_criss_step1_lv",
    "compute_criss_step1_pah",
    "score_acr_criss",
]

logger = logging.getLogger(__name__)

#: Step-2 logistic model (Khanna et al. 2016, Table 4): intercept and per-change coefficients.
CRISS_COEFFICIENTS: dict[str, float] = {
    "intercept": -5.54,
    "d_mrss": -0.81,
    "d_fvc_pct_pred": 0.21,
    "d_pt_global": -0.40,
    "d_md_global": -0.44,
    "d_haq_di": -3.41,
}
_DEFAULT_THRESHOLD = 0.60
_GLOBAL_SCALES = ("0-10", "0-100")

#: core items: code stem -> (label, min, max, unit)
CORE_ITEMS: dict[str, tuple[str, float, float, str | None]] = {
    "mrss": ("mRSS total", 0, 51, None),
    "fvc_pct_pred": ("FVC % predicted", 0, 250, "%"),
    "pt_global": ("Patient global assessment (0-10)", 0, 10, None),
    "md_global": ("Physician global assessment (0-10)", 0, 10, None),
    "haq_di": ("HAQ-DI", 0, 3, None),
}
STEP1_ITEMS: dict[str, str] = {
    "renal_crisis": "New scleroderma renal crisis",
    "fvc_decline": "FVC decline meeting the CRISS step-1 rule (see compute_criss_step1_fvc)",
    "lv_failure": "New left-ventricular failure (LVEF <= 45 %) requiring treatment",
    "pah": "New pulmonary arterial hypertension on right-heart catheterisation requiring treatment",
}


def _core_items() -> tuple[Item, ...]:
    items: list[Item] = []
    for stem, (label, lo, hi, unit) in CORE_ITEMS.items():
        items.append(Item(f"{stem}_base", f"{label} at baseline", "number", min=lo, max=hi, unit=unit))
        items.append(Item(stem, f"{label} at follow-up", "number", min=lo, max=hi, unit=unit))
    for code, label in STEP1_ITEMS.items():
        items.append(
            Item(
                code,
                label,
                "boolean",
                required=False,
                description="Step-1 event attributable to SSc during the trial; missing = no event",
            )
        )
    return tuple(items)


COMPOSITE_ITEMS: tuple[Item, ...] = _core_items()


def check_global_scale(global_scale: str, *, instrument: str) -> tuple[Item, ...]:
    """Return the composite items with the globals' range for ``global_scale``."""
    if global_scale not in _GLOBAL_SCALES:
        msg = (
            f"{instrument} option global_scale={global_scale!r} is not allowed; expected one of "
            f"{', '.join(_GLOBAL_SCALES)}"
        )
        raise InputError(msg)
    if global_scale == "0-10":
        return COMPOSITE_ITEMS
    return tuple(
        with_range(item, min=0, max=100, unit="mm")
        if item.code.startswith(("pt_global", "md_global"))
        else item
        for item in COMPOSITE_ITEMS
    )


def read_composite(
    data: pd.DataFrame | Mapping[str, Any],
    *,
    instrument: str,
    global_scale: str,
) -> tuple[pd.DataFrame, bool, dict[str, np.ndarray], np.ndarray]:
    """Validate composite input; return frame, single flag, values (globals on 0-10), step-1 flag."""
    items = check_global_scale(global_scale, instrument=instrument)
    frame, single = prepare_input(data, COMPOSITE_ITEMS, instrument=instrument)
    values = validate_items(frame, items, instrument=instrument, single=single)
    if global_scale == "0-100":
        for stem in ("pt_global", "md_global"):
            values[stem] = values[stem] / 10.0
            values[f"{stem}_base"] = values[f"{stem}_base"] / 10.0
    step1 = np.zeros(len(frame), dtype=bool)
    for code in STEP1_ITEMS:
        step1 |= values[code] == 1.0
    return frame, single, values, step1


def compute_criss_probability(
    *,
    d_mrss: Any,
    d_fvc_pct_pred: Any,
    d_pt_global: Any,
    d_md_global: Any,
    d_haq_di: Any,
    step1_event: Any = False,
) -> Any:
    """Return the ACR-CRISS predicted probability of improvement from the five changes.

    Parameters
    ----------
    d_mrss
        Change in mRSS (follow-up minus baseline, points).
    d_fvc_pct_pred
        Change in FVC % predicted (percentage points, absolute difference).
    d_pt_global, d_md_global
        Change in the patient / physician global assessment on 0-10 scales.
    d_haq_di
        Change in HAQ-DI (0-3 scale).
    step1_event
        Whether a step-1 event occurred (forces the probability to 0).

    Returns
    -------
    float or ndarray
        The probability (a float for scalar input; NaN where a change is missing and there is
        no step-1 event).

    Notes
    -----
    Khanna et al., Arthritis Rheumatol 2016;68:299-311, Table 4:
    ``lp = -5.54 - 0.81 dMRSS + 0.21 dFVC% - 0.40 dPtGlobal - 0.44 dMDGlobal - 3.41 dHAQ-DI`` and
    ``p = exp(lp) / (1 + exp(lp))``; a step-1 event gives ``p = 0``.

    Examples
    --------
    >>> round(compute_criss_probability(d_mrss=0, d_fvc_pct_pred=0, d_pt_global=0,
    ...                                 d_md_global=0, d_haq_di=0), 6)
    0.003911
    """
    c = CRISS_COEFFICIENTS
    changes = (d_mrss, d_fvc_pct_pred, d_pt_global, d_md_global, d_haq_di)
    arrays = [np.asarray(x, dtype=float) for x in changes]
    lp = (
        c["intercept"]
        + c["d_mrss"] * arrays[0]
        + c["d_fvc_pct_pred"] * arrays[1]
        + c["d_pt_global"] * arrays[2]
        + c["d_md_global"] * arrays[3]
        + c["d_haq_di"] * arrays[4]
    )
    p = np.where(np.asarray(step1_event, dtype=bool), 0.0, expit(lp))
    return float(p) if p.ndim == 0 else p


def _flag(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=bool)


def _out(x: np.ndarray) -> Any:
    return x.item() if x.ndim == 0 else x


def compute_criss_step1_fvc(
    *,
    fvc_pct_pred_baseline: Any,
    fvc_pct_pred_followup: Any,
    confirmed_within_1_month: Any,
    hrct_confirms_ild: Any,
    attributable_to_ssc: Any = True,
) -> dict[str, Any]:
    """Apply the ACR-CRISS step-1 FVC rule.

    Parameters
    ----------
    fvc_pct_pred_baseline, fvc_pct_pred_followup
        FVC % predicted at baseline and at follow-up.
    confirmed_within_1_month
        The decline was confirmed by another FVC within a month.
    hrct_confirms_ild
        HRCT confirms ILD (if a previous HRCT did not show it).
    attributable_to_ssc
        The decline is attributed to SSc.

    Returns
    -------
    dict
        ``event``: all conditions met (relative decline >= 15 %, follow-up FVC < 80 % predicted,
        confirmed, HRCT, attributable); ``relative_decline_pct``: 100 x (baseline - follow-up) /
        baseline. Scalars for scalar input, arrays otherwise.
    """
    base = np.asarray(fvc_pct_pred_baseline, dtype=float)
    follow = np.asarray(fvc_pct_pred_followup, dtype=float)
    if np.any(base <= 0):
        msg = f"ACR_CRISS step 1: fvc_pct_pred_baseline={fvc_pct_pred_baseline!r} must be positive"
        raise InputError(msg)
    decline = 100.0 * (base - follow) / base
    event = (
        (decline >= 15.0 - 1e-9)
        & (follow < 80.0)
        & _flag(confirmed_within_1_month)
        & _flag(hrct_confirms_ild)
        & _flag(attributable_to_ssc)
    )
    return {"event": _out(event), "relative_decline_pct": _out(decline)}


def compute_criss_step1_lv(
    *,
    lvef_pct: Any,
    requires_treatment: Any,
    new_onset: Any = True,
    attributable_to_ssc: Any = True,
) -> Any:
    """Return whether new left-ventricular failure meets ACR-CRISS step 1 (LVEF <= 45 %, treated).

    Parameters
    ----------
    lvef_pct
        Left-ventricular ejection fraction (%).
    requires_treatment, new_onset, attributable_to_ssc
        The other conditions of the rule.

    Returns
    -------
    bool or ndarray
        The step-1 LV-failure event.
    """
    lvef = np.asarray(lvef_pct, dtype=float)
    event = (lvef <= 45.0) & _flag(requires_treatment) & _flag(new_onset) & _flag(attributable_to_ssc)
    return _out(event)


def compute_criss_step1_pah(
    *,
    mpap_mmhg: Any,
    pawp_mmhg: Any,
    pvr_wood: Any,
    requires_treatment: Any,
    new_onset: Any = True,
    attributable_to_ssc: Any = True,
) -> Any:
    """Return whether new PAH meets ACR-CRISS step 1.

    Parameters
    ----------
    mpap_mmhg
        Mean pulmonary artery pressure at rest on right-heart catheterisation (mmHg).
    pawp_mmhg
        End-expiratory pulmonary artery wedge pressure (mmHg).
    pvr_wood
        Pulmonary vascular resistance (Wood units).
    requires_treatment, new_onset, attributable_to_ssc
        The other conditions of the rule.

    Returns
    -------
    bool or ndarray
        ``mPAP >= 25 and PAWP <= 15 and PVR > 3`` and the other conditions, as printed in
        Khanna et al. 2016, Table 4.
    """
    event = (
        (np.asarray(mpap_mmhg, dtype=float) >= 25.0)
        & (np.asarray(pawp_mmhg, dtype=float) <= 15.0)
        & (np.asarray(pvr_wood, dtype=float) > 3.0)
        & _flag(requires_treatment)
        & _flag(new_onset)
        & _flag(attributable_to_ssc)
    )
    return _out(event)


def score_acr_criss(
    data: pd.DataFrame | Mapping[str, Any],
    *,
    threshold: float = _DEFAULT_THRESHOLD,
    global_scale: Literal["0-10", "0-100"] = "0-10",
) -> pd.DataFrame | dict[str, Any]:
    """Score ACR-CRISS for one record or every row of a DataFrame.

    Parameters
    ----------
    data
        One record or a DataFrame with the five core items at baseline and follow-up
        (``mrss_base``/``mrss``, ``fvc_pct_pred_base``/``fvc_pct_pred``,
        ``pt_global_base``/``pt_global``, ``md_global_base``/``md_global``,
        ``haq_di_base``/``haq_di``) and optionally the step-1 events (booleans ``renal_crisis``,
        ``fvc_decline``, ``lv_failure``, ``pah``; missing = no event).
    threshold
        Improved when ``probability >= threshold`` (0.60).
    global_scale
        ``"0-10"`` or ``"0-100"`` (mm VAS, divided by 10 before use).

    Returns
    -------
    DataFrame or dict
        Same index as ``data`` with ``d_mrss``, ``d_fvc_pct_pred``, ``d_pt_global``,
        ``d_md_global`` (0-10 units), ``d_haq_di``, ``step1_event``, ``probability`` (0 with a
        step-1 event; missing when a change is missing and there is none) and ``improved``.

    Raises
    ------
    InputError
        A value out of range (every offending row listed) or a bad option.

    See Also
    --------
    compute_criss_probability, compute_criss_step1_fvc, compute_criss_step1_lv,
    compute_criss_step1_pah
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 < threshold < 1:
        msg = (
            f"ACR_CRISS option threshold={threshold!r} is not allowed; expected a probability between 0 and 1"
        )
        raise InputError(msg)
    frame, single, v, step1 = read_composite(data, instrument="ACR_CRISS", global_scale=global_scale)
    deltas = {f"d_{stem}": v[stem] - v[f"{stem}_base"] for stem in CORE_ITEMS}
    p = compute_criss_probability(**deltas, step1_event=step1)
    p = np.asarray(p, dtype=float)
    improved = bool_array(p >= threshold, np.isnan(p))
    result = pd.DataFrame(
        {**deltas, "step1_event": step1, "probability": p, "improved": improved}, index=frame.index
    )
    return finish_output(result, single=single)


ACR_CRISS = register(
    Instrument(
        code="ACR_CRISS",
        name="ACR Composite Response Index in Systemic Sclerosis (provisional, 2016)",
        items=COMPOSITE_ITEMS,
        scorer=score_acr_criss,
        outputs={
            "probability": "CRISS",
            "improved": None,
            "step1_event": None,
            "d_mrss": None,
            "d_fvc_pct_pred": None,
            "d_pt_global": None,
            "d_md_global": None,
            "d_haq_di": None,
        },
        score_range="probability 0-1; improved if >= 0.60",
        missing_rule=(
            "Step-1 event: probability 0 whatever else is missing. Otherwise any core item missing at "
            "baseline or follow-up: probability missing (no imputation inside the scorer)."
        ),
        citation=(
            "Khanna D et al. Arthritis Rheumatol 2016;68(2):299-311, doi:10.1002/art.39501 = Arthritis Care "
            "Res 2016;68(2):167-78, doi:10.1002/acr.22804 (Table 4)"
        ),
        per_visit=False,
        options={"threshold": _DEFAULT_THRESHOLD, "global_scale": "0-10"},
    )
)
