"""Rubin's rules for combining estimates from multiply imputed data (Barnard–Rubin degrees of freedom)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ssctrial.exceptions import InputError
from ssctrial.stats._validate import assert_level

__all__ = ["pool_rubin"]


def pool_rubin(estimates, variances, *, dfcom: float = np.inf, conf_level: float = 0.95) -> pd.Series:
    """Pool one scalar estimate over m imputations by Rubin's rules.

    Parameters
    ----------
    estimates
        The m per-imputation estimates.
    variances
        Their m squared standard errors.
    dfcom
        Complete-data degrees of freedom (e.g. ``n - p`` of a linear model); ``numpy.inf`` for
        large-sample (z-based) analyses.
    conf_level
        Confidence level.

    Returns
    -------
    pandas.Series
        ``estimate`` (qbar), ``ubar`` (within variance), ``b`` (between variance), ``t`` (total
        variance), ``se``, ``df`` (Barnard–Rubin), ``riv`` (relative increase in variance),
        ``lambda``, ``fmi`` (fraction of missing information), ``statistic`` (qbar / se), ``p``,
        ``lower``, ``upper``, ``m``.

    Notes
    -----
    Rubin (1987): ``t = ubar + (1 + 1/m) b``. Barnard & Rubin (1999), Biometrika 86:948:
    ``nu_old = (m - 1) / lambda^2``, ``nu_obs = (dfcom + 1) / (dfcom + 3) dfcom (1 - lambda)``,
    ``df = nu_old nu_obs / (nu_old + nu_obs)`` (``nu_old`` when ``dfcom`` is infinite). Identical to
    R's ``mice::pool.scalar(rule = "rubin1987")``, ``fmi`` included.

    Examples
    --------
    >>> r = pool_rubin([1.0, 1.2, 0.9], [0.04, 0.05, 0.045], dfcom=40)
    >>> round(float(r["estimate"]), 4)
    1.0333
    """
    q = np.asarray(estimates, dtype=float)
    u = np.asarray(variances, dtype=float)
    assert_level(conf_level)
    if q.ndim != 1 or q.shape != u.shape or q.size < 2:
        msg = f"estimates and variances must be 1-d of the same length m >= 2; got {q.shape} and {u.shape}"
        raise InputError(msg)
    if not (np.all(np.isfinite(q)) and np.all(np.isfinite(u)) and np.all(u >= 0)):
        msg = "estimates must be finite and variances finite and non-negative"
        raise InputError(msg)
    if not dfcom > 0:
        msg = f"dfcom={dfcom!r} must be positive (numpy.inf for large samples)"
        raise InputError(msg)
    m = q.size
    qbar = q.mean()
    ubar = u.mean()
    b = q.var(ddof=1)
    t = ubar + (1 + 1 / m) * b
    riv = (1 + 1 / m) * b / ubar if ubar > 0 else np.inf
    lam = (1 + 1 / m) * b / t if t > 0 else 0.0
    lam_safe = max(lam, 1e-4)  # as mice::barnard.rubin: lambda < 1e-4 is set to 1e-4 (finite df)
    dfold = (m - 1) / lam_safe**2
    if np.isinf(dfcom):
        df = dfold
    else:
        dfobs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lam_safe)
        df = dfold * dfobs / (dfold + dfobs)
    fmi = (riv + 2 / (df + 3)) / (1 + riv)
    se = np.sqrt(t)
    stat = qbar / se if se > 0 else np.nan
    tq = stats.t.ppf(0.5 + conf_level / 2, df)
    return pd.Series({"estimate": qbar, "ubar": ubar, "b": b, "t": t, "se": se, "df": df, "riv": riv,
                      "lambda": lam, "fmi": fmi, "statistic": stat, "p": 2 * stats.t.sf(abs(stat), df),
                      "lower": qbar - tq * se, "upper": qbar + tq * se, "m": m})
