"""Numerical core of the MMRM: REML/ML likelihood, analytic score and Hessian, Newton fit.

Subjects are stored as zero-padded arrays over the T visits (outcome ``Y`` (N, T), design ``X``
(N, T, p), observed-visit mask). Subjects sharing a missingness pattern (and covariance group)
share the inverse of their covariance sub-matrix, so each likelihood evaluation inverts one
small matrix per pattern (batched by pattern size). Every derivative is a contraction of the
structure's derivative matrices ``dSigma/dtheta_k`` (T x T) with a few aggregated T x T,
T^4 and (T p)^2 arrays, so a Newton step costs O(N T^2 p^2 + G T^4 + q T^4 + q^2 p^2)
whatever the number q of covariance parameters.

Notation (Kenward & Roger 1997; Harville 1977): V = blockdiag(Sigma_i), W_i = Sigma_i^{-1},
Phi = (X'V^{-1}X)^{-1}, P = V^{-1} - V^{-1} X Phi X' V^{-1}, V_k = dV/dtheta_k,
G_k = X'V^{-1}V_kV^{-1}X (= -P_k of KR 1997), so that dPhi/dtheta_k = Phi G_k Phi.

REML log-likelihood l = -1/2 [log|V| + log|X'V^{-1}X| + y'Py + (n - p) log(2 pi)];
dl/dtheta_k = -1/2 tr(P V_k) + 1/2 y'P V_k P y;
d2l/dtheta_k dtheta_l = 1/2 tr(P V_k P V_l) - y'P V_k P V_l P y - 1/2 tr(P V_kl) + 1/2 y'P V_kl P y.
ML drops log|X'V^{-1}X| (and uses V^{-1} for P in the trace terms).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import linalg

from ssctrial.stats._covariance import CovarianceStructure

__all__ = ["EngineResult", "MMRMEngine"]

logger = logging.getLogger(__name__)

_LOG2PI = float(np.log(2 * np.pi))


class RankDeficientError(Exception):
    """X'V^{-1}X is singular."""


@dataclass
class EngineResult:
    """Quantities at one value of theta."""

    theta: np.ndarray
    m2loglik: float
    beta: np.ndarray
    phi: np.ndarray
    grad: np.ndarray | None = None
    hess: np.ndarray | None = None  # Hessian of the log-likelihood l (not of -2l)
    fisher: np.ndarray | None = None
    G: np.ndarray | None = None  # (q, p, p)
    extra: dict[str, Any] = field(default_factory=dict)


