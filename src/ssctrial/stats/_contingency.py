"""Tests of a binary outcome across groups (k x 2 tables): Pearson chi-square and Fisher–Freeman–Halton."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
from scipy import special, stats

from ssctrial.exceptions import InputError, StatisticalWarning
from ssctrial.stats._validate import assert_data_frame, group_levels

__all__ = ["contingency_tests", "fisher_exact_kx2"]

logger = logging.getLogger(__name__)

_MAX_TABLES = 5_000_000
# R's fisher.test counts tables whose probability is within a relative 1e-7 of the observed one as
# "as extreme" (relErr <- 1 + 10^(-7)); we do the same so that ties from rounding are treated alike.
_REL_ERR = 1 + 1e-7


def fisher_exact_kx2(successes, totals) -> float:
    """Two-sided Fisher–Freeman–Halton exact p value for a k x 2 table.

    Parameters
    ----------
    successes
        Number of events in each of the k groups.
    totals
        Group sizes (same length as ``successes``).

    Returns
    -------
    float
        The sum of the conditional (multivariate hypergeometric) probabilities of all tables with the
        observed margins that are no more probable than the observed table.

    Notes
    -----
    Freeman & Halton (1951), Biometrika 38:141. The tables with the observed margins are walked
    group by group, network-algorithm style (Mehta & Patel 1983): a partial table is settled at once
    when even the most (least) probable completion is (is not) as extreme as the observed table, the
    mass of all its completions coming from Vandermonde's identity; otherwise it is extended.
    Probabilities within a relative 1e-7 of the observed one count as equal, as in R's
    ``fisher.test``. For k = 2 this is Fisher's exact test.

    Examples
    --------
    >>> round(fisher_exact_kx2([3, 1], [4, 4]), 6)
    0.485714
    """
    x = np.asarray(successes, dtype=np.int64)
    n = np.asarray(totals, dtype=np.int64)
    if x.ndim != 1 or x.shape != n.shape or x.size < 2:
        msg = f"successes and totals must be 1-d of equal length >= 2, got shapes {x.shape} and {n.shape}"
        raise InputError(msg)
    if np.any(x < 0) or np.any(x > n):
        msg = (f"successes must lie between 0 and the group totals; "
               f"got successes={x.tolist()}, totals={n.tolist()}")
        raise InputError(msg)
    m = int(x.sum())
    big_n = int(n.sum())
    lognorm = special.gammaln(big_n + 1) - special.gammaln(m + 1) - special.gammaln(big_n - m + 1)

    def logc(nn: int, k: np.ndarray) -> np.ndarray:
        return special.gammaln(nn + 1) - special.gammaln(k + 1) - special.gammaln(nn - k + 1)

    obs = float(np.sum([logc(int(ni), np.array(xi)) for ni, xi in zip(n, x, strict=True)]) - lognorm)
    threshold = obs + lognorm + np.log(_REL_ERR)  # compare unnormalised log probabilities
    k = n.size
    # For the groups j..k-1 and a remaining number of events r: the largest and smallest log
    # probability mass of one completion (max/min of sum log C(n_i, x_i) with sum x_i = r), and the
    # total log mass of all completions, log C(n_j + ... + n_{k-1}, r) (Vandermonde).
    big = np.inf
    maxc = [np.full(m + 1, -big) for _ in range(k + 1)]
    minc = [np.full(m + 1, big) for _ in range(k + 1)]
    maxc[k][0] = minc[k][0] = 0.0
    for j in range(k - 1, -1, -1):
        xs = np.arange(min(int(n[j]), m) + 1)
        lc = logc(int(n[j]), xs)
        for r in range(m + 1):
            ok = xs <= r
            cand_max = lc[ok] + maxc[j + 1][r - xs[ok]]
            cand_min = lc[ok] + minc[j + 1][r - xs[ok]]
            maxc[j][r] = cand_max.max()
            finite = np.isfinite(cand_min)
            minc[j][r] = cand_min[finite].min() if finite.any() else big
    n_rest = np.concatenate([np.cumsum(n[::-1])[::-1], [0]])
    # walk the groups, keeping partial tables (events so far, log mass so far) that are undecided
    sums = np.zeros(1, np.int64)
    logp = np.zeros(1)
    total = 0.0
    for j in range(k + 1):
        rem = m - sums
        feasible = (rem >= 0) & (rem <= n_rest[j])
        sums, logp, rem = sums[feasible], logp[feasible], rem[feasible]
        hi = logp + maxc[j][rem]
        lo = logp + minc[j][rem]
        all_in = hi <= threshold
        if all_in.any():
            rin = rem[all_in]
            mass = logp[all_in] + logc(int(n_rest[j]), rin) - lognorm
            total += float(np.exp(mass).sum())
        undecided = ~all_in & (lo <= threshold)
        sums, logp = sums[undecided], logp[undecided]
        if j == k or sums.size == 0:
            break
        xs = np.arange(int(n[j]) + 1)
        sums = (sums[:, None] + xs[None, :]).ravel()
        logp = (logp[:, None] + logc(int(n[j]), xs)[None, :]).ravel()
        if sums.size > _MAX_TABLES:
            msg = (f"the exact test would need more than {_MAX_TABLES} partial tables; "
                   "use the chi-square test for tables this large")
            raise InputError(msg)
    p = total
    return min(1.0, p)


def _binary(data: pd.DataFrame, outcome: str) -> pd.Series:
    y = data[outcome]
    values = set(pd.unique(y.dropna()))
    if pd.api.types.is_bool_dtype(y) or values <= {0, 1}:
        return y.astype(float)
    msg = (f"column {outcome!r} must be binary (0/1 or True/False, NaN for missing); "
           f"found values {sorted(map(str, values))[:10]}")
    raise InputError(msg)


def contingency_tests(
    data: pd.DataFrame, outcome: str, *, group: str, correction: bool = False
) -> pd.DataFrame:
    """Global tests of a binary outcome across groups: Pearson chi-square and Fisher–Freeman–Halton exact.

    Parameters
    ----------
    data
        One row per subject.
    outcome
        Binary outcome column (0/1 or bool; missing values are dropped; impute them first, e.g. as
        non-responders with :func:`responder_analysis`'s ``missing`` option, if that is the plan).
    group
        Grouping column with at least 2 groups.
    correction
        Apply Yates' continuity correction to the chi-square test (only used for 2 x 2 tables, as R's
        ``chisq.test``).

    Returns
    -------
    pandas.DataFrame
        Rows ``Chi-square`` and ``Fisher-Freeman-Halton``; columns ``test, statistic, df1, df2, p, n,
        method`` (``statistic`` is Pearson's X-squared; NaN for the exact test; ``df2`` is NaN).

    Notes
    -----
    The exact test enumerates every table with the observed margins; see :func:`fisher_exact_kx2`.
    A :class:`~ssctrial.exceptions.StatisticalWarning` is issued when an expected count is below 5.
    """
    assert_data_frame(data, [outcome, group])
    y = _binary(data, outcome)
    keep = y.notna() & data[group].notna()
    y, g = y[keep], data.loc[keep, group]
    levels = group_levels(data.loc[keep], group)
    if len(levels) < 2:
        msg = f"column {group!r} must have at least 2 groups with data, found {levels}"
        raise InputError(msg)
    events = np.array([int(y[g == lev].sum()) for lev in levels])
    totals = np.array([int((g == lev).sum()) for lev in levels])
    table = np.column_stack([events, totals - events])
    n = int(totals.sum())
    rows = []
    if table.sum(axis=0).min() == 0:
        rows.append(("Chi-square", np.nan, len(levels) - 1.0, np.nan, np.nan, n,
                     "Pearson chi-square: undefined (no events or no non-events)"))
    else:
        expected = np.outer(totals, table.sum(axis=0)) / n
        if expected.min() < 5:
            warnings.warn(f"expected count {expected.min():.2f} < 5 in the {outcome!r} by {group!r} table; "
                          "prefer the exact test", StatisticalWarning, stacklevel=2)
        use_yates = correction and len(levels) == 2
        chi2, p, dof, _ = stats.chi2_contingency(table, correction=use_yates)
        label = "Pearson chi-square" + (" with Yates' continuity correction" if use_yates else "")
        rows.append(("Chi-square", float(chi2), float(dof), np.nan, float(p), n, label))
    rows.append(("Fisher-Freeman-Halton", np.nan, np.nan, np.nan, fisher_exact_kx2(events, totals), n,
                 "Fisher-Freeman-Halton exact test (two-sided, all tables with observed margins)"))
    return pd.DataFrame(rows, columns=["test", "statistic", "df1", "df2", "p", "n", "method"])
