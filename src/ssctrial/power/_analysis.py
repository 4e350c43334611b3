"""Batched analyses of many simulated trials: every function takes a TrialBatch (B trials).

Each returns a :class:`BatchResult` of per-trial arrays over the active-vs-control contrasts
(control is arm 0): estimate, standard error, degrees of freedom and two-sided p value; the
Kruskal-Wallis test is one global test (one column). All sums run over arms with
``numpy.add.reduceat`` on the (trials x patients) arrays: patients are stored arm by arm.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from ssctrial.power._model import TrialBatch

__all__ = [
    "BatchResult",
    "analyse_ancova",
    "analyse_kruskal",
    "analyse_ttest",
    "analyse_wilcoxon",
    "adjust_batch",
]

logger = logging.getLogger(__name__)


@dataclass
class BatchResult:
    """Per-trial results: arrays of shape (B, C) over C contrasts (NaN where not estimable)."""

    estimate: np.ndarray
    se: np.ndarray
    df: np.ndarray
    p: np.ndarray
    t: np.ndarray | None = None
    correlation: np.ndarray | None = None  # (C, C) planned correlation of the estimates (Dunnett)


def _arm_starts(arm_index: np.ndarray) -> np.ndarray:
    starts = np.flatnonzero(np.r_[True, np.diff(arm_index) != 0])
    if np.any(np.diff(arm_index) < 0):
        msg = "patients must be stored arm by arm (control first)"
        raise ValueError(msg)
    return starts


def _primary(batch: TrialBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w = batch.observed[:, :, batch.primary_index]
    y = np.where(w, batch.chg[:, :, batch.primary_index], 0.0)
    return y, batch.base, w.astype(float)


def _planned_correlation(sizes: np.ndarray) -> np.ndarray:
    """Correlation of the active-vs-control differences sharing the control mean."""
    nc, na = sizes[0], sizes[1:]
    v = 1 / na + 1 / nc
    cov = np.full((na.size, na.size), 1 / nc)
    np.fill_diagonal(cov, v)
    d = np.sqrt(v)
    return cov / np.outer(d, d)


def analyse_ancova(batch: TrialBatch) -> BatchResult:
    """ANCOVA of the change at the primary visit on baseline and arm (completers), per trial.

    The within-arm (pooled) slope on baseline and the adjusted differences
    ``(ybar_a - ybar_c) - beta (xbar_a - xbar_c)`` with variance
    ``s^2 (1/n_a + 1/n_c + (xbar_a - xbar_c)^2 / Sxx_within)``: the least-squares solution of
    ``CHG ~ BASE + ARM``, residual df ``n - A - 1``.
    """
    y, x, w = _primary(batch)
    st = _arm_starts(batch.arm_index)
    n = np.add.reduceat(w, st, axis=1)
    sx = np.add.reduceat(w * x, st, axis=1)
    sy = np.add.reduceat(y, st, axis=1)
    sxx = np.add.reduceat(w * x * x, st, axis=1)
    sxy = np.add.reduceat(x * y, st, axis=1)
    syy = np.add.reduceat(y * y, st, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        xb, yb = sx / n, sy / n
        wxx = np.sum(sxx - n * xb * xb, axis=1)
        wxy = np.sum(sxy - n * xb * yb, axis=1)
        wyy = np.sum(syy - n * yb * yb, axis=1)
        beta = wxy / wxx
        df = n.sum(axis=1) - n.shape[1] - 1
        s2 = (wyy - beta * wxy) / df
        dx = xb[:, 1:] - xb[:, :1]
        est = yb[:, 1:] - yb[:, :1] - beta[:, None] * dx
        se = np.sqrt(s2[:, None] * (1 / n[:, 1:] + 1 / n[:, :1] + dx * dx / wxx[:, None]))
        t = est / se
    bad = (df <= 0) | ~(wxx > 0) | np.any(n < 1, axis=1)
    df = np.where(bad, np.nan, df).astype(float)
    dfb = np.broadcast_to(df[:, None], est.shape)
    p = 2 * special.stdtr(dfb, -np.abs(t))
    p[bad] = np.nan
    return BatchResult(est, se, dfb.copy(), p, t, _planned_correlation(np.bincount(batch.arm_index)))


def analyse_ttest(batch: TrialBatch) -> BatchResult:
    """Pooled-variance t test of the change at the primary visit (completers), per trial."""
    y, _, w = _primary(batch)
    st = _arm_starts(batch.arm_index)
    n = np.add.reduceat(w, st, axis=1)
    sy = np.add.reduceat(y, st, axis=1)
    syy = np.add.reduceat(y * y, st, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        yb = sy / n
        df = n.sum(axis=1) - n.shape[1]
        s2 = np.sum(syy - n * yb * yb, axis=1) / df
        est = yb[:, 1:] - yb[:, :1]
        se = np.sqrt(s2[:, None] * (1 / n[:, 1:] + 1 / n[:, :1]))
        t = est / se
    bad = (df <= 0) | np.any(n < 1, axis=1)
    df = np.where(bad, np.nan, df).astype(float)
    dfb = np.broadcast_to(df[:, None], est.shape)
    p = 2 * special.stdtr(dfb, -np.abs(t))
    p[bad] = np.nan
    return BatchResult(est, se, dfb.copy(), p, t, _planned_correlation(np.bincount(batch.arm_index)))


def _ranks(y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mid-ranks among observed values per trial, tie term sum(t^3 - t), and n per trial."""
    yy = np.where(w > 0, y, np.nan)
    r_min = stats.rankdata(yy, method="min", axis=1, nan_policy="omit")
    r_max = stats.rankdata(yy, method="max", axis=1, nan_policy="omit")
    obs = w > 0
    r = np.where(obs, (r_min + r_max) / 2, 0.0)
    tie = np.where(obs, r_max - r_min + 1, 1.0)
    # sum over tie groups of (t^3 - t) = sum over observations of (t^2 - 1)
    tie_term = np.sum(tie * tie - 1.0, axis=1)
    return r, tie_term, obs.sum(axis=1).astype(float)


