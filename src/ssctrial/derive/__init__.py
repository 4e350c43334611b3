"""Analysis datasets in CDISC ADaM shape (ADSL, ADEFF, ADAE), derived from the store.

The BDS verbs (``derive_var_*``) are pure functions of DataFrames; the ``create_*`` functions
read the store and compose them.
"""

from __future__ import annotations

from ssctrial.derive._bds import (
    assert_columns,
    derive_var_ablfl,
    derive_var_anl01fl,
    derive_var_base,
    derive_var_chg,
    derive_var_pchg,
    derive_vars_visit_window,
)

__all__ = [
    "assert_columns",
    "derive_var_ablfl",
    "derive_var_anl01fl",
    "derive_var_base",
    "derive_var_chg",
    "derive_var_pchg",
    "derive_vars_visit_window",
]
