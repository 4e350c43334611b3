"""MMRM properties: invariance, simulation recovery, formula handling, convergence and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from ssctrial.exceptions import ConvergenceWarning, InputError
from ssctrial.stats import mmrm
from ssctrial.stats._design_matrix import DesignSpec, parse_formula

from .test_mmrm import MAIN, fev_data


def _all_outputs(f) -> list[np.ndarray]:
    return [
        f.coefficients[["estimate", "se", "df", "p"]].to_numpy(),
        f.lsmeans("ARMCD", by="AVISIT")[["estimate", "se", "df"]].to_numpy(),
        f.contrasts("ARMCD", "PBO", by="AVISIT")[["estimate", "se", "df", "p"]].to_numpy(),
        f.type3()[["F", "den_df", "p"]].to_numpy(),
        f.covariance_matrix.to_numpy(),
        np.array([f.neg2_loglik]),
    ]


@pytest.mark.parametrize("cov", ["us", "ar1"])
def test_invariant_to_row_order_and_subject_labels(cov):
    d = fev_data()
    base = mmrm(d, MAIN, subject="USUBJID", visit="AVISIT", covariance=cov)
    rng = np.random.default_rng(20261125)
    shuffled = d.iloc[rng.permutation(len(d))].reset_index(drop=True)
    ids = d["USUBJID"].unique()
    new = dict(zip(ids, [f"Z{k:05d}" for k in rng.permutation(len(ids))], strict=True))
    relabelled = shuffled.assign(USUBJID=shuffled["USUBJID"].map(new))
    for other in (shuffled, relabelled):
        f = mmrm(other, MAIN, subject="USUBJID", visit="AVISIT", covariance=cov)
        for a, b in zip(_all_outputs(base), _all_outputs(f), strict=True):
            # only the order of floating-point sums changes: rel 1e-8
            np.testing.assert_allclose(b, a, rtol=1e-8, atol=1e-10)


def test_input_is_not_modified():
    d = fev_data().copy()
    before = d.copy()
    mmrm(d, MAIN, subject="USUBJID", visit="AVISIT")
    pd.testing.assert_frame_equal(d, before)


def _simulate(rng: np.random.Generator, n: int = 40) -> tuple[pd.DataFrame, float]:
    visits = ["V1", "V2", "V3", "V4"]
    sd = np.array([4.0, 5.0, 6.0, 7.0])
    corr = np.array([[1, 0.6, 0.4, 0.3], [0.6, 1, 0.6, 0.4], [0.4, 0.6, 1, 0.6], [0.3, 0.4, 0.6, 1]])
    sigma = corr * np.outer(sd, sd)
    arm = np.repeat([0, 1], n // 2)
    effect = np.array([0.0, 1.0, 2.0, 3.0])  # true TRT - PBO by visit
    y = 20 + np.array([0, 1, 2, 3]) + arm[:, None] * effect + rng.multivariate_normal(np.zeros(4), sigma, n)
    y[rng.random((n, 4)) < 0.12] = np.nan
    d = pd.DataFrame(
        {
            "ID": np.repeat(np.arange(n), 4),
            "VISIT": np.tile(visits, n),
            "ARM": np.repeat(np.where(arm == 1, "TRT", "PBO"), 4),
            "Y": y.reshape(-1),
        }
    )
    return d, effect[-1]


@pytest.mark.slow
def test_recovery_coverage_of_kenward_roger_intervals():
    """200 simulated trials (40 subjects, 4 visits, us): the 95% KR CI covers the truth ~95%."""
    rng = np.random.default_rng(12345)
    covered, estimates = 0, []
    reps = 200
    for _ in range(reps):
        d, truth = _simulate(rng)
        c = mmrm(d, "Y ~ ARM * VISIT", subject="ID", visit="VISIT").contrasts("ARM", "PBO", by="VISIT")
        row = c[c["VISIT"] == "V4"].iloc[0]
        covered += row["lower"] <= truth <= row["upper"]
        estimates.append(row["estimate"])
    # binomial SD at 95 % over 200 reps is 1.5 %: accept 91 %..99 % (about 2.6 SD)
    assert 0.91 <= covered / reps <= 0.99, covered
    # unbiased: mean estimate within 3 Monte Carlo SEs of the truth
    est = np.asarray(estimates)
    assert abs(est.mean() - 3.0) < 3 * est.std(ddof=1) / np.sqrt(reps)


def test_formula_parsing_follows_r():
    assert parse_formula("y ~ b + a + a:b") == ("y", [("b",), ("a",), ("b", "a")], True)
    assert parse_formula("y ~ a * b - 1") == ("y", [("a",), ("b",), ("a", "b")], False)
    assert parse_formula("y ~ 0 + (a + b):c") == ("y", [("a", "c"), ("b", "c")], False)
    assert parse_formula("y ~ `my var` + x") == ("y", [("my var",), ("x",)], True)
    d = fev_data()
    spec = DesignSpec.from_formula("FEV1 ~ ARMCD + SEX + ARMCD:SEX + ARMCD:FEV1_BL", d)
    # R's rule: ARMCD in ARMCD:FEV1_BL gets full indicators because FEV1_BL is not in the model
    assert spec.column_names == [
        "(Intercept)",
        "ARMCDTRT",
        "SEXFemale",
        "ARMCDTRT:SEXFemale",
        "ARMCDPBO:FEV1_BL",
        "ARMCDTRT:FEV1_BL",
    ]
    # string columns are sorted: reference = first in sorted order
    spec = DesignSpec.from_formula("FEV1 ~ SEX", d.assign(SEX=d["SEX"].astype(str)))
    assert spec.column_names == ["(Intercept)", "SEXMale"]


def test_nonconvergence_is_reported():
    with pytest.warns(ConvergenceWarning, match=r"did not converge: no convergence within max_iter=1"):
        f = mmrm(fev_data(), MAIN, subject="USUBJID", visit="AVISIT", max_iter=1)
    assert f.converged_ is False
    assert "max_iter=1" in f.convergence_["message"]
    assert "NOT CONVERGED" in repr(f)


def _err(match: str, data=None, formula=MAIN, **kw):
    args = {"subject": "USUBJID", "visit": "AVISIT", **kw}
    with pytest.raises(InputError, match=match):
        mmrm(fev_data() if data is None else data, formula, **args)


def test_error_unknown_covariance():
    _err(
        r"covariance 'un' is not supported; use one of \['ar1', 'ar1h', 'cs', 'csh', 'toep', 'toeph', 'us'\]",
        covariance="un",
    )


def test_error_unknown_df_method():
    _err(r"df_method 'kr' is not supported; use one of", df_method="kr")


def test_error_duplicate_visits():
    d = fev_data()
    d = pd.concat([d, d.iloc[[0]]], ignore_index=True)
    _err(r"subject 'PT1' has more than one row for visit 'VIS1'", data=d)


def test_error_missing_columns():
    _err(r"formula .* names column\(s\) \['AGE'\] that are not in the data", formula="FEV1 ~ AGE + ARMCD")
    _err(r"subject column 'ID' is not in the data", subject="ID")
    _err(r"visit column 'VISIT' is not in the data", visit="VISIT")


def test_error_non_numeric_outcome():
    d = fev_data().assign(FEV1=lambda x: x["FEV1"].map(lambda v: "n/a" if pd.isna(v) else f"{v:.2f}"))
    _err(r"outcome column 'FEV1' must be numeric, found dtype object", data=d)


def test_error_bad_formula_and_options():
    _err(r"must be a string of the form 'outcome ~ terms'", formula="FEV1 ARMCD")
    _err(r"unexpected '\^'", formula="FEV1 ~ ARMCD^2")
    _err(r"vcov='empirical' supports df_method='residual' only", vcov="empirical")
    _err(r"group column 'RACE' must be constant within subject", data=_race_varies(), group="RACE")


def _race_varies() -> pd.DataFrame:
    d = fev_data().copy()
    d.loc[1, "RACE"] = "White" if d.loc[1, "RACE"] != "White" else "Asian"
    return d


def test_error_rank_deficient_design():
    d = fev_data().assign(BL2=lambda x: 2 * x["FEV1_BL"])
    _err(r"has rank 3 < 4 columns", data=d, formula="FEV1 ~ ARMCD + FEV1_BL + BL2")


def test_error_in_lsmeans_and_contrasts():
    f = mmrm(
        fev_data(), "FEV1 ~ ARMCD * AVISIT", subject="USUBJID", visit="AVISIT", df_method="satterthwaite"
    )
    with pytest.raises(InputError, match=r"specs 'RACE' is not a factor of the model; factors are"):
        f.lsmeans("RACE")
    with pytest.raises(
        InputError, match=r"reference 'CTRL' is not a level of 'ARMCD'; levels are \['PBO', 'TRT'\]"
    ):
        f.contrasts("ARMCD", "CTRL")
    with pytest.raises(InputError, match=r"L has 3 columns; the model has 8 coefficients"):
        f.test(np.ones((1, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = f.test(pd.DataFrame({"ARMCDTRT": [1.0]}))
    assert out["num_df"] == 1 and out["p"] < 1e-3


def test_boundary_fit_says_why():
    """15 subjects cannot support an unstructured 4 x 4 covariance: the fit says so."""
    d = fev_data()
    sub = d[d["USUBJID"].isin(d["USUBJID"].unique()[:15])]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = mmrm(sub, "FEV1 ~ ARMCD * AVISIT", subject="USUBJID", visit="AVISIT")
    assert f.converged_ is False
    messages = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(messages) == 1 and "nearly singular" in messages[0] and "use a simpler one" in messages[0]


def test_arbitrary_contrast_equals_lsmean_difference():
    f = mmrm(fev_data(), MAIN, subject="USUBJID", visit="AVISIT")
    L = pd.DataFrame({"ARMCDTRT": [1.0, 1.0], "ARMCDTRT:AVISITVIS4": [0.0, 1.0]}, index=["VIS1", "VIS4"])
    est = f.estimate(L)
    con = f.contrasts("ARMCD", "PBO", by="AVISIT").set_index("AVISIT").loc[["VIS1", "VIS4"]]
    # the same linear combinations, so identical to rounding
    for col in ("estimate", "se", "df", "t", "p", "lower", "upper"):
        np.testing.assert_allclose(est[col].to_numpy(), con[col].to_numpy(), rtol=1e-12)
    assert list(est.index) == ["VIS1", "VIS4"]
