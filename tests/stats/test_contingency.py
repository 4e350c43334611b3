"""Chi-square and Fisher–Freeman–Halton exact tests against R 4.2.2 ``chisq.test``/``fisher.test``."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ssctrial.exceptions import InputError, StatisticalWarning
from ssctrial.stats import contingency_tests, fisher_exact_kx2

from ._refs import basics_like, load_json

REF = load_json("global_tests")


def test_chisq_and_ffh_match_r():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        res = contingency_tests(basics_like(), "RESP", group="ARM")
    assert res["test"].tolist() == ["Chi-square", "Fisher-Freeman-Halton"]
    # closed form (Pearson X^2, chi-square tail): 1e-10 relative
    np.testing.assert_allclose(res.loc[0, "statistic"], REF["chisq"]["statistic"], rtol=1e-10)
    np.testing.assert_allclose(res.loc[0, "p"], REF["chisq"]["p"], rtol=1e-10)
    # exact p by full enumeration; R's fisher.test (network algorithm) agrees to ~1e-12; test 1e-6 as asked
    np.testing.assert_allclose(res.loc[1, "p"], REF["ffh"]["p"], rtol=1e-6)


@pytest.mark.parametrize("i", range(5))
def test_ffh_tables_match_r(i):
    t = REF["ffh_tables"][i]
    np.testing.assert_allclose(fisher_exact_kx2(t["x"], t["n"]), t["p"], rtol=1e-6)


@pytest.mark.parametrize("i", range(3))
def test_ffh_large_tables_match_r(i):
    # up to 5 x 2 with 300 per group: settled by bounds, not full enumeration; 1e-6 relative
    t = REF["ffh_large"][i]
    np.testing.assert_allclose(fisher_exact_kx2(t["x"], t["n"]), t["p"], rtol=1e-6)


def test_two_by_two_equals_scipy_fisher():
    for x1, x2, n1, n2 in [(3, 1, 4, 4), (7, 2, 15, 16), (0, 5, 10, 10), (12, 12, 16, 16)]:
        ref = stats.fisher_exact([[x1, n1 - x1], [x2, n2 - x2]]).pvalue
        np.testing.assert_allclose(fisher_exact_kx2([x1, x2], [n1, n2]), ref, rtol=1e-9)


def test_sparse_table_warns():
    d = pd.DataFrame({"arm": list("AAAABBBB"), "y": [1, 1, 0, 0, 1, 0, 0, 0]})
    with pytest.warns(StatisticalWarning, match="expected count"):
        contingency_tests(d, "y", group="arm")


def test_errors():
    d = basics_like()
    with pytest.raises(InputError, match="must be binary"):
        contingency_tests(d, "CHG", group="ARM")
    with pytest.raises(InputError, match="between 0 and the group totals"):
        fisher_exact_kx2([3, 5], [4, 4])
    with pytest.raises(InputError, match="no column"):
        contingency_tests(d, "RESP", group="TRT")
