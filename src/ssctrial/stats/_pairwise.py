"""Pairwise comparisons of each arm against a control arm (Dunnett; Holm-adjusted t or rank tests)."""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from ssctrial.stats._multiplicity import adjust_pvalues
from ssctrial.stats._one_way import _samples
from ssctrial.stats._result import StatsResult
from ssctrial.stats._validate import assert_choice, assert_level, assert_reference, group_levels

__all__ = ["compare_to_control"]

logger = logging.getLogger(__name__)

_METHODS = ("dunnett", "t-holm", "wilcoxon-holm")


def compare_to_control(
    data: pd.DataFrame,
    outcome: str,
    *,
    group: str,
    reference: object,
    method: Literal["dunnett", "t-holm", "wilcoxon-holm"] = "dunnett",
    conf_level: float = 0.95,
    seed: int = 20250517,
) -> StatsResult:
    """Compare each group with the control group.

    Parameters
    ----------
    data
        One row per subject.
    outcome
        Numeric outcome column; rows with a missing outcome are dropped.
    group
        Grouping column.
    reference
        The control level of ``group`` (e.g. ``"CTRL"``).
    method
        ``"dunnett"``: Dunnett's many-to-one test of means with simultaneous confidence intervals
        (``scipy.stats.dunnett``); ``"t-holm"``: two-sample pooled-variance t tests, Holm-adjusted;
        ``"wilcoxon-holm"``: Wilcoxon–Mann–Whitney rank-sum tests (normal approximation with
        continuity correction), Holm-adjusted, with the Hodges–Lehmann shift as estimate.
    conf_level
        Confidence level of the intervals (simultaneous for Dunnett, per comparison otherwise; no
        interval for the rank test).
    seed
        Seed of Dunnett's quasi-Monte-Carlo integration.

    Returns
    -------
    StatsResult
        Table with one row per comparison: ``contrast`` (e.g. ``"BARI4 - CTRL"``), ``estimate``
        (difference in means, or Hodges–Lehmann shift), ``statistic`` (t, Dunnett t, or W),
        ``p`` (unadjusted; NaN for Dunnett, which is single-step), ``p_adj``, ``lower``, ``upper``,
        ``method``.

    Notes
    -----
    Dunnett (1955), JASA 50:1096. Holm (1979), Scand J Stat 6:65. The rank test matches R's
    ``wilcox.test(exact = FALSE, correct = TRUE)``.
    """
    assert_choice(method, _METHODS, name="method")
    assert_level(conf_level)
    levels, samples = _samples(data, outcome, group)
    assert_reference(group_levels(data, group), reference, group=group)
    ctrl = samples[levels.index(reference)]
    others = [(lev, s) for lev, s in zip(levels, samples, strict=True) if lev != reference]
    rows = []
    if method == "dunnett":
        res = stats.dunnett(*[s for _, s in others], control=ctrl, rng=np.random.default_rng(seed))
        ci = res.confidence_interval(confidence_level=conf_level)
        for i, (lev, s) in enumerate(others):
            rows.append((f"{lev} - {reference}", s.mean() - ctrl.mean(), float(res.statistic[i]), np.nan,
                         float(res.pvalue[i]), float(ci.low[i]), float(ci.high[i]),
                         "Dunnett many-to-one (single-step, simultaneous CI)"))
    elif method == "t-holm":
        for lev, s in others:
            df = s.size + ctrl.size - 2
            sp2 = ((s.size - 1) * s.var(ddof=1) + (ctrl.size - 1) * ctrl.var(ddof=1)) / df
            se = np.sqrt(sp2 * (1 / s.size + 1 / ctrl.size))
            est = s.mean() - ctrl.mean()
            t = est / se
            q = stats.t.ppf(0.5 + conf_level / 2, df)
            rows.append((f"{lev} - {reference}", est, t, 2 * stats.t.sf(abs(t), df), np.nan,
                         est - q * se, est + q * se, "two-sample t test (pooled variance), Holm-adjusted"))
    else:
        for lev, s in others:
            res = stats.mannwhitneyu(s, ctrl, alternative="two-sided", method="asymptotic",
                                     use_continuity=True)
            hl = float(np.median(np.subtract.outer(s, ctrl)))
            rows.append((f"{lev} - {reference}", hl, float(res.statistic), float(res.pvalue), np.nan,
                         np.nan, np.nan, "Wilcoxon-Mann-Whitney rank-sum test (normal approximation, "
                         "continuity correction), Holm-adjusted; estimate: Hodges-Lehmann shift"))
    table = pd.DataFrame(rows, columns=["contrast", "estimate", "statistic", "p", "p_adj", "lower", "upper",
                                        "method"])
    if method != "dunnett":
        table["p_adj"] = adjust_pvalues(table["p"].to_numpy(), method="holm")
    return StatsResult(table, title=f"{outcome}: each {group} level vs {reference!r} ({method})")
