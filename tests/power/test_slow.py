"""Fast path (compact model, batched ANCOVA) vs slow path (simulate -> store -> derive -> stats)."""

from __future__ import annotations

import numpy as np
import pytest

from ssctrial.exceptions import InputError
from ssctrial.power import run_power, run_power_slow


def test_fast_and_slow_paths_agree_within_mc_error():
    scenario = {"n": 8, "arms": ("BARI4", "CTRL"), "method": "ancova"}
    slow, per_trial = run_power_slow(scenario, sims=14, seed=1)
    fast = run_power(scenario, sims=4000, seed=1, include_null=False)
    s, f = slow.table.iloc[0], fast.table.iloc[0]
    assert len(per_trial) == 14 and per_trial["estimate"].notna().all()
    # estimand: the mean ANCOVA estimate of BARI4 - CTRL at week 12 (true -5.3). Tolerance: 3
    # combined Monte Carlo SEs (slow: SD/sqrt(14), ~0.7 points; fast: ~0.04). The slow path also
    # has permuted-block arm sizes, visit windows, missed visits and the simulator's withdrawals,
    # which the fast path's scenario (no dropout) leaves out: small next to this MC error.
    tol = 3 * np.hypot(s["bias_se"], f["bias_se"])
    assert abs(s["mean_estimate"] - f["mean_estimate"]) <= tol, (s["mean_estimate"], f["mean_estimate"], tol)
    # the spread of the estimates: the slow path's SD within a factor 2 of the fast path's (an SD
    # from 14 trials has a relative SE of ~20 %)
    assert 0.5 <= s["empirical_se"] / f["empirical_se"] <= 2.0


def test_slow_path_refuses_what_the_simulator_cannot_do():
    with pytest.raises(InputError, match="use effect=None, dropout=0"):
        run_power_slow({"n": 8, "effect": -3.0}, sims=1)
    with pytest.raises(InputError, match="the slow path runs 'ancova' or 'mmrm', got 'wilcoxon'"):
        run_power_slow({"n": 8, "method": "wilcoxon", "arms": ("BARI4", "CTRL")}, sims=1)
