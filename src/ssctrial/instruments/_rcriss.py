"""Revised CRISS (Khanna 2021): improvement of at least X % in at least 3 of the 5 core items."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

from ssctrial.exceptions import InputError
from ssctrial.instruments._criss import COMPOSITE_ITEMS, CORE_ITEMS, read_composite
from ssctrial.instruments._registry import Instrument, register
from ssctrial.instruments._validate import bool_array, finish_output

__all__ = ["score_rcriss"]

logger = logging.getLogger(__name__)

_DEFAULT_THRESHOLD = 20.0
_DEFAULT_FVC_THRESHOLD = 5.0
_FVC_CHANGES = ("relative", "absolute")
_MIN_ITEMS = 3
# tolerance for "at least X %" so that exact boundaries (25 -> 20 is 20 %) are not lost to rounding
_EPS = 1e-9


def _check_pct(value: Any, *, name: str, lo_open: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo_open < value <= hi:
        msg = (
            f"RCRISS option {name}={value!r} is not allowed; "
            f"expected a percentage above {lo_open:g} and at most {hi:g}"
        )
        raise InputError(msg)
    return float(value)


def score_rcriss(
    data: pd.DataFrame | Mapping[str, Any],
    *,
    threshold: float = _DEFAULT_THRESHOLD,
    fvc_threshold: float = _DEFAULT_FVC_THRESHOLD,
    fvc_change: Literal["relative", "absolute"] = "relative",
    global_scale: Literal["0-10", "0-100"] = "0-10",
) -> pd.DataFrame | dict[str, Any]:
    """Score the revised CRISS (rCRISS-X) for one record or every row of a DataFrame.

    Parameters
    ----------
    data
        As for :func:`score_acr_criss`: the five core items at baseline (``<item>_base``) and
        follow-up, and optionally the step-1 events.
    threshold
        X, the relative improvement (%) needed in mRSS, HAQ-DI and the two globals (20 for
        rCRISS-20; 25, 30, 40, 50, 60 ... are accepted, any value in (0, 100]).
    fvc_threshold
        Improvement in FVC % predicted (%) that counts, whatever X is (5).
    fvc_change
        ``"relative"`` (default: 100 x (follow-up - baseline) / baseline >= ``fvc_threshold``)
        or ``"absolute"`` (follow-up - baseline >= ``fvc_threshold`` percentage points).
    global_scale
        ``"0-10"`` or ``"0-100"`` (mm). Relative changes do not depend on the scale.

    Returns
    -------
    DataFrame or dict
        Same index as ``data`` with ``improved_mrss``, ``improved_haq_di``,
        ``improved_pt_global``, ``improved_md_global``, ``improved_fvc`` (nullable booleans;
        missing where the item is missing at either visit), ``n_improved`` (items known to be
        improved), ``step1_event`` and ``responder``.

    Raises
    ------
    InputError
        A value out of range (every offending row listed) or a bad option.

    Notes
    -----
    Khanna D et al., Ann Rheum Dis 2021;80:641-50. Decisions on the open points (see
    ``docs/instruments.md``): relative improvement from baseline for mRSS, HAQ-DI and both
    globals (baseline 0 cannot improve: not improved); FVC improvement relative by default
    (the paper varies "thresholds for relative improvement" for all five components); no
    "no worsening" clause (none is stated); a step-1 event makes a non-responder. With missing
    items the responder status is decided when the missing items cannot change it (3 improved
    already: responder; too few items left to reach 3: non-responder); otherwise it is missing.
    """
    x = _check_pct(threshold, name="threshold", lo_open=0.0, hi=100.0)
    fx = _check_pct(fvc_threshold, name="fvc_threshold", lo_open=0.0, hi=100.0)
    if fvc_change not in _FVC_CHANGES:
        msg = (
            f"RCRISS option fvc_change={fvc_change!r} is not allowed; "
            f"expected one of {', '.join(_FVC_CHANGES)}"
        )
        raise InputError(msg)
    frame, single, v, step1 = read_composite(data, instrument="RCRISS", global_scale=global_scale)
    n = len(frame)
    improved: dict[str, Any] = {}
    known = np.zeros((n, 5), dtype=bool)
    hits = np.zeros((n, 5), dtype=bool)
    for j, stem in enumerate(CORE_ITEMS):
        base = v[f"{stem}_base"]
        follow = v[stem]
        ok = ~np.isnan(base) & ~np.isnan(follow)
        with np.errstate(all="ignore"):  # baseline 0 or subnormal: inf/NaN, then "not improved"
            if stem == "fvc_pct_pred":
                gain = 100.0 * (follow - base) / base if fvc_change == "relative" else follow - base
                hit = ok & (base > 0) & (gain >= fx - _EPS)
            else:
                fall = 100.0 * (base - follow) / base
                hit = ok & (base > 0) & (fall >= x - _EPS)
        known[:, j] = ok
        hits[:, j] = hit
        name = "fvc" if stem == "fvc_pct_pred" else stem
        improved[f"improved_{name}"] = bool_array(hit, ~ok)
    n_improved = hits.sum(axis=1)
    n_unknown = (~known).sum(axis=1)
    decided_yes = n_improved >= _MIN_ITEMS
    decided_no = n_improved + n_unknown < _MIN_ITEMS
    responder = ~step1 & decided_yes
    undecided = ~step1 & ~decided_yes & ~decided_no
    result = pd.DataFrame(
        {
            **improved,
            "n_improved": n_improved.astype("int64"),
            "step1_event": step1,
            "responder": bool_array(responder, undecided),
        },
        index=frame.index,
    )
    return finish_output(result, single=single)


RCRISS = register(
    Instrument(
        code="RCRISS",
        name="Revised CRISS (>= X % improvement in >= 3 of 5 core items)",
        items=COMPOSITE_ITEMS,
        scorer=score_rcriss,
        outputs={
            "responder": "RCRISS",
            "n_improved": None,
            "step1_event": None,
            "improved_mrss": None,
            "improved_haq_di": None,
            "improved_pt_global": None,
            "improved_md_global": None,
            "improved_fvc": None,
        },
        score_range="responder yes/no; 0-5 items improved",
        missing_rule=(
            "Step-1 event: non-responder. An item missing at either visit is unknown; the responder status "
            "is given when the unknown items cannot change it, otherwise missing. Baseline 0: not improved."
        ),
        citation=(
            "Khanna D, Huang S, Lin CJF, Spino C. Ann Rheum Dis 2021;80(5):641-50, "
            "doi:10.1136/annrheumdis-2020-219100"
        ),
        per_visit=False,
        options={
            "threshold": _DEFAULT_THRESHOLD,
            "fvc_threshold": _DEFAULT_FVC_THRESHOLD,
            "fvc_change": "relative",
            "global_scale": "0-10",
        },
    )
)
