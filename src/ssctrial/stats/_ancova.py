"""Analysis of covariance: change ~ arm + baseline (+ strata), LS means and contrasts vs control."""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from ssctrial.exceptions import InputError
from ssctrial.stats._linear_model import complete_cases, parse_design
from ssctrial.stats._multiplicity import adjust_dunnett, adjust_pvalues
from ssctrial.stats._result import StatsResult
from ssctrial.stats._validate import (
    assert_choice,
    assert_level,
    assert_min_per_group,
    assert_numeric,
    assert_reference,
    group_levels,
)

__all__ = ["ancova"]

logger = logging.getLogger(__name__)


def ancova(
    data: pd.DataFrame,
    formula: str,
    *,
    group: str,
    reference: object,
    weights: Literal["equal", "proportional"] = "equal",
    adjust: Literal["none", "dunnett", "holm", "hochberg", "bonferroni"] = "none",
    conf_level: float = 0.95,
) -> StatsResult:
    """Fit an ANCOVA by least squares; LS means by group, contrasts vs the reference and Type III F tests.

    Parameters
    ----------
    data
        One row per subject. Rows with a missing value in any model variable are dropped
        (complete-case analysis); the number used is recorded in the result's notes.
    formula
        Model formula of plain column names joined by ``+``, ``:`` and ``*``, e.g.
        ``"CHG ~ ARM + BASE + STRATUM"``. Numeric columns are covariates, other columns factors.
    group
        The treatment column; it must appear as a main effect in ``formula``. Treated as a factor.
    reference
        The control level of ``group``; contrasts are ``"<level> - <reference>"``.
    weights
        How LS means average over the levels of other factors (strata): ``"equal"`` (SAS LSMEANS and
        emmeans default) or ``"proportional"`` (observed marginal frequencies).
    adjust
        Multiplicity adjustment of the contrasts' p values, added as a column ``p_adj`` (absent when
        ``"none"``): ``"dunnett"`` is the single-step many-to-one adjustment from the joint
        multivariate t distribution of the contrasts (:func:`adjust_dunnett`, as emmeans'
        ``adjust = "mvt"``); the others are as :func:`adjust_pvalues`. Intervals stay unadjusted.
    conf_level
        Confidence level of the intervals.

    Returns
    -------
    StatsResult
        ``.lsmeans``: columns ``<group>, estimate, se, df, lower, upper`` (one row per level);
        ``.contrasts``: ``contrast, estimate, se, df, t, p, lower, upper`` (each level vs reference);
        ``.anova``: ``term, num_df, den_df, F, p`` (Type III Wald F tests, one row per model term);
        ``.to_frame()``: the contrasts with a ``method`` column.

    Notes
    -----
    Ordinary least squares. LS means (Searle, Speed & Milliken 1980) are predictions on a reference
    grid: numeric covariates at their mean over the analysed rows, other factors averaged with
    equal weights; ``df = n - rank(X)``. Type III tests use sum-to-zero coding, as SAS PROC GLM and
    ``car::Anova(type = 3)`` with ``contr.sum``; for a model without interactions they equal the
    Type II (adjusted) tests. With a covariate-by-arm interaction the Type III arm test compares
    the arms at covariate = 0 (as SAS and ``car``), while LS means and contrasts are at the covariate
    mean. Validated against R's emmeans and car (docs/statistics.md).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": list("AABBCC") * 2, "base": [1, 2, 3, 4, 5, 6, 2, 3, 4, 5, 6, 7.0],
    ...                   "chg": [0, 1, 2, 2, 3, 5, 1, 1, 2, 4, 4, 6.0]})
    >>> fit = ancova(d, "chg ~ arm + base", group="arm", reference="A")
    >>> fit.contrasts["contrast"].tolist()
    ['B - A', 'C - A']
    """
    assert_choice(weights, ("equal", "proportional"), name="weights")
    assert_choice(adjust, ("none", "dunnett", "holm", "hochberg", "bonferroni"), name="adjust")
    assert_level(conf_level)
    design = parse_design(formula, data, factors=(group,))
    if (group,) not in design.terms:
        msg = f"group {group!r} must appear as a main effect in formula {formula!r}"
        raise InputError(msg)
    assert_numeric(data, design.response)
    for v in design.numerics:
        assert_numeric(data, v)
    assert_reference(group_levels(data, group), reference, group=group)
    sub = complete_cases(data, design)
    assert_reference(design.factors[group], reference, group=group)
    assert_min_per_group(sub[design.response], sub[group], minimum=2,
                         what=f"outcome {design.response!r} by {group!r} (complete cases)")
    x = design.matrix(sub)
    y = sub[design.response].to_numpy(float)
    n, p = x.shape
    rank = np.linalg.matrix_rank(x)
    if rank < p:
        msg = (f"the model matrix of {formula!r} is rank deficient ({rank} < {p} columns): a term is "
               "confounded with others (e.g. an interaction without its main effects, or a stratum "
               "level seen in one arm only)")
        raise InputError(msg)
    df = float(n - p)
    if df < 1:
        msg = f"no residual degrees of freedom: {n} complete observations for {p} parameters"
        raise InputError(msg)
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    resid = y - x @ beta
    sigma2 = float(resid @ resid) / df
    vcov = sigma2 * xtx_inv
    tq = stats.t.ppf(0.5 + conf_level / 2, df)

    keys, lmat = design.reference_grid([group], weights=weights, data=sub)
    est = lmat @ beta
    se = np.sqrt(np.einsum("ij,jk,ik->i", lmat, vcov, lmat))
    lsmeans = keys.assign(estimate=est, se=se, df=df, lower=est - tq * se, upper=est + tq * se)

    levels = design.factors[group]
    iref = levels.index(reference)
    rows = []
    for i, lev in enumerate(levels):
        if i == iref:
            continue
        c = lmat[i] - lmat[iref]
        e = float(c @ beta)
        s = float(np.sqrt(c @ vcov @ c))
        t = e / s
        rows.append((f"{lev} - {reference}", e, s, df, t, 2 * stats.t.sf(abs(t), df), e - tq * s, e + tq * s))
    contrasts = pd.DataFrame(rows, columns=["contrast", "estimate", "se", "df", "t", "p", "lower", "upper"])
    if adjust == "dunnett":
        cmat = np.vstack([lmat[i] - lmat[iref] for i in range(len(levels)) if i != iref])
        cov = cmat @ vcov @ cmat.T
        sd = np.sqrt(np.diag(cov))
        contrasts["p_adj"] = adjust_dunnett(contrasts["t"].to_numpy(), cov / np.outer(sd, sd), df)
    elif adjust != "none":
        contrasts["p_adj"] = adjust_pvalues(contrasts["p"].to_numpy(), method=adjust)

    term_col = np.array(design.term_of_column)
    arows = []
    for term in dict.fromkeys(design.term_of_column[1:]):
        idx = np.flatnonzero(term_col == term)
        b = beta[idx]
        f = float(b @ np.linalg.solve(vcov[np.ix_(idx, idx)], b)) / idx.size
        arows.append((term, float(idx.size), df, f, float(stats.f.sf(f, idx.size, df))))
    anova = pd.DataFrame(arows, columns=["term", "num_df", "den_df", "F", "p"])

    method = f"ANCOVA (OLS), {formula}; LS means at mean covariates, {weights} weights over other factors"
    if adjust != "none":
        method += f"; p_adj: {adjust}"
    return StatsResult(
        contrasts.assign(method=method),
        title=f"ANCOVA: {formula} (n = {n}), contrasts vs {reference!r}",
        notes=[f"{len(data) - n} row(s) with missing values excluded (complete-case analysis)",
               f"residual SD {np.sqrt(sigma2):.4g} on {df:g} df"],
        extra={"lsmeans": lsmeans, "contrasts": contrasts, "anova": anova},
        info={"n": n, "sigma": float(np.sqrt(sigma2)), "df": df, "coef": beta, "vcov": vcov,
              "columns": list(design.columns)},
    )
