"""QC: library sizes, size factors vs DESeq2's estimator, low-count rule, VST, PCA and outlier flags."""

from __future__ import annotations

import numpy as np
import pytest

from ssctrial.omics import compute_vst, create_qc_table, filter_low_counts


@pytest.fixture(scope="module")
def small(ref_counts, ref_samples):
    s = ref_samples[ref_samples["arm"] != "BARI2"]
    return ref_counts.iloc[:1500][s.index], s


def test_qc_table(small):
    counts, s = small
    qc = create_qc_table(counts, s)
    np.testing.assert_array_equal(qc["library_size"], counts.sum(axis=0).to_numpy())
    np.testing.assert_array_equal(qc["detected_genes"], (counts > 0).sum(axis=0).to_numpy())
    # size factors: median of ratios to the geometric mean (DESeq2 estimateSizeFactors), by hand
    x = counts.to_numpy(dtype=float)
    ok = (x > 0).all(axis=1)
    logx = np.log(x[ok])
    sf = np.exp(np.median(logx - logx.mean(axis=1, keepdims=True), axis=0))
    np.testing.assert_allclose(qc["size_factor"], sf, rtol=1e-10)
    assert {"PC1", "PC2", "mean_correlation", "outlier", "outlier_reason"} <= set(qc.columns)
    assert len(qc.attrs["pca_variance"]) == 2
    assert not qc["outlier"].any()  # clean simulated data


def test_outlier_sample_is_flagged(small):
    counts, s = small
    bad = counts.copy()
    rng = np.random.default_rng(0)
    sid = bad.columns[3]
    bad[sid] = rng.permutation(bad[sid].to_numpy())  # a scrambled sample
    qc = create_qc_table(bad, s)
    assert qc.loc[sid, "outlier"]
    assert "low correlation" in qc.loc[sid, "outlier_reason"]
    assert qc["outlier"].sum() == 1


def test_low_count_rule(small):
    counts, s = small
    kept, rule = filter_low_counts(counts, s, min_count=10)
    # smallest arm x visit group has 8 samples
    expected = counts.index[(counts >= 10).sum(axis=1) >= 8]
    assert list(kept) == list(expected)
    assert rule == f"kept genes with a count >= 10 in >= 8 samples: {len(expected)} of 1500 genes"


def test_vst_is_log2_like(small):
    counts, s = small
    vst = compute_vst(counts, s)
    assert vst.shape == counts.shape
    norm = counts / create_qc_table(counts, s, vst=vst)["size_factor"]
    high = norm.mean(axis=1) > 500
    # for well-expressed genes the VST approaches log2 of normalised counts
    diff = (vst[high] - np.log2(norm[high])).to_numpy()
    assert np.abs(diff - np.median(diff)).max() < 0.5
