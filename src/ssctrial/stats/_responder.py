"""Responder analyses: rates, risk differences (Newcombe), odds ratios, Fisher tests, logistic models."""

from __future__ import annotations

import logging
import warnings
from typing import Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from ssctrial.exceptions import ConvergenceWarning, InputError
from ssctrial.stats._contingency import _binary, fisher_exact_kx2
from ssctrial.stats._descriptives import compute_wilson_ci
from ssctrial.stats._linear_model import complete_cases, parse_design
from ssctrial.stats._multiplicity import adjust_pvalues
from ssctrial.stats._result import StatsResult
from ssctrial.stats._validate import (
    assert_choice,
    assert_data_frame,
    assert_level,
    assert_numeric,
    assert_reference,
    group_levels,
)

__all__ = ["compute_newcombe_ci", "responder_analysis"]

logger = logging.getLogger(__name__)


def compute_newcombe_ci(events, totals, *, conf_level: float = 0.95) -> tuple[float, float]:
    """Newcombe's hybrid score interval for a difference of independent proportions p1 - p2.

    Parameters
    ----------
    events
        ``(x1, x2)``: events in group 1 and in group 2 (the control).
    totals
        ``(n1, n2)``: sizes of the two groups.
    conf_level
        Confidence level.

    Returns
    -------
    tuple of float
        Lower and upper limits of p1 - p2.

    Notes
    -----
    Newcombe (1998b), Stat Med 17:873, method 10: with Wilson limits (l_i, u_i) of each proportion,
    ``L = d - sqrt((p1 - l1)^2 + (u2 - p2)^2)`` and ``U = d + sqrt((u1 - p1)^2 + (p2 - l2)^2)``.

    Examples
    --------
    >>> lo, hi = compute_newcombe_ci((56, 48), (70, 80))
    >>> round(lo, 4), round(hi, 4)
    (0.0524, 0.3339)
    """
    if len(events) != 2 or len(totals) != 2:
        msg = f"events and totals must each hold 2 numbers (group, control); got {events!r} and {totals!r}"
        raise InputError(msg)
    (x1, x2), (n1, n2) = events, totals
    l1, u1 = compute_wilson_ci(x1, n1, conf_level=conf_level)
    l2, u2 = compute_wilson_ci(x2, n2, conf_level=conf_level)
    p1 = x1 / n1
    p2 = x2 / n2
    d = p1 - p2
    lower = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return float(max(lower, -1.0)), float(min(upper, 1.0))


