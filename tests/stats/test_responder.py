"""Responder analyses vs R 4.2.2 (fisher.test, glm binomial; reference/stats/responder) and Newcombe 1998."""

from __future__ import annotations

import numpy as np
import pytest

from ssctrial.exceptions import InputError
from ssctrial.stats import adjust_pvalues, compute_newcombe_ci, responder_analysis

from ._refs import basics_like, load_json

REF = load_json("responder")

# Newcombe (1998b) Stat Med 17:873-890, Table II, method 10 (hybrid score, no continuity correction),
# published to 4 decimals: (x1, n1, x2, n2, lower, upper). Example (c) 6/7 - 2/7 is left out: we could
# not re-check its published lower limit against the paper offline.
NEWCOMBE_TABLE_II = [
    (56, 70, 48, 80, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.1705, 0.8090),
    (5, 56, 0, 29, -0.0381, 0.1926),
    (0, 10, 0, 20, -0.1611, 0.2775),
    (0, 10, 0, 10, -0.2775, 0.2775),
    (10, 10, 0, 20, 0.6791, 1.0000),
    (10, 10, 0, 10, 0.6075, 1.0000),
]


@pytest.mark.parametrize("case", NEWCOMBE_TABLE_II, ids=lambda c: f"{c[0]}/{c[1]}-{c[2]}/{c[3]}")
def test_newcombe_published(case):
    x1, n1, x2, n2, lo_ref, hi_ref = case
    lo, hi = compute_newcombe_ci((x1, x2), (n1, n2))
    # the table is rounded to 4 decimals: 5e-5 absolute
    np.testing.assert_allclose([lo, hi], [lo_ref, hi_ref], atol=5e-5)


def _frame(missing, covariates=("BASE",)):
    return responder_analysis(basics_like(), "RESP", group="ARM", reference="CTRL", missing=missing,
                              covariates=covariates)


@pytest.mark.parametrize("missing", ["non-responder", "exclude"])
def test_counts_and_fisher_match_r(missing):
    res = _frame(missing)
    ref = REF[missing]["tables"]
    props = res.proportions.set_index("ARM")
    comp = res.to_frame()
    for lev in ["BARI2", "BARI4"]:
        assert props.loc[lev, "responders"] == ref[lev]["x1"] and props.loc[lev, "n"] == ref[lev]["n1"]
        assert props.loc["CTRL", "responders"] == ref[lev]["x2"] and props.loc["CTRL", "n"] == ref[lev]["n2"]
        rows = comp[comp.contrast == f"{lev} - CTRL"]
        rd = rows[rows.statistic_type == "risk difference"].iloc[0]
        r = ref[lev]
        np.testing.assert_allclose(rd["estimate"], r["x1"] / r["n1"] - r["x2"] / r["n2"], rtol=1e-12)
        # Fisher exact p: 1e-6 relative (R: network algorithm; here: full enumeration)
        np.testing.assert_allclose(rd["p"], ref[lev]["fisher_p"], rtol=1e-6)


@pytest.mark.parametrize("missing", ["non-responder", "exclude"])
def test_odds_ratio_woolf_equals_glm(missing):
    comp = _frame(missing, covariates=()).to_frame()
    ors = comp[comp.statistic_type == "odds ratio"]
    ref = REF[missing]["unadjusted"]
    # sample OR and Woolf CI are closed form; R's glm reproduces them up to its IRLS convergence
    # (epsilon 1e-14 on the deviance): 1e-8 relative
    np.testing.assert_allclose(ors["estimate"], ref["or"], rtol=1e-8)
    np.testing.assert_allclose(ors["lower"], ref["lower"], rtol=1e-8)
    np.testing.assert_allclose(ors["upper"], ref["upper"], rtol=1e-8)


@pytest.mark.parametrize(("missing", "covs", "key"), [
    ("non-responder", ("BASE",), "adjusted_base"),
    ("exclude", ("BASE",), "adjusted_base"),
    ("exclude", ("BASE", "STRATUM"), "adjusted_base_stratum"),
])
def test_adjusted_logistic_matches_glm(missing, covs, key):
    comp = _frame(missing, covariates=covs).to_frame()
    adj = comp[comp.statistic_type == "odds ratio (adjusted)"]
    ref = REF[missing][key]
    # both fits are IRLS run to ~1e-12; 1e-7 relative leaves room for the convergence criteria
    for col, rcol in [("estimate", "or"), ("lower", "lower"), ("upper", "upper"), ("p", "p")]:
        np.testing.assert_allclose(adj[col], ref[rcol], rtol=1e-7, err_msg=col)


def test_missing_choice_is_reported_and_required():
    res = _frame("non-responder")
    assert "5 subject(s) counted as non-responders" in repr(res)
    assert res.proportions["n"].sum() == 48
    assert _frame("exclude").proportions["n"].sum() == 43
    with pytest.raises(TypeError):
        responder_analysis(basics_like(), "RESP", group="ARM", reference="CTRL")  # missing= is required


def test_zero_cell_gives_nan_woolf_limits():
    d = basics_like()
    d.loc[d.ARM == "BARI4", "RESP"] = 0.0
    comp = responder_analysis(d, "RESP", group="ARM", reference="CTRL", missing="exclude",
                              covariates=()).to_frame()
    row = comp[(comp.contrast == "BARI4 - CTRL") & (comp.statistic_type == "odds ratio")].iloc[0]
    assert row["estimate"] == 0 and np.isnan(row["lower"])


def test_errors():
    d = basics_like()
    with pytest.raises(InputError, match="must each hold 2 numbers"):
        compute_newcombe_ci((1, 2, 3), (4, 5, 6))
    with pytest.raises(InputError, match="missing='impute' is not allowed"):
        responder_analysis(d, "RESP", group="ARM", reference="CTRL", missing="impute")
    with pytest.raises(InputError, match="must be binary"):
        responder_analysis(d, "CHG", group="ARM", reference="CTRL", missing="exclude")
    with pytest.raises(InputError, match="levels are"):
        responder_analysis(d, "RESP", group="ARM", reference="placebo", missing="exclude")
    with pytest.raises(InputError, match=r"no column\(s\) \['BASELINE'\]"):
        responder_analysis(d, "RESP", group="ARM", reference="CTRL", missing="exclude",
                           covariates=["BASELINE"])


def test_separation_warns():
    from ssctrial.exceptions import ConvergenceWarning

    d = basics_like()
    d.loc[d.ARM == "BARI4", "RESP"] = 0.0
    with pytest.warns(ConvergenceWarning, match="separation"):
        responder_analysis(d, "RESP", group="ARM", reference="CTRL", missing="exclude")


def test_holm_adjustment_within_each_statistic():
    comp = _frame("exclude").to_frame()
    for _kind, g in comp.groupby("statistic_type"):
        np.testing.assert_allclose(g["p_adj"], adjust_pvalues(g["p"].to_numpy(), method="holm"), rtol=1e-15)
    none = responder_analysis(basics_like(), "RESP", group="ARM", reference="CTRL", missing="exclude",
                              adjust="none").to_frame()
    np.testing.assert_array_equal(none["p_adj"], none["p"])
