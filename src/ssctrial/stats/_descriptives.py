"""Descriptive statistics by arm and visit: continuous summaries and n (%) with Wilson intervals."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from ssctrial.exceptions import InputError
from ssctrial.stats._result import StatsResult
from ssctrial.stats._validate import (
    assert_choice,
    assert_data_frame,
    assert_level,
    assert_numeric,
    group_levels,
)

__all__ = ["compute_wilson_ci", "describe_categorical", "describe_continuous"]

logger = logging.getLogger(__name__)


def compute_wilson_ci(x, n, *, conf_level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score confidence interval for a binomial proportion.

    Parameters
    ----------
    x
        Number of events (scalar or array).
    n
        Number of trials (same shape as ``x``); ``n = 0`` gives NaN.
    conf_level
        Confidence level.

    Returns
    -------
    tuple of numpy.ndarray
        Lower and upper limits.

    Notes
    -----
    Wilson (1927), JASA 22:209: the limits solve ``|p - phat| = z sqrt(p (1 - p) / n)``. Equal to
    R's ``prop.test(x, n, correct = FALSE)$conf.int`` and Newcombe (1998a) method 3.

    Examples
    --------
    >>> lo, hi = compute_wilson_ci(8, 16)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.28, 0.72)
    """
    assert_level(conf_level)
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    if np.any((x < 0) | (x > n)):
        msg = f"events must lie between 0 and n; got x={x.tolist()}, n={n.tolist()}"
        raise InputError(msg)
    z = stats.norm.ppf(0.5 + conf_level / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        centre = (x + z**2 / 2) / (n + z**2)
        half = z * np.sqrt(n * p * (1 - p) + z**2 / 4) / (n + z**2)
        lower = np.where(x == 0, 0.0, centre - half)
        upper = np.where(x == n, 1.0, centre + half)
    lower = np.where(n > 0, lower, np.nan)
    upper = np.where(n > 0, upper, np.nan)
    return lower, upper


def _by_list(data: pd.DataFrame, by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _groups(data: pd.DataFrame, by: list[str]):
    if not by:
        yield (), data
        return
    levels = [group_levels(data, b) for b in by]
    for combo in pd.MultiIndex.from_product(levels):
        combo = combo if isinstance(combo, tuple) else (combo,)
        mask = np.ones(len(data), bool)
        for b, v in zip(by, combo, strict=True):
            mask &= (data[b] == v).to_numpy()
        yield combo, data.loc[mask]


def describe_continuous(
    data: pd.DataFrame,
    outcome: str,
    *,
    by: str | Sequence[str] | None = None,
    conf_level: float = 0.95,
) -> StatsResult:
    """Summarise a numeric outcome by arm (and visit): n, mean, SD, SE, median, quartiles, range, CI.

    Parameters
    ----------
    data
        Long data (e.g. ADEFF rows for one parameter).
    outcome
        Numeric column to summarise (e.g. ``"CHG"``).
    by
        Column(s) to group by, e.g. ``["TRT01P", "AVISIT"]``. Levels follow Categorical order when
        given, else sorted order; every combination of levels gets a row (n = 0 when empty).
    conf_level
        Level of the t-based confidence interval of the mean.

    Returns
    -------
    StatsResult
        One row per group: the ``by`` columns, ``n`` (non-missing), ``n_missing``, ``mean``, ``sd``,
        ``se``, ``median``, ``q1``, ``q3``, ``min``, ``max``, ``lower``, ``upper`` (CI of the mean),
        ``method``.

    Notes
    -----
    SD with divisor n - 1; SE = SD / sqrt(n); CI = mean +/- t(n-1) SE. Quartiles are R's default
    ``quantile(type = 7)`` (linear interpolation), as numpy's default; SAS's default (type 2
    definition 5) can differ for small n. Statistics that need more observations are NaN (n = 1:
    no SD, SE or CI).
    """
    byl = _by_list(data, by)
    assert_data_frame(data, [outcome, *byl])
    assert_numeric(data, outcome)
    assert_level(conf_level)
    rows = []
    for combo, sub in _groups(data, byl):
        y = sub[outcome].dropna().to_numpy(float)
        n = y.size
        row = dict(zip(byl, combo, strict=True))
        row |= {"n": n, "n_missing": int(sub[outcome].isna().sum())}
        if n == 0:
            row |= dict.fromkeys(["mean", "sd", "se", "median", "q1", "q3", "min", "max", "lower", "upper"],
                                 np.nan)
        else:
            mean = float(y.mean())
            sd = float(y.std(ddof=1)) if n > 1 else np.nan
            se = sd / np.sqrt(n) if n > 1 else np.nan
            tq = stats.t.ppf(0.5 + conf_level / 2, n - 1) if n > 1 else np.nan
            q1, med, q3 = np.quantile(y, [0.25, 0.5, 0.75])
            row |= {"mean": mean, "sd": sd, "se": se, "median": float(med), "q1": float(q1),
                    "q3": float(q3), "min": float(y.min()), "max": float(y.max()),
                    "lower": mean - tq * se, "upper": mean + tq * se}
        rows.append(row)
    table = pd.DataFrame(rows)
    table["method"] = f"mean with t-based {conf_level:.0%} CI; quartiles type 7"
    return StatsResult(table, title=f"Summary of {outcome}" + (f" by {', '.join(byl)}" if byl else ""))


def describe_categorical(
    data: pd.DataFrame,
    outcome: str,
    *,
    by: str | Sequence[str] | None = None,
    missing: Literal["exclude", "category"] = "exclude",
    conf_level: float = 0.95,
) -> StatsResult:
    """Count a categorical outcome by arm (and visit): n (%) with Wilson score CIs.

    Parameters
    ----------
    data
        One row per subject (and visit).
    outcome
        Categorical column (levels follow Categorical order when given, else sorted order).
    by
        Column(s) to group by.
    missing
        ``"exclude"``: percentages of non-missing values; ``"category"``: missing values are counted
        as a level ``"Missing"`` and included in the denominator.
    conf_level
        Level of the Wilson intervals.

    Returns
    -------
    StatsResult
        One row per group and level: the ``by`` columns, ``level``, ``n`` (count), ``N``
        (denominator), ``percent``, ``lower``, ``upper`` (Wilson CI of the proportion, 0-1 scale),
        ``method``.

    Notes
    -----
    Wilson score interval without continuity correction, see :func:`compute_wilson_ci`.
    """
    byl = _by_list(data, by)
    assert_data_frame(data, [outcome, *byl])
    assert_choice(missing, ("exclude", "category"), name="missing")
    assert_level(conf_level)
    levels = group_levels(data, outcome)
    if missing == "category" and data[outcome].isna().any():
        levels = [*levels, "Missing"]
    if not levels:
        msg = f"column {outcome!r} has no non-missing values to count"
        raise InputError(msg)
    rows = []
    for combo, sub in _groups(data, byl):
        y = sub[outcome]
        if missing == "category":
            y = y.astype(object).where(y.notna(), "Missing")
        else:
            y = y.dropna()
        big_n = len(y)
        for lev in levels:
            k = int((y == lev).sum())
            lo, hi = compute_wilson_ci(k, big_n, conf_level=conf_level) if big_n else (np.nan, np.nan)
            rows.append(dict(zip(byl, combo, strict=True)) | {
                "level": lev, "n": k, "N": big_n, "percent": 100 * k / big_n if big_n else np.nan,
                "lower": float(lo), "upper": float(hi)})
    table = pd.DataFrame(rows)
    table["method"] = f"n (%) with Wilson score {conf_level:.0%} CI; missing: {missing}"
    return StatsResult(table, title=f"Counts of {outcome}" + (f" by {', '.join(byl)}" if byl else ""))
