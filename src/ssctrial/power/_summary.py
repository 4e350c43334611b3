"""Closed-form power, the smallest sample size reaching a target power, and the power curve."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from ssctrial.exceptions import InputError

__all__ = ["compute_closed_form_power", "find_sample_size", "plot_power_curve"]

logger = logging.getLogger(__name__)


def compute_closed_form_power(
    n: np.ndarray | int,
    *,
    effect: float,
    sd: float,
    alpha: float = 0.05,
    correlation: float = 0.0,
    n_arms: int = 2,
    method: Literal["ttest", "ancova"] = "ttest",
    random_covariate: bool = True,
) -> np.ndarray:
    """Two-sided power of a two-group comparison from the noncentral t distribution.

    Parameters
    ----------
    n
        Patients per arm (equal arms).
    effect
        Difference in means (active minus control).
    sd
        SD of the outcome (of the change) within arm.
    alpha
        Two-sided level.
    correlation
        ANCOVA: correlation of the outcome with the baseline covariate; the residual SD is
        ``sd * sqrt(1 - correlation^2)``.
    n_arms
        Arms in the model (their patients add to the residual df: ``n_arms * n - n_arms``, and
        one less for ANCOVA's covariate).
    method
        ``"ttest"`` or ``"ancova"``.
    random_covariate
        ANCOVA: average over the chance imbalance of a normal baseline (exact unconditional
        power); False gives the usual formula that ignores it (slightly optimistic).

    Returns
    -------
    numpy.ndarray
        Power ``P(|T| > t_{1-alpha/2, df})`` with ``T ~ t'(df, ncp)``,
        ``ncp = effect / (sigma sqrt(2 / n))``; for ANCOVA with ``random_covariate`` averaged
        over ``ncp / sqrt(1 + F/(N - 2))``, ``F ~ F(1, N - 2)`` (the variance of the adjusted
        difference given the baselines is ``sigma^2 (2/n + (xbar_1 - xbar_2)^2 / Sxx)``).
    """
    n = np.asarray(n, dtype=float)
    if method not in ("ttest", "ancova"):
        msg = f"method must be 'ttest' or 'ancova', got {method!r}"
        raise InputError(msg)
    if not sd > 0:
        msg = f"sd must be positive, got {sd!r}"
        raise InputError(msg)
    sigma = sd * np.sqrt(1 - correlation**2) if method == "ancova" else sd
    df = n_arms * n - n_arms - (1 if method == "ancova" else 0)
    ncp = effect / (sigma * np.sqrt(2.0 / n))
    q = stats.t.ppf(1 - alpha / 2, df)
    if method == "ttest" or not random_covariate:
        return stats.nct.sf(q, df, ncp) + stats.nct.cdf(-q, df, ncp)
    # random normal covariate: given the baselines, the variance of the estimate is inflated by
    # 1 + F / (N - n_arms) with F ~ F(1, N - n_arms) (difference of baseline means over the
    # within-arm baseline SS); average the conditional power over F (midpoint rule in F's quantiles)
    u = (np.arange(400) + 0.5) / 400
    out = []
    for nn, d, qq, nc in zip(
        np.atleast_1d(n), np.atleast_1d(df), np.atleast_1d(q), np.atleast_1d(ncp), strict=True
    ):
        dfx = n_arms * nn - n_arms
        f = stats.f.ppf(u, 1, dfx)
        ncf = nc / np.sqrt(1 + f / dfx)
        out.append(np.mean(stats.nct.sf(qq, d, ncf) + stats.nct.cdf(-qq, d, ncf)))
    return np.reshape(out, np.shape(n))


def find_sample_size(
    table: pd.DataFrame,
    *,
    target: float = 0.8,
    contrast: str | None = None,
) -> pd.DataFrame:
    """Smallest n per arm whose simulated power reaches the target, with its uncertainty.

    Power is interpolated linearly in n between the grid points around the target; the
    uncertainty is the range of n where the power curve shifted by +/- 1.96 Monte Carlo SE
    crosses the target (``n_low``, ``n_high``).

    Parameters
    ----------
    table
        ``PowerResult.table``.
    target
        Target power (0-1).
    contrast
        Contrast label to use (default: ``"any"`` when present, else the first contrast).

    Returns
    -------
    pandas.DataFrame
        One row per group of scenarios differing only in n (method, effect, dropout, ...):
        ``n_grid`` (smallest grid n with power >= target, NaN if none), ``n_interpolated``,
        ``n_low``, ``n_high``, ``power_at_n``, ``power_se_at_n``.
    """
    if not 0 < target < 1:
        msg = f"target power must be between 0 and 1, got {target!r}"
        raise InputError(msg)
    if table.empty:
        msg = "the power table is empty"
        raise InputError(msg)
    labels = list(dict.fromkeys(table["contrast"]))
    label = contrast or ("any" if "any" in labels else labels[0])
    if label not in labels:
        msg = f"contrast {label!r} is not in the table; contrasts are {labels}"
        raise InputError(msg)
    sub = table[table["contrast"] == label]
    keys = ["method", "arms", "effect", "dropout", "dropout_pattern", "multiplicity", "alpha", "distribution"]
    rows = []
    for key, g in sub.groupby(keys, dropna=False, sort=False):
        g = g.sort_values("n")
        ns, pw, se = g["n"].to_numpy(float), g["power"].to_numpy(float), g["power_se"].to_numpy(float)

        def cross(p: np.ndarray, ns: np.ndarray = ns) -> float:
            hit = np.flatnonzero(p >= target)
            if hit.size == 0:
                return np.nan
            i = int(hit[0])
            if i == 0:
                return float(ns[0])
            return float(ns[i - 1] + (target - p[i - 1]) * (ns[i] - ns[i - 1]) / (p[i] - p[i - 1]))

        hit = np.flatnonzero(pw >= target)
        row = dict(zip(keys, key, strict=True))
        row["contrast"] = label
        row["n_grid"] = float(ns[hit[0]]) if hit.size else np.nan
        row["n_interpolated"] = cross(pw)
        row["n_low"] = cross(pw + 1.96 * se)
        row["n_high"] = cross(pw - 1.96 * se)
        row["power_at_n"] = float(pw[hit[0]]) if hit.size else np.nan
        row["power_se_at_n"] = float(se[hit[0]]) if hit.size else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def plot_power_curve(
    table: pd.DataFrame,
    path: str | Path | None = None,
    *,
    target: float | None = 0.8,
    contrast: str | None = None,
):  # noqa: ANN201 - a matplotlib Figure (imported lazily)
    """Power against n per arm, one line per method/effect/dropout, with +/- 1.96 MC SE bands.

    Parameters
    ----------
    table
        ``PowerResult.table``.
    path
        Where to save the figure (``.png``, ``.pdf``, ``.svg``); not saved when None.
    target
        Draw a horizontal line at the target power (None: no line).
    contrast
        Contrast to plot (default: ``"any"`` when present, else the first).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    labels = list(dict.fromkeys(table["contrast"]))
    label = contrast or ("any" if "any" in labels else labels[0])
    sub = table[table["contrast"] == label]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    keys = ["method", "effect", "dropout"]
    for key, g in sub.groupby(keys, dropna=False, sort=False):
        g = g.sort_values("n")
        name = f"{key[0]}, effect {key[1]:g}, dropout {key[2]:g}"
        ax.plot(g["n"], g["power"], marker="o", ms=3, label=name)
        ax.fill_between(
            g["n"], g["power"] - 1.96 * g["power_se"], g["power"] + 1.96 * g["power_se"], alpha=0.2
        )
    if target is not None:
        ax.axhline(target, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("patients per arm")
    ax.set_ylabel(f"power ({label})")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        logger.info("power curve written to %s", path)
    return fig
