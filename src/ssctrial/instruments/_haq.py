"""HAQ-DI (Stanford Health Assessment Questionnaire disability index) and the Scleroderma-HAQ VAS items."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

from ssctrial.exceptions import InputError
from ssctrial.instruments._registry import Instrument, Item, register
from ssctrial.instruments._validate import (
    finish_output,
    int_array,
    prepare_input,
    validate_items,
    with_range,
)

__all__ = [
    "HAQ_CATEGORIES",
    "HAQ_DEVICES",
    "SHAQ_VAS",
    "compute_shaq_vas",
    "score_haq_di",
]

logger = logging.getLogger(__name__)

#: The 8 categories and their 20 items (code -> label), in questionnaire order.
HAQ_CATEGORIES: dict[str, dict[str, str]] = {
    "dressing_grooming": {
        "dressing_grooming_1": "Dress yourself, including tying shoelaces and doing buttons",
        "dressing_grooming_2": "Shampoo your hair",
    },
    "arising": {
        "arising_1": "Stand up from a straight chair",
        "arising_2": "Get in and out of bed",
    },
    "eating": {
        "eating_1": "Cut your meat",
        "eating_2": "Lift a full cup or glass to your mouth",
        "eating_3": "Open a new milk carton",
    },
    "walking": {
        "walking_1": "Walk outdoors on flat ground",
        "walking_2": "Climb up five steps",
    },
    "hygiene": {
        "hygiene_1": "Wash and dry your body",
        "hygiene_2": "Take a tub bath",
        "hygiene_3": "Get on and off the toilet",
    },
    "reach": {
        "reach_1": "Reach and get down a 5-pound object from just above your head",
        "reach_2": "Bend down to pick up clothing from the floor",
    },
    "grip": {
        "grip_1": "Open car doors",
        "grip_2": "Open jars which have been previously opened",
        "grip_3": "Turn faucets on and off",
    },
    "activities": {
        "activities_1": "Run errands and shop",
        "activities_2": "Get in and out of a car",
        "activities_3": "Do chores such as vacuuming or yard work",
    },
}

#: Aids and devices (item code -> (label, category it raises)), standard Stanford mapping.
HAQ_DEVICES: dict[str, tuple[str, str]] = {
    "device_cane": ("Cane", "walking"),
    "device_walker": ("Walker", "walking"),
    "device_crutches": ("Crutches", "walking"),
    "device_wheelchair": ("Wheelchair", "walking"),
    "device_dressing": (
        "Devices used for dressing (button hook, zipper pull, long-handled shoe horn)",
        "dressing_grooming",
    ),
    "device_utensils": ("Built-up or special utensils", "eating"),
    "device_chair": ("Special or built-up chair", "arising"),
    "device_raised_toilet_seat": ("Raised toilet seat", "hygiene"),
    "device_bathtub_seat": ("Bathtub seat", "hygiene"),
    "device_bathtub_bar": ("Bathtub bar", "hygiene"),
    "device_long_handled_bathroom": ("Long-handled appliances in bathroom", "hygiene"),
    "device_long_handled_reach": ("Long-handled appliances for reach", "reach"),
    "device_jar_opener": ("Jar opener (for jars previously opened)", "grip"),
}

#: Scleroderma-HAQ visual analogue scales (item code -> label); the HAQ pain VAS is included.
SHAQ_VAS: dict[str, str] = {
    "vas_pain": "Pain (HAQ pain VAS)",
    "vas_raynauds": "Raynaud's phenomenon",
    "vas_digital_ulcers": "Finger (digital) ulcers",
    "vas_gi": "Intestinal (GI) problems",
    "vas_breathing": "Breathing problems",
    "vas_overall": "Overall severity of the disease",
}

_ANSWERS = "0 = without any difficulty; 1 = with some difficulty; 2 = with much difficulty; 3 = unable to do"
_DEFAULT_LINE_MM = 150.0

_QUESTION_ITEMS: tuple[Item, ...] = tuple(
    Item(code, label, "integer", min=0, max=3, description=_ANSWERS)
    for questions in HAQ_CATEGORIES.values()
    for code, label in questions.items()
)
_DEVICE_ITEMS: tuple[Item, ...] = tuple(
    Item(code, label, "boolean", required=False, description=f"Aid or device; raises category {cat!r} to 2")
    for code, (label, cat) in HAQ_DEVICES.items()
)
_HELP_ITEMS: tuple[Item, ...] = tuple(
    Item(
        f"help_{cat}",
        f"Help from another person: {cat.replace('_', ' and ')}",
        "boolean",
        required=False,
        description=f"Help from another person; raises category {cat!r} to 2",
    )
    for cat in HAQ_CATEGORIES
)
_VAS_ITEMS: tuple[Item, ...] = tuple(
    Item(
        code,
        label,
        "number",
        min=0,
        max=_DEFAULT_LINE_MM,
        unit="mm",
        required=False,
        description="Mark position on the line, in mm from the left ('no limitation') end",
    )
    for code, label in SHAQ_VAS.items()
)
_ITEMS: tuple[Item, ...] = (*_QUESTION_ITEMS, *_DEVICE_ITEMS, *_HELP_ITEMS, *_VAS_ITEMS)

_SCORINGS = ("standard", "without_aids")


def score_haq_di(
    data: pd.DataFrame | Mapping[str, Any],
    *,
    scoring: Literal["standard", "without_aids"] = "standard",
    vas_line_mm: float = _DEFAULT_LINE_MM,
) -> pd.DataFrame | dict[str, Any]:
    """Score the HAQ-DI (and the Scleroderma-HAQ VAS items) for one record or every DataFrame row.

    Parameters
    ----------
    data
        One record or a DataFrame with one column per item: the 20 questions
        (``dressing_grooming_1`` ... ``activities_3``, see :data:`HAQ_CATEGORIES`, each 0-3),
        optionally the aids/devices (:data:`HAQ_DEVICES`, booleans), the help items
        ``help_<category>`` (booleans) and the VAS marks (:data:`SHAQ_VAS`, mm).
    scoring
        ``"standard"`` (aids/devices and help raise a category scored 0 or 1 to 2; the usual
        trial scoring) or ``"without_aids"`` (they are ignored).
    vas_line_mm
        Length of the VAS lines in mm (150 for the 15-cm lines of Steen & Medsger 1997; 100 for
        100-mm forms). Marks must lie between 0 and this length.

    Returns
    -------
    DataFrame or dict
        Same index as ``data`` with:

        - ``haq_di``: disability index 0-3 (missing when fewer than 6 categories are answered);
        - ``n_categories``: number of categories answered (0-8);
        - ``category_<name>``: each category score 0-3 after the aids/help rule (missing when no
          item of the category is answered);
        - ``<vas item>_score``: each VAS scored 0-3 (= 3 x mark / line length), missing if absent.

    Raises
    ------
    InputError
        An answer that is not an integer 0-3, a device/help value that is not a boolean, a VAS
        mark outside 0..``vas_line_mm`` (every offending row is listed), or a bad option.

    Notes
    -----
    Stanford scoring (Fries et al. 1980; Bruce & Fries 2003): the category score is the highest
    answered item of the category; with standard scoring, an aid/device or help for a category
    raises a score of 0 or 1 to 2 (2 and 3 are unchanged, and an aid for a category with no
    answered item does not create a score). HAQ-DI = sum of category scores / number of
    answered categories, not computed with fewer than 6 of 8 categories answered.
    SHAQ VAS: score = 3 x mark / line length (Steen & Medsger 1997); each is reported on its own.
    """
    if scoring not in _SCORINGS:
        msg = f"HAQ_DI option scoring={scoring!r} is not allowed; expected one of {', '.join(_SCORINGS)}"
        raise InputError(msg)
    try:
        line = float(vas_line_mm)
    except (TypeError, ValueError):
        line = float("nan")
    if not np.isfinite(line) or line <= 0:
        msg = f"HAQ_DI option vas_line_mm={vas_line_mm!r} is not allowed; expected a positive length in mm"
        raise InputError(msg)
    frame, single = prepare_input(data, _ITEMS, instrument="HAQ_DI")
    vas_items = tuple(with_range(item, min=0, max=line) for item in _VAS_ITEMS)
    check = (*_QUESTION_ITEMS, *_DEVICE_ITEMS, *_HELP_ITEMS, *vas_items)
    values = validate_items(frame, check, instrument="HAQ_DI", single=single)

    n = len(frame)
    raised = {cat: np.zeros(n, dtype=bool) for cat in HAQ_CATEGORIES}
    if scoring == "standard":
        for code, (_, cat) in HAQ_DEVICES.items():
            raised[cat] |= values[code] == 1.0
        for cat in HAQ_CATEGORIES:
            raised[cat] |= values[f"help_{cat}"] == 1.0

    columns: dict[str, Any] = {}
    scores = np.empty((n, len(HAQ_CATEGORIES)))
    for j, (cat, questions) in enumerate(HAQ_CATEGORIES.items()):
        # highest answered item; -1 marks "no item answered" (answers are 0-3)
        best = np.full(n, -1.0)
        for code in questions:
            np.fmax(best, values[code], out=best)
        best[raised[cat] & (best >= 0.0) & (best < 2.0)] = 2.0
        best[best < 0.0] = np.nan
        scores[:, j] = best
    n_answered = (~np.isnan(scores)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        haq = np.nansum(scores, axis=1) / n_answered
    haq = np.where(n_answered >= 6, haq, np.nan)
    columns["haq_di"] = haq
    columns["n_categories"] = n_answered.astype("int64")
    for j, cat in enumerate(HAQ_CATEGORIES):
        columns[f"category_{cat}"] = int_array(scores[:, j])
    for code in SHAQ_VAS:
        columns[f"{code}_score"] = 3.0 * values[code] / line
    result = pd.DataFrame(columns, index=frame.index)
    return finish_output(result, single=single)


def compute_shaq_vas(mark_mm: Any, *, line_length_mm: float = _DEFAULT_LINE_MM) -> Any:
    """Score a Scleroderma-HAQ VAS mark 0-3: ``3 * mark_mm / line_length_mm``.

    Parameters
    ----------
    mark_mm
        Distance of the mark from the "no limitation" end, in mm (a number or an array).
    line_length_mm
        Length of the line in mm (150 for the original 15-cm lines).

    Returns
    -------
    float or ndarray
        The score, 0 (no limitation) to 3 (very severe limitation).

    Raises
    ------
    InputError
        A mark below 0 or beyond the line, or a line length that is not positive.
    """
    if not (isinstance(line_length_mm, int | float) and line_length_mm > 0):
        msg = f"SHAQ VAS line_length_mm={line_length_mm!r} is not allowed; expected a positive length in mm"
        raise InputError(msg)
    marks = np.asarray(mark_mm, dtype=float)
    bad = ~np.isnan(marks) & ((marks < 0) | (marks > line_length_mm))
    if bad.any():
        shown = ", ".join(str(v) for v in np.atleast_1d(marks)[np.atleast_1d(bad)])
        msg = f"SHAQ VAS mark(s) {shown} mm not allowed; expected a number from 0 to {line_length_mm:g} mm"
        raise InputError(msg)
    score = 3.0 * marks / float(line_length_mm)
    return float(score) if score.ndim == 0 else score


HAQ_DI = register(
    Instrument(
        code="HAQ_DI",
        name="Health Assessment Questionnaire disability index (with Scleroderma-HAQ VAS items)",
        items=_ITEMS,
        scorer=score_haq_di,
        outputs={
            "haq_di": "HAQDI",
            "n_categories": None,
            **{f"category_{cat}": None for cat in HAQ_CATEGORIES},
            **{f"{code}_score": None for code in SHAQ_VAS},
        },
        score_range="HAQ-DI 0-3 (steps of 1/8 with 8 categories); each SHAQ VAS 0-3",
        missing_rule=(
            "A category counts if at least one of its items is answered; HAQ-DI = mean over answered "
            "categories, missing if fewer than 6 of 8 are answered. Aids/help for an unanswered category "
            "do not create a score. Each VAS is missing on its own."
        ),
        citation=(
            "Fries JF et al. Arthritis Rheum 1980;23(2):137-45; Bruce B, Fries JF. J Rheumatol "
            "2003;30(1):167-78; SHAQ: Steen VD, Medsger TA Jr. Arthritis Rheum 1997;40(11):1984-91"
        ),
        options={"scoring": "standard", "vas_line_mm": _DEFAULT_LINE_MM},
    )
)
