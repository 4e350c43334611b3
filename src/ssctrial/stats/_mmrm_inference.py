"""Small-sample inference for the MMRM: Satterthwaite, Kenward-Roger and residual df.

All functions work on the quantities of :class:`~ssctrial.stats._mmrm_engine.EngineResult` at
the REML (or ML) optimum: ``phi`` = (X'V^{-1}X)^{-1}, ``G[k]`` = X'V^{-1}V_kV^{-1}X (so that
dPhi/dtheta_k = Phi G_k Phi) and ``W`` = the inverse of the observed information of theta
(the negative Hessian of the log-likelihood), in SAS's parameterisation of theta.

References
----------
Satterthwaite FE (1946). An approximate distribution of estimates of variance components.
Biometrics Bulletin 2(6):110-114.
Fai AHT, Cornelius PL (1996). Approximate F-tests of multiple degree of freedom hypotheses in
generalized least squares analyses of unbalanced split-plot experiments. J Stat Comput Simul
54:363-378.
Kenward MG, Roger JH (1997). Small sample inference for fixed effects from restricted maximum
likelihood. Biometrics 53(3):983-997.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = [
    "kenward_roger_adjusted",
    "kenward_roger_test",
    "satterthwaite_df",
    "satterthwaite_test",
]


def satterthwaite_df(C: np.ndarray, phi: np.ndarray, G: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Satterthwaite df of each row c of ``C``: 2 (c'Phi c)^2 / (g'Wg), g_k = c'Phi G_k Phi c."""
    PC = phi @ C.T  # (p, r)
    var = np.sum(C.T * PC, axis=0)
    grad = np.sum(PC[None] * (G @ PC), axis=1)  # (q, r)
    denom = np.sum(grad * (W @ grad), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2 * var**2 / denom


def satterthwaite_test(
    L: np.ndarray, beta: np.ndarray, phi: np.ndarray, G: np.ndarray, W: np.ndarray
) -> tuple[float, float]:
    """F statistic and denominator df of H0: L beta = 0 (Fai & Cornelius 1996, as SAS/lmerTest)."""
    q = L.shape[0]
    VL = L @ phi @ L.T
    d, U = np.linalg.eigh((VL + VL.T) / 2)
    order = np.argsort(d)[::-1]
    d, U = d[order], U[:, order]
    rows = U.T @ L
    t2 = (rows @ beta) ** 2 / d
    F = float(np.sum(t2) / q)
    nu = satterthwaite_df(rows, phi, G, W)
    if q == 1:
        return F, float(nu[0])
    if np.all(np.abs(np.diff(nu)) < 1e-8):
        return F, float(np.mean(nu))
    if np.any(nu <= 2):
        return F, 2.0
    E = float(np.sum(nu / (nu - 2)))
    return F, 2 * E / (E - q)


def kenward_roger_adjusted(
    phi: np.ndarray,
    G: np.ndarray,
    W: np.ndarray,
    sum_wq: np.ndarray,
    sum_wr: np.ndarray | None,
) -> np.ndarray:
    """Phi_A = Phi + 2 Phi [sum W_kl (Q_kl - P_k Phi P_l - R_kl / 4)] Phi (Kenward & Roger 1997).

    ``sum_wq`` = sum_kl W_kl Q_kl and ``sum_wr`` = sum_kl W_kl R_kl (None: linear variant, or a
    structure linear in theta). P_k = -G_k, so P_k Phi P_l = G_k Phi G_l.
    """
    q, p = G.shape[0], phi.shape[0]
    WG = (W @ G.reshape(q, p * p)).reshape(q, p, p)
    sum_pp = np.sum(G @ phi[None] @ WG, axis=0)
    inner = sum_wq - sum_pp
    if sum_wr is not None:
        inner = inner - 0.25 * sum_wr
    adj = phi + 2 * phi @ inner @ phi
    return (adj + adj.T) / 2


def kenward_roger_test(
    L: np.ndarray,
    beta: np.ndarray,
    phi: np.ndarray,
    phi_a: np.ndarray,
    G: np.ndarray,
    W: np.ndarray,
) -> tuple[float, float, float]:
    """Kenward-Roger scaled F statistic lambda*F, its denominator df m, and lambda.

    F = (L beta)'(L Phi_A L')^{-1}(L beta) / l; A1, A2, B, g, c1..c3, E*, V*, rho, m, lambda as
    in Kenward & Roger (1997), with Theta = L'(L Phi L')^{-1} L built on the unadjusted Phi.
    """
    ell = L.shape[0]
    Lb = L @ beta
    F = float(Lb @ np.linalg.solve(L @ phi_a @ L.T, Lb)) / ell
    theta_m = L.T @ np.linalg.solve(L @ phi @ L.T, L)
    # M_k = Theta Phi P_k Phi (sign of P_k cancels in A1, A2)
    Mk = (theta_m @ phi)[None] @ G @ phi[None]
    tr = np.trace(Mk, axis1=1, axis2=2)
    A1 = float(tr @ W @ tr)
    q, p = G.shape[0], phi.shape[0]
    MkT = np.swapaxes(Mk, 1, 2).reshape(q, p * p)
    A2 = float(np.sum(W * (Mk.reshape(q, p * p) @ MkT.T)))
    B = (A1 + 6 * A2) / (2 * ell)
    g = ((ell + 1) * A1 - (ell + 4) * A2) / ((ell + 2) * A2)
    denom = 3 * ell + 2 * (1 - g)
    c1, c2, c3 = g / denom, (ell - g) / denom, (ell + 2 - g) / denom
    e_star = 1 / (1 - A2 / ell)
    v_star = (2 / ell) * (1 + c1 * B) / ((1 - c2 * B) ** 2 * (1 - c3 * B))
    rho = v_star / (2 * e_star**2)
    m = 4 + (ell + 2) / (ell * rho - 1)
    lam = m / (e_star * (m - 2))
    return lam * F, float(m), float(lam)


def two_sided_p(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Two-sided p-value of a t statistic."""
    return 2 * special.stdtr(df, -np.abs(t))


def t_quantile(prob: float, df: np.ndarray) -> np.ndarray:
    """Quantile of Student's t (scipy.special.stdtrit: fast, no distribution-object overhead)."""
    return special.stdtrit(df, prob)
