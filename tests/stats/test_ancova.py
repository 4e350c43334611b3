"""ssctrial.stats.ancova against R 4.2.2 emmeans 1.8.4-1 and car 3.1-1 (reference/stats/ancova/generate.R)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssctrial.exceptions import InputError
from ssctrial.stats import ancova

from ._refs import basics_like, load_json

REF = load_json("ancova")
MODELS = ["main", "main_prop", "slopes", "strata_int", "no_strata"]


def _fit(key, data=None):
    ref = REF[key]
    d = basics_like() if data is None else data
    return ancova(d, ref["formula"], group="ARM", reference="CTRL", weights=ref["weights"]), ref


@pytest.mark.parametrize("key", MODELS)
def test_lsmeans_match_emmeans(key):
    fit, ref = _fit(key)
    ls = fit.lsmeans
    assert list(ls.columns) == ["ARM", "estimate", "se", "df", "lower", "upper"]
    assert ls["ARM"].tolist() == ref["lsmeans"]["ARM"]
    for col in ["estimate", "se", "df", "lower", "upper"]:
        # closed form (least squares): 1e-10 relative
        np.testing.assert_allclose(ls[col], ref["lsmeans"][col], rtol=1e-10, err_msg=col)


@pytest.mark.parametrize("key", MODELS)
def test_contrasts_match_emmeans(key):
    fit, ref = _fit(key)
    ct = fit.contrasts
    assert list(ct.columns) == ["contrast", "estimate", "se", "df", "t", "p", "lower", "upper"]
    assert ct["contrast"].tolist() == ref["contrasts"]["contrast"]
    for col in ["estimate", "se", "df", "t", "p", "lower", "upper"]:
        np.testing.assert_allclose(ct[col], ref["contrasts"][col], rtol=1e-10, err_msg=col)  # closed form


@pytest.mark.parametrize("key", MODELS)
def test_type3_anova_matches_car(key):
    fit, ref = _fit(key)
    an = fit.anova
    assert list(an.columns) == ["term", "num_df", "den_df", "F", "p"]
    assert an["term"].tolist() == ref["anova"]["term"]
    for col in ["num_df", "den_df", "F", "p"]:
        np.testing.assert_allclose(an[col], ref["anova"][col], rtol=1e-10, err_msg=col)  # closed form


def test_n_and_to_frame():
    fit, ref = _fit("slopes")
    assert fit.info["n"] == ref["n"] == 40
    frame = fit.to_frame()
    assert "method" in frame.columns and frame["method"].str.contains("ANCOVA").all()
    assert "8 row(s) with missing values excluded" in repr(fit)


def test_invariant_to_row_order_and_categorical_order():
    d = basics_like()
    a, _ = _fit("main", d)
    shuffled = d.sample(frac=1, random_state=7).reset_index(drop=True)
    shuffled["ARM"] = pd.Categorical(shuffled["ARM"], categories=["CTRL", "BARI2", "BARI4"])
    b = ancova(shuffled, "CHG ~ ARM + BASE + STRATUM", group="ARM", reference="CTRL")
    assert b.lsmeans["ARM"].tolist() == ["CTRL", "BARI2", "BARI4"]  # Categorical order is kept
    merged = a.contrasts.merge(b.contrasts, on="contrast")
    np.testing.assert_allclose(merged["estimate_x"], merged["estimate_y"], rtol=1e-10)
    np.testing.assert_allclose(merged["se_x"], merged["se_y"], rtol=1e-10)


def test_does_not_mutate_input():
    d = basics_like()
    before = d.copy()
    ancova(d, "CHGMISS ~ ARM + BASE", group="ARM", reference="CTRL")
    pd.testing.assert_frame_equal(d, before)


def test_errors():
    d = basics_like()
    with pytest.raises(InputError, match=r"uses \['BASELINE'\], which are not columns"):
        ancova(d, "CHG ~ ARM + BASELINE", group="ARM", reference="CTRL")
    with pytest.raises(InputError, match=r"reference level 'PBO' is not a level of 'ARM'; levels are"):
        ancova(d, "CHG ~ ARM + BASE", group="ARM", reference="PBO")
    with pytest.raises(InputError, match="'USUBJID' must be numeric"):
        ancova(d, "USUBJID ~ ARM + BASE", group="ARM", reference="CTRL")
    with pytest.raises(InputError, match="must appear as a main effect"):
        ancova(d, "CHG ~ BASE + STRATUM", group="ARM", reference="CTRL")
    small = d[(d.ARM != "BARI4") | (d.index == 40)]
    with pytest.raises(InputError, match="at least 2 non-missing.*'BARI4': 1"):
        ancova(small, "CHG ~ ARM + BASE", group="ARM", reference="CTRL")
    with pytest.raises(InputError, match="weights='none' is not allowed"):
        ancova(d, "CHG ~ ARM + BASE", group="ARM", reference="CTRL", weights="none")
    with pytest.raises(InputError, match="formula must be a string"):
        ancova(d, "CHG ARM", group="ARM", reference="CTRL")


def test_adjusted_contrasts_match_emmeans():
    d = basics_like()
    ref = REF["adjusted"]
    dun = ancova(d, "CHG ~ ARM + BASE + STRATUM", group="ARM", reference="CTRL", adjust="dunnett").contrasts
    assert dun["contrast"].tolist() == ref["contrast"]
    # emmeans adjust = "mvt" (mvtnorm, randomised QMC) vs scipy's QMC: both ~1e-5 absolute: 5e-5
    np.testing.assert_allclose(dun["p_adj"], ref["p_mvt"], atol=5e-5)
    holm = ancova(d, "CHG ~ ARM + BASE + STRATUM", group="ARM", reference="CTRL", adjust="holm").contrasts
    np.testing.assert_allclose(holm["p_adj"], ref["p_holm"], rtol=1e-10)  # closed form
    plain = ancova(d, "CHG ~ ARM + BASE + STRATUM", group="ARM", reference="CTRL").contrasts
    assert "p_adj" not in plain.columns


def test_no_complete_rows_and_confounded_strata():
    d = basics_like()
    with pytest.raises(InputError, match=r"no row has all of \['CHG', 'ARM', 'BASE'\] non-missing"):
        ancova(d.assign(CHG=np.nan), "CHG ~ ARM + BASE", group="ARM", reference="CTRL")
    with pytest.raises(InputError, match="rank deficient"):
        ancova(d.assign(S2=np.where(d.ARM == "CTRL", "a", "b")), "CHG ~ ARM + S2", group="ARM",
               reference="CTRL")
