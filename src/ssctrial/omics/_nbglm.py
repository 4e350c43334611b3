"""Negative-binomial GLMs fitted for many genes at once (vectorised IRLS and dispersion MLE).

PyDESeq2 fits one gene at a time (a joblib task per gene). :class:`BatchedInference` is a drop-in
replacement of its :class:`pydeseq2.default_inference.DefaultInference` that solves the same
problems for blocks of genes with stacked linear algebra, so that the whole PyDESeq2 pipeline
(size factors, dispersion trend and prior, Cook's distances, outlier refit, independent filtering)
runs unchanged on top of it.

- ``irls``: the IRLS of :func:`pydeseq2.utils.irls_solver` (ridge 1e-6, deviance-ratio stopping rule
  ``|dev - dev_old| / (|dev| + 0.1) < beta_tol``); genes that diverge (|beta| > 30 or too many
  iterations) fall back to PyDESeq2's own per-gene solver, as PyDESeq2 does.
- ``alpha_mle``: the Cox-Reid adjusted profile likelihood of the dispersion (with the optional
  log-normal prior of the MAP step), minimised over log(alpha) in [log min_disp, log max_disp] by
  bracketing the root of its derivative downhill from the starting value and refining it with the
  Illinois (modified regula falsi) method. PyDESeq2 uses L-BFGS-B on the same objective from the
  same start; both find the same local minimum (up to the optimisers' tolerances).
- ``wald_test``: the sandwich standard error ``sqrt(c' H M H c)`` with ``H = (M + ridge)^-1``.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
from pydeseq2 import utils as pd2utils
from pydeseq2.default_inference import DefaultInference
from scipy.special import gammaln, polygamma

__all__ = ["BatchedInference", "fit_nb_glm", "nb_loglik"]

logger = logging.getLogger(__name__)

_RIDGE = 1e-6


def _chunks(n_genes: int, n_obs: int, n_vars: int, budget: float = 2.5e7) -> list[slice]:
    """Gene blocks small enough that a (block, p, p) or (block, n) float64 array stays ~200 MB."""
    per_gene = max(n_vars * n_vars, n_obs * n_vars, n_obs)
    size = max(1, int(budget // per_gene))
    return [slice(i, min(i + size, n_genes)) for i in range(0, n_genes, size)]


def _outer_rows(X: np.ndarray) -> np.ndarray:
    """Row-wise outer products of the design, flattened: (n, p*p); ``W @ XX`` gives X'WX per gene."""
    n, p = X.shape
    return (X[:, :, None] * X[:, None, :]).reshape(n, p * p)


def nb_loglik(counts: np.ndarray, mu: np.ndarray, disp: np.ndarray) -> np.ndarray:
    """Negative-binomial log-likelihood per gene.

    Parameters
    ----------
    counts
        Counts, shape (n_samples, n_genes).
    mu
        Means, same shape.
    disp
        Dispersions alpha (variance ``mu + alpha mu^2``), shape (n_genes,).

    Returns
    -------
    numpy.ndarray
        ``sum_i log NB(y_ij; mu_ij, alpha_j)``, shape (n_genes,).
    """
    a = 1.0 / np.asarray(disp, dtype=float)[None, :]
    y = np.asarray(counts, dtype=float)
    mu = np.asarray(mu, dtype=float)
    ll = (
        gammaln(y + a) - gammaln(y + 1.0) - gammaln(a)
        + a * np.log(a / (a + mu))
        + y * (np.log(mu) - np.log(a + mu))
    )
    return ll.sum(axis=0)


def _nll_rows(y: np.ndarray, mu: np.ndarray, disp: np.ndarray) -> np.ndarray:
    """PyDESeq2's ``nb_nll`` for a block: y, mu (g, n); disp (g,). Returns (g,)."""
    a = 1.0 / disp[:, None]
    logbinom = gammaln(y + a) - gammaln(y + 1.0) - gammaln(a)
    return (a * np.log(disp[:, None]) - logbinom + (y + a) * np.log(mu + a) - y * np.log(mu)).sum(axis=1)


