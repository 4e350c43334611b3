"""Simulated power vs closed form, type I error of every method, reproducibility, Dask."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssctrial.power import build_endpoint_model, compute_closed_form_power, create_scenario_grid, run_power


def _normal_sd_rho(scenario):
    m = build_endpoint_model(scenario)
    p = m.primary_index + 1
    sd = float(np.sqrt(m.mvn_cov[p, p]))
    rho = float(m.mvn_cov[0, p] / np.sqrt(m.mvn_cov[0, 0] * m.mvn_cov[p, p]))
    return sd, rho


@pytest.mark.parametrize("method", ["ttest", "ancova"])
def test_power_agrees_with_noncentral_t_within_3_mc_se(method):
    grid = create_scenario_grid(
        n=[8, 16, 30], effect=[-5.3, -3.0], method=method, arms=("BARI4", "CTRL"), distribution="normal"
    )
    res = run_power(grid, sims=3000, seed=7, chunk_size=1500, include_null=False)
    for sc, row in zip(grid, res.table.itertuples(index=False), strict=True):
        sd, rho = _normal_sd_rho(sc)
        ref = float(compute_closed_form_power(sc.n, effect=sc.effect, sd=sd, correlation=rho, method=method))
        # Monte Carlo error only (normal data, no dropout): 3 binomial SEs of the simulated power
        assert abs(row.power - ref) <= 3 * row.power_se + 1e-3, (sc.n, sc.effect, row.power, ref)


def test_closed_form_matches_statsmodels():
    from statsmodels.stats.power import TTestIndPower

    n = np.array([10, 20, 40])
    ours = compute_closed_form_power(n, effect=-5.3, sd=5.8, alpha=0.05)
    ref = [TTestIndPower().power(effect_size=5.3 / 5.8, nobs1=k, alpha=0.05) for k in n]
    # independent implementation of the same noncentral-t formula
    np.testing.assert_allclose(ours, ref, rtol=1e-6)


@pytest.mark.parametrize(
    ("method", "arms", "sims"),
    [
        ("ancova", None, 3000),
        ("ttest", ("BARI4", "CTRL"), 3000),
        ("wilcoxon", ("BARI4", "CTRL"), 3000),
        ("kruskal", None, 3000),
        ("mmrm", ("BARI4", "CTRL"), 300),
    ],
)
def test_type1_error_within_3_mc_se_of_alpha(method, arms, sims):
    # n = 25 per arm: the chi-square approximation of Kruskal-Wallis is conservative in small samples
    grid = create_scenario_grid(n=25, effect=0.0, dropout=0.1, method=method, arms=arms, multiplicity="none")
    res = run_power(grid, sims=sims, seed=11, chunk_size=1000, include_null=False)
    for row in res.table.itertuples(index=False):
        if row.contrast == "any":
            continue
        se = np.sqrt(0.05 * 0.95 / sims)
        assert abs(row.power - 0.05) <= 3 * se, (method, row.contrast, row.power)


def test_same_seed_same_result_and_table_columns():
    grid = create_scenario_grid(n=[10, 20], effect=-4.0, dropout=0.2, multiplicity="holm")
    a = run_power(grid, sims=600, seed=3, chunk_size=250)
    b = run_power(grid, sims=600, seed=3, chunk_size=250)
    pd.testing.assert_frame_equal(a.table, b.table)
    c = run_power(grid, sims=600, seed=4, chunk_size=250)
    assert not a.table["power"].equals(c.table["power"])
    assert set(a.table["contrast"]) == {"BARI4 - CTRL", "BARI2 - CTRL", "any"}
    assert a.table["type1_error"].notna().all()


def test_progress_reports_every_chunk():
    seen = []
    grid = create_scenario_grid(n=[10, 20], effect=-4.0, arms=("BARI4", "CTRL"))
    run_power(grid, sims=300, chunk_size=100, progress=seen.append)
    assert len(seen) == 2 * 2 * 3  # scenarios x (alternative, null) x chunks
    assert seen[-1].trials_done == seen[-1].trials_total == 1200
    assert seen[-1].scenarios_done == 2


def test_dask_cluster_gives_identical_results():
    from dask.distributed import Client, LocalCluster

    grid = create_scenario_grid(n=[10, 16], effect=-5.3, dropout=0.1, method=["ancova", "wilcoxon"],
                                arms=("BARI4", "CTRL"))  # fmt: skip
    local = run_power(grid, sims=400, seed=5, chunk_size=100)
    with (
        LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        remote = run_power(grid, sims=400, seed=5, chunk_size=100, client=client)
        # the same through the scheduler's address, as `ssctrial power --scheduler tcp://...`
        by_address = run_power(grid, sims=400, seed=5, chunk_size=100, scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(local.table, by_address.table)
    pd.testing.assert_frame_equal(local.table, remote.table)


@pytest.mark.parametrize(
    ("method", "n", "arms"),
    [("ancova", 3, ("BARI4", "CTRL")), ("wilcoxon", 3, ("BARI4", "CTRL")), ("mmrm", 5, None)],
)
def test_trials_that_cannot_be_analysed_are_counted_not_raised(method, n, arms):
    # few patients and heavy dropout: some trials have an arm with nobody left at week 12, or an
    # unstructured covariance that cannot be estimated (MMRM)
    grid = create_scenario_grid(n=n, dropout=0.6, method=method, arms=arms)
    row = run_power(grid, sims=20, seed=1, chunk_size=10).table.iloc[0]
    assert 0 < row["failed"] < 20
    assert 0 <= row["power"] <= 1 and 0 <= row["type1_error"] <= 1
