"""Multiple imputation under MAR: chained equations with predictive mean matching, by arm.

The analysis side (ANCOVA on each completed dataset, pooled by Rubin's rules) and the tipping-point
(delta-adjusted) sensitivity analysis are in :mod:`ssctrial.stats._mi_analysis`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ssctrial.exceptions import InputError
from ssctrial.stats._validate import assert_data_frame, assert_numeric, group_levels

__all__ = ["impute_pmm"]

logger = logging.getLogger(__name__)


def _design(frame: pd.DataFrame, cols: list[str]) -> np.ndarray:
    blocks = [np.ones((len(frame), 1))]
    for c in cols:
        s = frame[c]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            blocks.append(s.to_numpy(float)[:, None])
        else:
            levels = group_levels(frame, c)
            blocks.append(np.column_stack([(s == lev).to_numpy(float) for lev in levels[1:]])
                          if len(levels) > 1 else np.zeros((len(frame), 0)))
    return np.hstack(blocks)


def _pmm_draw(y_obs: np.ndarray, x_obs: np.ndarray, x_mis: np.ndarray, donors: int,
              rng: np.random.Generator) -> np.ndarray:
    """One PMM draw (type-1 matching, as mice.impute.pmm with its .norm.draw)."""
    n, p = x_obs.shape
    xtx = x_obs.T @ x_obs
    ridge = 1e-5 * np.diag(np.diag(xtx))  # mice's default ridge, for stability
    v = np.linalg.inv(xtx + ridge)
    beta_hat = v @ x_obs.T @ y_obs
    resid = y_obs - x_obs @ beta_hat
    df = max(n - p, 1)
    sigma_star = np.sqrt(float(resid @ resid) / rng.chisquare(df))
    chol = np.linalg.cholesky((v + v.T) / 2)
    beta_star = beta_hat + sigma_star * chol @ rng.standard_normal(p)
    yhat_obs = x_obs @ beta_hat
    yhat_mis = x_mis @ beta_star
    k = min(donors, n)
    out = np.empty(len(x_mis))
    for i, target in enumerate(yhat_mis):
        dist = np.abs(yhat_obs - target) + rng.uniform(0, 1e-9, size=n)  # random tie-breaking
        nearest = np.argpartition(dist, k - 1)[:k]
        out[i] = y_obs[rng.choice(nearest)]
    return out


def impute_pmm(
    data: pd.DataFrame,
    columns: str | Sequence[str],
    *,
    predictors: Sequence[str] = (),
    by: str | None = None,
    m: int = 20,
    donors: int = 5,
    iterations: int = 10,
    seed: int = 20250517,
) -> list[pd.DataFrame]:
    """Multiply impute numeric columns by chained equations with predictive mean matching.

    Parameters
    ----------
    data
        One row per subject (wide format: one column per visit to impute).
    columns
        Numeric column(s) with missing values to impute (e.g. ``["CHG_W12", "CHG_W24"]``).
    predictors
        Complete columns used as predictors (numeric, or categorical as indicator columns), e.g.
        ``["BASE", "STRATUM"]``. Every other imputed column is also a predictor (chained equations).
    by
        Impute separately within each level of this column (e.g. the arm), so that the imputation
        model has all arm-by-covariate interactions.
    m
        Number of imputations (>= 2).
    donors
        Number of nearest observed cases from which each donor is drawn (mice's default 5).
    iterations
        Gibbs iterations of the chained equations (only used with more than one incomplete column).
    seed
        Seed; equal seeds give identical imputations.

    Returns
    -------
    list of pandas.DataFrame
        ``m`` completed copies of ``data`` (original values unchanged; imputed cells filled by
        observed values of the same column); each has a boolean column ``<column>_IMPUTED`` per
        imputed column.

    Notes
    -----
    van Buuren & Groothuis-Oudshoorn (2011), J Stat Softw 45(3); predictive mean matching (Little
    1988) with the Bayesian regression draw and type-1 matching of ``mice.impute.pmm``. Imputations
    are valid under missing at random given the predictors (and ``by``).
    """
    cols = [columns] if isinstance(columns, str) else list(columns)
    preds = list(predictors)
    assert_data_frame(data, [*cols, *preds, *([by] if by else [])])
    for c in cols:
        assert_numeric(data, c)
    if not (isinstance(m, int) and m >= 2):
        msg = f"m={m!r} must be an integer >= 2 (number of imputations)"
        raise InputError(msg)
    if not (isinstance(donors, int) and donors >= 1):
        msg = f"donors={donors!r} must be a positive integer"
        raise InputError(msg)
    missing_pred = [p for p in preds if data[p].isna().any()]
    if missing_pred:
        msg = f"predictors must be complete; {missing_pred} have missing values (impute them as columns)"
        raise InputError(msg)
    rng = np.random.default_rng(seed)
    groups = [(None, data.index)] if by is None else [
        (lev, data.index[data[by] == lev]) for lev in group_levels(data, by)]
    if by is not None and data[by].isna().any():
        msg = f"column {by!r} (imputation groups) has missing values"
        raise InputError(msg)
    for lev, idx in groups:
        for c in cols:
            n_obs = int(data.loc[idx, c].notna().sum())
            if n_obs < 2 and data.loc[idx, c].isna().any():
                where = f" in {by}={lev!r}" if by else ""
                msg = f"column {c!r} has {n_obs} observed value(s){where}; at least 2 are needed to impute"
                raise InputError(msg)
    n_iter = iterations if len(cols) > 1 else 1
    out = []
    for _ in range(m):
        done = data.copy()
        for c in cols:
            done[f"{c}_IMPUTED"] = data[c].isna()
        for _lev, idx in groups:
            sub = data.loc[idx]
            miss = {c: sub[c].isna().to_numpy() for c in cols}
            cur = sub[cols].copy()
            for c in cols:  # start from random draws of the observed values
                if miss[c].any():
                    cur.loc[miss[c], c] = rng.choice(sub[c].dropna().to_numpy(float), size=int(miss[c].sum()))
            for _it in range(n_iter):
                for c in cols:
                    if not miss[c].any():
                        continue
                    frame = pd.concat([sub[preds], cur[[o for o in cols if o != c]]], axis=1)
                    x = _design(frame, list(frame.columns))
                    y = cur[c].to_numpy(float)
                    cur.loc[miss[c], c] = _pmm_draw(y[~miss[c]], x[~miss[c]], x[miss[c]], donors, rng)
            done.loc[idx, cols] = cur.to_numpy()
        out.append(done)
    logger.info("imputed %s: m=%d, %d missing cell(s)", cols, m, int(data[cols].isna().sum().sum()))
    return out
