"""Tender and swollen joint counts over the 28-joint and the 68/66-joint sets."""

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
    "JOINTS_28",
    "JOINTS_66",
    "JOINTS_68",
    "NOT_EVALUATED",
    "compute_joint_counts",
    "score_joint_counts",
]

logger = logging.getLogger(__name__)

#: Value of a joint item that was not assessable (prosthesis, amputation, ...).
NOT_EVALUATED = "NE"

_SIDES = ("right", "left")
_PER_SIDE_28 = (
    "shoulder",
    "elbow",
    "wrist",
    *(f"mcp{i}" for i in range(1, 6)),
    *(f"pip{i}" for i in range(1, 6)),
    "knee",
)
_PER_SIDE_68 = (
    "tmj",
    "sternoclavicular",
    "acromioclavicular",
    "shoulder",
    "elbow",
    "wrist",
    *(f"mcp{i}" for i in range(1, 6)),
    *(f"pip{i}" for i in range(1, 6)),
    *(f"dip{i}" for i in range(2, 6)),
    "hip",
    "knee",
    "ankle",
    "tarsus",
    *(f"mtp{i}" for i in range(1, 6)),
    *(f"toe_pip{i}" for i in range(1, 6)),
)

#: The 28 joints (Fuchs 1989): shoulders, elbows, wrists, MCP1-5, PIP1-5 (thumb IP = pip1), knees.
JOINTS_28: tuple[str, ...] = tuple(f"{side}_{j}" for side in _SIDES for j in _PER_SIDE_28)
#: The 68 joints assessed for tenderness (ACR core set, Felson 1993).
JOINTS_68: tuple[str, ...] = tuple(f"{side}_{j}" for side in _SIDES for j in _PER_SIDE_68)
#: The 66 joints assessed for swelling: the 68 without the hips.
JOINTS_66: tuple[str, ...] = tuple(j for j in JOINTS_68 if not j.endswith("_hip"))

_NAMES = {
    "tmj": "temporomandibular",
    "sternoclavicular": "sternoclavicular",
    "acromioclavicular": "acromioclavicular",
    "tarsus": "tarsus (midtarsal)",
}


def _label(joint: str) -> str:
    side, rest = joint.split("_", 1)
    if rest.startswith("toe_pip"):
        name = f"toe PIP{rest[-1]} (IP for the big toe)"
    elif rest[:3] in ("mcp", "pip", "dip", "mtp") and rest[-1].isdigit():
        name = f"{rest[:3].upper()}{rest[-1]}" + (" (thumb IP)" if rest == "pip1" else "")
    else:
        name = _NAMES.get(rest, rest)
    return f"{side} {name}"


_STATE = "0 = not tender/swollen, 1 = tender/swollen, NE = not evaluated (not assessable)"
_TENDER_ITEMS: tuple[Item, ...] = tuple(
    Item(
        f"tender_{j}",
        f"Tender: {_label(j)}",
        "categorical",
        allowed=(0, 1, NOT_EVALUATED),
        required=False,
        description=_STATE,
    )
    for j in JOINTS_68
)
_SWOLLEN_ITEMS: tuple[Item, ...] = tuple(
    Item(
        f"swollen_{j}",
        f"Swollen: {_label(j)}",
        "categorical",
        allowed=(0, 1, NOT_EVALUATED),
        required=False,
        description=_STATE,
    )
    for j in JOINTS_66
)
_ITEMS: tuple[Item, ...] = (*_TENDER_ITEMS, *_SWOLLEN_ITEMS)

_SETS = (
    ("tjc28", "tender", JOINTS_28),
    ("sjc28", "swollen", JOINTS_28),
    ("tjc68", "tender", JOINTS_68),
    ("sjc66", "swollen", JOINTS_66),
)


