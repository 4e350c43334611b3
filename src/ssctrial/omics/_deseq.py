"""DESeq2-style differential expression: the fixed entry point :func:`deseq` and :func:`fit_deseq`.

The model is DESeq2's (Love, Huber & Anders 2014, Genome Biology 15:550) as implemented by PyDESeq2
(Muzellec et al. 2023, Bioinformatics 39:btad547): median-of-ratios size factors, Cox-Reid gene-wise
dispersions shrunk towards a parametric trend, negative-binomial GLMs, Wald tests, Cook's distances
(outlier replacement for cells with >= 7 replicates, p-value filtering for >= 3), independent
filtering at ``alpha = 0.1`` and Benjamini-Hochberg adjustment. Added here: R-style model matrices
(with coefficient names as DESeq2's ``resultsNames``, all-zero columns of unbalanced nested designs
dropped), DESeq2 contrasts (triple, name, list of names, numeric), the likelihood-ratio test
(``test="lrt"``, DESeq2's ``nbinomLRT`` on the fitted dispersions) and a vectorised backend.
"""

from __future__ import annotations

import logging
import re
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import chi2

from ssctrial.exceptions import InputError
from ssctrial.omics._input import coerce_counts
from ssctrial.omics._nbglm import BatchedInference, fit_nb_glm

__all__ = ["DESeqFit", "create_model_matrix", "deseq", "fit_deseq"]

logger = logging.getLogger(__name__)

