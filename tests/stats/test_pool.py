"""Rubin's rules vs R 4.2.2 mice 3.15.0 pool.scalar / pool on stored per-imputation results."""

from __future__ import annotations

import numpy as np
import pytest

from ssctrial.exceptions import InputError
from ssctrial.stats import pool_rubin

from ._refs import load_json

REF = load_json("mi_pool")


@pytest.mark.parametrize("i", range(len(REF["scalar"])))
def test_matches_mice_pool_scalar(i):
    case = REF["scalar"][i]
    dfcom = np.inf if case["dfcom"] == "Inf" else case["dfcom"]
    res = pool_rubin(case["q"], case["u"], dfcom=dfcom)
    # closed form on the same stored numbers: 1e-10 relative (exact up to floating point)
    for key, rkey in [("estimate", "qbar"), ("ubar", "ubar"), ("t", "t"), ("df", "df"), ("riv", "riv"),
                      ("fmi", "fmi")]:
        np.testing.assert_allclose(res[key], case[rkey], rtol=1e-10, atol=1e-300, err_msg=key)
    # b ~ 1e-19 in case 5, where the variance computation cancels catastrophically: atol 1e-20
    np.testing.assert_allclose(res["b"], case["b"], rtol=1e-6, atol=1e-20)


def test_matches_mice_pool_of_lm_fits():
    ref = REF["nhanes"]
    est = np.array(ref["per_imputation_estimates"])
    var = np.array(ref["per_imputation_variances"])
    for j, term in enumerate(ref["term"]):
        res = pool_rubin(est[:, j], var[:, j], dfcom=ref["dfcom"])
        for key in ["estimate", "se", "df", "p", "lower", "upper"]:
            np.testing.assert_allclose(res[key], ref[key][j], rtol=1e-10, err_msg=f"{term} {key}")


def test_errors():
    with pytest.raises(InputError, match="m >= 2"):
        pool_rubin([1.0], [0.1])
    with pytest.raises(InputError, match="non-negative"):
        pool_rubin([1.0, 2.0], [0.1, -0.1])
    with pytest.raises(InputError, match="dfcom=0"):
        pool_rubin([1.0, 2.0], [0.1, 0.1], dfcom=0)