class MMRMEngine:
    """Likelihood machinery for one data set and one covariance structure (per group).

    Parameters
    ----------
    X, Y, mask
        Zero-padded design (N, T, p), outcome (N, T) and observed mask (N, T).
    group
        Covariance group index of each subject (N,), 0..B-1.
    structures
        One covariance structure per group.
    reml
        REML (True) or ML (False).
    """

    def __init__(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        mask: np.ndarray,
        group: np.ndarray,
        structures: list[CovarianceStructure],
        *,
        reml: bool = True,
    ) -> None:
        self.X = X * mask[:, :, None]
        self.Y = np.where(mask, Y, 0.0)
        self.mask = mask.astype(bool)
        self.N, self.T, self.p = X.shape
        self.n_obs = int(self.mask.sum())
        self.group = np.asarray(group, dtype=np.int64)
        self.structures = structures
        self.B = len(structures)
        self.reml = reml
        self.q_each = [s.n_par for s in structures]
        self.offsets = np.concatenate([[0], np.cumsum(self.q_each)]).astype(int)
        self.q = int(self.offsets[-1])
        # patterns: unique (group, mask)
        key = np.concatenate([self.group[:, None], self.mask.astype(np.int64)], axis=1)
        uniq, inv, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
        self.pattern = inv.reshape(-1)
        self.n_patterns = len(uniq)
        self.pattern_group = uniq[:, 0]
        self.pattern_mask = uniq[:, 1:].astype(bool)
        self.pattern_count = counts.astype(float)
        # batches of patterns of equal size
        sizes = self.pattern_mask.sum(axis=1)
        self.batches = []
        for m in np.unique(sizes):
            ids = np.flatnonzero(sizes == m)
            idx = np.stack([np.flatnonzero(self.pattern_mask[g]) for g in ids])
            self.batches.append((ids, idx))
        # flattened design for products
        self.Xf = self.X.reshape(self.N * self.T, self.p)
        self.Yf = self.Y.reshape(-1)
        self.subjects_in_group = [np.flatnonzero(self.group == b) for b in range(self.B)]
        self.patterns_in_group = [np.flatnonzero(self.pattern_group == b) for b in range(self.B)]

    # ------------------------------------------------------------------ pieces
    def split(self, theta: np.ndarray) -> list[np.ndarray]:
        """Theta of each group."""
        return [theta[self.offsets[b] : self.offsets[b + 1]] for b in range(self.B)]

    def valid(self, theta: np.ndarray) -> bool:
        """Whether every group's theta is inside its parameter space."""
        return all(s.valid(t) for s, t in zip(self.structures, self.split(theta), strict=True))

    def sigmas(self, theta: np.ndarray) -> np.ndarray:
        """(B, T, T) covariance matrices."""
        return np.stack([s.sigma(t) for s, t in zip(self.structures, self.split(theta), strict=True)])

    def _inverses(self, theta: np.ndarray) -> tuple[np.ndarray, float]:
        """Zero-padded inverse (G, T, T) per pattern and the total log-determinant of V."""
        sig = self.sigmas(theta)
        Winv = np.zeros((self.n_patterns, self.T, self.T))
        logdet = 0.0
        for ids, idx in self.batches:
            grp = self.pattern_group[ids]
            sub = sig[grp[:, None, None], idx[:, :, None], idx[:, None, :]]
            chol = np.linalg.cholesky(sub)  # raises LinAlgError if not PD
            eye = np.broadcast_to(np.eye(idx.shape[1]), sub.shape)
            linv = np.linalg.solve(chol, eye)
            inv = np.swapaxes(linv, 1, 2) @ linv
            Winv[ids[:, None, None], idx[:, :, None], idx[:, None, :]] = inv
            ld = 2 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
            logdet += float(ld @ self.pattern_count[ids])
        return Winv, logdet

    # ------------------------------------------------------------------ evaluate
    def evaluate(self, theta: np.ndarray, *, order: int = 0) -> EngineResult:
        """Log-likelihood (order 0), plus score (1), plus Hessian and Fisher information (2)."""
        Wp, logdet_v = self._inverses(theta)
        Wi = Wp[self.pattern]  # (N, T, T)
        Z = Wi @ self.X
        Zf = Z.reshape(self.N * self.T, self.p)
        xtwx = self.Xf.T @ Zf
        xtwx = (xtwx + xtwx.T) / 2
        try:
            chol = linalg.cholesky(xtwx, lower=True)
        except linalg.LinAlgError as exc:
            raise RankDeficientError(str(exc)) from exc
        if np.min(np.diag(chol)) <= 1e-10 * np.max(np.diag(chol)):
            msg = "X'V^{-1}X is numerically singular"
            raise RankDeficientError(msg)
        phi = linalg.cho_solve((chol, True), np.eye(self.p))
        phi = (phi + phi.T) / 2
        beta = phi @ (Zf.T @ self.Yf)
        r = (self.Y - self.X @ beta) * self.mask
        v = (Wi @ r[:, :, None])[:, :, 0]
        quad = float(np.sum(r * v))
        if self.reml:
            logdet_x = 2 * float(np.sum(np.log(np.diag(chol))))
            m2 = logdet_v + logdet_x + quad + (self.n_obs - self.p) * _LOG2PI
        else:
            m2 = logdet_v + quad + self.n_obs * _LOG2PI
        res = EngineResult(theta=theta, m2loglik=m2, beta=beta, phi=phi)
        res.extra.update(Wp=Wp, Wi=Wi, Z=Z, r=r, v=v)
        if order >= 1:
            self._derivatives(res, order)
        return res

    def d_sigma(self, theta: np.ndarray) -> list[np.ndarray]:
        """dSigma/dtheta per group, each (q_b, T, T)."""
        return [s.d_sigma(t) for s, t in zip(self.structures, self.split(theta), strict=True)]

    def d2_sigma(self, theta: np.ndarray) -> list[np.ndarray | None]:
        """Second derivatives per group (q_b, q_b, T, T) or None."""
        return [s.d2_sigma(t) for s, t in zip(self.structures, self.split(theta), strict=True)]

    def _derivatives(self, res: EngineResult, order: int) -> None:
        T, p, q = self.T, self.p, self.q
        theta = res.theta
        Wp, Wi, Z, v = (res.extra[k] for k in ("Wp", "Wi", "Z", "v"))
        phi = res.phi
        ZPhi = Z @ phi  # (N, T, p)
        A2 = ZPhi @ np.swapaxes(Z, 1, 2)  # z_i Phi z_i'  (N, T, T)
        vv = v[:, :, None] * v[:, None, :]  # (N, T, T)
        # pattern aggregates
        A2g = np.zeros((self.n_patterns, T, T))
        np.add.at(A2g, self.pattern, A2)
        Cg = np.zeros((self.n_patterns, T, T))
        np.add.at(Cg, self.pattern, vv)
        nW = Wp * self.pattern_count[:, None, None]
        # H[a,b,:,:] = sum_i z_ia z_ib' per group -> G_k = <D_k, H>
        D = self.d_sigma(theta)
        D2 = self.d2_sigma(theta)
        G = np.zeros((q, p, p))
        J = []  # u_k = <D_k, J>
        grad = np.zeros(q)
        Hs = []
        for b in range(self.B):
            sl = slice(self.offsets[b], self.offsets[b + 1])
            subj = self.subjects_in_group[b]
            pats = self.patterns_in_group[b]
            Zb = Z[subj].reshape(len(subj), T * p)
            Hb = (Zb.T @ Zb).reshape(T, p, T, p).transpose(0, 2, 1, 3)  # [a,b,p,q]
            Hs.append(Hb)
            Db = D[b].reshape(-1, T * T)
            G[sl] = (Db @ Hb.reshape(T * T, p * p)).reshape(-1, p, p)
            Jb = (Zb.T @ v[subj]).reshape(T, p, T).transpose(0, 2, 1)  # [a,b,p] = sum z_ia v_ib
            J.append(Db @ Jb.reshape(T * T, p))
            pbar = nW[pats].sum(axis=0)
            if self.reml:
                pbar = pbar - A2g[pats].sum(axis=0)
            cmat = Cg[pats].sum(axis=0)
            grad[sl] = -0.5 * (Db @ pbar.reshape(-1)) + 0.5 * (Db @ cmat.reshape(-1))
            res.extra.setdefault("pbar", []).append(pbar)
            res.extra.setdefault("cmat", []).append(cmat)
        res.grad = grad
        res.G = G
        res.extra["D"] = D
        res.extra["D2"] = D2
        res.extra["H"] = Hs
        if order < 2:
            return
        U = np.concatenate(J, axis=0)  # (q, p)
        hess = np.zeros((q, q))
        fisher = np.zeros((q, q))
        PhiG = phi[None] @ G  # (q, p, p)
        t3 = PhiG.reshape(q, p * p) @ np.swapaxes(PhiG, 1, 2).reshape(q, p * p).T  # tr(Phi G_k Phi G_l)
        for b in range(self.B):
            sl = slice(self.offsets[b], self.offsets[b + 1])
            pats = self.patterns_in_group[b]
            Db = D[b].reshape(-1, T * T)
            Wb = Wp[pats]
            # Omega[(a,b),(c,d)] = sum_g A_g[d,a] W_g[b,c]; term(k,l) = D_k . Omega . D_l
            if self.reml:
                a_fish = 0.5 * nW[pats] - A2g[pats]
            else:
                a_fish = 0.5 * nW[pats]
            a_hess = a_fish - Cg[pats]
            for a_mat, target in ((a_hess, hess), (a_fish, fisher)):
                At = np.swapaxes(a_mat, 1, 2).reshape(len(pats), T * T)  # [g,(a,d)]
                om = (At.T @ Wb.reshape(len(pats), T * T)).reshape(T, T, T, T)  # [a,d,b,c]
                om = om.transpose(0, 2, 3, 1).reshape(T * T, T * T)  # [(a,b),(c,d)]
                target[sl, sl] += Db @ om @ Db.T
            d2_b = D2[b]
            if d2_b is not None:
                d2 = d2_b.reshape(self.q_each[b], self.q_each[b], T * T)
                pbar = res.extra["pbar"][b].reshape(-1)
                cmat = res.extra["cmat"][b].reshape(-1)
                hess[sl, sl] += -0.5 * (d2 @ pbar) + 0.5 * (d2 @ cmat)
        if self.reml:
            hess += 0.5 * t3
            fisher += 0.5 * t3
        hess += U @ phi @ U.T
        res.hess = (hess + hess.T) / 2
        res.fisher = (fisher + fisher.T) / 2

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        theta0: np.ndarray,
        *,
        max_iter: int = 100,
        tol: float = 1e-9,
    ) -> tuple[EngineResult, dict]:
        """Maximise the (restricted) likelihood by Fisher scoring, then Newton-Raphson.

        Returns the evaluation (order 2) at the optimum and a dict with ``converged``,
        ``iterations``, ``max_abs_score``, ``message``.
        """
        theta = np.asarray(theta0, dtype=float).copy()
        res = self.evaluate(theta, order=2)
        info: dict[str, Any] = {"converged": False, "iterations": 0, "message": "", "method": []}
        n_fisher = 2
        for it in range(1, max_iter + 1):
            g = res.grad
            assert g is not None and res.hess is not None and res.fisher is not None
            use_newton = it > n_fisher
            step = None
            if use_newton:
                try:
                    c = linalg.cho_factor(-res.hess)
                    step = linalg.cho_solve(c, g)
                    info["method"].append("newton")
                except linalg.LinAlgError:
                    step = None
            if step is None:
                try:
                    step = linalg.solve(res.fisher, g, assume_a="pos")
                except (linalg.LinAlgError, ValueError):
                    step = g / max(np.max(np.abs(g)), 1.0)
                info["method"].append("fisher")
            t = 1.0
            accepted = None
            while t > 1e-12:
                cand = theta + t * step
                if self.valid(cand):
                    try:
                        cres = self.evaluate(cand, order=0)
                    except (np.linalg.LinAlgError, RankDeficientError):
                        cres = None
                    if (
                        cres is not None
                        and np.isfinite(cres.m2loglik)
                        and (cres.m2loglik <= res.m2loglik + 1e-10 * max(1.0, abs(res.m2loglik)))
                    ):
                        accepted = cand
                        break
                t /= 2
            info["iterations"] = it
            if accepted is None:
                info["message"] = (
                    "line search failed: no step along the Newton/scoring direction improves the "
                    "likelihood (the optimum may lie on the boundary of the parameter space)"
                )
                break
            rel_step = np.max(np.abs(accepted - theta) / (np.abs(theta) + 1.0))
            theta = accepted
            assert cres is not None
            self._derivatives(cres, 2)  # reuse the line-search evaluation
            res = cres
            score = np.max(np.abs(res.grad * (np.abs(theta) + 1.0)))
            logger.debug("iteration %d: -2ll=%.10f score=%.3g step=%.3g", it, res.m2loglik, score, rel_step)
            # converged: scaled score below tol, or a full Newton step that moved theta by less than
            # 1e-8 relative (the score is then at its floating-point noise floor)
            newton_small = info["method"][-1] == "newton" and t == 1.0 and rel_step < 1e-8
            if score < tol or (newton_small and score < 1e-5):
                info["converged"] = True
                info["message"] = "converged"
                break
        else:
            info["message"] = f"no convergence within max_iter={max_iter} iterations"
        assert res.grad is not None
        info["max_abs_score"] = float(np.max(np.abs(res.grad)))
        if not info["converged"]:
            ratios = [np.linalg.eigvalsh(sig) for sig in self.sigmas(theta)]
            worst = min(float(e[0] / e[-1]) for e in ratios)
            if worst < 1e-6:
                info["message"] += (
                    f"; the estimated covariance matrix is nearly singular (smallest/largest eigenvalue "
                    f"{worst:.2g}): too few subjects for this structure, use a simpler one"
                )
        return res, info
