"""Mixed model for repeated measures (MMRM) that reproduces SAS PROC MIXED.

``mmrm(data, formula, subject=..., visit=...)`` fits y_i ~ N(X_i beta, Sigma_i(theta)) by
REML (or ML), where Sigma_i is the sub-matrix of a structured T x T covariance for the visits
subject i attended (missing visits are handled by the likelihood: all observed rows are used,
valid under missing at random). Inference on beta uses Satterthwaite, Kenward-Roger (SAS's
form, observed information, SAS's parameterisation of theta), its linear variant, or residual
degrees of freedom; model-based or empirical (sandwich) covariance. See ``docs/mmrm.md``.
"""

from __future__ import annotations

import copy
import itertools
import logging
import time
import warnings
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd
from scipy import linalg, stats

from ssctrial.exceptions import ConvergenceWarning, InputError, StatisticalWarning
from ssctrial.stats._covariance import COVARIANCE_STRUCTURES, make_structure
from ssctrial.stats._design_matrix import DesignSpec
from ssctrial.stats._mmrm_engine import EngineResult, MMRMEngine, RankDeficientError
from ssctrial.stats._mmrm_inference import (
    kenward_roger_adjusted,
    kenward_roger_test,
    satterthwaite_df,
    satterthwaite_test,
    t_quantile,
    two_sided_p,
)

__all__ = ["MMRMFit", "mmrm"]

logger = logging.getLogger(__name__)

DF_METHODS = ("satterthwaite", "kenward-roger", "kenward-roger-linear", "residual")
VCOV_TYPES = ("model", "empirical")

CovarianceName = Literal["us", "toep", "toeph", "ar1", "ar1h", "cs", "csh"]
DfMethod = Literal["satterthwaite", "kenward-roger", "kenward-roger-linear", "residual"]


def mmrm(
    data: pd.DataFrame,
    formula: str,
    *,
    subject: str,
    visit: str,
    covariance: CovarianceName = "us",
    df_method: DfMethod = "kenward-roger",
    reml: bool = True,
    group: str | None = None,
    vcov: Literal["model", "empirical"] = "model",
    max_iter: int = 100,
    tol: float = 1e-9,
) -> MMRMFit:
    """Fit a mixed model for repeated measures, as SAS PROC MIXED with a REPEATED statement.

    Parameters
    ----------
    data
        Long data: one row per subject and visit. Rows with a missing outcome or a missing
        model variable are left out (the subject's other rows are used).
    formula
        R-style mean model, e.g. ``"CHG ~ BASE + ARM * AVISIT + BASE:AVISIT"``. Non-numeric
        columns (or pandas Categoricals) are factors with treatment coding: the levels follow
        the Categorical's order when given, else sorted order, and the first level is the
        reference. Coefficient names follow R (``ARMCDTRT:AVISITVIS2``).
    subject
        Subject identifier column.
    visit
        Visit column; its level order (Categorical order, else sorted) indexes the covariance.
        In the formula a numeric visit column is a covariate: make it a Categorical to use it as
        a factor (as in R).
    covariance
        ``"us"`` (unstructured), ``"toep"``, ``"toeph"`` (heterogeneous Toeplitz), ``"ar1"``,
        ``"ar1h"``, ``"cs"`` (compound symmetry) or ``"csh"``.
    df_method
        ``"kenward-roger"`` (SAS ``ddfm=kr``; SEs from the adjusted covariance),
        ``"kenward-roger-linear"`` (SAS ``ddfm=kr(linear)``), ``"satterthwaite"`` or ``"residual"``.
    reml
        REML (default) or maximum likelihood.
    group
        Optional column (constant within subject): a separate covariance matrix per level,
        as SAS ``REPEATED / GROUP=``.
    vcov
        ``"model"`` (default) or ``"empirical"`` (sandwich, SAS ``EMPIRICAL``; df must then be
        ``"residual"``).
    max_iter, tol
        Newton iterations and convergence tolerance on the scaled score
        max_k |dl/dtheta_k| (|theta_k| + 1).

    Returns
    -------
    MMRMFit
        ``.coefficients`` (term, estimate, se, df, t, p), ``.lsmeans()``, ``.contrasts()``,
        ``.type3()``, ``.neg2_loglik``, ``.covariance_matrix``, ``.covariance_parameters``,
        ``.summary``, ``.converged_``, ``.convergence_``.

    Raises
    ------
    InputError
        Unknown option, missing column, non-numeric outcome, duplicate visits of a subject,
        rank-deficient design.

    Notes
    -----
    Maximises the restricted likelihood (Harville 1977) by Fisher scoring and then
    Newton-Raphson on analytic first and second derivatives, in SAS's parameterisation of the
    covariance, to |score| < ``tol``. Degrees of freedom: Satterthwaite (1946), multi-df F tests
    as Fai & Cornelius (1996); Kenward & Roger (1997) with the observed information, as SAS.

    Examples
    --------
    >>> fit = mmrm(df, "FEV1 ~ ARMCD * AVISIT", subject="USUBJID", visit="AVISIT")  # doctest: +SKIP
    >>> fit.contrasts("ARMCD", reference="PBO", by="AVISIT")  # doctest: +SKIP
    """
    started = time.perf_counter()
    config = _validate(data, formula, subject, visit, covariance, df_method, reml, group, vcov)
    prepared = _prepare(data, formula, subject, visit, group)
    fit = MMRMFit(prepared, config, max_iter=max_iter, tol=tol)
    logger.info("mmrm fitted in %.3f s (%s)", time.perf_counter() - started, fit.convergence_["message"])
    return fit


