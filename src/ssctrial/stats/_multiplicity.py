"""Multiplicity adjustments: Holm, Hochberg, Bonferroni, fixed-sequence and Dunnett (single-step)."""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
from scipy import stats

from ssctrial.exceptions import InputError
from ssctrial.stats._validate import assert_choice

__all__ = ["adjust_pvalues", "adjust_dunnett"]

logger = logging.getLogger(__name__)

_METHODS = ("holm", "hochberg", "bonferroni", "fixed-sequence", "none")


def _as_p(p) -> np.ndarray:
    arr = np.asarray(p, dtype=float)
    if arr.ndim != 1:
        msg = f"p values must be a 1-d sequence, got an array of shape {arr.shape}"
        raise InputError(msg)
    bad = arr[~np.isnan(arr) & ((arr < 0) | (arr > 1))]
    if bad.size:
        msg = f"p values must lie in [0, 1]; got {bad.tolist()[:5]}"
        raise InputError(msg)
    return arr


def adjust_pvalues(
    p, *, method: Literal["holm", "hochberg", "bonferroni", "fixed-sequence", "none"] = "holm"
) -> np.ndarray:
    """Adjust p values for multiple testing.

    Parameters
    ----------
    p
        Unadjusted p values. For ``"fixed-sequence"`` their order is the pre-specified testing order.
        Missing values (NaN) are left missing and do not count as hypotheses (as in R's ``p.adjust``).
    method
        ``"holm"`` (Holm 1979, step-down), ``"hochberg"`` (Hochberg 1988, step-up), ``"bonferroni"``,
        ``"fixed-sequence"`` (hierarchical testing in the given order; the adjusted p value is the
        running maximum, so hypothesis i is rejected at level alpha exactly when it and all before it
        have p <= alpha) or ``"none"``.

    Returns
    -------
    numpy.ndarray
        Adjusted p values, in the input order.

    Notes
    -----
    Holm, Hochberg and Bonferroni agree with R's ``p.adjust``.

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, 0.03], method="holm").round(3).tolist()
    [0.03, 0.06, 0.06]
    >>> adjust_pvalues([0.01, 0.04, 0.03], method="fixed-sequence").tolist()
    [0.01, 0.04, 0.04]
    """
    assert_choice(method, _METHODS, name="method")
    arr = _as_p(p)
    out = np.full_like(arr, np.nan)
    ok = ~np.isnan(arr)
    q = arr[ok]
    m = q.size
    if m == 0:
        return out
    if method == "none":
        adj = q.copy()
    elif method == "bonferroni":
        adj = np.minimum(1.0, m * q)
    elif method == "fixed-sequence":
        adj = np.maximum.accumulate(q)
    elif method == "holm":
        order = np.argsort(q, kind="stable")
        stepped = np.maximum.accumulate((m - np.arange(m)) * q[order])
        adj = np.empty(m)
        adj[order] = np.minimum(1.0, stepped)
    else:  # hochberg
        order = np.argsort(q, kind="stable")[::-1]
        stepped = np.minimum.accumulate((np.arange(m) + 1) * q[order])
        adj = np.empty(m)
        adj[order] = np.minimum(1.0, stepped)
    out[ok] = adj
    return out


def adjust_dunnett(
    t,
    correlation,
    df: float,
    *,
    alternative: Literal["two-sided", "less", "greater"] = "two-sided",
    seed: int = 20250517,
) -> np.ndarray:
    """Single-step (Dunnett-type) adjusted p values for correlated t statistics.

    Parameters
    ----------
    t
        t statistics of the m comparisons (e.g. each active arm vs control).
    correlation
        m x m correlation matrix of the estimates (from their covariance matrix).
    df
        Degrees of freedom of the common variance estimate; ``numpy.inf`` for z statistics.
    alternative
        ``"two-sided"``, ``"less"`` or ``"greater"``.
    seed
        Seed of the quasi-Monte-Carlo integration (results are reproducible).

    Returns
    -------
    numpy.ndarray
        Adjusted p values: P(max_j |T_j| >= |t_i|) under the joint multivariate t (or normal)
        distribution, as in R's ``multcomp::summary(glht(...), test = adjusted("single-step"))``.

    Notes
    -----
    Dunnett (1955), JASA 50:1096; Hothorn, Bretz & Westfall (2008). The multivariate t probability
    is computed by randomised quasi-Monte-Carlo (Genz & Bretz), to about 1e-5 absolute.
    """
    tt = np.atleast_1d(np.asarray(t, dtype=float))
    r = np.atleast_2d(np.asarray(correlation, dtype=float))
    assert_choice(alternative, ("two-sided", "less", "greater"), name="alternative")
    if r.shape != (tt.size, tt.size):
        msg = f"correlation must be {tt.size} x {tt.size} for {tt.size} statistics, got {r.shape}"
        raise InputError(msg)
    if not (df > 0):
        msg = f"df={df!r} must be positive (numpy.inf for normal statistics)"
        raise InputError(msg)
    if tt.size == 1:
        dist = stats.norm if np.isinf(df) else stats.t(df)
        if alternative == "two-sided":
            return np.array([2 * dist.sf(abs(tt[0]))])
        return np.array([dist.sf(tt[0]) if alternative == "greater" else dist.cdf(tt[0])])
    rng = np.random.default_rng(seed)
    if np.isinf(df):
        mvd = stats.multivariate_normal(mean=np.zeros(tt.size), cov=r, allow_singular=True)
    else:
        mvd = stats.multivariate_t(loc=np.zeros(tt.size), shape=r, df=df, allow_singular=True, seed=rng)
    out = np.empty(tt.size)
    for i, ti in enumerate(tt):
        if alternative == "two-sided":
            c = abs(ti)
            lower = np.full(tt.size, -c)
        elif alternative == "greater":
            c, lower = ti, np.full(tt.size, -np.inf)
        else:
            c, lower = -ti, np.full(tt.size, -np.inf)
        upper = np.full(tt.size, c)
        if np.isinf(df):
            prob = mvd.cdf(upper, lower_limit=lower, rng=rng)
        else:
            prob = mvd.cdf(upper, lower_limit=lower, maxpts=200_000 * tt.size)
        out[i] = 1 - prob
    return np.clip(out, 0.0, 1.0)
