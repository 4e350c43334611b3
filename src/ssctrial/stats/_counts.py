"""Count outcomes (e.g. digital ulcers): Poisson and negative-binomial regression with an exposure offset."""

from __future__ import annotations

import logging
import warnings
from typing import Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.discrete.discrete_model import NegativeBinomial

from ssctrial.exceptions import ConvergenceWarning, InputError, StatisticalWarning
from ssctrial.stats._linear_model import complete_cases, parse_design
from ssctrial.stats._result import StatsResult
from ssctrial.stats._validate import (
    assert_choice,
    assert_data_frame,
    assert_level,
    assert_numeric,
    assert_reference,
    group_levels,
)

__all__ = ["count_regression"]

logger = logging.getLogger(__name__)


def count_regression(
    data: pd.DataFrame,
    formula: str,
    *,
    group: str,
    reference: object,
    exposure: str | None = None,
    family: Literal["poisson", "negative-binomial"] = "negative-binomial",
    conf_level: float = 0.95,
) -> StatsResult:
    """Poisson or negative-binomial (NB2) regression of a count with log exposure as offset.

    Parameters
    ----------
    data
        One row per subject.
    formula
        e.g. ``"DUCNT ~ ARM + BASE"``: plain column names joined by ``+``, ``:`` and ``*``. The
        response must be a non-negative integer count.
    group
        Treatment column (a main effect in ``formula``).
    reference
        Control level; rate ratios are ``"<level> - <reference>"`` (read: level vs reference).
    exposure
        Column with each subject's exposure time (> 0), entered as ``log(exposure)`` offset; ``None``
        for equal exposure.
    family
        ``"poisson"`` or ``"negative-binomial"`` (variance ``mu + alpha mu^2``, alpha by maximum
        likelihood; ``theta = 1 / alpha`` as reported by R's ``MASS::glm.nb``).
    conf_level
        Confidence level (Wald, on the log scale).

    Returns
    -------
    StatsResult
        ``.to_frame()`` / ``.rate_ratios``: ``contrast, estimate`` (rate ratio), ``se`` (of the log
        rate ratio), ``z``, ``p``, ``lower``, ``upper``, ``method``; ``.rates``: ``<group>, events,
        exposure, rate`` (crude events per unit exposure); ``.coefficients``: ``term, estimate, se,
        z, p`` on the log scale (treatment coding).

    Notes
    -----
    Maximum likelihood (statsmodels ``GLM`` for Poisson, ``NegativeBinomial`` for NB2) with Wald
    inference. For NB2, alpha is estimated jointly by ML; standard errors of the coefficients are
    those of the GLM given alpha (expected information), as ``MASS::glm.nb``. Validated against R's
    ``glm(family = poisson)`` and ``MASS::glm.nb``. A
    :class:`~ssctrial.exceptions.ConvergenceWarning` is issued when the fit does not converge or the
    NB dispersion goes to its boundary (alpha -> 0: use Poisson).
    """
    assert_choice(family, ("poisson", "negative-binomial"), name="family")
    assert_level(conf_level)
    design = parse_design(formula, data, factors=(group,))
    if (group,) not in design.terms:
        msg = f"group {group!r} must appear as a main effect in formula {formula!r}"
        raise InputError(msg)
    assert_numeric(data, design.response)
    for v in design.numerics:
        assert_numeric(data, v)
    assert_reference(group_levels(data, group), reference, group=group)
    extra = [exposure] if exposure else []
    assert_data_frame(data, extra)
    if exposure:
        assert_numeric(data, exposure)
    sub = complete_cases(data.assign(**({"__exposure": data[exposure]} if exposure else {})), design)
    y = sub[design.response].to_numpy(float)
    if np.any(y < 0) or np.any(y != np.round(y)):
        bad = y[(y < 0) | (y != np.round(y))][0]
        msg = f"column {design.response!r} must hold non-negative whole counts; got {bad!r}"
        raise InputError(msg)
    if exposure:
        expo = data.loc[sub.index, exposure].to_numpy(float)
        if np.any(~np.isfinite(expo)) or np.any(expo <= 0):
            msg = f"column {exposure!r} must be a positive exposure for every analysed subject"
            raise InputError(msg)
    else:
        expo = np.ones(len(sub))
    design.treatment = {f: design.factors[f][0] for f in design.factors}
    design.treatment[group] = reference
    x = design.matrix(sub)
    offset = np.log(expo)
    info: dict = {"n": len(sub)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if family == "poisson":
            fit = sm.GLM(y, x, family=sm.families.Poisson(), offset=offset).fit(tol=1e-12, maxiter=100)
            params, bse, converged = np.asarray(fit.params), np.asarray(fit.bse), bool(fit.converged)
        else:
            start = sm.GLM(y, x, family=sm.families.Poisson(), offset=offset).fit().params
            model = NegativeBinomial(y, x, loglike_method="nb2", offset=offset)
            nb = model.fit(start_params=np.append(start, 0.5), method="newton", maxiter=200, disp=False)
            alpha = float(nb.params[-1])
            converged = bool(nb.mle_retvals.get("converged", True))
            boundary = not np.isfinite(alpha) or alpha < 1e-6
            if boundary:
                alpha = max(alpha, 1e-8) if np.isfinite(alpha) else 1e-8
            # beta given the ML alpha, with the GLM (expected) information for its SEs, as MASS::glm.nb
            fit = sm.GLM(y, x, family=sm.families.NegativeBinomial(alpha=alpha), offset=offset).fit(
                tol=1e-12, maxiter=100)
            params, bse = np.asarray(fit.params), np.asarray(fit.bse)
            converged = converged and bool(fit.converged)
            info |= {"alpha": alpha, "theta": 1 / alpha}
    if family == "negative-binomial" and boundary:
        warnings.warn("negative-binomial dispersion alpha is ~0 (no overdispersion) or could not be "
                      "estimated; use family='poisson'", ConvergenceWarning, stacklevel=2)
    if not converged:
        warnings.warn(f"{family} regression {formula!r} did not converge", ConvergenceWarning, stacklevel=2)
    info["loglik"] = float(fit.llf) if family == "poisson" else float(nb.llf)
    z = stats.norm.ppf(0.5 + conf_level / 2)
    zs = params / bse
    coefs = pd.DataFrame({"term": design.columns, "estimate": params, "se": bse, "z": zs,
                          "p": 2 * stats.norm.sf(np.abs(zs))})
    rows = []
    no_events = [lev for lev in design.factors[group] if y[(sub[group] == lev).to_numpy()].sum() == 0]
    if no_events:
        warnings.warn(f"group(s) {no_events} of {group!r} have no events: their rate ratios go to 0 and the "
                      "Wald intervals are not informative", StatisticalWarning, stacklevel=2)
    for lev in design.factors[group]:
        if lev == reference:
            continue
        j = design.columns.index(f"{group}[{lev}]")
        b, s = params[j], bse[j]
        with np.errstate(over="ignore"):
            rows.append((f"{lev} - {reference}", np.exp(b), s, b / s, 2 * stats.norm.sf(abs(b / s)),
                         np.exp(b - z * s), np.exp(b + z * s)))
    label = "Poisson" if family == "poisson" else "negative-binomial (NB2)"
    method = f"{label} regression {formula}" + (f", offset log({exposure})" if exposure else "") + \
        "; rate ratio with Wald CI"
    rr = pd.DataFrame(rows, columns=["contrast", "estimate", "se", "z", "p", "lower", "upper"])
    rr["method"] = method
    grp = pd.DataFrame({group: sub[group].to_numpy(), "events": y, "exposure": expo})
    rates = grp.groupby(group, sort=False).sum().reindex(design.factors[group]).reset_index()
    rates["rate"] = rates["events"] / rates["exposure"]
    notes = [f"{len(data) - len(sub)} row(s) with missing values excluded"]
    if family == "negative-binomial":
        notes.append(f"dispersion alpha = {info['alpha']:.4g} (theta = {info['theta']:.4g})")
    return StatsResult(rr, title=f"{label} regression: rate ratios vs {reference!r}", notes=notes,
                       extra={"rate_ratios": rr, "rates": rates, "coefficients": coefs}, info=info)