# --------------------------------------------------------------------------- validation
@dataclass(frozen=True)
class _Config:
    covariance: str
    df_method: str
    reml: bool
    vcov: str


def _validate(
    data: object,
    formula: str,
    subject: str,
    visit: str,
    covariance: str,
    df_method: str,
    reml: bool,
    group: str | None,
    vcov: str,
) -> _Config:
    if not isinstance(data, pd.DataFrame):
        msg = f"data must be a pandas DataFrame, got {type(data).__name__}"
        raise InputError(msg)
    if covariance not in COVARIANCE_STRUCTURES:
        msg = f"covariance {covariance!r} is not supported; use one of {sorted(COVARIANCE_STRUCTURES)}"
        raise InputError(msg)
    if df_method not in DF_METHODS:
        msg = f"df_method {df_method!r} is not supported; use one of {list(DF_METHODS)}"
        raise InputError(msg)
    if vcov not in VCOV_TYPES:
        msg = f"vcov {vcov!r} is not supported; use one of {list(VCOV_TYPES)}"
        raise InputError(msg)
    if vcov == "empirical" and df_method != "residual":
        msg = (
            f"vcov='empirical' supports df_method='residual' only (got {df_method!r}); "
            "pass df_method='residual'"
        )
        raise InputError(msg)
    if not isinstance(reml, bool):
        msg = f"reml must be True or False, got {reml!r}"
        raise InputError(msg)
    for name, col in (("subject", subject), ("visit", visit), ("group", group)):
        if col is None and name == "group":
            continue
        if not isinstance(col, str) or col not in data.columns:
            msg = f"{name} column {col!r} is not in the data; available columns: {list(data.columns)}"
            raise InputError(msg)
    return _Config(covariance, df_method, reml, vcov)


@dataclass
class _Prepared:
    spec: DesignSpec
    rows: pd.DataFrame  # analysed rows, sorted by subject and visit
    X: np.ndarray
    Y: np.ndarray
    mask: np.ndarray
    group_index: np.ndarray
    group_levels: list[object]
    group_col: str | None
    visit_levels: list[object]
    subjects: np.ndarray
    covariate_means: dict[str, float]


def _levels(col: pd.Series) -> list[object]:
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = set(col.dropna().unique())
        return [c for c in col.cat.categories if c in present]
    return sorted(
        col.dropna().unique().tolist(), key=lambda v: (0, v) if isinstance(v, (int, float)) else (1, str(v))
    )


