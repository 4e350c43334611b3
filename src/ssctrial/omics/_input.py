"""Input checks for transcriptome data: raw counts plus sample metadata (subject, visit, arm)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ssctrial.exceptions import InputError

__all__ = ["assert_counts", "assert_omics_samples", "coerce_counts", "read_counts"]


def _is_anndata(obj: object) -> bool:
    return type(obj).__name__ == "AnnData" and hasattr(obj, "obs") and hasattr(obj, "X")


def _dense(x: Any) -> np.ndarray:
    if hasattr(x, "toarray"):
        x = x.toarray()
    return np.asarray(x)


def assert_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """Check a samples x genes count table and return it as int64.

    Parameters
    ----------
    counts
        Samples x genes DataFrame (index = sample ids, columns = gene symbols).

    Returns
    -------
    pandas.DataFrame
        The same table with dtype int64.

    Raises
    ------
    InputError
        If sample ids or gene names are missing or duplicated, or a count is missing, negative,
        non-integer or non-numeric (the message names the sample and gene).
    """
    if counts.shape[0] == 0 or counts.shape[1] == 0:
        msg = f"counts is empty (shape {counts.shape}); expected samples x genes raw counts"
        raise InputError(msg)
    for axis, what in ((counts.index, "sample id"), (counts.columns, "gene")):
        if axis.isna().any():
            msg = f"counts has a missing {what}; every {what} must be named"
            raise InputError(msg)
        dup = axis[axis.duplicated()].unique()
        if len(dup):
            msg = f"counts has duplicated {what}s: {list(dup[:5])}; {what}s must be unique"
            raise InputError(msg)
    non_numeric = [c for c in counts.columns if not pd.api.types.is_numeric_dtype(counts[c])]
    if non_numeric:
        msg = f"counts has non-numeric values for genes {non_numeric[:5]}; expected integer counts >= 0"
        raise InputError(msg)
    values = counts.to_numpy(dtype=float)
    checks = (
        (np.isnan(values), "missing values", "a count for every sample and gene"),
        (values < 0, "negative values", "integer counts >= 0"),
        (np.isfinite(values) & (values != np.round(values)), "non-integer values",
         "raw integer counts (not normalised or TPM values)"),
        (np.isinf(values), "infinite values", "finite integer counts"),
    )
    for mask, what, allowed in checks:
        if mask.any():
            i, j = np.argwhere(mask)[0]
            msg = (f"counts has {what} ({int(mask.sum())} cells), e.g. sample {counts.index[i]!r}, "
                   f"gene {counts.columns[j]!r}: {values[i, j]!r}; expected {allowed}")
            raise InputError(msg)
    return counts.astype("int64")


def coerce_counts(counts: Any, samples: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn counts (genes x samples DataFrame or AnnData) into a checked samples x genes table.

    Parameters
    ----------
    counts
        Genes x samples DataFrame, or AnnData (samples x genes).
    samples
        Sample metadata indexed by sample id; ``None`` takes ``obs`` of the AnnData.

    Returns
    -------
    tuple of DataFrame
        ``(counts samples x genes int64, samples aligned to the same order)``.

    Raises
    ------
    InputError
        If the inputs have the wrong type, or sample ids do not match.
    """
    if _is_anndata(counts):
        mat = pd.DataFrame(_dense(counts.X), index=pd.Index(counts.obs_names, dtype=str),
                           columns=pd.Index(counts.var_names, dtype=str))
        if samples is None:
            samples = counts.obs.copy()
    elif isinstance(counts, pd.DataFrame):
        mat = counts.T
    else:
        msg = (f"counts is a {type(counts).__name__}; expected a genes x samples pandas DataFrame or "
               "an AnnData (samples x genes)")
        raise InputError(msg)
    if not isinstance(samples, pd.DataFrame):
        msg = f"samples is a {type(samples).__name__}; expected a DataFrame indexed by sample id"
        raise InputError(msg)
    if samples.index.duplicated().any():
        dup = list(samples.index[samples.index.duplicated()].unique()[:5])
        msg = f"samples has duplicated sample ids {dup}; sample ids must be unique"
        raise InputError(msg)
    mat = assert_counts(mat)
    missing = [s for s in mat.index if s not in samples.index]
    if missing:
        msg = (f"{len(missing)} count sample(s) have no row in samples, e.g. {missing[:5]}; samples must be "
               "indexed by the same sample ids as the count columns")
        raise InputError(msg)
    samples = samples.loc[mat.index].copy()
    return mat, samples


