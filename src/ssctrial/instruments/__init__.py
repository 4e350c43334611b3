"""Outcome instruments: validated item definitions and vectorised scorers for every BASICS measure.

Pure functions of plain values and DataFrames (no database, no files beyond the shipped tables).
Every instrument is registered in one registry (:func:`get_instrument`, :func:`list_instruments`)
that data capture, validation, the simulator and the derivation share.
"""

from __future__ import annotations

from ssctrial.instruments._criss import (
    CRISS_COEFFICIENTS,
    compute_criss_probability,
    compute_criss_step1_fvc,
    compute_criss_step1_lv,
    compute_criss_step1_pah,
    score_acr_criss,
)
from ssctrial.instruments._eq5d import (
    EQ5D_DIMENSIONS,
    compute_eq5d_index,
    eq5d_index,
    list_eq5d_value_sets,
    score_eq5d,
)
from ssctrial.instruments._eustar import EUSTAR_AI_WEIGHTS, score_eustar_ai
from ssctrial.instruments._forms import AUTOANTIBODIES, BACKGROUND_THERAPIES, ETHNICITIES, read_form
from ssctrial.instruments._globals import score_globals
from ssctrial.instruments._haq import HAQ_CATEGORIES, HAQ_DEVICES, SHAQ_VAS, compute_shaq_vas, score_haq_di
from ssctrial.instruments._joints import (
    JOINTS_28,
    JOINTS_66,
    JOINTS_68,
    NOT_EVALUATED,
    compute_joint_counts,
    score_joint_counts,
)
from ssctrial.instruments._lung import (
    LUNG_EQUATIONS,
    compute_lung_function,
    lung_function,
    score_pft,
)
from ssctrial.instruments._mrss import MRSS_SITES, compute_mrss_total, score_mrss
from ssctrial.instruments._rcriss import score_rcriss
from ssctrial.instruments._registry import (
    Instrument,
    Item,
    get_instrument,
    list_instruments,
    register,
)
from ssctrial.instruments._ulcers import (
    DU_LOCATIONS,
    DU_QUALIFYING,
    compute_digital_ulcer_changes,
    score_digital_ulcers,
)
from ssctrial.instruments._validate import ItemValueError, assert_items

__all__ = [
    "AUTOANTIBODIES",
    "BACKGROUND_THERAPIES",
    "ETHNICITIES",
    "read_form",
    "EQ5D_DIMENSIONS",
    "LUNG_EQUATIONS",
    "compute_eq5d_index",
    "compute_lung_function",
    "eq5d_index",
    "list_eq5d_value_sets",
    "lung_function",
    "score_eq5d",
    "score_pft",
    "CRISS_COEFFICIENTS",
    "DU_LOCATIONS",
    "DU_QUALIFYING",
    "EUSTAR_AI_WEIGHTS",
    "HAQ_CATEGORIES",
    "HAQ_DEVICES",
    "JOINTS_28",
    "JOINTS_66",
    "JOINTS_68",
    "MRSS_SITES",
    "NOT_EVALUATED",
    "SHAQ_VAS",
    "ItemValueError",
    "assert_items",
    "compute_criss_probability",
    "compute_criss_step1_fvc",
    "compute_criss_step1_lv",
    "compute_criss_step1_pah",
    "compute_digital_ulcer_changes",
    "compute_joint_counts",
    "compute_mrss_total",
    "compute_shaq_vas",
    "score_acr_criss",
    "score_digital_ulcers",
    "score_eustar_ai",
    "score_globals",
    "score_haq_di",
    "score_joint_counts",
    "score_mrss",
    "score_rcriss",
    "Instrument",
    "Item",
    "get_instrument",
    "list_instruments",
    "register",
]
