"""Global tests across arms: one-way ANOVA, Welch's ANOVA and Kruskal–Wallis."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy import stats

from ssctrial.stats._validate import (
    assert_data_frame,
    assert_min_per_group,
    assert_numeric,
    group_levels,
)

__all__ = ["one_way"]

logger = logging.getLogger(__name__)


def _samples(data: pd.DataFrame, outcome: str, group: str) -> tuple[list, list[np.ndarray]]:
    assert_data_frame(data, [outcome, group])
    assert_numeric(data, outcome)
    sub = data.loc[data[group].notna() & data[outcome].notna(), [group, outcome]]
    levels = group_levels(data, group)
    if len(levels) < 2:
        from ssctrial.exceptions import InputError

        msg = f"column {group!r} must have at least 2 groups with data, found {levels}"
        raise InputError(msg)
    assert_min_per_group(sub[outcome], sub[group], minimum=2, what=f"outcome {outcome!r} by {group!r}")
    return levels, [sub.loc[sub[group] == lev, outcome].to_numpy(float) for lev in levels]


def _anova(samples: list[np.ndarray]) -> tuple[float, float, float, float]:
    k = len(samples)
    n = np.array([s.size for s in samples], float)
    means = np.array([s.mean() for s in samples])
    grand = np.concatenate(samples).mean()
    ss_between = float(np.sum(n * (means - grand) ** 2))
    ss_within = float(sum(np.sum((s - m) ** 2) for s, m in zip(samples, means, strict=True)))
    df1, df2 = k - 1.0, float(n.sum() - k)
    if ss_within == 0:
        return np.nan, df1, df2, np.nan
    f = (ss_between / df1) / (ss_within / df2)
    return f, df1, df2, float(stats.f.sf(f, df1, df2))


def _welch(samples: list[np.ndarray]) -> tuple[float, float, float, float]:
    # Welch (1951); the form of R's oneway.test(var.equal = FALSE)
    k = len(samples)
    n = np.array([s.size for s in samples], float)
    means = np.array([s.mean() for s in samples])
    var = np.array([s.var(ddof=1) for s in samples])
    w = n / var
    mw = np.sum(w * means) / np.sum(w)
    tmp = np.sum((1 - w / np.sum(w)) ** 2 / (n - 1)) / (k**2 - 1)
    f = np.sum(w * (means - mw) ** 2) / ((k - 1) * (1 + 2 * (k - 2) * tmp))
    df1, df2 = k - 1.0, float(1 / (3 * tmp))
    return float(f), df1, df2, float(stats.f.sf(f, df1, df2))


def one_way(data: pd.DataFrame, outcome: str, *, group: str) -> pd.DataFrame:
    """Global tests of equal location across groups: one-way ANOVA, Welch's ANOVA and Kruskal–Wallis.

    Parameters
    ----------
    data
        One row per subject.
    outcome
        Numeric outcome column (e.g. ``"CHG"``). Rows with a missing outcome or group are dropped.
    group
        Grouping column (e.g. ``"TRT01P"``); at least 2 groups with at least 2 observations each.

    Returns
    -------
    pandas.DataFrame
        One row per test, in the order ANOVA, Welch, Kruskal-Wallis:

        - ``test``: ``"ANOVA"``, ``"Welch"`` or ``"Kruskal-Wallis"``;
        - ``statistic``: F for ANOVA and Welch, H (tie-corrected) for Kruskal–Wallis;
        - ``df1``: numerator degrees of freedom (k - 1);
        - ``df2``: denominator degrees of freedom (N - k for ANOVA, Welch's approximation; NaN for
          Kruskal–Wallis, whose reference distribution is chi-square);
        - ``p``: p value;
        - ``n``: number of observations used;
        - ``method``: a description of the test.

    Notes
    -----
    ANOVA is the classical F test with pooled variance. Welch's test (Welch 1951, Biometrika 38:330)
    does not assume equal variances; it matches R's ``oneway.test(var.equal = FALSE)``.
    Kruskal–Wallis uses mid-ranks and the tie correction, as R's ``kruskal.test`` (chi-square
    approximation with k - 1 df).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": list("AAABBBCCC"), "y": [1, 2, 3, 2, 3, 4, 5, 6, 8.0]})
    >>> one_way(d, "y", group="arm")[["test", "df1"]]
                 test  df1
    0           ANOVA  2.0
    1           Welch  2.0
    2  Kruskal-Wallis  2.0
    """
    _, samples = _samples(data, outcome, group)
    n = int(sum(s.size for s in samples))
    rows = []
    f, df1, df2, p = _anova(samples)
    label = "one-way ANOVA F test (pooled variance)"
    if np.isnan(f):
        label = "one-way ANOVA: undefined (no variation within groups)"
    rows.append(("ANOVA", f, df1, df2, p, n, label))
    if any(np.var(s, ddof=1) == 0 for s in samples):
        rows.append(("Welch", np.nan, np.nan, np.nan, np.nan, n, "Welch ANOVA: undefined (zero variance)"))
    else:
        f, df1, df2, p = _welch(samples)
        rows.append(("Welch", f, df1, df2, p, n, "Welch one-way ANOVA (unequal variances)"))
    if np.ptp(np.concatenate(samples)) == 0:
        h, p = np.nan, np.nan
    else:
        h, p = stats.kruskal(*samples)
    rows.append(("Kruskal-Wallis", float(h), len(samples) - 1.0, np.nan, float(p), n,
                 "Kruskal-Wallis rank-sum test (tie-corrected, chi-square approximation)"))
    return pd.DataFrame(rows, columns=["test", "statistic", "df1", "df2", "p", "n", "method"])
