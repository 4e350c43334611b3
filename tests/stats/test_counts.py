"""Count regression vs R 4.2.2 glm(poisson) and MASS 7.3-58.2 glm.nb (reference/stats/counts/generate.R)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from ssctrial.exceptions import ConvergenceWarning, InputError
from ssctrial.stats import count_regression

from ._refs import REF, basics_like, load_json

R = load_json("counts")


def _data():
    return pd.read_csv(REF / "data" / "counts_like.csv")


def _fit(family):
    return count_regression(_data(), "DUCNT ~ ARM + BASEDU", group="ARM", reference="CTRL", exposure="EXPYRS",
                            family=family)


def test_poisson_matches_glm():
    res = _fit("poisson")
    ref = R["poisson"]
    rr = res.rate_ratios
    assert rr["contrast"].tolist() == ["BARI2 - CTRL", "BARI4 - CTRL"]
    # both IRLS to ~1e-12 on the deviance: 1e-8 relative for estimates; R's SEs use the working weights
    # of its last-but-one iterate (QR before the final update), which differ by ~3e-8: 1e-7 for SEs/CIs
    np.testing.assert_allclose(res.coefficients["estimate"], ref["coef"], rtol=1e-8)
    np.testing.assert_allclose(res.coefficients["se"], ref["se"], rtol=1e-7)
    for col, rcol in [("estimate", "rr"), ("lower", "lower"), ("upper", "upper")]:
        np.testing.assert_allclose(rr[col], ref[rcol], rtol=1e-7, err_msg=col)
    # a small tail p amplifies the SE difference by ~z^2 (z = 3.7 here): 1e-6 relative
    np.testing.assert_allclose(rr["p"], ref["p"], rtol=1e-6)
    np.testing.assert_allclose(res.info["loglik"], ref["loglik"], rtol=1e-10)


def test_negative_binomial_matches_glm_nb():
    res = _fit("negative-binomial")
    ref = R["negbin"]
    # theta by ML: glm.nb alternates theta.ml and IRLS (its own tolerances ~1e-8 on theta); 1e-6 relative
    np.testing.assert_allclose(res.info["theta"], ref["theta"], rtol=1e-6)
    np.testing.assert_allclose(res.info["loglik"], ref["loglik"], rtol=1e-9)
    np.testing.assert_allclose(res.coefficients["estimate"], ref["coef"], rtol=1e-6)
    np.testing.assert_allclose(res.coefficients["se"], ref["se"], rtol=1e-6)
    rr = res.rate_ratios
    for col, rcol in [("estimate", "rr"), ("lower", "lower"), ("upper", "upper"), ("p", "p")]:
        np.testing.assert_allclose(rr[col], ref[rcol], rtol=1e-6, err_msg=col)


def test_crude_rates():
    rates = _fit("poisson").rates.set_index("ARM")
    d = _data()
    for arm, g in d.groupby("ARM"):
        assert rates.loc[arm, "events"] == g["DUCNT"].sum()
        np.testing.assert_allclose(rates.loc[arm, "rate"], g["DUCNT"].sum() / g["EXPYRS"].sum(), rtol=1e-12)


def test_no_overdispersion_warns():
    # basics_like's counts are not overdispersed: the NB dispersion goes to its boundary
    with pytest.warns(ConvergenceWarning, match="use family='poisson'"):
        count_regression(basics_like(), "DUCNT ~ ARM + BASE", group="ARM", reference="CTRL",
                         exposure="EXPYRS")


def test_errors():
    d = _data()
    with pytest.raises(InputError, match="non-negative whole counts"):
        count_regression(d.assign(DUCNT=d["DUCNT"] - 0.5), "DUCNT ~ ARM", group="ARM", reference="CTRL")
    with pytest.raises(InputError, match="positive exposure"):
        count_regression(d.assign(EXPYRS=0.0), "DUCNT ~ ARM", group="ARM", reference="CTRL",
                         exposure="EXPYRS")
    with pytest.raises(InputError, match="family='zip' is not allowed"):
        count_regression(d, "DUCNT ~ ARM", group="ARM", reference="CTRL", family="zip")
    with pytest.raises(InputError, match=r"no column\(s\) \['EXPOSURE'\]"):
        count_regression(d, "DUCNT ~ ARM", group="ARM", reference="CTRL", exposure="EXPOSURE")
    with pytest.raises(InputError, match="levels are"):
        count_regression(d, "DUCNT ~ ARM", group="ARM", reference="PBO")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _fit("poisson")  # a clean fit raises no warning


def test_arm_without_events_warns():
    from ssctrial.exceptions import StatisticalWarning

    d = _data()
    d.loc[d.ARM == "BARI4", "DUCNT"] = 0
    with pytest.warns(StatisticalWarning, match=r"\['BARI4'\] of 'ARM' have no events"):
        count_regression(d, "DUCNT ~ ARM", group="ARM", reference="CTRL", exposure="EXPYRS", family="poisson")