def _prepare(data: pd.DataFrame, formula: str, subject: str, visit: str, group: str | None) -> _Prepared:
    spec0 = DesignSpec.from_formula(formula, data)  # validates the names
    response = spec0.response
    if not pd.api.types.is_numeric_dtype(data[response]) or pd.api.types.is_bool_dtype(data[response]):
        example = data[response].dropna().head(3).tolist()
        msg = (
            f"outcome column {response!r} must be numeric, found dtype {data[response].dtype} "
            f"(values like {example}); convert it with pd.to_numeric"
        )
        raise InputError(msg)
    keyed = data[data[subject].notna() & data[visit].notna()]
    dup = keyed.duplicated([subject, visit], keep=False)
    if dup.any():
        first = keyed.loc[dup, [subject, visit]].iloc[0]
        n_dup = int(dup.sum())
        msg = (
            f"subject {first[subject]!r} has more than one row for visit {first[visit]!r} "
            f"({n_dup} rows share a subject and visit); each subject may have one row per visit"
        )
        raise InputError(msg)
    needed = list(dict.fromkeys([subject, visit, response, *spec0.variables, *([group] if group else [])]))
    rows = data.loc[:, needed].dropna()
    if rows.empty:
        msg = f"no rows left after removing missing values in {needed}"
        raise InputError(msg)
    dropped = len(data) - len(rows)
    if dropped:
        logger.info("mmrm: %d of %d rows have missing values and are not analysed", dropped, len(data))
    # keep the user's categorical dtypes
    for col in rows.columns:
        if isinstance(data[col].dtype, pd.CategoricalDtype):
            rows[col] = rows[col].astype(data[col].dtype)
    spec = DesignSpec.from_formula(formula, rows)
    visit_levels = _levels(rows[visit])
    vcode = pd.Categorical(rows[visit], categories=visit_levels).codes
    scode, subjects = pd.factorize(rows[subject], sort=True)
    order = np.lexsort((vcode, scode))
    rows = rows.iloc[order].reset_index(drop=True)
    vcode, scode = vcode[order], scode[order]
    N, T = len(subjects), len(visit_levels)
    Xrows = spec.build(rows)
    p = Xrows.shape[1]
    X = np.zeros((N, T, p))
    Y = np.zeros((N, T))
    mask = np.zeros((N, T), dtype=bool)
    X[scode, vcode] = Xrows
    Y[scode, vcode] = rows[response].to_numpy(dtype=float)
    mask[scode, vcode] = True
    if group is not None:
        per_subject = rows.groupby(scode)[group].nunique()
        if (per_subject > 1).any():
            bad = subjects[int(per_subject.index[per_subject > 1][0])]
            msg = (
                f"group column {group!r} must be constant within subject; subject {bad!r} has several values"
            )
            raise InputError(msg)
        group_levels = _levels(rows[group])
        gcode = pd.Categorical(rows[group], categories=group_levels).codes
        group_index = np.zeros(N, dtype=np.int64)
        group_index[scode] = gcode
    else:
        group_levels = [None]
        group_index = np.zeros(N, dtype=np.int64)
    means = {c: float(rows[c].mean()) for c in spec.covariates}
    return _Prepared(
        spec, rows, X, Y, mask, group_index, group_levels, group, visit_levels, np.asarray(subjects), means
    )


def _start_values(prep: _Prepared, structures: list) -> np.ndarray:
    """OLS residuals -> pairwise covariance per group -> each structure's starting theta."""
    Xf = prep.X[prep.mask]
    yf = prep.Y[prep.mask]
    beta = np.linalg.solve(Xf.T @ Xf, Xf.T @ yf)
    r = np.where(prep.mask, prep.Y - prep.X @ beta, 0.0)
    m = prep.mask.astype(float)
    out = []
    for b, s in enumerate(structures):
        sel = prep.group_index == b
        rb, mb = r[sel], m[sel]
        counts = mb.T @ mb
        cov = (rb.T @ rb) / np.maximum(counts, 1.0)
        diag = np.diag(cov).copy()
        fallback = float(np.mean(diag[diag > 0])) if np.any(diag > 0) else 1.0
        diag[diag <= 0] = fallback
        np.fill_diagonal(cov, diag)
        out.append(s.start(cov))
    return np.concatenate(out)


