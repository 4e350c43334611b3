"""Digital ulcers: active count per visit from per-location findings, new and healed between visits."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ssctrial.exceptions import InputError
from ssctrial.instruments._registry import Instrument, Item, register
from ssctrial.instruments._validate import finish_output, int_array, prepare_input, validate_items

__all__ = [
    "DU_LOCATIONS",
    "DU_QUALIFYING",
    "compute_digital_ulcer_changes",
    "score_digital_ulcers",
]

logger = logging.getLogger(__name__)

_SITES = {
    "tip": ("fingertip (volar pad)", True),
    "volar": ("volar surface at or distal to the PIP joint, other than the tip", True),
    "dorsal_distal": ("dorsal surface distal to the PIP joint (over the DIP, nail fold)", True),
    "dorsal_pip": ("extensor surface over the PIP joint", False),
    "dorsal_mcp": ("extensor surface over the MCP joint", False),
}
_FINGERS = {1: "thumb", 2: "index", 3: "middle", 4: "ring", 5: "little"}

#: Every ulcer location code (``R2_tip`` = right index fingertip), in form order.
DU_LOCATIONS: tuple[str, ...] = tuple(
    f"{side}{finger}_{site}" for side in ("R", "L") for finger in _FINGERS for site in _SITES
)
#: Locations that count as a digital ulcer under the trial definition (at or distal to the PIP).
DU_QUALIFYING: tuple[str, ...] = tuple(loc for loc in DU_LOCATIONS if _SITES[loc.split("_", 1)[1]][1])

_ITEMS: tuple[Item, ...] = tuple(
    Item(
        loc,
        f"{'Right' if loc[0] == 'R' else 'Left'} {_FINGERS[int(loc[1])]} finger, {_SITES[loc[3:]][0]}",
        "boolean",
        required=_SITES[loc[3:]][1],
        description=(
            "Active ulcer present (loss of epithelialisation, denuded area with a defined border)"
            if _SITES[loc[3:]][1]
            else "Lesion over an extensor surface: recorded, but not counted as a digital ulcer"
        ),
    )
    for loc in DU_LOCATIONS
)
_OTHER = tuple(loc for loc in DU_LOCATIONS if loc not in DU_QUALIFYING)


def score_digital_ulcers(data: pd.DataFrame | Mapping[str, Any]) -> pd.DataFrame | dict[str, Any]:
    """Count active digital ulcers at a visit from per-location findings.

    Parameters
    ----------
    data
        One record or a DataFrame with one boolean column per location code (``R1_tip`` ...
        ``L5_dorsal_mcp``; see :data:`DU_LOCATIONS`): an active ulcer present there or not.

    Returns
    -------
    DataFrame or dict
        Same index as ``data`` with ``active_du`` (qualifying ulcers present, the net ulcer burden;
        missing if any qualifying location is missing) and ``other_lesions`` (extensor-surface
        lesions over PIP/MCP joints, recorded but not digital ulcers).

    Raises
    ------
    InputError
        A value that is not a boolean (every offending row listed), an unknown location in a
        record, or a DataFrame lacking a qualifying location column.

    Notes
    -----
    A digital ulcer is an ischaemic ulcer at or distal to the PIP joint with loss of
    epithelialisation (RAPIDS-1, Korn et al. 2004; WSF definition, Suliman et al. 2017); ulcers
    over the extensor surfaces of the MCP/PIP joints are recorded separately.
    """
    frame, single = prepare_input(data, _ITEMS, instrument="DU")
    values = validate_items(frame, _ITEMS, instrument="DU", single=single)
    n = len(frame)
    qual = np.column_stack([values[c] for c in DU_QUALIFYING]) if n else np.empty((0, len(DU_QUALIFYING)))
    other = np.column_stack([values[c] for c in _OTHER]) if n else np.empty((0, len(_OTHER)))
    active = np.where(np.isnan(qual).any(axis=1), np.nan, np.nansum(qual, axis=1))
    result = pd.DataFrame(
        {
            "active_du": int_array(active),
            "other_lesions": (other == 1.0).sum(axis=1).astype("int64"),
        },
        index=frame.index,
    )
    return finish_output(result, single=single)


def _locations(values: Iterable[str], *, what: str) -> set[str]:
    if isinstance(values, str):
        msg = f"DU {what}: expected a list of ulcer locations, got the string {values!r}"
        raise InputError(msg)
    out: set[str] = set()
    for loc in values:
        if loc not in DU_LOCATIONS:
            msg = (
                f"DU {what}: unknown ulcer location {loc!r}; locations are <R|L><finger 1-5>_<site>, "
                f"site one of {', '.join(_SITES)} (e.g. R2_tip)"
            )
            raise InputError(msg)
        if loc in out:
            msg = f"DU {what}: duplicate ulcer location {loc}; list each location once"
            raise InputError(msg)
        out.add(loc)
    return out


def _as_present(data: pd.DataFrame, *, what: str) -> np.ndarray:
    frame, _ = prepare_input(data, _ITEMS, instrument="DU")
    values = validate_items(frame, _ITEMS, instrument=f"DU {what}", single=False)
    block = np.column_stack([values[c] for c in DU_QUALIFYING]) if len(frame) else np.empty((0, 30))
    return block


def compute_digital_ulcer_changes(
    previous: Iterable[str] | pd.DataFrame,
    current: Iterable[str] | pd.DataFrame,
) -> pd.DataFrame | dict[str, int | None]:
    """Count active, new and healed digital ulcers between two visits.

    Parameters
    ----------
    previous, current
        For one subject, the locations with an active ulcer at the earlier and the later visit
        (lists of codes such as ``"R2_tip"``); or, for many, two DataFrames of per-location
        booleans (as for :func:`score_digital_ulcers`) with the same index, one row per subject.
        Only qualifying locations (:data:`DU_QUALIFYING`) count; others are ignored.

    Returns
    -------
    dict or DataFrame
        ``active_du`` (ulcers present at the later visit: the net ulcer burden),
        ``new_du`` (present now, absent before), ``healed_du`` (present before, absent now) and
        ``change_active_du`` (later minus earlier count; with the baseline as ``previous`` this is
        the change in net ulcer burden). Missing where a qualifying location is missing.

    Raises
    ------
    InputError
        Unknown or duplicate locations; DataFrames with different indexes.
    """
    if isinstance(previous, pd.DataFrame) or isinstance(current, pd.DataFrame):
        if not (isinstance(previous, pd.DataFrame) and isinstance(current, pd.DataFrame)):
            msg = "DU: give both visits as lists of locations or both as DataFrames"
            raise InputError(msg)
        if not previous.index.equals(current.index):
            msg = "DU: the two visit DataFrames must have the same index (one row per subject, same order)"
            raise InputError(msg)
        before = _as_present(previous, what="previous visit")
        after = _as_present(current, what="current visit")
        missing = np.isnan(before).any(axis=1) | np.isnan(after).any(axis=1)
        b = before == 1.0
        a = after == 1.0

        def _col(x: np.ndarray) -> Any:
            return int_array(np.where(missing, np.nan, x))

        return pd.DataFrame(
            {
                "active_du": _col(a.sum(axis=1)),
                "new_du": _col((a & ~b).sum(axis=1)),
                "healed_du": _col((b & ~a).sum(axis=1)),
                "change_active_du": _col(a.sum(axis=1) - b.sum(axis=1)),
            },
            index=current.index,
        )
    before_set = {loc for loc in _locations(previous, what="previous visit") if loc in DU_QUALIFYING}
    after_set = {loc for loc in _locations(current, what="current visit") if loc in DU_QUALIFYING}
    return {
        "active_du": len(after_set),
        "new_du": len(after_set - before_set),
        "healed_du": len(before_set - after_set),
        "change_active_du": len(after_set) - len(before_set),
    }


DU = register(
    Instrument(
        code="DU",
        name="Digital ulcers (per-location findings; active count = net ulcer burden)",
        items=_ITEMS,
        scorer=score_digital_ulcers,
        outputs={"active_du": "DUCNT", "other_lesions": None},
        score_range="active count 0-30 (qualifying locations)",
        missing_rule="Any qualifying location missing: active count missing (no imputation).",
        citation=(
            "Korn JH et al. Arthritis Rheum 2004;50:3985-93 (RAPIDS-1); Matucci-Cerinic M et al. Ann Rheum "
            "Dis 2011;70:32-8 (RAPIDS-2); WSF definition: Suliman YA et al. J Scleroderma Relat Disord "
            "2017;2(2):115-20, doi:10.5301/jsrd.5000236"
        ),
    )
)
