"""ANCOVA after multiple imputation (Rubin's rules) and the tipping-point (delta-adjusted) analysis."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ssctrial.exceptions import InputError
from ssctrial.stats._ancova import ancova
from ssctrial.stats._impute import impute_pmm
from ssctrial.stats._linear_model import complete_cases, parse_design
from ssctrial.stats._pool import pool_rubin
from ssctrial.stats._result import StatsResult
from ssctrial.stats._validate import assert_data_frame, assert_level, assert_reference, group_levels

__all__ = ["mi_ancova", "tipping_point"]

logger = logging.getLogger(__name__)


def _pool_rows(est: np.ndarray, var: np.ndarray, dfcom: float, conf_level: float) -> list[pd.Series]:
    return [pool_rubin(est[i], var[i], dfcom=dfcom, conf_level=conf_level) for i in range(est.shape[0])]


def _analyse(imputed, formula, response, group, reference, delta, arms, conf_level):
    """ANCOVA of every completed dataset at once (same design; only the response differs), then pool."""
    first = ancova(imputed[0], formula, group=group, reference=reference, conf_level=conf_level)  # validates
    design = parse_design(formula, imputed[0], factors=(group,))
    sub = complete_cases(imputed[0], design)
    x = design.matrix(sub)
    keys, lmat = design.reference_grid([group], weights="equal", data=sub)
    levels = design.factors[group]
    iref = levels.index(reference)
    others = [i for i in range(len(levels)) if i != iref]
    cmat = np.vstack([lmat[i] - lmat[iref] for i in others])
    ys = []
    for frame in imputed:
        y = frame.loc[sub.index, response].to_numpy(float)
        if delta != 0:
            shift = (frame.loc[sub.index, f"{response}_IMPUTED"] & frame.loc[sub.index, group].isin(arms))
            y = y + delta * shift.to_numpy(float)
        ys.append(y)
    yy = np.column_stack(ys)  # n x m
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = xtx_inv @ (x.T @ yy)
    resid = yy - x @ beta
    dfcom = float(first.info["df"])
    sigma2 = (resid**2).sum(axis=0) / dfcom
    c_est = cmat @ beta
    c_var = np.einsum("ij,jk,ik->i", cmat, xtx_inv, cmat)[:, None] * sigma2[None, :]
    l_est = lmat @ beta
    l_var = np.einsum("ij,jk,ik->i", lmat, xtx_inv, lmat)[:, None] * sigma2[None, :]
    rows = []
    for i, p in zip(others, _pool_rows(c_est, c_var, dfcom, conf_level), strict=True):
        rows.append({"contrast": f"{levels[i]} - {reference}", "estimate": p["estimate"], "se": p["se"],
                     "df": p["df"], "t": p["statistic"], "p": p["p"], "lower": p["lower"],
                     "upper": p["upper"], "fmi": p["fmi"], "m": int(p["m"])})
    lrows = []
    for lev, p in zip(keys[group], _pool_rows(l_est, l_var, dfcom, conf_level), strict=True):
        lrows.append({group: lev, "estimate": p["estimate"], "se": p["se"], "df": p["df"],
                      "lower": p["lower"], "upper": p["upper"]})
    return pd.DataFrame(rows), pd.DataFrame(lrows)


def _delta_arms(levels: list, reference: object, delta_arms: Sequence | None, group: str) -> list:
    if delta_arms is None:
        return [lev for lev in levels if lev != reference]
    unknown = [a for a in delta_arms if a not in levels]
    if unknown:
        msg = f"delta_arms {unknown} are not levels of {group!r}; levels are {levels}"
        raise InputError(msg)
    return list(delta_arms)


def _prepare(data, formula, group, reference, predictors):
    design = parse_design(formula, data, factors=(group,))
    response = design.response
    assert_data_frame(data, [response, group])
    assert_reference(group_levels(data, group), reference, group=group)
    preds = list(predictors) if predictors is not None else [v for v in design.variables if v != group]
    incomplete = [v for v in design.variables if data[v].isna().any()]
    if incomplete:
        msg = (f"covariates {incomplete} have missing values; mi_ancova imputes the response "
               f"{response!r} only")
        raise InputError(msg)
    return response, preds


def mi_ancova(
    data: pd.DataFrame,
    formula: str,
    *,
    group: str,
    reference: object,
    m: int = 20,
    predictors: Sequence[str] | None = None,
    donors: int = 5,
    seed: int = 20250517,
    conf_level: float = 0.95,
) -> StatsResult:
    """ANCOVA with the response multiply imputed by PMM within arm, pooled by Rubin's rules.

    Parameters
    ----------
    data
        One row per subject; the response of ``formula`` may be missing (assumed MAR given the
        predictors and arm), covariates must be complete.
    formula, group, reference
        As for :func:`ancova`.
    m
        Number of imputations.
    predictors
        Predictors of the imputation model (default: the covariates of ``formula``); imputation is
        done separately within each arm.
    donors, seed
        Passed to :func:`impute_pmm`.
    conf_level
        Confidence level.

    Returns
    -------
    StatsResult
        ``.contrasts``: ``contrast, estimate, se, df, t, p, lower, upper, fmi, m`` (pooled; df by
        Barnard–Rubin with the complete-data ANCOVA df); ``.lsmeans``: ``<group>, estimate, se, df,
        lower, upper``; ``.to_frame()``: the contrasts with a ``method`` column.

    Notes
    -----
    Rubin (1987); Barnard & Rubin (1999); see :func:`pool_rubin` and :func:`impute_pmm`.
    """
    assert_level(conf_level)
    response, preds = _prepare(data, formula, group, reference, predictors)
    imputed = impute_pmm(data, response, predictors=preds, by=group, m=m, donors=donors, seed=seed)
    contrasts, lsmeans = _analyse(imputed, formula, response, group, reference, 0.0, [], conf_level)
    n_mis = int(data[response].isna().sum())
    method = (f"ANCOVA {formula} on {m} imputations (PMM by {group}, predictors {preds}); Rubin's rules, "
              "Barnard-Rubin df")
    return StatsResult(contrasts.assign(method=method), title=f"Multiple-imputation ANCOVA: {formula}",
                       notes=[f"{n_mis} missing {response} value(s) imputed (MAR), seed {seed}"],
                       extra={"contrasts": contrasts, "lsmeans": lsmeans})


def tipping_point(
    data: pd.DataFrame,
    formula: str,
    *,
    group: str,
    reference: object,
    deltas: Sequence[float],
    delta_arms: Sequence | None = None,
    m: int = 20,
    predictors: Sequence[str] | None = None,
    donors: int = 5,
    seed: int = 20250517,
    alpha: float = 0.05,
    conf_level: float = 0.95,
    progress: Callable[[int, int], None] | None = None,
) -> StatsResult:
    """Tipping-point sensitivity analysis: shift imputed responses by delta and re-analyse.

    Parameters
    ----------
    data, formula, group, reference, m, predictors, donors, seed, conf_level
        As for :func:`mi_ancova`. The same imputations (same seed) are used for every delta.
    deltas
        Shifts added to the imputed responses of the ``delta_arms`` (e.g. ``[0, 1, 2, 3, 4]``: for
        mRSS change, a positive delta makes imputed active-arm outcomes worse).
    delta_arms
        Arms whose imputed values are shifted (default: every arm except ``reference``).
    alpha
        Significance level that defines the tipping point.
    progress
        Optional callback ``progress(done, total)`` after each delta.

    Returns
    -------
    StatsResult
        ``.to_frame()``: one row per delta and contrast: ``delta, contrast, estimate, se, df, p, lower,
        upper, significant, method``; ``.tipping``: per contrast, the first delta (in the given
        order) at which ``p >= alpha`` (NaN if none).

    Notes
    -----
    Delta-adjusted MNAR sensitivity analysis (Ratitch, O'Kelly & Tosiello 2013, Pharm Stat
    12:337): imputed values are drawn under MAR, then shifted by delta in the chosen arms.
    """
    assert_level(conf_level)
    assert_level(alpha, name="alpha")
    dl = [float(d) for d in deltas]
    if not dl:
        msg = "deltas must hold at least one value"
        raise InputError(msg)
    response, preds = _prepare(data, formula, group, reference, predictors)
    arms = _delta_arms(group_levels(data, group), reference, delta_arms, group)
    imputed = impute_pmm(data, response, predictors=preds, by=group, m=m, donors=donors, seed=seed)
    frames = []
    for i, delta in enumerate(dl):
        contrasts, _ = _analyse(imputed, formula, response, group, reference, delta, arms, conf_level)
        frames.append(contrasts.assign(delta=delta))
        if progress is not None:
            progress(i + 1, len(dl))
    table = pd.concat(frames, ignore_index=True)
    table = table[["delta", "contrast", "estimate", "se", "df", "p", "lower", "upper"]]
    table["significant"] = table["p"] < alpha
    table["method"] = f"delta-adjusted MI ({m} imputations, PMM by {group}); shift in {arms}"
    tip = []
    for label, g in table.groupby("contrast", sort=False):
        lost = g.loc[~g["significant"], "delta"]
        tip.append({"contrast": label, "tipping_delta": float(lost.iloc[0]) if len(lost) else np.nan})
    return StatsResult(table, title=f"Tipping-point analysis: {formula}",
                       notes=[f"imputed {response} values in {arms} shifted by delta; alpha = {alpha}"],
                       extra={"tipping": pd.DataFrame(tip)})
