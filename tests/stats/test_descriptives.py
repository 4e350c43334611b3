"""Descriptives vs R 4.2.2 (mean, sd, t.test, quantile type 7; prop.test Wilson): see generate.R."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssctrial.exceptions import InputError
from ssctrial.stats import compute_wilson_ci, describe_categorical, describe_continuous

from ._refs import REF, basics_like


def test_continuous_matches_r():
    res = describe_continuous(basics_like(), "CHGMISS", by=["ARM", "STRATUM"]).to_frame()
    ref = pd.read_csv(REF / "descriptives" / "continuous.csv")
    assert res[["ARM", "STRATUM"]].values.tolist() == ref[["ARM", "STRATUM"]].values.tolist()
    np.testing.assert_array_equal(res["n"], ref["n"])
    for col in ["mean", "sd", "se", "median", "q1", "q3", "min", "max", "lower", "upper"]:
        # closed form; R wrote 15 significant digits: 1e-10 relative
        np.testing.assert_allclose(res[col], ref[col], rtol=1e-10, err_msg=col)
    assert res["n_missing"].sum() == basics_like()["CHGMISS"].isna().sum()


def test_wilson_matches_prop_test():
    ref = pd.read_csv(REF / "descriptives" / "wilson.csv")
    lo, hi = compute_wilson_ci(ref["x"], ref["n"])
    # closed form: 1e-10 relative; atol for limits that are exactly 0 or 1
    np.testing.assert_allclose(lo, ref["lower"], rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(hi, ref["upper"], rtol=1e-10, atol=1e-15)
    lo, hi = compute_wilson_ci(ref["x"], ref["n"], conf_level=0.90)
    np.testing.assert_allclose(lo, ref["lower90"], rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(hi, ref["upper90"], rtol=1e-10, atol=1e-15)


def test_wilson_newcombe_1998_table_i():
    # Newcombe (1998a) Stat Med 17:857, Table I, method 3 (score, no CC), published to 4 decimals
    for x, n, lo_ref, hi_ref in [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605),
                                 (0, 20, 0.0000, 0.1611), (1, 29, 0.0061, 0.1718)]:
        lo, hi = compute_wilson_ci(x, n)
        np.testing.assert_allclose([lo, hi], [lo_ref, hi_ref], atol=5e-5)  # rounding of the table


def test_categorical_counts_and_missing_option():
    d = basics_like()
    res = describe_categorical(d, "RESP", by="ARM").to_frame()
    ctrl = res[res.ARM == "CTRL"]
    assert ctrl["N"].tolist() == [15, 15]
    assert ctrl["n"].sum() == 15
    lo, hi = compute_wilson_ci(ctrl["n"].to_numpy(), ctrl["N"].to_numpy())
    np.testing.assert_allclose(ctrl["lower"], lo)
    res2 = describe_categorical(d, "RESP", by="ARM", missing="category").to_frame()
    assert "Missing" in res2["level"].tolist()
    assert (res2.groupby("ARM")["N"].first() == 16).all()
    np.testing.assert_allclose(res2.groupby("ARM")["percent"].sum(), 100.0)


def test_empty_group_gets_a_row():
    d = basics_like()
    d["ARM"] = pd.Categorical(d["ARM"], categories=["CTRL", "BARI2", "BARI4", "BARI8"])
    res = describe_continuous(d[d.ARM != "BARI4"], "CHG", by="ARM").to_frame()
    assert res["ARM"].tolist() == ["CTRL", "BARI2"]  # only levels that occur


def test_single_observation_gives_nan_spread():
    d = pd.DataFrame({"arm": ["A", "B", "B"], "y": [1.0, 2.0, 4.0]})
    res = describe_continuous(d, "y", by="arm").to_frame()
    assert np.isnan(res.loc[0, "sd"]) and res.loc[0, "mean"] == 1.0
    assert res.loc[1, "sd"] == pytest.approx(np.sqrt(2))


def test_errors():
    d = basics_like()
    with pytest.raises(InputError, match="no column"):
        describe_continuous(d, "CHG", by=["ARM", "AVISIT"])
    with pytest.raises(InputError, match="'STRATUM' must be numeric"):
        describe_continuous(d, "STRATUM", by="ARM")
    with pytest.raises(InputError, match="missing='drop' is not allowed"):
        describe_categorical(d, "RESP", by="ARM", missing="drop")
    with pytest.raises(InputError, match="conf_level=95"):
        describe_continuous(d, "CHG", conf_level=95)


def test_by_arm_and_visit_in_categorical_visit_order():
    d = basics_like()
    long = pd.concat([
        d.assign(AVISIT="Week 12", AVAL=d["BASE"] + d["CHG"]),
        d.assign(AVISIT="Baseline", AVAL=d["BASE"]),
    ])
    long["AVISIT"] = pd.Categorical(long["AVISIT"], categories=["Baseline", "Week 12"])
    res = describe_continuous(long, "AVAL", by=["ARM", "AVISIT"]).to_frame()
    assert res[["ARM", "AVISIT"]].values.tolist() == [
        ["BARI2", "Baseline"], ["BARI2", "Week 12"], ["BARI4", "Baseline"], ["BARI4", "Week 12"],
        ["CTRL", "Baseline"], ["CTRL", "Week 12"]]
    base = res[res.AVISIT == "Baseline"].set_index("ARM")["mean"]
    np.testing.assert_allclose(base["CTRL"], d.loc[d.ARM == "CTRL", "BASE"].mean(), rtol=1e-12)
