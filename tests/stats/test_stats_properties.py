"""Property-based checks (Hypothesis) of the non-MMRM statistics: invariances and bounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from ssctrial.stats import adjust_pvalues, ancova, compute_wilson_ci, fisher_exact_kx2, one_way

from ._refs import basics_like

pytestmark = pytest.mark.slow

counts2 = st.tuples(st.integers(1, 25), st.integers(1, 25)).flatmap(
    lambda n: st.tuples(st.integers(0, n[0]), st.integers(0, n[1]), st.just(n[0]), st.just(n[1])))


@given(counts2)
def test_fisher_2x2_equals_scipy(c):
    x1, x2, n1, n2 = c
    ref = stats.fisher_exact([[x1, n1 - x1], [x2, n2 - x2]]).pvalue
    np.testing.assert_allclose(fisher_exact_kx2([x1, x2], [n1, n2]), ref, rtol=1e-9, atol=1e-15)


@given(st.lists(st.tuples(st.integers(1, 12), st.floats(0, 1)), min_size=2, max_size=4), st.randoms())
def test_ffh_in_unit_interval_and_invariant_to_group_order(groups, rnd):
    n = [g[0] for g in groups]
    x = [int(round(g[1] * g[0])) for g in groups]
    p = fisher_exact_kx2(x, n)
    assert 0 < p <= 1
    order = list(range(len(n)))
    rnd.shuffle(order)
    np.testing.assert_allclose(fisher_exact_kx2([x[i] for i in order], [n[i] for i in order]), p, rtol=1e-12)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
def test_adjusted_p_bounds(p):
    p = np.array(p)
    holm = adjust_pvalues(p, method="holm")
    hoch = adjust_pvalues(p, method="hochberg")
    bonf = adjust_pvalues(p, method="bonferroni")
    assert np.all(p <= hoch + 1e-15) and np.all(hoch <= holm + 1e-15) and np.all(holm <= bonf + 1e-15)
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(holm[order]) >= -1e-15)


@given(st.integers(1, 200).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
       st.floats(0.5, 0.999))
def test_wilson_contains_estimate(c, level):
    x, n = c
    lo, hi = compute_wilson_ci(x, n, conf_level=level)
    assert 0 <= lo <= x / n + 1e-12 and x / n - 1e-12 <= hi <= 1


@given(st.floats(-100, 100), st.floats(0.1, 10))
def test_one_way_invariant_to_linear_transform(shift, scale):
    d = basics_like()
    a = one_way(d, "CHG", group="ARM")
    b = one_way(d.assign(CHG=d["CHG"] * scale + shift), "CHG", group="ARM")
    np.testing.assert_allclose(a["statistic"], b["statistic"], rtol=1e-8)


@given(st.floats(-50, 50))
def test_ancova_shift_moves_lsmeans_not_contrasts(shift):
    d = basics_like()
    a = ancova(d, "CHG ~ ARM + BASE + STRATUM", group="ARM", reference="CTRL")
    b = ancova(d.assign(CHG=d["CHG"] + shift), "CHG ~ ARM + BASE + STRATUM", group="ARM", reference="CTRL")
    np.testing.assert_allclose(b.lsmeans["estimate"], a.lsmeans["estimate"] + shift, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(b.contrasts["estimate"], a.contrasts["estimate"], rtol=1e-8, atol=1e-9)
    pd.testing.assert_series_equal(b.contrasts["contrast"], a.contrasts["contrast"])
