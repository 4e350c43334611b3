"""Analysis datasets in CDISC ADaM shape (ADSL, ADEFF, ADAE), derived from the store.

The BDS verbs (``derive_var_*``) are pure functions of DataFrames; the ``create_*`` functions
read the store and compose them.
"""

from __future__ import annotations

from ssctrial.derive._adam import (
    ADAE_LABELS,
    ADEFF_LABELS,
    ADSL_LABELS,
    AnalysisDatasets,
    create_adae,
    create_adeff,
    create_adsl,
    create_analysis_datasets,
)
from ssctrial.derive._bds import (
    assert_columns,
    derive_var_ablfl,
    derive_var_anl01fl,
    derive_var_base,
    derive_var_chg,
    derive_var_pchg,
    derive_vars_visit_window,
)
from ssctrial.derive._scores import compute_visit_scores, instrument_options

__all__ = [
    "ADAE_LABELS",
    "ADEFF_LABELS",
    "ADSL_LABELS",
    "AnalysisDatasets",
    "compute_visit_scores",
    "create_adae",
    "create_adeff",
    "create_adsl",
    "create_analysis_datasets",
    "instrument_options",
    "assert_columns",
    "derive_var_ablfl",
    "derive_var_anl01fl",
    "derive_var_base",
    "derive_var_chg",
    "derive_var_pchg",
    "derive_vars_visit_window",
]
