"""The compact endpoint model reproduces the full simulator's primary endpoint; dropout patterns."""

from __future__ import annotations

import numpy as np
import pytest

from ssctrial.design import load_study
from ssctrial.power import PowerScenario, build_endpoint_model, draw_trials
from ssctrial.simulate import simulate_trial_data


def test_compact_model_matches_full_simulator_mrss():
    design = load_study("basics")
    full = simulate_trial_data(design, n=1500, seed=5)
    obs = full.observations
    mrss = obs[obs["instrument"] == "MRSS"]
    total = (
        mrss.assign(value=mrss["value"].astype(float))
        .groupby(["subject", "visit"], observed=True)["value"]
        .sum()
        .unstack()
    )
    arm = full.randomised.set_index("subject")["arm"]
    total = total.loc[total.index.intersection(arm.index)]
    chg = (total["W12"] - total["BL"]).dropna()
    base = total["BL"]
    model = build_endpoint_model(PowerScenario(n=16))
    batch = draw_trials(model, np.random.default_rng(1), 400)
    for a, code in enumerate(model.arms):
        ref_c = chg[arm.loc[chg.index] == code]
        ref_b = base[arm.loc[base.index] == code]
        sel = batch.arm_index == a
        ours_c = batch.chg[:, sel, batch.primary_index].ravel()
        ours_b = batch.base[:, sel].ravel()
        # ~500 simulated patients per arm in the full simulator: 4 Monte Carlo SEs of its mean;
        # its withdrawals (MAR, ~2-4 % by week 12) and visit windows are not in the compact model
        np.testing.assert_allclose(ours_c.mean(), ref_c.mean(), atol=4 * ref_c.std() / np.sqrt(len(ref_c)))
        np.testing.assert_allclose(ours_b.mean(), ref_b.mean(), atol=4 * ref_b.std() / np.sqrt(len(ref_b)))
        # SDs within 15 % (the SE of an SD of ~500 skewed values is ~4-5 %)
        np.testing.assert_allclose(ours_c.std(), ref_c.std(), rtol=0.15)
        np.testing.assert_allclose(ours_b.std(), ref_b.std(), rtol=0.15)


@pytest.mark.parametrize("pattern", ["uniform", "early", "late", "mar"])
def test_dropout_rate_and_pattern(pattern):
    model = build_endpoint_model(PowerScenario(n=50, dropout=0.2, dropout_pattern=pattern, effect=0.0))
    batch = draw_trials(model, np.random.default_rng(2), 200)
    missing = 1 - batch.observed.mean(axis=(0, 1))  # by visit
    assert np.all(np.diff(missing) >= 0)  # monotone dropout
    se = np.sqrt(0.2 * 0.8 / batch.observed[:, :, 0].size)
    if pattern == "mar":
        # hazard rises with observed worsening: at least the nominal rate, never absurdly more
        assert 0.2 - 4 * se <= missing[-1] <= 0.5
    else:
        assert abs(missing[-1] - 0.2) <= 4 * se
    if pattern == "early":
        assert missing[0] > 0.2 * 0.3
    if pattern == "late":
        assert missing[0] < 0.2 * 0.2


def test_normal_model_has_the_analytic_covariance():
    model = build_endpoint_model(PowerScenario(n=16, distribution="normal"))
    batch = draw_trials(model, np.random.default_rng(3), 2000)
    x = np.concatenate([batch.base[..., None], batch.chg - model.mean_change[batch.arm_index]], axis=2)
    cov = np.cov(x.reshape(-1, x.shape[2]).T)
    # 96,000 draws: sample covariances within 3 % of the target (relative SE ~0.5 %)
    np.testing.assert_allclose(cov, model.mvn_cov, rtol=0.03, atol=0.3)
