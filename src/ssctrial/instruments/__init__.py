"""Outcome instruments: validated item definitions and vectorised scorers for every BASICS measure.

Pure functions of plain values and DataFrames (no database, no files beyond the shipped tables).
Every instrument is registered in one registry (:func:`get_instrument`, :func:`list_instruments`)
that data capture, validation, the simulator and the derivation share.
"""

from __future__ import annotations

from ssctrial.instruments._eq5d import (
    EQ5D_DIMENSIONS,
    compute_eq5d_index,
    eq5d_index,
    list_eq5d_value_sets,
    score_eq5d,
)
from ssctrial.instruments._lung import (
    LUNG_EQUATIONS,
    compute_lung_function,
    lung_function,
    score_pft,
)
from ssctrial.instruments._registry import (
    Instrument,
    Item,
    get_instrument,
    list_instruments,
    register,
)

__all__ = [
    "EQ5D_DIMENSIONS",
    "LUNG_EQUATIONS",
    "compute_eq5d_index",
    "compute_lung_function",
    "eq5d_index",
    "list_eq5d_value_sets",
    "lung_function",
    "score_eq5d",
    "score_pft",
    "Instrument",
    "Item",
    "get_instrument",
    "list_instruments",
    "register",
]
