"""Within-subject covariance structures in SAS PROC MIXED's parameterisation.

Each structure maps its parameter vector theta (SAS's, in SAS's order and with SAS's names) to
the T x T covariance matrix over the visits and gives the first and second derivatives of that
matrix with respect to theta, which the REML score, the observed information and the
Kenward-Roger adjustment need. In this parameterisation ``us``, ``toep`` and ``cs`` are linear
in theta (second derivatives vanish, so Kenward-Roger equals its linear variant, as in SAS).

==========  ==========================================  =====================================
name        SAS ``type=``                               theta (SAS names)
==========  ==========================================  =====================================
``us``      UN                                          UN(i,j), i >= j, row by row
``toep``    TOEP                                        TOEP(2..T) lag covariances, Residual
``toeph``   TOEPH                                       Var(1..T), TOEPH(1..T-1) correlations
``ar1``     AR(1)                                       AR(1) correlation, Residual variance
``ar1h``    ARH(1)                                      Var(1..T), ARH(1) correlation
``cs``      CS                                          CS common covariance, Residual
``csh``     CSH                                         Var(1..T), CSH correlation
==========  ==========================================  =====================================
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

__all__ = ["COVARIANCE_STRUCTURES", "CovarianceStructure", "make_structure"]


class CovarianceStructure(ABC):
    """A covariance structure over ``n_visits`` equally spaced, ordered visits."""

    name: str = ""
    linear: bool = False

    def __init__(self, n_visits: int) -> None:
        self.T = n_visits
        idx = np.arange(n_visits)
        self.lag = np.abs(idx[:, None] - idx[None, :])

    @property
    @abstractmethod
    def parameter_names(self) -> list[str]:
        """SAS names of theta, in order."""

    @property
    def n_par(self) -> int:
        """Number of covariance parameters."""
        return len(self.parameter_names)

    @abstractmethod
    def sigma(self, theta: np.ndarray) -> np.ndarray:
        """T x T covariance matrix."""

    @abstractmethod
    def d_sigma(self, theta: np.ndarray) -> np.ndarray:
        """First derivatives, shape (q, T, T)."""

    def d2_sigma(self, theta: np.ndarray) -> np.ndarray | None:
        """Second derivatives, shape (q, q, T, T); None where all vanish (linear structures)."""
        return None

    def valid(self, theta: np.ndarray) -> bool:
        """Whether theta lies inside the parameter space (positive-definite covariance)."""
        if not np.all(np.isfinite(theta)):
            return False
        try:
            np.linalg.cholesky(self.sigma(theta))
        except np.linalg.LinAlgError:
            return False
        return True

    @abstractmethod
    def start(self, cov: np.ndarray) -> np.ndarray:
        """Return a starting theta from a (pairwise) moment estimate of the covariance matrix."""


def _make_pd(cov: np.ndarray) -> np.ndarray:
    cov = (cov + cov.T) / 2
    vals, vecs = np.linalg.eigh(cov)
    floor = max(1e-3 * float(np.mean(np.abs(np.diag(cov)))), 1e-8)
    vals = np.maximum(vals, floor)
    return (vecs * vals) @ vecs.T


def _mean_corr(cov: np.ndarray) -> np.ndarray:
    sd = np.sqrt(np.maximum(np.diag(cov), 1e-12))
    return cov / np.outer(sd, sd)


class Unstructured(CovarianceStructure):
    """``us``: every variance and covariance free (SAS ``type=UN``)."""

    name = "us"
    linear = True

    def __init__(self, n_visits: int) -> None:
        super().__init__(n_visits)
        self.pairs = [(i, j) for i in range(n_visits) for j in range(i + 1)]
        q = len(self.pairs)
        self._d = np.zeros((q, n_visits, n_visits))
        for k, (i, j) in enumerate(self.pairs):
            self._d[k, i, j] = 1.0
            self._d[k, j, i] = 1.0

    @property
    def parameter_names(self) -> list[str]:  # noqa: D102
        return [f"UN({i + 1},{j + 1})" for i, j in self.pairs]

    def sigma(self, theta: np.ndarray) -> np.ndarray:  # noqa: D102
        return np.tensordot(theta, self._d, axes=1)

    def d_sigma(self, theta: np.ndarray) -> np.ndarray:  # noqa: D102
        return self._d

    def start(self, cov: np.ndarray) -> np.ndarray:  # noqa: D102
        cov = _make_pd(cov)
        return np.array([cov[i, j] for i, j in self.pairs])


class CompoundSymmetry(CovarianceStructure):
    """``cs``: Residual * I + CS * J (SAS ``type=CS``)."""

    name = "cs"
    linear = True

    @property
    def parameter_names(self) -> list[str]:  # noqa: D102
        return ["CS", "Residual"]

    def sigma(self, theta: np.ndarray) -> np.ndarray:  # noqa: D102
        return theta[0] * np.ones((self.T, self.T)) + theta[1] * np.eye(self.T)

    def d_sigma(self, theta: np.ndarray) -> np.ndarray:  # noqa: D102
        return np.stack([np.ones((self.T, self.T)), np.eye(self.T)])

    def start(self, cov: np.ndarray) -> np.ndarray:  # noqa: D102
        v = float(np.mean(np.diag(cov)))
        off = cov[~np.eye(self.T, dtype=bool)]
        c = float(np.mean(off)) if off.size else 0.0
        c = float(np.clip(c, -0.9 * v / max(self.T - 1, 1), 0.9 * v))
        return np.array([c, v - c])


class Toeplitz(CovarianceStructure):
    """``toep``: common variance, one covariance per lag (SAS ``type=TOEP``)."""

    name = "toep"
    linear = True

    @property
    def parameter_names(self) -> list[str]:  # noqa: D102
        return [f"TOEP({k + 1})" for k in range(1, self.T)] + ["Residual"]

    def sigma(self, theta: np.ndarray) -> np.ndarray:  # noqa: D102
        values = np.concatenate([[theta[-1]], theta[:-1]])
        return values[self.lag]

    def d_sigma(self, theta: np.ndarray) -> np.ndarray:  # noqa: D102
        d = [(self.lag == k).astype(float) for k in range(1, self.T)]
        d.append(np.eye(self.T))
        return np.stack(d)

    def start(self, cov: np.ndarray) -> np.ndarray:  # noqa: D102
        v = float(np.mean(np.diag(cov)))
        lags = np.array([np.mean(np.diag(cov, k)) for k in range(1, self.T)])
        theta = np.concatenate([lags, [v]])
        for _ in range(60):
            if self.valid(theta):
                return theta
            theta[:-1] *= 0.7
        return np.concatenate([np.zeros(self.T - 1), [v]])


class AR1(CovarianceStructure):
    """``ar1``: Residual * rho^|i-j| (SAS ``type=AR(1)``)."""

    name = "ar1"

    @property
    def parameter_names(self) -> list[str]:  # noqa: D102
        return ["AR(1)", "Residual"]

    def sigma(self, theta: np.ndarray) -> np.ndarray:  # noqa: D102
        return theta[1] * theta[0] ** self.lag

    def d_sigma(self, theta: np.ndarray) -> np.ndarray:  # noqa: D102
        rho, s2 = theta
        return np.stack([s2 * _dpow(rho, self.lag, 1), rho**self.lag])

    def d2_sigma(self, theta: np.ndarray) -> np.ndarray:  # noqa: D102
        rho, s2 = theta
        out = np.zeros((2, 2, self.T, self.T))
        out[0, 0] = s2 * _dpow(rho, self.lag, 2)
        out[0, 1] = out[1, 0] = _dpow(rho, self.lag, 1)
        return out

    def valid(self, theta: np.ndarray) -> bool:  # noqa: D102
        return bool(np.all(np.isfinite(theta)) and abs(theta[0]) < 1 and theta[1] > 0)

    def start(self, cov: np.ndarray) -> np.ndarray:  # noqa: D102
        corr = _mean_corr(cov)
        rho = float(np.mean(np.diag(corr, 1))) if self.T > 1 else 0.0
        return np.array([float(np.clip(rho, -0.9, 0.9)), float(np.mean(np.diag(cov)))])


def _dpow(rho: float, lag: np.ndarray, order: int) -> np.ndarray:
    """Return the derivative of rho**lag in rho (order 1 or 2), safe at rho = 0."""
    out = np.zeros(lag.shape)
    if order == 1:
        m = lag >= 1
        out[m] = lag[m] * rho ** (lag[m] - 1)
    else:
        m = lag >= 2
        out[m] = lag[m] * (lag[m] - 1) * rho ** (lag[m] - 2)
    return out


class _Heterogeneous(CovarianceStructure):
    """Var(1..T) on the diagonal, Sigma = S R(psi) S with S = diag(sqrt(Var))."""

    corr_names: list[str] = []

    @property
    def parameter_names(self) -> list[str]:  # noqa: D102
        return [f"Var({k + 1})" for k in range(self.T)] + self.corr_names

    @abstractmethod
    def corr(self, psi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """R, dR (r, T, T) and d2R (r, r, T, T) or None."""

    def sigma(self, theta: np.ndarray) -> np.ndarray:  # noqa: D102
        s = np.sqrt(theta[: self.T])
        return np.outer(s, s) * self.corr(theta[self.T :])[0]

    def _ds(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        T = self.T
        s = np.sqrt(theta[:T])
        # d(s_a s_b)/dv_c = (delta_ac s_b + delta_bc s_a) / (2 s_c)
        dss = np.zeros((T, T, T))
        for c in range(T):
            dss[c, c, :] += s / (2 * s[c])
            dss[c, :, c] += s / (2 * s[c])
        return s, dss

    def d_sigma(self, theta: np.ndarray) -> np.ndarray:  # noqa: D102
        T = self.T
        s, dss = self._ds(theta)
        R, dR, _ = self.corr(theta[T:])
        return np.concatenate([dss * R[None], np.outer(s, s)[None] * dR])

    def d2_sigma(self, theta: np.ndarray) -> np.ndarray:  # noqa: D102
        T = self.T
        q = self.n_par
        s, dss = self._ds(theta)
        R, dR, d2R = self.corr(theta[T:])
        out = np.zeros((q, q, T, T))
        sp = 1 / (2 * s)  # s'
        spp = -1 / (4 * s**3)  # s''
        for c in range(T):
            m = np.zeros((T, T))
            m[c, :] += spp[c] * s
            m[:, c] += spp[c] * s
            m[c, c] += 2 * sp[c] * sp[c]
            out[c, c] = m * R
            for e in range(c + 1, T):
                m = np.zeros((T, T))
                m[c, e] = m[e, c] = sp[c] * sp[e]
                out[c, e] = out[e, c] = m * R
        for j in range(q - T):
            for c in range(T):
                out[c, T + j] = out[T + j, c] = dss[c] * dR[j]
        if d2R is not None:
            out[T:, T:] = np.outer(s, s)[None, None] * d2R
        return out

    def valid(self, theta: np.ndarray) -> bool:  # noqa: D102
        if not np.all(np.isfinite(theta)) or np.any(theta[: self.T] <= 0):
            return False
        try:
            np.linalg.cholesky(self.corr(theta[self.T :])[0])
        except np.linalg.LinAlgError:
            return False
        return True


class CompoundSymmetryHet(_Heterogeneous):
    """``csh``: heterogeneous variances, one common correlation (SAS ``type=CSH``)."""

    name = "csh"
    corr_names = ["CSH"]

    def corr(self, psi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:  # noqa: D102
        rho = psi[0]
        R = (1 - rho) * np.eye(self.T) + rho * np.ones((self.T, self.T))
        return R, (np.ones((self.T, self.T)) - np.eye(self.T))[None], None

    def start(self, cov: np.ndarray) -> np.ndarray:  # noqa: D102
        corr = _mean_corr(cov)
        off = corr[~np.eye(self.T, dtype=bool)]
        rho = float(np.clip(np.mean(off), -0.9 / max(self.T - 1, 1), 0.9))
        return np.concatenate([np.diag(cov), [rho]])


class AR1Het(_Heterogeneous):
    """``ar1h``: heterogeneous variances, AR(1) correlation (SAS ``type=ARH(1)``)."""

    name = "ar1h"
    corr_names = ["ARH(1)"]

    def corr(self, psi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:  # noqa: D102
        rho = psi[0]
        return rho**self.lag, _dpow(rho, self.lag, 1)[None], _dpow(rho, self.lag, 2)[None, None]

    def valid(self, theta: np.ndarray) -> bool:  # noqa: D102
        return bool(np.all(np.isfinite(theta)) and np.all(theta[: self.T] > 0) and abs(theta[-1]) < 1)

    def start(self, cov: np.ndarray) -> np.ndarray:  # noqa: D102
        corr = _mean_corr(cov)
        rho = float(np.clip(np.mean(np.diag(corr, 1)), -0.9, 0.9)) if self.T > 1 else 0.0
        return np.concatenate([np.diag(cov), [rho]])


class ToeplitzHet(_Heterogeneous):
    """``toeph``: heterogeneous variances, one correlation per lag (SAS ``type=TOEPH``)."""

    name = "toeph"
    linear = False

    @property
    def corr_names(self) -> list[str]:  # type: ignore[override]
        return [f"TOEPH({k})" for k in range(1, self.T)]

    def corr(self, psi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:  # noqa: D102
        values = np.concatenate([[1.0], psi])
        dR = np.stack([(self.lag == k).astype(float) for k in range(1, self.T)])
        return values[self.lag], dR, None

    def start(self, cov: np.ndarray) -> np.ndarray:  # noqa: D102
        corr = _mean_corr(cov)
        lags = np.array([np.mean(np.diag(corr, k)) for k in range(1, self.T)])
        for _ in range(60):
            R = np.concatenate([[1.0], lags])[self.lag]
            if np.all(np.linalg.eigvalsh(R) > 1e-6):
                break
            lags *= 0.7
        return np.concatenate([np.diag(cov), lags])


COVARIANCE_STRUCTURES: dict[str, type[CovarianceStructure]] = {
    "us": Unstructured,
    "toep": Toeplitz,
    "toeph": ToeplitzHet,
    "ar1": AR1,
    "ar1h": AR1Het,
    "cs": CompoundSymmetry,
    "csh": CompoundSymmetryHet,
}


def make_structure(name: str, n_visits: int) -> CovarianceStructure:
    """Instantiate the structure called ``name`` for ``n_visits`` visits."""
    return COVARIANCE_STRUCTURES[name](n_visits)
