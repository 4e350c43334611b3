"""Blood RNA-seq simulation: realistic counts, planted dose-dependent effect, recoverable DE genes."""

from __future__ import annotations

import anndata
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ssctrial.datasets import load_go_gene_sets
from ssctrial.design import load_study
from ssctrial.exceptions import InputError
from ssctrial.simulate import load_simulation_parameters, simulate_rnaseq, simulate_trial_data, write_rnaseq


@pytest.fixture(scope="module")
def params():
    return load_simulation_parameters(load_study("basics"))


@pytest.fixture(scope="module")
def samples():
    trial = simulate_trial_data(load_study("basics"), n=48, seed=2021)
    r = trial.randomised[["subject", "arm"]]
    s = pd.concat([r.assign(visit="BL"), r.assign(visit="W12")]).sort_values(
        ["subject", "visit"], kind="stable"
    )
    s["sample_id"] = s["subject"] + "-" + s["visit"]
    return s.reset_index(drop=True)


@pytest.fixture(scope="module")
def simulated(samples, params):
    return simulate_rnaseq(samples, params, seed=2021)


def _paired_test(adata, arm):
    x = np.asarray(adata.X, dtype=float)
    logcpm = np.log2((x + 0.5) / x.sum(axis=1, keepdims=True) * 1e6)
    obs = adata.obs
    pre = logcpm[((obs["arm"] == arm) & (obs["visit"] == "BL")).to_numpy()]
    post = logcpm[((obs["arm"] == arm) & (obs["visit"] == "W12")).to_numpy()]
    res = stats.ttest_rel(post, pre, axis=0)
    return pd.DataFrame(
        {"diff": (post - pre).mean(axis=0), "pvalue": np.nan_to_num(res.pvalue, nan=1.0)},
        index=adata.var_names,
    )


def test_shape_genes_and_library_sizes(simulated, samples):
    adata, truth = simulated
    assert adata.shape == (96, 20598)  # 48 patients x (baseline, W12); every shipped protein-coding gene
    assert adata.obs_names.tolist() == samples["sample_id"].tolist()
    assert {"IL1RL1", "SYT17"} <= set(adata.var_names)
    assert np.issubdtype(adata.X.dtype, np.integer) and adata.X.min() >= 0
    lib = adata.obs["library_size"]
    # study file: median 25 M reads, log-SD 0.25
    assert 18e6 < lib.median() < 33e6
    detected = (np.asarray(adata.X) >= 10).mean(axis=0) > 0.5
    assert 0.5 < detected.mean() < 0.95  # many, not all, genes detected in blood


def test_mean_dispersion_trend_decreases_with_mean(simulated):
    adata, _ = simulated
    x = np.asarray(adata.X, dtype=float)
    base = x[(adata.obs["visit"] == "BL").to_numpy()]
    norm = base / base.sum(axis=1, keepdims=True) * base.sum(axis=1).mean()
    m, v = norm.mean(axis=0), norm.var(axis=0, ddof=1)
    ok = m > 1
    disp = (v[ok] - m[ok]) / m[ok] ** 2  # method of moments (includes the subject effect)
    low = np.median(disp[m[ok] < 20])
    high = np.median(disp[m[ok] > 1000])
    assert low > 2 * high > 0


def test_planted_truth(simulated, params):
    _, truth = simulated
    spec = params.rnaseq
    assert truth["planted"].sum() == spec.n_planted
    assert truth.loc["IL1RL1", "log2fc_full"] == -1.5 and truth.loc["SYT17", "log2fc_full"] == 1.2
    np.testing.assert_allclose(truth["log2fc_BARI2"], 0.45 * truth["log2fc_full"], rtol=1e-12)
    assert (truth["log2fc_CTRL"] == 0).all()
    go = load_go_gene_sets("BP")
    immune = set().union(*(go[t].genes for t in spec.go_terms))
    planted = truth.index[truth["planted"]]
    assert np.mean([g in immune for g in planted]) >= 0.7  # concentrated in the immune GO terms


def test_planted_genes_are_recoverable_by_a_simple_paired_test(simulated, params):
    adata, truth = simulated
    res = _paired_test(adata, "BARI4")
    rank = res["pvalue"].rank(method="first")
    n_planted = params.rnaseq.n_planted
    # IL1RL1 (down) and SYT17 (up) rank among the top n_planted genes, with the planted direction
    assert rank["IL1RL1"] <= n_planted and res.loc["IL1RL1", "diff"] < -0.8
    assert rank["SYT17"] <= n_planted and res.loc["SYT17", "diff"] > 0.6
    top = res["pvalue"].nsmallest(n_planted).index
    assert truth.loc[top, "planted"].mean() > 0.4  # 16 patients: most planted effects recovered
    # control: no effect planted, so the top genes are planted at the background rate only
    ctrl = _paired_test(adata, "CTRL")["pvalue"].nsmallest(n_planted).index
    assert truth.loc[ctrl, "planted"].mean() < 0.1
    # dose-dependent: the 2 mg arm recovers fewer planted genes than 4 mg
    b2 = _paired_test(adata, "BARI2")["pvalue"].nsmallest(n_planted).index
    assert truth.loc[b2, "planted"].mean() < truth.loc[top, "planted"].mean()


def test_same_seed_same_counts(samples, params, simulated):
    again, truth = simulate_rnaseq(samples, params, seed=2021)
    np.testing.assert_array_equal(again.X, simulated[0].X)
    pd.testing.assert_frame_equal(truth, simulated[1])


def test_write_h5ad_and_truth(tmp_path, simulated):
    adata, truth = simulated
    h5, csv = write_rnaseq(adata, truth, tmp_path / "rna" / "counts.h5ad")
    back = anndata.read_h5ad(h5)
    np.testing.assert_array_equal(np.asarray(back.X), np.asarray(adata.X))
    assert csv.name == "counts_truth.csv"
    t = pd.read_csv(csv, index_col="gene")
    np.testing.assert_allclose(t["log2fc_full"], truth["log2fc_full"], rtol=1e-5)
    with pytest.raises(InputError, match=r"must end in \.h5ad"):
        write_rnaseq(adata, truth, tmp_path / "counts.csv")


def test_bad_samples_are_refused(samples, params):
    with pytest.raises(InputError, match=r"samples: missing column\(s\) \['arm'\]"):
        simulate_rnaseq(samples.drop(columns="arm"), params, seed=1)
    dup = pd.concat([samples.head(2), samples.head(1)])
    with pytest.raises(InputError, match=r"sample_id '.*' appears twice"):
        simulate_rnaseq(dup, params, seed=1)
    bad = samples.assign(arm="PLACEBO")
    with pytest.raises(InputError, match=r"arm\(s\) \['PLACEBO'\] have no dose fraction"):
        simulate_rnaseq(bad, params, seed=1)
