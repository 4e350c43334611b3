"""ssctrial.stats: the statistics engine (pure functions of DataFrames; see docs/statistics.md)."""

from ssctrial.stats._ancova import ancova
from ssctrial.stats._contingency import contingency_tests, fisher_exact_kx2
from ssctrial.stats._counts import count_regression
from ssctrial.stats._descriptives import compute_wilson_ci, describe_categorical, describe_continuous
from ssctrial.stats._impute import impute_pmm
from ssctrial.stats._mi_analysis import mi_ancova, tipping_point
from ssctrial.stats._mmrm import MMRMFit, mmrm
from ssctrial.stats._multiplicity import adjust_dunnett, adjust_pvalues
from ssctrial.stats._one_way import one_way
from ssctrial.stats._pairwise import compare_to_control
from ssctrial.stats._pool import pool_rubin
from ssctrial.stats._responder import compute_newcombe_ci, responder_analysis
from ssctrial.stats._result import StatsResult
from ssctrial.stats._safety import compute_eair, create_ae_by_grade, create_ae_by_term, create_ae_overview

__all__ = [
    "MMRMFit",
    "StatsResult",
    "adjust_dunnett",
    "adjust_pvalues",
    "ancova",
    "compare_to_control",
    "compute_eair",
    "compute_newcombe_ci",
    "compute_wilson_ci",
    "contingency_tests",
    "count_regression",
    "create_ae_by_grade",
    "create_ae_by_term",
    "create_ae_overview",
    "describe_categorical",
    "describe_continuous",
    "fisher_exact_kx2",
    "impute_pmm",
    "mi_ancova",
    "mmrm",
    "one_way",
    "pool_rubin",
    "responder_analysis",
    "tipping_point",
]
