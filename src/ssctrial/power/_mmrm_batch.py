"""MMRM (unstructured covariance, REML, Kenward-Roger) of many trials through ``ssctrial.stats``.

Each trial is handed to the statistics engine as the zero-padded arrays it works on (design
``X`` (N, V, p), outcome ``Y`` (N, V), observed mask): no DataFrame, no formula parsing, no
factor coding per trial. The design is the cell-means form of
``CHG ~ AVISIT + ARM:AVISIT + BASE:AVISIT`` (a visit intercept, a baseline slope per visit and
an arm effect per visit), so the active-vs-control difference at the primary visit is one
coefficient; its estimate, Kenward-Roger-adjusted standard error and KR df come from
:class:`ssctrial.stats.MMRMFit` (the same code as :func:`ssctrial.stats.mmrm`).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from ssctrial.exceptions import ConvergenceWarning, InputError
from ssctrial.power._analysis import BatchResult, _planned_correlation
from ssctrial.power._model import TrialBatch
from ssctrial.stats._mmrm import MMRMFit, _Config, _Prepared
from ssctrial.stats._mmrm_inference import satterthwaite_df, two_sided_p

__all__ = ["analyse_mmrm", "mmrm_design"]

logger = logging.getLogger(__name__)

_CONFIG = _Config(covariance="us", df_method="kenward-roger", reml=True, vcov="model")


def mmrm_design(base: np.ndarray, arm_index: np.ndarray, n_arms: int, n_visits: int) -> np.ndarray:
    """Design (N, V, p) of one trial: V visit intercepts, V baseline slopes, V per active arm."""
    n = base.size
    eye = np.eye(n_visits)
    cols = [np.broadcast_to(eye, (n, n_visits, n_visits)), base[:, None, None] * eye[None]]
    for a in range(1, n_arms):
        cols.append((arm_index == a)[:, None, None] * eye[None])
    return np.concatenate(cols, axis=2).astype(float)


def _fit_one(X: np.ndarray, Y: np.ndarray, mask: np.ndarray, visits: list[object]) -> MMRMFit:
    keep = mask.any(axis=1)
    X, Y, mask = X[keep], Y[keep], mask[keep]
    prep = _Prepared(
        spec=None,  # type: ignore[arg-type]  # only used for naming and LS means, not here
        rows=None,  # type: ignore[arg-type]
        X=X,
        Y=np.where(mask, Y, 0.0),
        mask=mask,
        group_index=np.zeros(len(Y), dtype=np.int64),
        group_levels=[None],
        group_col=None,
        visit_levels=visits,
        subjects=np.arange(len(Y)),
        covariate_means={},
    )
    return MMRMFit(prep, _CONFIG, max_iter=50, tol=1e-7)


def analyse_mmrm(batch: TrialBatch) -> BatchResult:
    """MMRM with unstructured covariance and Kenward-Roger df for every trial of a batch.

    Returns the active-vs-control differences at the primary visit (KR standard errors and df,
    two-sided t p values). A trial whose fit fails (a rank-deficient design, e.g. an arm with no
    one left at a visit) or does not converge gets NaN (never a rejection); the count is logged.
    """
    b, n, nv = batch.chg.shape
    arms = batch.arm_index
    n_arms = int(arms.max()) + 1
    c = n_arms - 1
    est = np.full((b, c), np.nan)
    se = np.full((b, c), np.nan)
    df = np.full((b, c), np.nan)
    C = np.zeros((c, nv * (1 + n_arms)))
    for a in range(c):
        C[a, nv * (2 + a) + batch.primary_index] = 1.0
    visits: list[object] = list(range(nv))
    failed = 0
    for i in range(b):
        X = mmrm_design(batch.base[i], arms, n_arms, nv)
        try:
            with warnings.catch_warnings():
                # ill-conditioned intermediate steps (scipy LinAlgWarning, numpy RuntimeWarning) are
                # the optimiser's business; a fit that does not converge is a failed trial
                warnings.simplefilter("ignore")
                warnings.simplefilter("error", ConvergenceWarning)
                fit = _fit_one(X, batch.chg[i], batch.observed[i], visits)
                # as MMRMFit._estimate_rows(C, "kenward-roger"), without building a DataFrame
                V = fit._vcov_matrix("kenward-roger")
                est[i] = C @ fit.beta_
                se[i] = np.sqrt(np.sum((C @ V) * C, axis=1))
                G = fit._res.G
                if G is None:  # the engine always fills G at the optimum (order 2)
                    msg = "no derivative matrices at the optimum"
                    raise np.linalg.LinAlgError(msg)
                df[i] = satterthwaite_df(C, fit._res.phi, G, fit._W)
        except (InputError, ConvergenceWarning, np.linalg.LinAlgError, ValueError, FloatingPointError):
            failed += 1
            continue
    with np.errstate(divide="ignore", invalid="ignore"):
        t = est / se
    p = two_sided_p(t, df)
    if failed:
        logger.info(
            "mmrm: %d of %d simulated trials could not be fitted (counted as not rejected)", failed, b
        )
    return BatchResult(est, se, df, p, t, _planned_correlation(np.bincount(arms)))