def analyse_wilcoxon(batch: TrialBatch) -> BatchResult:
    """Wilcoxon rank-sum (Mann-Whitney) test of the change, normal approximation, per trial.

    Mid-ranks with the tie correction of the variance and a continuity correction of 0.5, as
    ``scipy.stats.mannwhitneyu(method="asymptotic")``. No estimate (NaN): the rank test has no
    mean difference to compare with the true effect.
    """
    y, _, w = _primary(batch)
    st = _arm_starts(batch.arm_index)
    r, tie, big_n = _ranks(y, w)
    n = np.add.reduceat(w, st, axis=1)
    rs = np.add.reduceat(r, st, axis=1)
    n1, n2 = n[:, 1], n[:, 0]
    u = rs[:, 1] - n1 * (n1 + 1) / 2
    mu = n1 * n2 / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        var = n1 * n2 / 12 * ((big_n + 1) - tie / (big_n * (big_n - 1)))
        z = (np.abs(u - mu) - 0.5) / np.sqrt(var)
    z = np.clip(z, 0, None)
    p = 2 * special.ndtr(-z)
    p[(n1 < 1) | (n2 < 1) | ~(var > 0)] = np.nan
    nan = np.full((y.shape[0], 1), np.nan)
    return BatchResult(nan, nan.copy(), nan.copy(), p[:, None], np.sign(u - mu)[:, None] * z[:, None])


def analyse_kruskal(batch: TrialBatch) -> BatchResult:
    """Kruskal-Wallis test over all kept arms (one global p per trial), tie-corrected."""
    y, _, w = _primary(batch)
    st = _arm_starts(batch.arm_index)
    r, tie, big_n = _ranks(y, w)
    n = np.add.reduceat(w, st, axis=1)
    rs = np.add.reduceat(r, st, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = 12 / (big_n * (big_n + 1)) * np.sum(rs * rs / n, axis=1) - 3 * (big_n + 1)
        h = h / (1 - tie / (big_n**3 - big_n))
    p = special.chdtrc(n.shape[1] - 1, h)
    p[np.any(n < 1, axis=1) | ~np.isfinite(h)] = np.nan
    nan = np.full((y.shape[0], 1), np.nan)
    return BatchResult(nan, nan.copy(), nan.copy(), p[:, None], None)


@functools.lru_cache(maxsize=256)
def _dunnett_critical(alpha: float, df: float, corr: tuple[float, ...], m: int) -> float:
    """Two-sided single-step Dunnett critical value c: P(max |T_j| >= c) = alpha."""
    from scipy import optimize

    from ssctrial.stats import adjust_dunnett

    r = np.array(corr).reshape(m, m)

    def f(c: float) -> float:
        return float(adjust_dunnett(np.full(m, c), r, df)[0]) - alpha

    lo = float(stats.t.ppf(1 - alpha / 2, df))
    hi = float(stats.t.ppf(1 - alpha / (2 * m), df)) + 0.05
    return float(optimize.brentq(f, lo, hi, xtol=1e-4))


def adjust_batch(res: BatchResult, *, method: str, alpha: float) -> np.ndarray:
    """Rejections (B, C) after adjusting over the contrasts of each trial.

    ``none``, ``bonferroni``, ``holm`` (step-down), ``hochberg`` (step-up) on the p values;
    ``dunnett`` compares ``|t|`` with the single-step Dunnett critical value for the trial's df
    and the planned correlation of the contrasts. A NaN p value is never a rejection.
    """
    p = np.where(np.isnan(res.p), 1.0, res.p)
    b, m = p.shape
    if m == 1 or method == "none":
        return p <= alpha
    if method == "bonferroni":
        return p <= alpha / m
    order = np.argsort(p, axis=1)
    ps = np.take_along_axis(p, order, axis=1)
    thresholds = alpha / (m - np.arange(m))
    below = ps <= thresholds[None, :]
    if method == "holm":
        keep = np.cumprod(below, axis=1).astype(bool)
    elif method == "hochberg":
        last = np.where(below.any(axis=1), m - 1 - np.argmax(below[:, ::-1], axis=1), -1)
        keep = np.arange(m)[None, :] <= last[:, None]
    elif method == "dunnett":
        if res.t is None or res.correlation is None:
            msg = "multiplicity 'dunnett' needs t statistics"
            raise ValueError(msg)
        corr = tuple(np.round(res.correlation, 6).ravel().tolist())
        out = np.zeros((b, m), dtype=bool)
        df = res.df[:, 0]
        for d in np.unique(df[np.isfinite(df)]):
            sel = df == d
            c = _dunnett_critical(alpha, float(d), corr, m)
            out[sel] = np.abs(res.t[sel]) >= c
        return out
    else:  # pragma: no cover - validated by PowerScenario
        msg = f"unknown multiplicity {method!r}"
        raise ValueError(msg)
    rej = np.zeros((b, m), dtype=bool)
    np.put_along_axis(rej, order, keep, axis=1)
    return rej
