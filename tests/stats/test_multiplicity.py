"""Multiplicity adjustments vs R 4.2.2 ``p.adjust`` and mvtnorm::pmvt (global_tests/generate.R)."""

from __future__ import annotations

import numpy as np
import pytest

from ssctrial.exceptions import InputError
from ssctrial.stats import adjust_dunnett, adjust_pvalues

from ._refs import load_json

REF = load_json("global_tests")


def _p():
    return np.array([np.nan if v is None else v for v in REF["p_adjust"]["p"]], float)


@pytest.mark.parametrize("method", ["holm", "hochberg", "bonferroni"])
def test_matches_p_adjust(method):
    ref = np.array([np.nan if v is None else v for v in REF["p_adjust"][method]], float)
    # closed form: 1e-10 relative; NA stays NA and does not count as a hypothesis, as in R
    np.testing.assert_allclose(adjust_pvalues(_p(), method=method), ref, rtol=1e-10)


def test_fixed_sequence():
    adj = adjust_pvalues([0.01, 0.04, 0.03, 0.2, 0.001], method="fixed-sequence")
    np.testing.assert_array_equal(adj, [0.01, 0.04, 0.04, 0.2, 0.2])
    # rejection at 0.05 stops at the first non-rejection, whatever comes later
    assert (adj <= 0.05).tolist() == [True, True, True, False, False]


def test_hochberg_never_larger_than_holm():
    rng = np.random.default_rng(1)
    for _ in range(50):
        p = rng.uniform(size=6) ** 2
        assert np.all(adjust_pvalues(p, method="hochberg") <= adjust_pvalues(p, method="holm") + 1e-15)


def test_dunnett_adjust_matches_mvtnorm():
    ref = REF["dunnett_adjust"]
    adj = adjust_dunnett(ref["t"], np.array(ref["corr"]), ref["df"])
    # both are randomised QMC integrals with ~1e-5 error; 5e-5 absolute
    np.testing.assert_allclose(adj, ref["p_adj"], atol=5e-5)
    assert np.all(adj >= 2 * (1 - __import__("scipy").stats.t(45).cdf(np.abs(ref["t"]))))


def test_errors():
    with pytest.raises(InputError, match="method='bh' is not allowed"):
        adjust_pvalues([0.1], method="bh")
    with pytest.raises(InputError, match=r"must lie in \[0, 1\]"):
        adjust_pvalues([0.1, 1.2])
    with pytest.raises(InputError, match="correlation must be 2 x 2"):
        adjust_dunnett([1.0, 2.0], np.eye(3), 10)
