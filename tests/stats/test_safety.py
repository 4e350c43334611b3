"""Safety tables vs an independent base-R computation (R 4.2.2; reference/stats/safety/generate.R)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssctrial.exceptions import InputError
from ssctrial.stats import compute_eair, create_ae_by_grade, create_ae_by_term, create_ae_overview

from ._refs import REF

SAFETY = REF / "safety"


def _data():
    adsl = pd.read_csv(REF / "data" / "adsl_like.csv")
    adae = pd.read_csv(REF / "data" / "adae_like.csv", dtype={"AETOXGR": str})
    return adae, adsl


def _ref_counts():
    return pd.read_csv(SAFETY / "counts.csv", keep_default_na=False)


def test_overview_matches_r():
    adae, adsl = _data()
    res = create_ae_overview(adae, adsl).to_frame()
    ref = _ref_counts()
    ref = ref[ref.key1 == "overview"]
    assert res["category"].tolist() == ref["key2"].tolist()
    assert res["TRT01A"].tolist() == ref["arm"].tolist()
    np.testing.assert_array_equal(res["n"], ref["n"])
    np.testing.assert_array_equal(res["N"], ref["N"])  # SAFFL == "N" subject excluded
    # Fisher-Freeman-Halton exact p (fisher.test): 1e-6 relative
    np.testing.assert_allclose(res["p"], ref["p"], rtol=1e-6)


def test_by_term_matches_r():
    adae, adsl = _data()
    res = create_ae_by_term(adae, adsl).to_frame()
    ref = _ref_counts()
    ref = ref[ref.key1 != "overview"]
    assert res[["AESOC", "AEDECOD", "TRT01A"]].values.tolist() == ref[["key1", "key2", "arm"]].values.tolist()
    np.testing.assert_array_equal(res["n"], ref["n"])
    np.testing.assert_allclose(res["p"], ref["p"], rtol=1e-6)  # exact p: 1e-6 relative


def test_max_grade_matches_r():
    adae, adsl = _data()
    res = create_ae_by_grade(adae, adsl).to_frame()
    ref = pd.read_csv(SAFETY / "max_grade.csv", dtype={"max_grade": str})
    assert res[["max_grade", "TRT01A"]].values.tolist() == ref[["max_grade", "arm"]].values.tolist()
    np.testing.assert_array_equal(res["n"], ref["n"])
    assert (res.groupby("TRT01A")["n"].sum() == res.groupby("TRT01A")["N"].first()).all()


def test_eair_matches_poisson_test():
    adae, adsl = _data()
    res = compute_eair(adae, adsl).to_frame()
    ref = pd.read_csv(SAFETY / "eair.csv")
    np.testing.assert_array_equal(res["n"], ref["n"])
    for col in ["patient_years", "rate"]:
        np.testing.assert_allclose(res[col], ref[col], rtol=1e-12)  # arithmetic
    # exact Poisson limits: R's poisson.test uses qgamma, we use chi-square quantiles: 1e-10 relative
    np.testing.assert_allclose(res["lower"], ref["lower"], rtol=1e-10)
    np.testing.assert_allclose(res["upper"], ref["upper"], rtol=1e-10)


def test_eair_by_soc_and_units():
    adae, adsl = _data()
    by_soc = compute_eair(adae, adsl, by="soc").to_frame()
    assert by_soc["category"].nunique() == adae["AESOC"].nunique()
    adsl_w = adsl.assign(TRTDURW=adsl["TRTDURD"] / 7)
    weeks = compute_eair(adae, adsl_w, exposure_col="TRTDURW", exposure_unit="weeks").to_frame()
    days = compute_eair(adae, adsl).to_frame()
    np.testing.assert_allclose(weeks["rate"], days["rate"], rtol=1e-12)


def test_non_emergent_events_and_input_unchanged():
    adae, adsl = _data()
    before = adae.copy()
    emergent = create_ae_overview(adae, adsl).to_frame()
    every = create_ae_overview(adae, adsl, emergent_only=False).to_frame()
    assert (every["n"].to_numpy() >= emergent["n"].to_numpy()).all()
    pd.testing.assert_frame_equal(adae, before)


def test_errors():
    adae, adsl = _data()
    with pytest.raises(InputError, match=r"adae has no column\(s\) \['AESOC'\]"):
        create_ae_by_term(adae.drop(columns="AESOC"), adsl)
    extra = pd.concat([adae, adae.iloc[[0]].assign(USUBJID="BAS-999")])
    with pytest.raises(InputError, match=r"subjects not in adsl.*BAS-999"):
        create_ae_overview(extra, adsl)
    with pytest.raises(InputError, match="AETOXGR must be a grade 1 to 5; got '7'"):
        create_ae_by_grade(adae.assign(AETOXGR="7"), adsl)
    with pytest.raises(InputError, match="exposure_unit='months' is not allowed"):
        compute_eair(adae, adsl, exposure_unit="months")
    with pytest.raises(InputError, match="one row per subject"):
        create_ae_overview(adae, pd.concat([adsl, adsl.iloc[[0]]]))


def test_by_term_min_grade_and_serious_equal_prefiltered_input():
    adae, adsl = _data()
    severe = create_ae_by_term(adae, adsl, min_grade=3).to_frame()
    pre = create_ae_by_term(adae[adae["AETOXGR"].astype(int) >= 3], adsl).to_frame()
    pd.testing.assert_frame_equal(severe.drop(columns="method"), pre.drop(columns="method"))
    serious = create_ae_by_term(adae, adsl, serious_only=True).to_frame()
    pre = create_ae_by_term(adae[adae["AESER"] == "Y"], adsl).to_frame()
    pd.testing.assert_frame_equal(serious.drop(columns="method"), pre.drop(columns="method"))
    with pytest.raises(InputError, match="min_grade=6"):
        create_ae_by_term(adae, adsl, min_grade=6)