RESULT_COLUMNS = ["baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]
_TESTS = ("wald", "lrt")
_BACKENDS = ("batched", "pydeseq2")

Contrast = str | Sequence[Any] | np.ndarray | None


# ---------------------------------------------------------------------------------------------------
# model matrices
# ---------------------------------------------------------------------------------------------------
def _r_name(col: str, levels: dict[str, list[str]]) -> str:
    """Formulaic column name -> DESeq2 ``resultsNames`` style."""
    if col == "Intercept":
        return "Intercept"
    parts = col.split(":")
    if len(parts) == 1:
        m = re.fullmatch(r"(.+)\[T\.(.+)\]", col)
        if m and m.group(1) in levels:
            var, lev = m.group(1), m.group(2)
            return f"{var}_{lev}_vs_{levels[var][0]}"
    out = []
    for part in parts:
        m = re.fullmatch(r"(.+)\[(?:T\.)?(.+)\]", part)
        out.append(f"{m.group(1)}{m.group(2)}" if m else part)
    return ".".join(out)


def _formula_variables(design: str) -> list[str]:
    rhs = design.split("~", 1)[1]
    names = re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", rhs)
    return [n for n in dict.fromkeys(names) if n not in {"C", "I", "Q"}]


def _check_formula(design: object, samples: pd.DataFrame, *, field_name: str = "design") -> list[str]:
    if not isinstance(design, str) or "~" not in design:
        msg = (f"{field_name}={design!r} is not a formula; expected a string such as '~ subject + visit' "
               "over the columns of samples")
        raise InputError(msg)
    variables = _formula_variables(design)
    missing = [v for v in variables if v not in samples.columns]
    if missing:
        msg = (f"{field_name}={design!r} uses {missing} which are not columns of samples; "
               f"available columns: {list(samples.columns)}")
        raise InputError(msg)
    for v in variables:
        if samples[v].isna().any():
            bad = list(samples.index[samples[v].isna()][:5])
            msg = f"samples column {v!r} (used in {field_name}) has missing values, e.g. for samples {bad}"
            raise InputError(msg)
    return variables


def _prepare_factors(
    samples: pd.DataFrame, variables: list[str]
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    data = samples[variables].copy()
    levels: dict[str, list[str]] = {}
    for v in variables:
        col = data[v]
        if isinstance(col.dtype, pd.CategoricalDtype):
            col = col.cat.remove_unused_categories()
            col = col.cat.rename_categories([str(c) for c in col.cat.categories])
            data[v] = col
            levels[v] = list(col.cat.categories)
        elif pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
            as_str = col.astype(str)
            cats = sorted(as_str.unique())  # R's default: alphabetical levels
            data[v] = pd.Categorical(as_str, categories=cats)
            levels[v] = cats
    return data, levels


def create_model_matrix(samples: pd.DataFrame, design: str) -> pd.DataFrame:
    """Build a full-rank model matrix from an R-style formula, with DESeq2 coefficient names.

    Parameters
    ----------
    samples
        Sample metadata, indexed by sample id. String, boolean and categorical columns are factors
        (the first category, or the alphabetically first value, is the reference level, as in R);
        numeric columns are covariates.
    design
        Formula such as ``"~ subject + visit"`` or ``"~ arm + arm:subj_n + arm:visit"``.

    Returns
    -------
    pandas.DataFrame
        Samples x coefficients; columns named as DESeq2's ``resultsNames`` (``Intercept``,
        ``visit_W12_vs_W0``, ``armBARI4.visitW12``). Columns that are zero for every sample (as
        in nested designs with unequal group sizes) are dropped, as DESeq2's vignette advises.

    Raises
    ------
    InputError
        If the formula names unknown columns, a used column has missing values, or the matrix is
        rank-deficient after dropping zero columns (the message lists the dependent coefficients).
    """
    from formulaic import model_matrix

    variables = _check_formula(design, samples)
    data, levels = _prepare_factors(samples, variables)
    try:
        mm = model_matrix(design, data, ensure_full_rank=True)
    except Exception as exc:  # formulaic raises several kinds of error for bad formulas
        msg = f"design={design!r} could not be parsed: {exc}"
        raise InputError(msg) from exc
    df = pd.DataFrame(np.asarray(mm, dtype=float), index=samples.index,
                      columns=[_r_name(c, levels) for c in mm.columns])
    zero = (df == 0).all(axis=0)
    if zero.any():
        logger.info("design %s: dropping all-zero columns %s", design, list(df.columns[zero]))
        df = df.loc[:, ~zero]
    rank = np.linalg.matrix_rank(df.to_numpy())
    if rank < df.shape[1]:
        # name the columns that are linear combinations of earlier ones
        dependent = []
        kept: list[int] = []
        for j in range(df.shape[1]):
            if np.linalg.matrix_rank(df.iloc[:, [*kept, j]].to_numpy()) == len(kept) + 1:
                kept.append(j)
            else:
                dependent.append(df.columns[j])
        msg = (f"design={design!r} gives a model matrix of rank {rank} with {df.shape[1]} columns: "
               f"{dependent} are linear combinations of other columns; remove the confounded terms "
               "(e.g. a subject term with a between-subject factor: use the nested design "
               "'~ arm + arm:subj_n + arm:visit')")
        raise InputError(msg)
    if df.shape[0] <= df.shape[1]:
        msg = (f"design={design!r} has {df.shape[1]} coefficients for {df.shape[0]} samples; "
               "DESeq2 needs more samples than coefficients (residual degrees of freedom)")
        raise InputError(msg)
    df.attrs["levels"] = levels
    return df


# ---------------------------------------------------------------------------------------------------
# contrasts
# ---------------------------------------------------------------------------------------------------
def _lookup(name: str, columns: list[str]) -> int:
    if name in columns:
        return columns.index(name)
    msg = f"contrast names coefficient {name!r}, which is not in the model; coefficients: {columns}"
    raise InputError(msg)


def _contrast_vector(contrast: Contrast, mm: pd.DataFrame) -> tuple[np.ndarray, str]:
    cols = list(mm.columns)
    p = len(cols)
    levels: dict[str, list[str]] = mm.attrs.get("levels", {})
    if contrast is None:
        vec = np.zeros(p)
        vec[-1] = 1.0
        return vec, cols[-1]
    if isinstance(contrast, str):
        vec = np.zeros(p)
        vec[_lookup(contrast, cols)] = 1.0
        return vec, contrast
    if isinstance(contrast, np.ndarray) or (
        isinstance(contrast, Sequence) and len(contrast) == p and all(
            isinstance(x, int | float | np.number) and not isinstance(x, bool) for x in contrast)
    ):
        vec = np.asarray(contrast, dtype=float)
        if vec.shape != (p,):
            msg = f"numeric contrast has shape {vec.shape}; expected ({p},) for coefficients {cols}"
            raise InputError(msg)
        return vec, "numeric contrast " + ", ".join(f"{c}={v:g}" for c, v in zip(cols, vec, strict=True) if v)
    if isinstance(contrast, Sequence) and len(contrast) == 2 and all(
        isinstance(x, Sequence) and not isinstance(x, str) for x in contrast
    ):
        vec = np.zeros(p)
        for name in contrast[0]:
            vec[_lookup(str(name), cols)] += 1.0
        for name in contrast[1]:
            vec[_lookup(str(name), cols)] -= 1.0
        return vec, f"({' + '.join(map(str, contrast[0]))}) - ({' + '.join(map(str, contrast[1])) or '0'})"
    if isinstance(contrast, Sequence) and len(contrast) == 3 and all(isinstance(x, str) for x in contrast):
        factor, level, ref = contrast
        if factor not in levels:
            msg = (f"contrast factor {factor!r} is not a factor of the design; factors: {sorted(levels)}")
            raise InputError(msg)
        for lv in (level, ref):
            if lv not in levels[factor]:
                msg = f"contrast level {lv!r} is not a level of {factor!r}; levels: {levels[factor]}"
                raise InputError(msg)
        if level == ref:
            msg = f"contrast compares level {level!r} of {factor!r} with itself"
            raise InputError(msg)
        base = levels[factor][0]
        vec = np.zeros(p)
        main = [c for c in cols if c.startswith(f"{factor}_") and c.endswith(f"_vs_{base}")]
        if not main:
            inter = [c for c in cols if re.search(rf"(^|\.){re.escape(factor)}", c) and "." in c]
            msg = (f"factor {factor!r} enters the design only through interactions ({inter[:6]}...); "
                   "a (factor, level, reference) contrast is ambiguous there: pass a coefficient name "
                   "such as contrast='armBARI4.visitW12', or a pair of lists such as "
                   "(['armBARI4.visitW12'], ['armCTRL.visitW12'])")
            raise InputError(msg)
        if level != base:
            vec[_lookup(f"{factor}_{level}_vs_{base}", cols)] += 1.0
        if ref != base:
            vec[_lookup(f"{factor}_{ref}_vs_{base}", cols)] -= 1.0
        return vec, f"{factor} {level} vs {ref}"
    msg = (f"contrast={contrast!r} is not understood; allowed: None (last coefficient), a coefficient "
           "name, a (factor, level, reference) triple, a pair of lists of coefficient names, or a "
           f"numeric vector of length {p}")
    raise InputError(msg)


# ---------------------------------------------------------------------------------------------------
# the fit
# ---------------------------------------------------------------------------------------------------
@dataclass
class DESeqFit:
    """A fitted DESeq2 model (dispersions and coefficients) from which results are extracted.

    Attributes
    ----------
    design
        The design formula.
    model_matrix
        Samples x coefficients model matrix (DESeq2 coefficient names).
    dds
        The underlying :class:`pydeseq2.dds.DeseqDataSet`.
    backend
        ``"batched"`` (vectorised) or ``"pydeseq2"`` (PyDESeq2's per-gene solvers).
    seconds
        Wall time of the fit.
    """

    design: str
    model_matrix: pd.DataFrame
    dds: Any
    backend: str
    seconds: float
    samples: pd.DataFrame = field(repr=False)

    @property
    def coef_names(self) -> list[str]:
        """Coefficient names, as DESeq2's ``resultsNames``."""
        return list(self.model_matrix.columns)

    @property
    def dispersions(self) -> pd.DataFrame:
        """Per-gene ``genewise``, ``fitted`` (trend) and final ``dispersion`` estimates."""
        v = self.dds.var
        return pd.DataFrame({"genewise": v["genewise_dispersions"], "fitted": v["fitted_dispersions"],
                             "dispersion": v["dispersions"]})

    @property
    def size_factors(self) -> pd.Series:
        """Median-of-ratios size factors, indexed by sample."""
        return pd.Series(np.asarray(self.dds.obs["size_factors"]), index=self.samples.index,
                         name="size_factor")

    def _inference(self) -> Any:
        from pydeseq2.default_inference import DefaultInference

        return BatchedInference() if self.backend == "batched" else DefaultInference(n_cpus=1)

    def _stats(self, vec: np.ndarray, alpha: float) -> Any:
        from pydeseq2.ds import DeseqStats

        return DeseqStats(self.dds, contrast=vec, alpha=alpha, cooks_filter=True, independent_filter=True,
                          quiet=True, inference=self._inference())

    def results(
        self,
        contrast: Contrast = None,
        *,
        test: Literal["wald", "lrt"] = "wald",
        reduced: str | None = None,
        alpha: float = 0.1,
        shrink: bool = False,
    ) -> pd.DataFrame:
        """Extract a results table, as DESeq2's ``results()``.

        Parameters
        ----------
        contrast
            What to report (see :func:`deseq`); ``None`` is the last coefficient.
        test
            ``"wald"`` or ``"lrt"`` (likelihood-ratio test of the full against ``reduced``).
        reduced
            Reduced formula for ``test="lrt"``; it must be nested in the full design.
        alpha
            Target FDR of independent filtering (DESeq2's default 0.1).
        shrink
            Replace ``log2FoldChange`` and ``lfcSE`` by apeGLM-shrunk values (Zhu, Ibrahim & Love
            2019; PyDESeq2's ``lfc_shrink``, as DESeq2's ``lfcShrink(type="apeglm")``) for ranking
            and plots; ``stat``, ``pvalue`` and ``padj`` stay those of the unshrunk test. Only for a
            contrast that is a single coefficient; per-gene optimisation (slow on large data).

        Returns
        -------
        pandas.DataFrame
            See :func:`deseq`; ``attrs["shrunk"]`` tells whether LFCs were shrunk.
        """
        if test not in _TESTS:
            msg = f"test={test!r} is not allowed; allowed: 'wald', 'lrt'"
            raise InputError(msg)
        if not (isinstance(alpha, float | int) and 0 < alpha < 1):
            msg = f"alpha={alpha!r} must be a number strictly between 0 and 1"
            raise InputError(msg)
        vec, label = _contrast_vector(contrast, self.model_matrix)
        if test == "wald" and reduced is not None:
            msg = "reduced is only used with test='lrt'; drop it or set test='lrt'"
            raise InputError(msg)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)
            st = self._stats(vec, alpha)
            if test == "lrt":
                if reduced is None:
                    msg = "test='lrt' needs a reduced formula, e.g. reduced='~ arm + arm:subj_n + visit'"
                    raise InputError(msg)
                stat, df = self._lrt_statistic(reduced)
                st.run_wald_test()  # log2FoldChange and lfcSE of the reported coefficient, as DESeq2
                st.statistics = pd.Series(stat, index=self.dds.var_names)
                st.p_values = pd.Series(chi2.sf(stat, df), index=self.dds.var_names)
            st.summary()
            if shrink:
                single = np.flatnonzero(vec)
                if single.size != 1 or vec[single[0]] != 1.0:
                    msg = (f"shrink=True needs a contrast that is one coefficient (one of "
                           f"{self.coef_names}); got {label!r}")
                    raise InputError(msg)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", category=UserWarning)
                    st.lfc_shrink(coeff=self.coef_names[int(single[0])])
        res = st.results_df[RESULT_COLUMNS].copy()
        res.index.name = "gene"
        res.attrs = {"design": self.design, "test": test, "contrast": label, "alpha": alpha,
                     "backend": self.backend, "shrunk": bool(shrink)}
        if test == "lrt":
            res.attrs.update({"reduced": reduced, "df": int(df)})
        return res

    def _lrt_statistic(self, reduced: str) -> tuple[np.ndarray, int]:
        red = create_model_matrix(self.samples, reduced) if reduced.replace(" ", "") != "~1" else \
            pd.DataFrame({"Intercept": np.ones(len(self.samples))}, index=self.samples.index)
        full = self.model_matrix.to_numpy()
        r = red.to_numpy()
        df = full.shape[1] - r.shape[1]
        joint = np.linalg.matrix_rank(np.hstack([full, r]))
        if df <= 0 or joint != full.shape[1]:
            msg = (f"reduced={reduced!r} is not nested in design={self.design!r} (its columns must lie in "
                   f"the span of the full model's and it must have fewer: {r.shape[1]} vs {full.shape[1]})")
            raise InputError(msg)
        dds = self.dds
        counts = np.asarray(dds.X, dtype=float).copy()
        if "refitted" in dds.var and dds.var["refitted"].any() and hasattr(dds, "counts_to_refit"):
            genes = list(dds.counts_to_refit.var_names)
            pos = dds.var_names.get_indexer(genes)
            counts[:, pos] = dds.counts_to_refit.X
        nz = np.asarray(dds.var["non_zero"], dtype=bool)
        disp = np.asarray(dds.var["dispersions"], dtype=float)
        sf = np.asarray(dds.obs["size_factors"], dtype=float)
        stat = np.full(counts.shape[1], np.nan)
        ll_full = fit_nb_glm(counts[:, nz], full, sf, disp=disp[nz], min_mu=dds.min_mu,
                             beta_tol=dds.beta_tol)["loglik"]
        ll_red = fit_nb_glm(counts[:, nz], r, sf, disp=disp[nz], min_mu=dds.min_mu,
                            beta_tol=dds.beta_tol)["loglik"]
        stat[nz] = np.maximum(2.0 * (ll_full - ll_red), 0.0)
        return stat, df


def fit_deseq(
    counts: pd.DataFrame | Any,
    samples: pd.DataFrame,
    design: str,
    *,
    backend: Literal["batched", "pydeseq2"] = "batched",
    refit_cooks: bool = True,
    n_cpus: int = 1,
) -> DESeqFit:
    """Fit DESeq2's model once, to extract several results from it.

    Parameters
    ----------
    counts
        Raw counts: genes x samples DataFrame, or an AnnData (samples x genes).
    samples
        Sample metadata indexed by sample id (every count column must have a row).
    design
        R-style formula over ``samples``' columns.
    backend
        ``"batched"`` (default): PyDESeq2's pipeline with vectorised GLM/dispersion solvers;
        ``"pydeseq2"``: PyDESeq2's own per-gene solvers.
    refit_cooks
        Replace Cook's outliers in cells with >= 7 replicates and refit, as DESeq2.
    n_cpus
        Processes for PyDESeq2's per-gene solvers (``backend="pydeseq2"``).

    Returns
    -------
    DESeqFit
        Call :meth:`DESeqFit.results` for Wald or likelihood-ratio results.
    """
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference

    if backend not in _BACKENDS:
        msg = f"backend={backend!r} is not allowed; allowed: 'batched', 'pydeseq2'"
        raise InputError(msg)
    mat, samples = coerce_counts(counts, samples)
    mm = create_model_matrix(samples, design)
    inference = BatchedInference() if backend == "batched" else DefaultInference(n_cpus=n_cpus)
    t0 = time.perf_counter()
    logger.info("fitting DESeq2 model %s on %d samples x %d genes (%s backend)", design, *mat.shape, backend)
    with warnings.catch_warnings():
        # PyDESeq2 emits RuntimeWarnings (log of 0, overflow in exp) for all-zero or extreme genes
        # and UserWarnings about default settings; they are handled as DESeq2 does.
        warnings.simplefilter("ignore", category=RuntimeWarning)
        warnings.simplefilter("ignore", category=UserWarning)
        dds = DeseqDataSet(counts=mat, metadata=samples.copy(), design=mm, refit_cooks=refit_cooks,
                           quiet=True, inference=inference)
        dds.deseq2()
    seconds = time.perf_counter() - t0
    logger.info("DESeq2 fit finished (%.1f s)", seconds)
    return DESeqFit(design=design, model_matrix=mm, dds=dds, backend=backend, seconds=seconds,
                    samples=samples)


def deseq(
    counts: pd.DataFrame | Any,
    samples: pd.DataFrame,
    design: str,
    *,
    contrast: Contrast = None,
    test: Literal["wald", "lrt"] = "wald",
    reduced: str | None = None,
    alpha: float = 0.1,
    backend: Literal["batched", "pydeseq2"] = "batched",
) -> pd.DataFrame:
    """Differential expression with DESeq2's model and defaults.

    Parameters
    ----------
    counts
        Raw counts: a genes x samples DataFrame (index = gene symbols, columns = sample ids), or
        an AnnData (samples x genes, var names = genes, obs names = sample ids). Non-negative integers.
    samples
        Sample metadata indexed by sample id, with the columns the formula uses.
    design
        R-style formula over ``samples``' columns, e.g. ``"~ subject + visit"`` (paired) or
        ``"~ arm + arm:subj_n + arm:visit"`` (subjects nested in arms).
    contrast
        What to test/report, as DESeq2's ``results()``:

        - ``None``: the last coefficient (DESeq2's default);
        - a triple ``(factor, level, reference)``, e.g. ``("visit", "W12", "W0")``;
        - a coefficient name (``"armBARI4.visitW12"``; see :func:`create_model_matrix`);
        - a pair of lists of names, ``(["armBARI4.visitW12"], ["armCTRL.visitW12"])``: sum of the
          first minus sum of the second (DESeq2's list contrast);
        - a numeric vector over the coefficients.
    test
        ``"wald"`` (default) or ``"lrt"``.
    reduced
        For ``test="lrt"``: the reduced formula (nested in ``design``). The statistic is
        ``2 (logLik_full - logLik_reduced)`` with the full model's dispersions, chi-squared with the
        difference in number of coefficients as degrees of freedom (DESeq2's ``nbinomLRT``);
        ``log2FoldChange``/``lfcSE`` are the Wald values of ``contrast``.
    alpha
        Independent-filtering FDR target (DESeq2 default 0.1).
    backend
        ``"batched"`` (vectorised solvers) or ``"pydeseq2"``.

    Returns
    -------
    pandas.DataFrame
        One row per gene (index ``gene``, input order) with

        - ``baseMean``: mean of size-factor-normalised counts;
        - ``log2FoldChange``: the contrast on the log2 scale (MLE, not shrunk);
        - ``lfcSE``: its standard error;
        - ``stat``: Wald z (or LRT chi-squared statistic);
        - ``pvalue``: NaN for all-zero genes and Cook's outliers;
        - ``padj``: Benjamini-Hochberg after independent filtering (NaN where filtered).

        ``attrs`` records the design, test, contrast, alpha and backend.

    Raises
    ------
    InputError
        For invalid counts, samples, formula, contrast or test options (the message names them).

    Examples
    --------
    >>> res = deseq(counts, samples, "~ subject + visit", contrast=("visit", "W12", "W0"))  # doctest: +SKIP
    """
    if test not in _TESTS:
        msg = f"test={test!r} is not allowed; allowed: 'wald', 'lrt'"
        raise InputError(msg)
    if test == "lrt" and reduced is None:
        msg = "test='lrt' needs a reduced formula, e.g. reduced='~ arm + arm:subj_n + visit'"
        raise InputError(msg)
    fit = fit_deseq(counts, samples, design, backend=backend)
    return fit.results(contrast, test=test, reduced=reduced, alpha=alpha)