def _logistic(sub: pd.DataFrame, formula: str, group: str, reference: object, conf_level: float):
    design = parse_design(formula, sub, factors=(group,))
    for v in design.numerics:
        assert_numeric(sub, v)
    cc = complete_cases(sub, design)
    design.treatment = {f: design.factors[f][0] for f in design.factors}
    design.treatment[group] = reference
    x = design.matrix(cc)
    y = cc[design.response].to_numpy(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.GLM(y, x, family=sm.families.Binomial()).fit(tol=1e-12, maxiter=100)
    if not fit.converged:
        warnings.warn(f"logistic regression {formula!r} did not converge in 100 iterations",
                      ConvergenceWarning, stacklevel=3)
    if np.any(np.abs(fit.params) > 15):
        warnings.warn(f"logistic regression {formula!r}: very large coefficients suggest (quasi-)separation; "
                      "odds ratios are unreliable", ConvergenceWarning, stacklevel=3)
    z = stats.norm.ppf(0.5 + conf_level / 2)
    rows = []
    for lev in design.factors[group]:
        if lev == reference:
            continue
        j = design.columns.index(f"{group}[{lev}]")
        b, se = float(fit.params[j]), float(fit.bse[j])
        with np.errstate(over="ignore"):
            lo, hi = np.exp(b - z * se), np.exp(b + z * se)
        rows.append({"contrast": f"{lev} - {reference}", "statistic_type": "odds ratio (adjusted)",
                     "estimate": np.exp(b), "lower": lo, "upper": hi,
                     "p": 2 * stats.norm.sf(abs(b / se)),
                     "method": f"logistic regression {formula} (ML), Wald CI and test; n = {len(cc)}"})
    return rows


def responder_analysis(
    data: pd.DataFrame,
    outcome: str,
    *,
    group: str,
    reference: object,
    missing: Literal["non-responder", "exclude"],
    covariates: tuple[str, ...] | list[str] = ("BASE",),
    adjust: Literal["holm", "hochberg", "bonferroni", "none"] = "holm",
    conf_level: float = 0.95,
) -> StatsResult:
    """Responder analysis: response rates by arm and comparisons of each arm with control.

    Parameters
    ----------
    data
        One row per subject.
    outcome
        Binary response column (1/True = responder, 0/False = non-responder, NaN = missing).
    group
        Treatment column.
    reference
        Control level of ``group``.
    missing
        Required, so that the choice is explicit: ``"non-responder"`` counts a missing response as
        non-response (all randomised subjects in the denominator); ``"exclude"`` analyses observed
        responses only. The choice and the number imputed are reported in the result.
    covariates
        Covariates of the adjusted logistic regression (``outcome ~ group + covariates``); empty for
        no adjusted model. Subjects with a missing covariate are dropped from that model only.
    adjust
        Multiplicity adjustment over the comparisons with control, applied within each
        ``statistic_type`` (column ``p_adj``); see :func:`adjust_pvalues`.
    conf_level
        Confidence level.

    Returns
    -------
    StatsResult
        ``.to_frame()`` / ``.comparisons``: one row per estimate, columns ``contrast``,
        ``statistic_type`` (``"risk difference"``, ``"odds ratio"``, ``"odds ratio (adjusted)"``),
        ``estimate``, ``lower``, ``upper``, ``p``, ``p_adj``, ``method``;
        ``.proportions``: ``<group>, responders, n, proportion, lower, upper, method`` (Wilson CIs).

    Notes
    -----
    Risk difference: Newcombe hybrid score CI (:func:`compute_newcombe_ci`); its p value is the
    two-sided Fisher exact test of the 2 x 2 table. Odds ratio: sample OR with Woolf (logit) CI,
    NaN limits when a cell is zero; p from Fisher's exact test. Adjusted odds ratio: logistic
    regression by maximum likelihood with Wald CI and test.
    """
    assert_choice(missing, ("non-responder", "exclude"), name="missing")
    assert_choice(adjust, ("holm", "hochberg", "bonferroni", "none"), name="adjust")
    assert_level(conf_level)
    covs = list(covariates)
    assert_data_frame(data, [outcome, group, *covs])
    y = _binary(data, outcome)
    assert_reference(group_levels(data, group), reference, group=group)
    levels = group_levels(data, group)
    d = data.loc[data[group].notna(), [group, *covs]].copy()
    y = y[d.index]
    n_missing = int(y.isna().sum())
    if missing == "non-responder":
        y = y.fillna(0.0)
    d[outcome] = y
    d = d[d[outcome].notna()]
    if missing == "non-responder":
        z_note = f"missing {outcome}: {n_missing} subject(s) counted as non-responders"
    else:
        z_note = f"missing {outcome}: {n_missing} subject(s) excluded"
    events = {lev: int(d.loc[d[group] == lev, outcome].sum()) for lev in levels}
    totals = {lev: int((d[group] == lev).sum()) for lev in levels}
    empty = [lev for lev in levels if totals[lev] == 0]
    if empty:
        msg = f"group(s) {empty} of {group!r} have no subjects with a response to analyse"
        raise InputError(msg)
    ev = np.array([events[lev] for lev in levels])
    tot = np.array([totals[lev] for lev in levels])
    lo, hi = compute_wilson_ci(ev, tot, conf_level=conf_level)
    props = pd.DataFrame({group: levels, "responders": ev, "n": tot, "proportion": ev / tot,
                          "lower": lo, "upper": hi})
    props["method"] = f"proportion with Wilson score CI; missing: {missing}"

    z = stats.norm.ppf(0.5 + conf_level / 2)
    rows = []
    x2, n2 = events[reference], totals[reference]
    for lev in levels:
        if lev == reference:
            continue
        x1, n1 = events[lev], totals[lev]
        p_fisher = fisher_exact_kx2([x1, x2], [n1, n2])
        rd_lo, rd_hi = compute_newcombe_ci((x1, x2), (n1, n2), conf_level=conf_level)
        label = f"{lev} - {reference}"
        rows.append({"contrast": label, "statistic_type": "risk difference", "estimate": x1 / n1 - x2 / n2,
                     "lower": float(rd_lo), "upper": float(rd_hi), "p": p_fisher,
                     "method": "difference of proportions, Newcombe hybrid score CI; Fisher exact test"})
        a, b, c, dd = x1, n1 - x1, x2, n2 - x2
        if min(a, b, c, dd) == 0:
            odds, ol, oh = (a * dd / (b * c) if b * c > 0 else np.nan), np.nan, np.nan
        else:
            odds = a * dd / (b * c)
            se = np.sqrt(1 / a + 1 / b + 1 / c + 1 / dd)
            ol, oh = odds * np.exp(-z * se), odds * np.exp(z * se)
        rows.append({"contrast": label, "statistic_type": "odds ratio", "estimate": odds, "lower": ol,
                     "upper": oh, "p": p_fisher,
                     "method": "sample odds ratio, Woolf (logit) CI; Fisher exact test"})
    if covs:
        formula = f"{outcome} ~ {group} + " + " + ".join(covs)
        rows += _logistic(d, formula, group, reference, conf_level)
    comparisons = pd.DataFrame(rows, columns=["contrast", "statistic_type", "estimate", "lower", "upper", "p",
                                              "method"])
    comparisons.insert(6, "p_adj", np.nan)
    for _kind, idx in comparisons.groupby("statistic_type", sort=False).groups.items():
        comparisons.loc[idx, "p_adj"] = adjust_pvalues(comparisons.loc[idx, "p"].to_numpy(), method=adjust)
    return StatsResult(comparisons, title=f"Responder analysis of {outcome} by {group} (vs {reference!r})",
                       notes=[z_note], extra={"proportions": props, "comparisons": comparisons},
                       info={"missing": missing, "n_missing": n_missing})
