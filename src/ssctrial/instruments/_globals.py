"""Patient and physician global assessments (0-10 scale, or 0-100 mm VAS converted to 0-10)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ssctrial.exceptions import InputError
from ssctrial.instruments._registry import Instrument, Item, register
from ssctrial.instruments._validate import finish_output, prepare_input, validate_items

__all__ = ["score_globals"]

logger = logging.getLogger(__name__)

_ANCHORS = "0 = very well / no disease activity, 10 = very poor / most severe (higher = worse)"

_ITEMS: tuple[Item, ...] = (
    Item(
        "pt_global",
        "Patient global assessment (0-10)",
        "number",
        min=0,
        max=10,
        required=False,
        description=_ANCHORS,
    ),
    Item(
        "md_global",
        "Physician global assessment (0-10)",
        "number",
        min=0,
        max=10,
        required=False,
        description=_ANCHORS,
    ),
    Item(
        "pt_global_mm",
        "Patient global assessment (100-mm VAS)",
        "number",
        min=0,
        max=100,
        unit="mm",
        required=False,
        description=_ANCHORS + "; divided by 10 when scored",
    ),
    Item(
        "md_global_mm",
        "Physician global assessment (100-mm VAS)",
        "number",
        min=0,
        max=100,
        unit="mm",
        required=False,
        description=_ANCHORS + "; divided by 10 when scored",
    ),
)

# two readings of the same global disagree if they differ by more than this (0-10 units)
_AGREE = 1e-9


def score_globals(data: pd.DataFrame | Mapping[str, Any]) -> pd.DataFrame | dict[str, Any]:
    """Put the patient and physician global assessments on the 0-10 scale.

    Parameters
    ----------
    data
        One record or a DataFrame with, for each global, the 0-10 value (``pt_global``,
        ``md_global``) or the 100-mm VAS mark (``pt_global_mm``, ``md_global_mm``).

    Returns
    -------
    DataFrame or dict
        Same index as ``data`` with ``pt_global`` and ``md_global`` on 0-10 (missing where
        neither reading is given).

    Raises
    ------
    InputError
        A value out of range (every offending row listed), neither column of a global present in
        a DataFrame, or a row whose 0-10 value and mm mark disagree.

    Notes
    -----
    ACR-CRISS uses the globals on 0-10 scales (Khanna et al. 2016); 0-100 mm marks are divided
    by 10.
    """
    frame, single = prepare_input(data, _ITEMS, instrument="GLOBAL")
    if not single:
        for who in ("pt", "md"):
            if f"{who}_global" not in frame.columns and f"{who}_global_mm" not in frame.columns:
                msg = (
                    f"GLOBAL: the data has neither {who}_global (0-10) nor {who}_global_mm (0-100 mm); "
                    "give one of them"
                )
                raise InputError(msg)
    values = validate_items(frame, _ITEMS, instrument="GLOBAL", single=single)
    columns: dict[str, np.ndarray] = {}
    for who in ("pt", "md"):
        direct = values[f"{who}_global"]
        from_mm = values[f"{who}_global_mm"] / 10.0
        clash = ~np.isnan(direct) & ~np.isnan(from_mm) & (np.abs(direct - from_mm) > _AGREE)
        if clash.any():
            rows = ", ".join(str(r) for r in frame.index[clash])
            msg = (
                f"GLOBAL item {who}_global and {who}_global_mm disagree (a 0-10 value must equal the mm "
                f"mark / 10) in row(s) {rows}; give one of them"
            )
            raise InputError(msg)
        columns[f"{who}_global"] = np.where(np.isnan(direct), from_mm, direct)
    result = pd.DataFrame(columns, index=frame.index)
    return finish_output(result, single=single)


GLOBAL = register(
    Instrument(
        code="GLOBAL",
        name="Patient and physician global assessments",
        items=_ITEMS,
        scorer=score_globals,
        outputs={"pt_global": "PTGLOBAL", "md_global": "MDGLOBAL"},
        score_range="0-10 each (0-100 mm marks divided by 10)",
        missing_rule="Each global on its own: missing when neither its 0-10 value nor its mm mark is given.",
        citation=(
            "Core set items of the ACR-CRISS: Khanna D et al. Arthritis Rheumatol 2016;68(2):299-311, "
            "doi:10.1002/art.39501"
        ),
    )
)