def score_joint_counts(data: pd.DataFrame | Mapping[str, Any]) -> pd.DataFrame | dict[str, Any]:
    """Count tender and swollen joints (28 and 68/66 sets) for one record or every DataFrame row.

    Parameters
    ----------
    data
        One record or a DataFrame with items ``tender_<joint>`` and ``swollen_<joint>``, each
        ``0``, ``1`` or ``"NE"`` (not evaluated). Joint names are ``right_``/``left_`` plus
        ``shoulder``, ``elbow``, ``wrist``, ``mcp1``-``mcp5``, ``pip1``-``pip5``, ``knee`` (the 28) and
        for the 68/66 also ``tmj``, ``sternoclavicular``, ``acromioclavicular``, ``dip2``-``dip5``,
        ``hip`` (tender only), ``ankle``, ``tarsus``, ``mtp1``-``mtp5``, ``toe_pip1``-``toe_pip5``.

    Returns
    -------
    DataFrame or dict
        Same index as ``data`` with, for each of ``tjc28``, ``sjc28``, ``tjc68``, ``sjc66``: the
        count of tender/swollen joints among the evaluated ones (nullable integer) and
        ``<count>_n_evaluated`` (joints of the set actually evaluated). A set whose columns are not
        all present (a 28-joint form has no 68 counts), or with a missing value, is missing.

    Raises
    ------
    InputError
        A value other than 0, 1, ``"NE"`` (every offending row listed); an unknown joint column
        (``tender_``/``swollen_`` prefix with a name outside the set, e.g. ``swollen_right_hip``);
        a DataFrame holding neither the complete 28 nor the complete 68/66 set.

    Notes
    -----
    28-joint set: Fuchs et al., Arthritis Rheum 1989;32:531-7. 68/66: ACR core set, Felson et al.,
    Arthritis Rheum 1993;36:729-40 (hips are assessed for tenderness only). A joint not evaluated
    is left out of the count and of ``n_evaluated``; it is never counted as 0.
    """
    frame, single = prepare_input(data, _ITEMS, instrument="JOINTS")
    known = {item.code for item in _ITEMS}
    unknown = [c for c in map(str, frame.columns) if c.startswith(("tender_", "swollen_")) and c not in known]
    if unknown:
        msg = (
            f"JOINTS: unknown joint item(s) {', '.join(unknown)}; tender joints are the 68 "
            f"(e.g. tender_right_wrist), swollen joints the 66 (the 68 without the hips)"
        )
        raise InputError(msg)
    if not single:
        has28 = all(f"{k}_{j}" in frame.columns for k in ("tender", "swollen") for j in JOINTS_28)
        has68 = all(f"tender_{j}" in frame.columns for j in JOINTS_68) and all(
            f"swollen_{j}" in frame.columns for j in JOINTS_66
        )
        if not (has28 or has68):
            missing = [
                f"{k}_{j}"
                for k in ("tender", "swollen")
                for j in JOINTS_28
                if f"{k}_{j}" not in frame.columns
            ]
            msg = (
                "JOINTS: the data has neither the 28-joint nor the 68/66-joint columns; "
                f"missing: {', '.join(missing)}"
            )
            raise InputError(msg)
    values = validate_items(frame, _ITEMS, instrument="JOINTS", single=single)
    present = set(map(str, frame.columns))
    columns: dict[str, Any] = {}
    n = len(frame)
    for name, kind, joints in _SETS:
        codes = [f"{kind}_{j}" for j in joints]
        if single or all(c in present for c in codes):
            block = np.column_stack([values[c] for c in codes]) if n else np.empty((0, len(codes)))
            unknown_row = np.isnan(block).any(axis=1)
            evaluated = (block == 0.0) | (block == 1.0)
            count = np.where(unknown_row, np.nan, (block == 1.0).sum(axis=1))
            n_eval = np.where(unknown_row, np.nan, evaluated.sum(axis=1))
        else:
            count = np.full(n, np.nan)
            n_eval = np.full(n, np.nan)
        columns[name] = int_array(count)
        columns[f"{name}_n_evaluated"] = int_array(n_eval)
    result = pd.DataFrame(columns, index=frame.index)
    return finish_output(result, single=single)


