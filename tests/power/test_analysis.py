"""Batched analyses against independent implementations (statsmodels OLS, scipy tests), per trial."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from ssctrial.power._analysis import (
    BatchResult,
    adjust_batch,
    analyse_ancova,
    analyse_kruskal,
    analyse_ttest,
    analyse_wilcoxon,
)
from ssctrial.power._model import build_endpoint_model, draw_trials
from ssctrial.power._scenario import make_scenario
from ssctrial.stats import adjust_pvalues


def _batch(arms, dropout=0.2, seed=3, trials=4):
    model = build_endpoint_model(make_scenario({"n": 12, "dropout": dropout, "arms": arms}))
    return model, draw_trials(model, np.random.default_rng(seed), trials)


def _trial_frame(model, batch, i):
    p = batch.primary_index
    d = pd.DataFrame(
        {
            "y": batch.chg[i, :, p],
            "x": batch.base[i],
            "arm": np.array(model.arms)[batch.arm_index],
        }
    )
    return d[batch.observed[i, :, p]]


def test_ancova_matches_statsmodels_ols_per_trial():
    model, batch = _batch(None)
    res = analyse_ancova(batch)
    for i in range(batch.base.shape[0]):
        d = _trial_frame(model, batch, i)
        fit = smf.ols('y ~ x + C(arm, Treatment("CTRL"))', d).fit()
        names = [f'C(arm, Treatment("CTRL"))[T.{a}]' for a in model.arms[1:]]
        # same least-squares problem solved two ways: agreement to rounding error
        np.testing.assert_allclose(res.estimate[i], fit.params[names].to_numpy(), rtol=1e-9)
        np.testing.assert_allclose(res.se[i], fit.bse[names].to_numpy(), rtol=1e-9)
        np.testing.assert_allclose(res.p[i], fit.pvalues[names].to_numpy(), rtol=1e-7)
        assert res.df[i, 0] == fit.df_resid


def test_ttest_wilcoxon_kruskal_match_scipy_per_trial():
    model, batch = _batch(("BARI4", "CTRL"))
    t_res, w_res, k_res = analyse_ttest(batch), analyse_wilcoxon(batch), analyse_kruskal(batch)
    for i in range(batch.base.shape[0]):
        d = _trial_frame(model, batch, i)
        a, c = d.y[d.arm == "BARI4"], d.y[d.arm == "CTRL"]
        # scipy's own tests (integer scores: many ties, so the tie corrections are exercised)
        np.testing.assert_allclose(t_res.p[i, 0], stats.ttest_ind(a, c).pvalue, rtol=1e-9)
        mw = stats.mannwhitneyu(a, c, method="asymptotic", use_continuity=True)
        np.testing.assert_allclose(w_res.p[i, 0], mw.pvalue, rtol=1e-9)
        np.testing.assert_allclose(k_res.p[i, 0], stats.kruskal(a, c).pvalue, rtol=1e-9)


def test_kruskal_three_arms_matches_scipy():
    model, batch = _batch(None)
    res = analyse_kruskal(batch)
    for i in range(batch.base.shape[0]):
        d = _trial_frame(model, batch, i)
        ref = stats.kruskal(*[d.y[d.arm == g] for g in model.arms]).pvalue
        np.testing.assert_allclose(res.p[i, 0], ref, rtol=1e-9)


@pytest.mark.parametrize("method", ["holm", "hochberg", "bonferroni"])
def test_multiplicity_matches_adjust_pvalues(method):
    rng = np.random.default_rng(1)
    p = rng.random((200, 3)) * 0.1
    res = BatchResult(p * 0, p * 0, p * 0 + 10, p)
    rej = adjust_batch(res, method=method, alpha=0.05)
    ref = np.array([adjust_pvalues(row, method=method) <= 0.05 for row in p])
    np.testing.assert_array_equal(rej, ref)


def test_dunnett_critical_value_gives_alpha():
    from ssctrial.power._analysis import _dunnett_critical
    from ssctrial.stats import adjust_dunnett

    r = np.array([[1.0, 0.5], [0.5, 1.0]])
    c = _dunnett_critical(0.05, 30.0, tuple(r.ravel()), 2)
    # the critical value's adjusted p is alpha (root found to xtol 1e-4 in c)
    np.testing.assert_allclose(adjust_dunnett([c, c], r, 30.0)[0], 0.05, atol=2e-4)
    # Dunnett's table (two-sided, 2 comparisons, df 30, alpha 0.05): 2.32
    np.testing.assert_allclose(c, 2.32, atol=0.01)