# --------------------------------------------------------------------------- the fit
class MMRMFit:
    """A fitted MMRM (returned by :func:`mmrm`).

    Attributes
    ----------
    coefficients : pandas.DataFrame
        ``term, estimate, se, df, t, p`` per fixed effect (SEs and df by ``df_method``).
    neg2_loglik : float
        -2 x the (restricted) log-likelihood, SAS's ``-2 Res Log Like`` (``-2 Log Likelihood``
        under ML).
    covariance_matrix : pandas.DataFrame or dict
        Estimated T x T covariance over the visits (a dict by group level when ``group`` is set).
    covariance_parameters : pandas.DataFrame
        ``parameter, group, estimate, se`` in SAS's parameterisation and names.
    converged_ : bool
        Whether the optimiser met the tolerance.
    convergence_ : dict
        ``converged, iterations, max_abs_score, message``.
    """

    def __init__(self, prep: _Prepared, config: _Config, *, max_iter: int, tol: float) -> None:
        self._prep = prep
        self.config = config
        self.formula_spec = prep.spec
        self.visit_levels = prep.visit_levels
        self.n_obs = int(prep.mask.sum())
        self.n_subjects = int(prep.mask.any(axis=1).sum())
        self.n_visits = len(prep.visit_levels)
        structures = [make_structure(config.covariance, self.n_visits) for _ in prep.group_levels]
        self._structures = structures
        self._engine = MMRMEngine(prep.X, prep.Y, prep.mask, prep.group_index, structures, reml=config.reml)
        if self._engine.n_obs <= self._engine.p:
            msg = f"{self.n_obs} analysed rows cannot estimate {self._engine.p} fixed effects"
            raise InputError(msg)
        Xo = prep.X[prep.mask]
        norms = np.linalg.norm(Xo, axis=0)
        Xo = Xo / np.where(norms > 0, norms, 1.0)  # column scaling: rank is not fooled by units
        rank = np.linalg.matrix_rank(Xo.T @ Xo)
        if rank < self._engine.p:
            # prep.spec may be None when a caller builds _Prepared directly (ssctrial.power)
            response = getattr(prep.spec, "response", "outcome")
            columns = getattr(prep.spec, "column_names", list(range(self._engine.p)))
            msg = (
                f"the design matrix of {response!r} ~ ... has rank {rank} < {self._engine.p} "
                f"columns {columns}: some effects are not estimable (empty cells or "
                "collinear covariates); simplify the formula"
            )
            raise InputError(msg)
        theta0 = _start_values(prep, structures)
        try:
            res, info = self._engine.fit(theta0, max_iter=max_iter, tol=tol)
        except RankDeficientError as exc:
            msg = f"X'V^-1 X is singular during fitting ({exc}); check the formula for collinear terms"
            raise InputError(msg) from exc
        self._res: EngineResult = res
        self.convergence_ = info
        self.converged_ = bool(info["converged"])
        if not self.converged_:
            warnings.warn(
                f"MMRM did not converge: {info['message']} (max |score| = {info['max_abs_score']:.3g} "
                f"after {info['iterations']} iterations); estimates are not reliable",
                ConvergenceWarning,
                stacklevel=3,
            )
        self._set_result(res)

    def _set_result(self, res: EngineResult) -> None:
        self._res = res
        self.theta_ = res.theta
        self.beta_ = res.beta
        self.neg2_loglik = float(res.m2loglik)
        self.loglik = -self.neg2_loglik / 2
        n_theta = self._engine.q
        self.aic = self.neg2_loglik + 2 * n_theta
        self.bic = self.neg2_loglik + n_theta * np.log(self.n_subjects)
        assert res.hess is not None and res.G is not None
        self._G: np.ndarray = res.G
        info_mat = -res.hess
        try:
            linalg.cholesky(info_mat)
            self._W = np.linalg.inv(info_mat)
        except linalg.LinAlgError:
            warnings.warn(
                "the observed information of the covariance parameters is not positive definite "
                "(an estimate is on the boundary); Satterthwaite/Kenward-Roger df use a pseudo-inverse",
                StatisticalWarning,
                stacklevel=3,
            )
            self._W = np.linalg.pinv(info_mat)
        self._W = (self._W + self._W.T) / 2

    def _at_theta(self, theta: np.ndarray) -> MMRMFit:
        """Copy of this fit with every result evaluated at the given covariance parameters.

        No optimisation: for reproducing another program's output from its own (e.g. SAS's
        printed) covariance estimates. ``converged_`` is False on the copy.
        """
        new = copy.copy(self)
        for name in ("coefficients", "_kr_pieces", "_phi_kr", "_phi_kr_linear", "_phi_empirical"):
            new.__dict__.pop(name, None)
        theta = np.asarray(theta, dtype=float)
        if theta.shape != self.theta_.shape or not self._engine.valid(theta):
            msg = f"theta must be {self.theta_.size} values inside the parameter space {self.parameter_names}"
            raise InputError(msg)
        new._set_result(self._engine.evaluate(theta, order=2))
        new.converged_ = False
        new.convergence_ = {**self.convergence_, "converged": False, "message": "evaluated at supplied theta"}
        return new

    # ----------------------------------------------------------- covariance
    @property
    def parameter_names(self) -> list[str]:
        """SAS names of the covariance parameters (with the group level when grouped)."""
        names: list[str] = []
        for lev, s in zip(self._prep.group_levels, self._structures, strict=True):
            suffix = "" if self._prep.group_col is None else f" {self._prep.group_col}={lev}"
            names.extend(f"{n}{suffix}" for n in s.parameter_names)
        return names

    @property
    def covariance_parameters(self) -> pd.DataFrame:
        """Covariance parameters in SAS's parameterisation, with asymptotic SEs."""
        groups = [
            lev
            for lev, s in zip(self._prep.group_levels, self._structures, strict=True)
            for _ in range(s.n_par)
        ]
        names = [n for s in self._structures for n in s.parameter_names]
        return pd.DataFrame(
            {
                "parameter": names,
                "group": groups,
                "estimate": self.theta_,
                "se": np.sqrt(np.maximum(np.diag(self._W), 0.0)),
            }
        )

    @property
    def covariance_matrix(self) -> pd.DataFrame | dict[object, pd.DataFrame]:
        """Estimated covariance matrix over the visits (dict by group level if grouped)."""
        sig = self._engine.sigmas(self.theta_)
        frames = {
            lev: pd.DataFrame(sig[b], index=self.visit_levels, columns=self.visit_levels)
            for b, lev in enumerate(self._prep.group_levels)
        }
        if self._prep.group_col is None:
            return frames[None]
        return frames

    # ----------------------------------------------------------- inference core
    @cached_property
    def _kr_pieces(self) -> tuple[np.ndarray, np.ndarray | None]:
        """sum_kl W_kl Q_kl and sum_kl W_kl R_kl (None if the structure is linear)."""
        eng, res = self._engine, self._res
        T = eng.T
        W = self._W
        Wp, Z = res.extra["Wp"], res.extra["Z"]
        D, D2, Hs = res.extra["D"], res.extra["D2"], res.extra["H"]
        E = np.zeros((eng.n_patterns, T, T))
        sum_wr = np.zeros((eng.p, eng.p))
        any_r = False
        for b in range(eng.B):
            sl = slice(eng.offsets[b], eng.offsets[b + 1])
            pats = eng.patterns_in_group[b]
            Dt = np.einsum("kl,lab->kab", W[sl, sl], D[b])
            # E_g = sum_k D_k W_g Dt_k with Dt_k = sum_l W_kl D_l
            E[pats] = np.sum((D[b][:, None] @ Wp[pats][None]) @ Dt[:, None], axis=0)
            if D2[b] is not None:
                any_r = True
                S = np.einsum("kl,klab->ab", W[sl, sl], D2[b])
                sum_wr += np.einsum("ab,abpq->pq", S, Hs[b])
        EZ = E[eng.pattern] @ Z
        sum_wq = Z.reshape(-1, eng.p).T @ EZ.reshape(-1, eng.p)
        sum_wq = (sum_wq + sum_wq.T) / 2
        return sum_wq, (sum_wr if any_r else None)

    @cached_property
    def _phi_kr(self) -> np.ndarray:
        sum_wq, sum_wr = self._kr_pieces
        return kenward_roger_adjusted(self._res.phi, self._G, self._W, sum_wq, sum_wr)

    @cached_property
    def _phi_kr_linear(self) -> np.ndarray:
        sum_wq, _ = self._kr_pieces
        return kenward_roger_adjusted(self._res.phi, self._G, self._W, sum_wq, None)

    @cached_property
    def _phi_empirical(self) -> np.ndarray:
        res = self._res
        xv = np.einsum("nap,na->np", self._engine.X, res.extra["v"])  # X_i' V_i^{-1} r_i
        meat = xv.T @ xv
        return res.phi @ meat @ res.phi

    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the fixed effects used for inference (KR-adjusted under KR)."""
        names = self.formula_spec.column_names
        return pd.DataFrame(self._vcov_matrix(), index=names, columns=names)

    def _vcov_matrix(self, df_method: str | None = None) -> np.ndarray:
        method = df_method or self.config.df_method
        if self.config.vcov == "empirical":
            return self._phi_empirical
        if method == "kenward-roger":
            return self._phi_kr
        if method == "kenward-roger-linear":
            return self._phi_kr_linear
        return self._res.phi

    def _method(self, df_method: str | None) -> str:
        method = df_method or self.config.df_method
        if method not in DF_METHODS:
            msg = f"df_method {method!r} is not supported; use one of {list(DF_METHODS)}"
            raise InputError(msg)
        if self.config.vcov == "empirical" and method != "residual":
            msg = "an empirical-covariance fit supports df_method='residual' only"
            raise InputError(msg)
        return method

    def _estimate_rows(self, C: np.ndarray, df_method: str | None = None) -> pd.DataFrame:
        """estimate, se, df, t, p for each row of C (one-df contrasts)."""
        method = self._method(df_method)
        est = C @ self.beta_
        V = self._vcov_matrix(method)
        se = np.sqrt(np.sum((C @ V) * C, axis=1))
        if method == "residual":
            df = np.full(len(C), float(self.n_obs - len(self.beta_)))
        else:
            # for one-df contrasts the KR df equals the Satterthwaite df (Kenward & Roger 1997)
            df = satterthwaite_df(C, self._res.phi, self._G, self._W)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = est / se
        return pd.DataFrame({"estimate": est, "se": se, "df": df, "t": t, "p": two_sided_p(t, df)})

    def estimate(
        self,
        L: np.ndarray | pd.DataFrame,
        *,
        level: float = 0.95,
        df_method: str | None = None,
    ) -> pd.DataFrame:
        """Estimate each row of an arbitrary contrast matrix L (rows x coefficients).

        Returns
        -------
        pandas.DataFrame
            One row per row of L: ``estimate, se, df, t, p, lower, upper`` (index = L's index
            when L is a DataFrame).
        """
        C = self._as_matrix(L)
        tab = _add_ci(self._estimate_rows(C, df_method), level)
        if isinstance(L, pd.DataFrame):
            tab.index = L.index
        return tab

    def test(self, L: np.ndarray | pd.DataFrame, *, df_method: str | None = None) -> dict[str, float]:
        """F test of H0: L beta = 0 for an arbitrary contrast matrix L (rows x coefficients).

        Returns ``num_df, den_df, F, p`` (and ``kr_lambda`` under Kenward-Roger). ``L`` may be a
        DataFrame whose columns are coefficient names (missing names count as 0).
        """
        method = self._method(df_method)
        L = self._as_matrix(L)
        ell = int(np.linalg.matrix_rank(L))
        if ell < L.shape[0]:
            msg = f"L has {L.shape[0]} rows but rank {ell}; pass linearly independent rows"
            raise InputError(msg)
        res = self._res
        out: dict[str, float] = {"num_df": float(ell)}
        if method in ("kenward-roger", "kenward-roger-linear"):
            F, m, lam = kenward_roger_test(
                L, self.beta_, res.phi, self._vcov_matrix(method), self._G, self._W
            )
            out.update(den_df=m, F=F, kr_lambda=lam)
        else:
            V = self._vcov_matrix(method)
            Lb = L @ self.beta_
            F = float(Lb @ np.linalg.solve(L @ V @ L.T, Lb)) / ell
            if method == "residual":
                den = float(self.n_obs - len(self.beta_))
            else:
                _, den = satterthwaite_test(L, self.beta_, res.phi, self._G, self._W)
            out.update(den_df=den, F=F)
        out["p"] = float(stats.f.sf(out["F"], ell, out["den_df"]))
        return out

    def _as_matrix(self, L: np.ndarray | pd.DataFrame) -> np.ndarray:
        names = self.formula_spec.column_names
        if isinstance(L, pd.DataFrame):
            unknown = [c for c in L.columns if c not in names]
            if unknown:
                msg = f"contrast columns {unknown} are not coefficients; coefficients are {names}"
                raise InputError(msg)
            L = L.reindex(columns=names, fill_value=0.0).to_numpy(dtype=float)
        L = np.atleast_2d(np.asarray(L, dtype=float))
        if L.shape[1] != len(names):
            msg = f"L has {L.shape[1]} columns; the model has {len(names)} coefficients {names}"
            raise InputError(msg)
        return L

    # ----------------------------------------------------------- public tables
    @cached_property
    def coefficients(self) -> pd.DataFrame:
        """Fixed effects: term, estimate, se, df, t, p."""
        C = np.eye(len(self.beta_))
        tab = self._estimate_rows(C)
        tab.insert(0, "term", self.formula_spec.column_names)
        return tab

    def confint(self, *, level: float = 0.95) -> pd.DataFrame:
        """Coefficients with ``lower``/``upper`` confidence limits."""
        tab = self.coefficients.copy()
        return _add_ci(tab, level)

    @property
    def summary(self) -> pd.DataFrame:
        """Tidy table: fixed effects and covariance parameters, with the method recorded."""
        fixed = self.confint()
        fixed.insert(0, "kind", "fixed effect")
        cov = self.covariance_parameters.rename(columns={"parameter": "term"})
        cov.insert(0, "kind", "covariance")
        out = pd.concat([fixed, cov.drop(columns="group")], ignore_index=True)
        est = "REML" if self.config.reml else "ML"
        out["method"] = (
            f"MMRM {est}, {self.config.covariance}, df={self.config.df_method}, vcov={self.config.vcov}"
        )
        return out

    def __repr__(self) -> str:
        est = "REML" if self.config.reml else "ML"
        head = (
            f"MMRM fit ({est}, covariance={self.config.covariance}, df={self.config.df_method}); "
            f"{self.n_obs} observations, {self.n_subjects} subjects, {self.n_visits} visits; "
            f"-2 log-likelihood {self.neg2_loglik:.4f}; "
            f"{'converged' if self.converged_ else 'NOT CONVERGED: ' + self.convergence_['message']}"
        )
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            return head + "\n" + self.coefficients.to_string(index=False)

    # ----------------------------------------------------------- LS means
    def _factor_list(self, value: str | list[str] | None, what: str) -> list[str]:
        if value is None:
            return []
        cols = [value] if isinstance(value, str) else list(value)
        for c in cols:
            if c not in self.formula_spec.levels:
                msg = (
                    f"{what} {c!r} is not a factor of the model; factors are {list(self.formula_spec.levels)}"
                )
                raise InputError(msg)
        return cols

    @cached_property
    def _lsmean_grid(self) -> tuple[pd.DataFrame, np.ndarray]:
        """All level combinations of the model's factors, covariates at their means, and X."""
        spec = self.formula_spec
        all_factors = list(spec.levels)
        grid = pd.DataFrame(
            list(itertools.product(*(spec.levels[f] for f in all_factors))), columns=all_factors
        )
        for c, m in self._prep.covariate_means.items():
            grid[c] = m
        return grid, spec.build(grid)

    def _lsmean_matrix(self, factors: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
        """Grid of the given factors' levels and its LS-mean rows (equal weights elsewhere)."""
        spec = self.formula_spec
        grid, Xg = self._lsmean_grid
        keys = pd.DataFrame(list(itertools.product(*(spec.levels[f] for f in factors))), columns=factors)
        if not factors:
            return keys, Xg.mean(axis=0, keepdims=True)
        codes = np.zeros(len(grid), dtype=np.int64)
        mult = 1
        for f in reversed(factors):
            k = len(spec.levels[f])
            codes += mult * pd.Categorical(grid[f], categories=spec.levels[f]).codes
            mult *= k
        rows = np.zeros((len(keys), Xg.shape[1]))
        np.add.at(rows, codes, Xg)
        counts = np.bincount(codes, minlength=len(keys))
        return keys, rows / counts[:, None]

    def lsmeans(
        self,
        specs: str | list[str],
        by: str | list[str] | None = None,
        *,
        level: float = 0.95,
        df_method: str | None = None,
    ) -> pd.DataFrame:
        """Least-squares means of ``specs`` (within each level of ``by``).

        Equal weights over the levels of the other factors; covariates at their mean over the
        analysed rows (SAS ``LSMEANS`` and emmeans defaults).

        Returns
        -------
        pandas.DataFrame
            The ``specs`` and ``by`` columns, then ``estimate, se, df, lower, upper``.
        """
        s_cols = self._factor_list(specs, "specs")
        b_cols = self._factor_list(by, "by")
        if not s_cols:
            msg = "specs must name at least one factor"
            raise InputError(msg)
        keys, C = self._lsmean_matrix(b_cols + s_cols)
        tab = _add_ci(self._estimate_rows(C, df_method), level)
        out = pd.concat([keys[s_cols + b_cols].reset_index(drop=True), tab], axis=1)
        return out[[*s_cols, *b_cols, "estimate", "se", "df", "lower", "upper"]]

    def contrasts(
        self,
        specs: str,
        reference: object,
        by: str | list[str] | None = None,
        *,
        level: float = 0.95,
        df_method: str | None = None,
    ) -> pd.DataFrame:
        """Each level of ``specs`` minus ``reference`` (within each level of ``by``), on LS means.

        Returns
        -------
        pandas.DataFrame
            ``contrast`` (e.g. ``"TRT - PBO"``), the ``by`` columns, then
            ``estimate, se, df, t, p, lower, upper``.
        """
        s_cols = self._factor_list(specs, "specs")
        if len(s_cols) != 1:
            msg = f"contrasts take one factor in specs, got {s_cols}"
            raise InputError(msg)
        f = s_cols[0]
        lv = self.formula_spec.levels[f]
        if reference not in lv:
            msg = f"reference {reference!r} is not a level of {f!r}; levels are {lv}"
            raise InputError(msg)
        b_cols = self._factor_list(by, "by")
        keys, C = self._lsmean_matrix(b_cols + [f])
        ref_rows = keys[f] == reference
        rows, labels, by_vals = [], [], []
        key_tuples = [tuple(r) for r in keys[b_cols].itertuples(index=False)] if b_cols else [()] * len(keys)
        for by_key in dict.fromkeys(key_tuples):
            in_by = np.array([k == by_key for k in key_tuples])
            c_ref = C[in_by & ref_rows.to_numpy()][0]
            for lev in lv:
                if lev == reference:
                    continue
                c_lev = C[in_by & (keys[f] == lev).to_numpy()][0]
                rows.append(c_lev - c_ref)
                labels.append(f"{lev} - {reference}")
                by_vals.append(by_key)
        tab = self._estimate_rows(np.array(rows), df_method)
        tab = _add_ci(tab, level)
        out = pd.DataFrame({"contrast": labels})
        for j, c in enumerate(b_cols):
            out[c] = [k[j] for k in by_vals]
        out = pd.concat([out, tab], axis=1)
        return out[["contrast", *b_cols, "estimate", "se", "df", "t", "p", "lower", "upper"]]

    # ----------------------------------------------------------- Type III
    def type3_matrices(self) -> dict[str, np.ndarray]:
        """SAS Type III hypothesis matrix L of every model term (see docs/mmrm.md)."""
        spec = self.formula_spec
        factors = list(spec.levels)
        grid = pd.DataFrame(list(itertools.product(*(spec.levels[f] for f in factors))), columns=factors)
        for c in spec.covariates:
            grid[c] = 0.0
        out = {}
        for term in spec.terms:
            Xg = spec.build(grid, derivative=frozenset(term.covariates))
            weights = np.ones((len(grid), 1))
            for f in factors:
                k = len(spec.levels[f])
                if f in term.factors:
                    if term.contrast[f]:
                        w = np.vstack([-np.ones((1, k - 1)), np.eye(k - 1)])
                    else:
                        w = np.eye(k)
                else:
                    w = np.full((k, 1), 1.0 / k)
                weights = _expand(weights, w, pd.Categorical(grid[f], categories=spec.levels[f]).codes)
            L = weights.T @ Xg
            out[term.label] = L
        return out

    def type3(self, *, df_method: str | None = None) -> pd.DataFrame:
        """Type III F tests of every model term (SAS convention).

        Returns
        -------
        pandas.DataFrame
            ``term, num_df, den_df, F, p``.
        """
        rows = []
        for label, L in self.type3_matrices().items():
            t = self.test(L, df_method=df_method)
            rows.append(
                {"term": label, "num_df": t["num_df"], "den_df": t["den_df"], "F": t["F"], "p": t["p"]}
            )
        return pd.DataFrame(rows, columns=["term", "num_df", "den_df", "F", "p"])


def _expand(weights: np.ndarray, w: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Row-wise Kronecker product of the running weights with factor weights w[codes]."""
    n = weights.shape[0]
    return (weights[:, :, None] * w[codes][:, None, :]).reshape(n, -1)


def _add_ci(tab: pd.DataFrame, level: float) -> pd.DataFrame:
    if not 0 < level < 1:
        msg = f"level must be between 0 and 1, got {level!r}"
        raise InputError(msg)
    q = t_quantile(0.5 + level / 2, tab["df"].to_numpy(dtype=float))
    tab = tab.copy()
    tab["lower"] = tab["estimate"] - q * tab["se"]
    tab["upper"] = tab["estimate"] + q * tab["se"]
    return tab