def assert_omics_samples(
    samples: pd.DataFrame,
    *,
    visits: Iterable[str] | None = None,
    arms: Iterable[str] | None = None,
    subject_col: str = "subject",
    visit_col: str = "visit",
    arm_col: str = "arm",
) -> pd.DataFrame:
    """Check trial sample metadata: one row per sample, each subject in one arm, design visits present.

    Parameters
    ----------
    samples
        Sample metadata indexed by sample id.
    visits
        Visit codes the analysis needs (e.g. ``["BL", "W12"]``); each must have samples.
    arms
        Allowed arm codes (e.g. the study's ``arm_codes``).
    subject_col, visit_col, arm_col
        Column names.

    Returns
    -------
    pandas.DataFrame
        A copy of ``samples``.

    Raises
    ------
    InputError
        For missing columns or values, duplicated sample ids or (subject, visit) pairs, a subject in
        more than one arm, unknown arms, or design visits without samples.
    """
    if not isinstance(samples, pd.DataFrame):
        msg = f"samples is a {type(samples).__name__}; expected a DataFrame indexed by sample id"
        raise InputError(msg)
    missing = [c for c in (subject_col, visit_col, arm_col) if c not in samples.columns]
    if missing:
        msg = f"samples lacks column(s) {missing}; columns present: {list(samples.columns)}"
        raise InputError(msg)
    if samples.index.duplicated().any():
        dup = list(samples.index[samples.index.duplicated()].unique()[:5])
        msg = f"samples has duplicated sample ids {dup}; sample ids must be unique"
        raise InputError(msg)
    for c in (subject_col, visit_col, arm_col):
        if samples[c].isna().any():
            bad = list(samples.index[samples[c].isna()][:5])
            msg = f"samples column {c!r} has missing values for samples {bad}"
            raise InputError(msg)
    arms_per_subject = samples.groupby(subject_col, observed=True)[arm_col].nunique()
    multi = arms_per_subject[arms_per_subject > 1]
    if len(multi):
        s = multi.index[0]
        found = sorted(samples.loc[samples[subject_col] == s, arm_col].astype(str).unique())
        msg = (f"subject {s!r} appears in more than one arm ({found}); each subject must belong to "
               f"exactly one arm ({len(multi)} subject(s) affected)")
        raise InputError(msg)
    pair = samples[[subject_col, visit_col]].astype(str)
    dup_pair = pair.duplicated(keep=False)
    if dup_pair.any():
        row = pair[dup_pair].iloc[0]
        ids = list(samples.index[dup_pair & (pair[subject_col] == row[subject_col])
                                 & (pair[visit_col] == row[visit_col])])
        msg = (f"subject {row[subject_col]!r} has more than one sample at visit {row[visit_col]!r} "
               f"(samples {ids}); keep one sample per subject and visit")
        raise InputError(msg)
    if arms is not None:
        allowed = [str(a) for a in arms]
        unknown = sorted(set(samples[arm_col].astype(str)) - set(allowed))
        if unknown:
            msg = f"samples column {arm_col!r} has unknown arm(s) {unknown}; allowed: {allowed}"
            raise InputError(msg)
    if visits is not None:
        present = set(samples[visit_col].astype(str))
        absent = [v for v in visits if str(v) not in present]
        if absent:
            msg = (f"design visit(s) {absent} have no samples; visits present in samples: "
                   f"{sorted(present)}")
            raise InputError(msg)
    return samples.copy()


def read_counts(path: str) -> Any:
    """Read an ``.h5ad`` file of raw counts (samples x genes) with sample metadata in ``obs``.

    Parameters
    ----------
    path
        Path of the ``.h5ad`` file.

    Returns
    -------
    anndata.AnnData
        The counts; ``obs`` holds subject, visit and arm.

    Raises
    ------
    InputError
        If the file does not exist or is not an AnnData file.
    """
    from pathlib import Path

    import anndata as ad

    p = Path(path)
    if not p.is_file():
        msg = f"counts file {str(p)!r} does not exist; expected an .h5ad file (samples x genes)"
        raise InputError(msg)
    try:
        return ad.read_h5ad(p)
    except Exception as exc:  # h5py raises OSError, anndata several kinds
        msg = f"counts file {str(p)!r} could not be read as AnnData (.h5ad): {exc}"
        raise InputError(msg) from exc