def _irls_block(
    y: np.ndarray,
    sf: np.ndarray,
    X: np.ndarray,
    XX: np.ndarray,
    disp: np.ndarray,
    beta: np.ndarray,
    *,
    min_mu: float,
    beta_tol: float,
    max_beta: float,
    maxiter: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IRLS for a block of genes. y (g, n); beta (g, p) start. Returns beta, fallback mask, iterations."""
    g, p = beta.shape
    ridge = _RIDGE * np.eye(p)
    log_sf = np.log(sf)[None, :]
    mu = np.maximum(sf[None, :] * np.exp(beta @ X.T), min_mu)
    dev = np.full(g, 1000.0)
    active = np.ones(g, dtype=bool)
    fallback = np.zeros(g, dtype=bool)
    it = 0
    while active.any():
        idx = np.flatnonzero(active)
        m = mu[idx]
        W = m / (1.0 + m * disp[idx, None])
        z = np.log(m) - log_sf + (y[idx] - m) / m
        H = (W @ XX).reshape(-1, p, p) + ridge
        rhs = (W * z) @ X
        beta_hat = np.linalg.solve(H, rhs[:, :, None])[:, :, 0]
        it += 1
        bad = (np.abs(beta_hat) > max_beta).any(axis=1)
        if it >= maxiter:
            bad[:] = True
        if bad.any():
            fallback[idx[bad]] = True
            active[idx[bad]] = False
        ok = idx[~bad]
        if ok.size == 0:
            break
        beta[ok] = beta_hat[~bad]
        mu[ok] = np.maximum(sf[None, :] * np.exp(beta[ok] @ X.T), min_mu)
        old = dev[ok]
        dev[ok] = -2.0 * _nll_rows(y[ok], mu[ok], disp[ok])  # as PyDESeq2 (sign is irrelevant)
        ratio = np.abs(dev[ok] - old) / (np.abs(dev[ok]) + 0.1)
        active[ok] = ratio > beta_tol
    return beta, fallback, it


def fit_nb_glm(
    counts: np.ndarray,
    design_matrix: np.ndarray,
    size_factors: np.ndarray,
    *,
    disp: np.ndarray,
    min_mu: float = 0.5,
    beta_tol: float = 1e-8,
    maxiter: int = 250,
) -> dict[str, np.ndarray]:
    """Fit a negative-binomial GLM with known dispersions to every gene (DESeq2's ``fitNbinomGLMs``).

    Parameters
    ----------
    counts
        Raw counts, shape (n_samples, n_genes).
    design_matrix
        Model matrix, shape (n_samples, n_coefficients).
    size_factors
        Size factors, shape (n_samples,).
    disp
        Dispersion of each gene, shape (n_genes,).
    min_mu
        Lower bound of fitted means inside IRLS (DESeq2: 0.5).
    beta_tol
        Deviance-ratio convergence tolerance (DESeq2: 1e-8).
    maxiter
        Maximum IRLS iterations before the per-gene L-BFGS-B fallback.

    Returns
    -------
    dict
        ``beta`` (n_genes, p; natural-log scale), ``mu`` (n_samples, n_genes; not thresholded),
        ``loglik`` (n_genes,), ``hat`` (n_samples, n_genes; diagonal of the weighted hat matrix)
        and ``converged`` (n_genes,).
    """
    inf = BatchedInference()
    beta, mu, hat, conv = inf.irls(
        counts=np.asarray(counts),
        size_factors=np.asarray(size_factors, dtype=float),
        design_matrix=np.asarray(design_matrix, dtype=float),
        disp=np.asarray(disp, dtype=float),
        min_mu=min_mu,
        beta_tol=beta_tol,
        maxiter=maxiter,
    )
    return {"beta": beta, "mu": mu, "loglik": nb_loglik(counts, mu, disp), "hat": hat, "converged": conv}


class BatchedInference(DefaultInference):
    """PyDESeq2 inference backend that fits blocks of genes with vectorised linear algebra.

    Parameters
    ----------
    n_cpus
        Used only by the methods inherited unchanged from PyDESeq2 (LFC shrinkage, per-gene
        fallbacks); the vectorised methods run in the calling process (numpy's BLAS may use
        several threads).
    """

    def __init__(self, n_cpus: int | None = 1, **kwargs: object) -> None:
        super().__init__(n_cpus=n_cpus, **kwargs)  # type: ignore[arg-type]

    # -- mean estimates ---------------------------------------------------------------------------
    def lin_reg_mu(  # noqa: D102
        self,
        counts: np.ndarray,
        size_factors: np.ndarray,
        design_matrix: np.ndarray,
        min_mu: float,
    ) -> np.ndarray:
        X = np.asarray(design_matrix, dtype=float)
        y = counts / size_factors[:, None]
        coef, *_ = np.linalg.lstsq(X, y, rcond=None)
        return np.maximum(size_factors[:, None] * (X @ coef), min_mu)

    def irls(  # noqa: D102
        self,
        counts: np.ndarray,
        size_factors: np.ndarray,
        design_matrix: np.ndarray,
        disp: np.ndarray,
        min_mu: float,
        beta_tol: float,
        min_beta: float = -30,
        max_beta: float = 30,
        optimizer: Literal["BFGS", "L-BFGS-B"] = "L-BFGS-B",
        maxiter: int = 250,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        X = np.asarray(design_matrix, dtype=float)
        Y = np.asarray(counts, dtype=float)
        sf = np.asarray(size_factors, dtype=float)
        disp = np.asarray(disp, dtype=float)
        n, p = X.shape
        G = Y.shape[1]
        if np.linalg.matrix_rank(X) == p:
            Q, R = np.linalg.qr(X)
            beta0 = np.linalg.solve(R, Q.T @ np.log(Y / sf[:, None] + 0.1)).T
        else:
            beta0 = np.zeros((G, p))
            with np.errstate(divide="ignore"):
                beta0[:, 0] = np.log(Y / sf[:, None]).mean(axis=0)
        XX = _outer_rows(X)
        ridge = _RIDGE * np.eye(p)
        beta_all = np.empty((G, p))
        hat = np.empty((n, G))
        converged = np.ones(G, dtype=bool)
        n_fallback = 0
        for blk in _chunks(G, n, p):
            y = Y[:, blk].T
            beta, fallback, _ = _irls_block(
                y, sf, X, XX, disp[blk], beta0[blk].copy(),
                min_mu=min_mu, beta_tol=beta_tol, max_beta=max_beta, maxiter=maxiter,
            )
            for j in np.flatnonzero(fallback):
                gene = blk.start + j
                b, _, _, conv = pd2utils.irls_solver(
                    counts=Y[:, gene], size_factors=sf, design_matrix=X, disp=disp[gene], min_mu=min_mu,
                    beta_tol=beta_tol, min_beta=min_beta, max_beta=max_beta, optimizer=optimizer,
                    maxiter=maxiter,
                )
                beta[j] = b
                converged[gene] = conv
            n_fallback += int(fallback.sum())
            beta_all[blk] = beta
            mu = np.maximum(sf[None, :] * np.exp(beta @ X.T), min_mu)
            W = mu / (1.0 + mu * disp[blk, None])
            Hinv = np.linalg.inv((W @ XX).reshape(-1, p, p) + ridge)
            XH = np.matmul(X[None, :, :], Hinv)  # (g, n, p)
            hat[:, blk] = (W * np.einsum("gnp,np->gn", XH, X)).T
        if n_fallback:
            logger.debug("IRLS: %d of %d genes used the per-gene L-BFGS-B fallback", n_fallback, G)
        mu_out = sf[:, None] * np.exp(X @ beta_all.T)
        return beta_all, mu_out, hat, converged

    # -- dispersions ------------------------------------------------------------------------------
    def alpha_mle(  # noqa: D102
        self,
        counts: np.ndarray,
        design_matrix: np.ndarray,
        mu: np.ndarray,
        alpha_hat: np.ndarray,
        min_disp: float,
        max_disp: float,
        prior_disp_var: float | None = None,
        cr_reg: bool = True,
        prior_reg: bool = False,
        optimizer: Literal["BFGS", "L-BFGS-B"] = "L-BFGS-B",
    ) -> tuple[np.ndarray, np.ndarray]:
        if prior_reg and prior_disp_var is None:
            msg = "prior_disp_var is required when prior_reg=True"
            raise ValueError(msg)
        X = np.asarray(design_matrix, dtype=float)
        Y = np.asarray(counts, dtype=float)
        MU = np.asarray(mu, dtype=float)
        n, p = X.shape
        G = Y.shape[1]
        XX = _outer_rows(X)
        lo, hi = np.log(min_disp), np.log(max_disp)
        out = np.empty(G)
        conv = np.ones(G, dtype=bool)
        log_ahat_all = np.log(np.asarray(alpha_hat, dtype=float))
        for blk in _chunks(G, n, p):
            y = Y[:, blk].T
            m = MU[:, blk].T
            la_hat = log_ahat_all[blk]

            def grad(la: np.ndarray, rows: np.ndarray, y=y, m=m, la_hat=la_hat) -> np.ndarray:
                a = np.exp(la)
                yy, mm = y[rows], m[rows]
                inv_a = 1.0 / a[:, None]
                dnll = -(inv_a**2 * (
                    polygamma(0, inv_a) - polygamma(0, yy + inv_a) + np.log1p(mm * a[:, None])
                    + (yy - mm) / (mm + inv_a)
                )).sum(axis=1)
                gr = a * dnll
                if cr_reg:
                    W = mm / (1.0 + mm * a[:, None])
                    M = (W @ XX).reshape(-1, p, p)
                    D = (-(W**2) @ XX).reshape(-1, p, p)
                    Minv = np.linalg.inv(M)
                    gr = gr + 0.5 * a * (Minv * D).sum(axis=(1, 2))
                if prior_reg:
                    gr = gr + (la - la_hat[rows]) / prior_disp_var
                return gr

            out[blk], conv[blk] = _minimise_by_gradient_root(grad, np.clip(la_hat, lo, hi), lo, hi)
        return np.exp(out), conv

    # -- Wald test --------------------------------------------------------------------------------
    def wald_test(  # noqa: D102
        self,
        design_matrix: np.ndarray,
        disp: np.ndarray,
        lfc: np.ndarray,
        mu: np.ndarray,
        ridge_factor: np.ndarray,
        contrast: np.ndarray,
        lfc_null: np.ndarray,
        alt_hypothesis: Literal["greaterAbs", "lessAbs", "greater", "less"] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if alt_hypothesis is not None:
            return super().wald_test(  # type: ignore[no-any-return]
                design_matrix, disp, lfc, mu, ridge_factor, contrast, lfc_null, alt_hypothesis
            )
        X = np.asarray(design_matrix, dtype=float)
        n, p = X.shape
        MU = np.asarray(mu, dtype=float)
        G = MU.shape[1]
        XX = _outer_rows(X)
        c = np.asarray(contrast, dtype=float)
        lfc = np.asarray(lfc, dtype=float)
        se = np.empty(G)
        for blk in _chunks(G, n, p):
            m = MU[:, blk].T
            W = m / (1.0 + m * np.asarray(disp, dtype=float)[blk, None])
            M = (W @ XX).reshape(-1, p, p)
            H = np.linalg.inv(M + ridge_factor)
            Hc = H @ c
            se[blk] = np.sqrt(np.einsum("gp,gpq,gq->g", Hc, M, Hc))
        stat = ((lfc - lfc_null) @ c) / se
        from scipy.stats import norm

        pval = 2.0 * norm.sf(np.abs(stat))
        return pval, stat, se


def _minimise_by_gradient_root(
    grad: object, x0: np.ndarray, lo: float, hi: float, *, xtol: float = 1e-7, maxit: int = 100,
    pgtol: float = 1e-5, gtol: float = 1e-7,
) -> tuple[np.ndarray, np.ndarray]:
    """Find, for each gene, the local minimum of a 1-D function downhill from ``x0`` within [lo, hi].

    ``grad(x, rows)`` returns the derivative at ``x`` for the genes ``rows``. The minimum is bracketed
    by doubling steps downhill (stopping at a bound if the derivative keeps its sign), then the root
    of the derivative is refined by the Illinois method until the bracket is narrower than ``xtol``
    or the derivative is below ``gtol`` in absolute value (L-BFGS-B in PyDESeq2 stops at a projected
    gradient of 1e-5).
    """
    gfun = grad  # type: ignore[assignment]
    g = x0.size
    rows = np.arange(g)
    x = x0.astype(float).copy()
    g0 = gfun(x, rows)  # type: ignore[operator]
    conv = np.isfinite(g0)
    result = x.copy()
    # bracket [a, b] with grad(a) < 0 < grad(b)
    a = np.where(g0 < 0, x, np.nan)
    b = np.where(g0 > 0, x, np.nan)
    ga = np.where(g0 < 0, g0, np.nan)
    gb = np.where(g0 > 0, g0, np.nan)
    # L-BFGS-B (PyDESeq2) and DESeq2's line search both stop at the start when the derivative there is
    # negligible (projected gradient <= 1e-5, e.g. alpha at its 1e-8 floor); do the same.
    projected = np.where((x <= lo) & (g0 > 0) | (x >= hi) & (g0 < 0), 0.0, g0)
    done = (np.abs(projected) <= pgtol) | ~np.isfinite(g0)
    step = np.ones(g)
    searching = ~done
    for _ in range(60):
        if not searching.any():
            break
        idx = np.flatnonzero(searching)
        right = g0[idx] < 0  # minimum lies to the right
        base = np.where(right, a[idx], b[idx])
        trial = np.where(right, np.minimum(base + step[idx], hi), np.maximum(base - step[idx], lo))
        gt = gfun(trial, idx)  # type: ignore[operator]
        step[idx] *= 2.0
        found = (right & (gt >= 0)) | (~right & (gt <= 0))
        # genes whose bracket is completed
        ri = idx[found & right]
        b[ri], gb[ri] = trial[found & right], gt[found & right]
        li = idx[found & ~right]
        a[li], ga[li] = trial[found & ~right], gt[found & ~right]
        # genes still going downhill: move the base
        go_r = idx[~found & right]
        a[go_r], ga[go_r] = trial[~found & right], gt[~found & right]
        go_l = idx[~found & ~right]
        b[go_l], gb[go_l] = trial[~found & ~right], gt[~found & ~right]
        at_bound = ~found & ((right & (trial >= hi)) | (~right & (trial <= lo)))
        bi = idx[at_bound]
        result[bi] = trial[at_bound]
        done[bi] = True
        searching[idx[found]] = False
        searching[bi] = False
        bad = ~np.isfinite(gt)
        conv[idx[bad]] = False
        done[idx[bad]] = True
        searching[idx[bad]] = False
    refine = ~done & np.isfinite(a) & np.isfinite(b)
    conv[~done & ~refine] = False
    side = np.zeros(g, dtype=int)
    for _ in range(maxit):
        idx = np.flatnonzero(refine)
        if idx.size == 0:
            break
        ai, bi_, gai, gbi = a[idx], b[idx], ga[idx], gb[idx]
        c = (ai * gbi - bi_ * gai) / (gbi - gai)
        bad = ~np.isfinite(c) | (c <= np.minimum(ai, bi_)) | (c >= np.maximum(ai, bi_))
        c[bad] = 0.5 * (ai[bad] + bi_[bad])
        gc = gfun(c, idx)  # type: ignore[operator]
        neg = gc < 0
        # replace the endpoint with the same sign; Illinois: halve the other's value if it is kept twice
        a[idx[neg]], ga[idx[neg]] = c[neg], gc[neg]
        b[idx[~neg]], gb[idx[~neg]] = c[~neg], gc[~neg]
        keep_b = idx[neg]
        keep_a = idx[~neg]
        gb[keep_b[side[keep_b] == -1]] *= 0.5
        ga[keep_a[side[keep_a] == 1]] *= 0.5
        side[keep_b] = -1
        side[keep_a] = 1
        result[idx] = c
        fin = (np.abs(b[idx] - a[idx]) < xtol) | (np.abs(gc) <= gtol)
        refine[idx[fin]] = False
    conv[refine] = False
    return result, conv
