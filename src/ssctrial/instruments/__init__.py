"""Outcome instruments: validated item definitions and vectorised scorers for every BASICS measure.

Pure functions of plain values and DataFrames (no database, no files beyond the shipped tables).
Every instrument is registered in one registry (:func:`get_instrument`, :func:`list_instruments`)
that data capture, validation, the simulator and the derivation share.
"""

from __future__ import annotations

from ssctrial.instruments._registry import (
    Instrument,
    Item,
    get_instrument,
    list_instruments,
    register,
)

__all__ = [
    "Instrument",
    "Item",
    "get_instrument",
    "list_instruments",
    "register",
]