def _joint_list(values: Iterable[str] | None, allowed: tuple[str, ...], *, what: str) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        msg = f"JOINTS {what}: expected a list of joint names, got the string {values!r}"
        raise InputError(msg)
    out = [str(v) for v in values]
    seen: set[str] = set()
    for joint in out:
        if joint not in allowed:
            extra = " (hips are assessed for tenderness only)" if joint.endswith("_hip") else ""
            msg = f"JOINTS {what}: unknown joint {joint!r}{extra}; allowed joints are: {', '.join(allowed)}"
            raise InputError(msg)
        if joint in seen:
            msg = f"JOINTS {what}: duplicate joint {joint}; list each joint once"
            raise InputError(msg)
        seen.add(joint)
    return out


def compute_joint_counts(
    *,
    tender: Iterable[str] | None = None,
    swollen: Iterable[str] | None = None,
    not_evaluated: Iterable[str] | None = None,
) -> dict[str, int]:
    """Count tender and swollen joints from lists of joint names.

    Parameters
    ----------
    tender, swollen
        Names of the tender / swollen joints (``right_wrist``, ``left_mcp2``, ...). Every other
        joint is taken as examined and not tender / not swollen.
    not_evaluated
        Joints that could not be examined (for both tenderness and swelling).

    Returns
    -------
    dict
        ``tjc28``, ``sjc28``, ``tjc68``, ``sjc66`` and their ``_n_evaluated`` counts.

    Raises
    ------
    InputError
        An unknown joint, a swollen hip, a duplicate, or a joint both tender and not evaluated.
    """
    tender_l = _joint_list(tender, JOINTS_68, what="tender")
    swollen_l = _joint_list(swollen, JOINTS_66, what="swollen")
    ne_l = _joint_list(not_evaluated, JOINTS_68, what="not_evaluated")
    clash = sorted(set(ne_l) & (set(tender_l) | set(swollen_l)))
    if clash:
        msg = f"JOINTS: joint(s) {', '.join(clash)} listed as not evaluated and also as tender or swollen"
        raise InputError(msg)
    record: dict[str, Any] = {f"tender_{j}": 0 for j in JOINTS_68}
    record.update({f"swollen_{j}": 0 for j in JOINTS_66})
    for j in tender_l:
        record[f"tender_{j}"] = 1
    for j in swollen_l:
        record[f"swollen_{j}"] = 1
    for j in ne_l:
        record[f"tender_{j}"] = NOT_EVALUATED
        if j in JOINTS_66:
            record[f"swollen_{j}"] = NOT_EVALUATED
    result = score_joint_counts(record)
    return {k: int(v) for k, v in dict(result).items()}


JOINTS = register(
    Instrument(
        code="JOINTS",
        name="Tender and swollen joint counts (28 and 68/66)",
        items=_ITEMS,
        scorer=score_joint_counts,
        outputs={
            "tjc28": "TJC28",
            "sjc28": "SJC28",
            "tjc68": None,
            "sjc66": None,
            "tjc28_n_evaluated": None,
            "sjc28_n_evaluated": None,
            "tjc68_n_evaluated": None,
            "sjc66_n_evaluated": None,
        },
        score_range="TJC28/SJC28 0-28; TJC68 0-68; SJC66 0-66",
        missing_rule=(
            "'NE' (not evaluated) joints are excluded and the number evaluated is reported; a missing "
            "value (not recorded) makes that count missing."
        ),
        citation=(
            "28: Fuchs HA et al. Arthritis Rheum 1989;32(5):531-7 (DAS28: Prevoo MLL et al. Arthritis "
            "Rheum 1995;38:44-8); 68/66: Felson DT et al. Arthritis Rheum 1993;36:729-40"
        ),
    )
)
