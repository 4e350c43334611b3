"""Comparisons against control vs R 4.2.2: multcomp::glht Dunnett, t.test, wilcox.test, p.adjust."""

from __future__ import annotations

import numpy as np
import pytest

from ssctrial.exceptions import InputError
from ssctrial.stats import compare_to_control

from ._refs import basics_like, load_json

REF = load_json("global_tests")


def test_dunnett_matches_multcomp():
    res = compare_to_control(basics_like(), "CHG", group="ARM", reference="CTRL").to_frame()
    ref = REF["dunnett"]
    assert res["contrast"].tolist() == ref["contrast"] == ["BARI2 - CTRL", "BARI4 - CTRL"]
    np.testing.assert_allclose(res["estimate"], ref["estimate"], rtol=1e-10)  # closed form
    np.testing.assert_allclose(res["statistic"], ref["statistic"], rtol=1e-10)  # closed form
    # p values and simultaneous-CI quantiles come from randomised QMC integration in both scipy and
    # mvtnorm (error ~1e-5 absolute), so 2e-4 absolute is the honest tolerance
    np.testing.assert_allclose(res["p_adj"], ref["p_adj"], atol=2e-4)
    # multcomp's confint() finds the critical value with qmvt(abseps = 1e-3), so the bounds in R are
    # themselves only good to ~1e-3 x SE (SE ~ 1.1 here): 2e-3 absolute
    np.testing.assert_allclose(res["lower"], ref["lower"], atol=2e-3)
    np.testing.assert_allclose(res["upper"], ref["upper"], atol=2e-3)


def test_t_holm_matches_r():
    res = compare_to_control(basics_like(), "CHG", group="ARM", reference="CTRL", method="t-holm").to_frame()
    ref = REF["t_holm"]
    for col in ["statistic", "p", "p_adj", "lower", "upper"]:
        np.testing.assert_allclose(res[col], ref[col], rtol=1e-10)  # closed form


def test_wilcoxon_holm_matches_r():
    res = compare_to_control(basics_like(), "CHG", group="ARM", reference="CTRL",
                             method="wilcoxon-holm").to_frame()
    ref = REF["wilcoxon_holm"]
    for col in ["statistic", "p", "p_adj"]:
        np.testing.assert_allclose(res[col], ref[col], rtol=1e-10)  # closed form normal approximation


def test_result_prints():
    res = compare_to_control(basics_like(), "CHG", group="ARM", reference="CTRL")
    assert "BARI4 - CTRL" in repr(res)
    assert "<table" in res._repr_html_()


def test_unknown_reference_lists_levels():
    with pytest.raises(InputError, match=r"reference level 'PLACEBO' is not a level of 'ARM'; "
                                         r"levels are \['BARI2', 'BARI4', 'CTRL'\]"):
        compare_to_control(basics_like(), "CHG", group="ARM", reference="PLACEBO")
    with pytest.raises(InputError, match="method='tukey' is not allowed"):
        compare_to_control(basics_like(), "CHG", group="ARM", reference="CTRL", method="tukey")
