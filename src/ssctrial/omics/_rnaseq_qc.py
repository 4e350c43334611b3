"""Quality control of RNA-seq counts: library sizes, detected genes, size factors, VST, PCA, outliers."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd

from ssctrial.exceptions import InputError
from ssctrial.omics._input import coerce_counts

__all__ = ["compute_vst", "create_qc_table", "filter_low_counts"]

logger = logging.getLogger(__name__)


def filter_low_counts(
    counts: pd.DataFrame | Any,
    samples: pd.DataFrame,
    *,
    min_count: int = 10,
    min_samples: int | None = None,
    group_cols: tuple[str, ...] = ("arm", "visit"),
) -> tuple[pd.Index, str]:
    """Genes kept by the low-count pre-filter of the DESeq2 vignette.

    Parameters
    ----------
    counts
        Genes x samples DataFrame or AnnData (samples x genes).
    samples
        Sample metadata indexed by sample id.
    min_count
        A count at least this large counts as "expressed" (vignette: 10).
    min_samples
        Number of samples that must reach ``min_count``; default the size of the smallest group
        defined by ``group_cols`` (vignette: "the smallest group size").
    group_cols
        Columns defining the groups for the default ``min_samples``; those absent are ignored.

    Returns
    -------
    tuple
        ``(kept gene names, rule)`` where ``rule`` states the rule and how many genes it kept.
    """
    mat, samples = coerce_counts(counts, samples)
    if not (isinstance(min_count, int) and min_count >= 0):
        msg = f"min_count={min_count!r} must be an integer >= 0"
        raise InputError(msg)
    if min_samples is None:
        cols = [c for c in group_cols if c in samples.columns]
        min_samples = int(samples.groupby(cols, observed=True).size().min()) if cols else 1
    if not (isinstance(min_samples, int) and 1 <= min_samples <= len(mat)):
        msg = f"min_samples={min_samples!r} must be an integer from 1 to the number of samples ({len(mat)})"
        raise InputError(msg)
    keep = (mat.to_numpy() >= min_count).sum(axis=0) >= min_samples
    kept = mat.columns[keep]
    rule = (f"kept genes with a count >= {min_count} in >= {min_samples} samples: "
            f"{len(kept)} of {mat.shape[1]} genes")
    logger.info(rule)
    return kept, rule


def compute_vst(counts: pd.DataFrame | Any, samples: pd.DataFrame) -> pd.DataFrame:
    """Variance-stabilising transformation (DESeq2 ``vst(blind=TRUE)``, parametric trend).

    Parameters
    ----------
    counts
        Genes x samples DataFrame or AnnData (samples x genes).
    samples
        Sample metadata indexed by sample id.

    Returns
    -------
    pandas.DataFrame
        Genes x samples VST values (log2-like scale).
    """
    from pydeseq2.dds import DeseqDataSet

    from ssctrial.omics._nbglm import BatchedInference

    mat, samples = coerce_counts(counts, samples)
    design = pd.DataFrame({"Intercept": np.ones(len(mat))}, index=mat.index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        warnings.simplefilter("ignore", category=UserWarning)
        dds = DeseqDataSet(counts=mat, metadata=samples, design=design, quiet=True,
                           inference=BatchedInference())
        dds.vst(use_design=False)
    return pd.DataFrame(np.asarray(dds.layers["vst_counts"]).T, index=mat.columns, columns=mat.index)


def _robust_z(x: np.ndarray, floor: float) -> np.ndarray:
    """(x - median) / (1.4826 MAD), the MAD floored so that near-identical samples are not flagged."""
    med = np.median(x)
    mad = max(1.4826 * np.median(np.abs(x - med)), floor)
    return (x - med) / mad


def create_qc_table(
    counts: pd.DataFrame | Any,
    samples: pd.DataFrame,
    *,
    n_top: int = 500,
    outlier_z: float = 3.0,
    vst: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per-sample QC: library size, detected genes, size factor, correlation, PCA and outlier flags.

    Parameters
    ----------
    counts
        Genes x samples DataFrame or AnnData (samples x genes).
    samples
        Sample metadata indexed by sample id (its columns are carried to the output).
    n_top
        Number of most variable VST genes used for PCA (DESeq2 ``plotPCA``: 500).
    outlier_z
        Robust z-score (median/MAD) beyond which a sample is flagged.
    vst
        Precomputed :func:`compute_vst` output (computed if omitted).

    Returns
    -------
    pandas.DataFrame
        One row per sample (index sample id): the ``samples`` columns plus

        - ``library_size``: total counts; ``detected_genes``: genes with a count > 0;
        - ``size_factor``: DESeq2 median-of-ratios size factor;
        - ``mean_correlation``: mean Pearson correlation of its VST profile with the other samples;
        - ``PC1``, ``PC2``: principal-component scores (``attrs["pca_variance"]`` has the
          proportions of variance);
        - ``outlier``: flagged when the robust z (median/MAD, MAD floored at 10 % library size,
          2 % of detected genes and 0.01 correlation) of log library size or detected genes
          is beyond ``outlier_z`` on either side, or that of the mean correlation below
          ``-outlier_z`` (PCA position is not a criterion: treatment effects move samples there);
        - ``outlier_reason``: which criteria flagged it.
    """
    from pydeseq2.preprocessing import deseq2_norm

    mat, samples = coerce_counts(counts, samples)
    if vst is None:
        vst = compute_vst(mat.T, samples)
    x = mat.to_numpy(dtype=float)
    out = samples.copy()
    out["library_size"] = x.sum(axis=1)
    out["detected_genes"] = (x > 0).sum(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        _, sf = deseq2_norm(x)
    out["size_factor"] = sf
    v = vst[mat.index].to_numpy()  # genes x samples
    corr = np.corrcoef(v.T)
    np.fill_diagonal(corr, np.nan)
    out["mean_correlation"] = np.nanmean(corr, axis=1)
    var = v.var(axis=1)
    top = np.argsort(var)[::-1][: min(n_top, v.shape[0])]
    centred = v[top].T - v[top].T.mean(axis=0)
    u, d, _ = np.linalg.svd(centred, full_matrices=False)
    scores = u * d
    prop = d**2 / (d**2).sum()
    out["PC1"] = scores[:, 0]
    out["PC2"] = scores[:, 1] if scores.shape[1] > 1 else 0.0
    det = out["detected_genes"].to_numpy(dtype=float)
    crit = {
        # MAD floors: 10 % library size, 2 % of detected genes, 0.01 correlation
        "library size": np.abs(_robust_z(np.log(out["library_size"].to_numpy() + 1), 0.1)) > outlier_z,
        "detected genes": np.abs(_robust_z(det, 0.02 * float(np.median(det)))) > outlier_z,
        "low correlation": _robust_z(out["mean_correlation"].to_numpy(), 0.01) < -outlier_z,
    }
    reasons = [", ".join(k for k, m in crit.items() if m[i]) for i in range(len(out))]
    out["outlier"] = [bool(r) for r in reasons]
    out["outlier_reason"] = reasons
    out.attrs["pca_variance"] = prop[:2].tolist()
    out.attrs["n_top"] = int(len(top))
    return out
