"""Modified Rodnan skin score (mRSS): 17 body areas graded 0-3, total 0-51."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ssctrial.instruments._registry import Instrument, Item, register
from ssctrial.instruments._validate import finish_output, int_array, prepare_input, validate_items

__all__ = ["MRSS_SITES", "compute_mrss_total", "score_mrss"]

logger = logging.getLogger(__name__)

#: The 17 sites in form order (Clements 1995; Khanna 2017 standardisation), code -> label.
MRSS_SITES: dict[str, str] = {
    "face": "Face",
    "anterior_chest": "Anterior chest",
    "abdomen": "Abdomen",
    "fingers_right": "Fingers, right",
    "fingers_left": "Fingers, left",
    "dorsum_hand_right": "Dorsum of hand, right",
    "dorsum_hand_left": "Dorsum of hand, left",
    "forearm_right": "Forearm, right",
    "forearm_left": "Forearm, left",
    "upper_arm_right": "Upper arm, right",
    "upper_arm_left": "Upper arm, left",
    "thigh_right": "Thigh, right",
    "thigh_left": "Thigh, left",
    "lower_leg_right": "Lower leg, right",
    "lower_leg_left": "Lower leg, left",
    "dorsum_foot_right": "Dorsum of foot, right",
    "dorsum_foot_left": "Dorsum of foot, left",
}

_GRADES = (
    "0 = normal skin; 1 = mild thickening (fold easily made, fine wrinkles may remain); "
    "2 = moderate thickening (fold difficult, no wrinkles); 3 = severe thickening (cannot pinch)"
)

_SITE_ITEMS: tuple[Item, ...] = tuple(
    Item(code, label, "integer", min=0, max=3, description=_GRADES) for code, label in MRSS_SITES.items()
)
_ITEMS: tuple[Item, ...] = (
    *_SITE_ITEMS,
    Item(
        "assessor_id",
        "Assessor",
        "text",
        required=False,
        description="Who examined the skin (the same assessor across visits is recommended).",
    ),
)


def score_mrss(data: pd.DataFrame | Mapping[str, Any]) -> pd.DataFrame | dict[str, Any]:
    """Score the modified Rodnan skin score for one record or for every row of a DataFrame.

    Parameters
    ----------
    data
        One record (site code to grade) or a DataFrame with one column per site code
        (``face``, ``anterior_chest``, ..., ``dorsum_foot_left``; see :data:`MRSS_SITES`).
        Other columns are ignored.

    Returns
    -------
    DataFrame or dict
        Same index as ``data`` (a dict for one record) with:

        - ``total``: sum of the 17 grades, 0-51 (nullable integer; missing when any site is
          missing);
        - ``n_sites``: number of sites graded (0-17).

    Raises
    ------
    InputError
        A grade that is not an integer 0-3 (every offending row and site is listed), an unknown
        site in a record, or a DataFrame without a column for a site.

    Notes
    -----
    total = sum of the 17 site grades (Clements et al., J Rheumatol 1995;22:1281-5). There is no
    published rule for a missing site, so the total is missing (not prorated); keep the site
    grades so that a sensitivity analysis can impute them.

    Examples
    --------
    >>> from ssctrial.instruments import MRSS_SITES, score_mrss
    >>> score_mrss(dict.fromkeys(MRSS_SITES, 1))
    {'total': 17, 'n_sites': 17}
    """
    frame, single = prepare_input(data, _ITEMS, instrument="MRSS")
    values = validate_items(frame, _SITE_ITEMS, instrument="MRSS", single=single)
    grades = np.column_stack([values[code] for code in MRSS_SITES]) if len(frame) else np.empty((0, 17))
    graded = ~np.isnan(grades)
    n_sites = graded.sum(axis=1)
    total = np.where(n_sites == len(MRSS_SITES), np.nansum(grades, axis=1), np.nan)
    result = pd.DataFrame(
        {
            "total": int_array(total),
            "n_sites": n_sites.astype("int64"),
        },
        index=frame.index,
    )
    return finish_output(result, single=single)


def compute_mrss_total(data: pd.DataFrame | Mapping[str, Any]) -> pd.Series | int | None:
    """Return the mRSS total (0-51): an int (or ``None``) for a record, a Series for a DataFrame.

    Parameters
    ----------
    data
        As for :func:`score_mrss`.

    Returns
    -------
    int, None or Series
        The total; missing when any of the 17 sites is missing.

    See Also
    --------
    score_mrss : the same with the number of graded sites.
    """
    result = score_mrss(data)
    if isinstance(result, dict):
        return result["total"]
    return result["total"]


MRSS = register(
    Instrument(
        code="MRSS",
        name="Modified Rodnan skin score",
        items=_ITEMS,
        scorer=score_mrss,
        outputs={"total": "MRSS", "n_sites": None},
        score_range="0-51 (integer)",
        missing_rule="Any of the 17 sites missing: total missing (no proration, no imputation).",
        citation=(
            "Clements P et al. J Rheumatol 1995;22(7):1281-5; standardised examination: Khanna D et al. "
            "J Scleroderma Relat Disord 2017;2(1):11-18, doi:10.5301/jsrd.5000231"
        ),
    )
)
