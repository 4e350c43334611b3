"""MMRM against SAS PROC MIXED, the tight-optimum R engine ('own'), nlme and mmrm's README.

References and tolerances: ``tests/reference/mmrm/README.md`` (copied from the project's
shared reference folder; tolerances are that README's table). Every assertion names its source.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ssctrial.stats import mmrm

REF = Path(__file__).resolve().parents[1] / "reference" / "mmrm"
FEV = json.loads((REF / "fev_reference.json").read_text())["fev_data"]
SAS = json.loads((REF / "sas_mmrm_reference.json").read_text())
SAS_MODELS = {m["id"]: m for m in SAS["models"]}
VISITS = ["VIS1", "VIS2", "VIS3", "VIS4"]
MAIN = "FEV1 ~ RACE + SEX + ARMCD * AVISIT"


@cache
def fev_data() -> pd.DataFrame:
    d = pd.read_csv(REF / "fev_data.csv", na_values=[""], keep_default_na=False)
    d["AVISIT"] = pd.Categorical(d["AVISIT"], VISITS)
    d["ARMCD"] = pd.Categorical(d["ARMCD"], ["PBO", "TRT"])
    d["RACE"] = pd.Categorical(d["RACE"], ["Asian", "Black or African American", "White"])
    d["SEX"] = pd.Categorical(d["SEX"], ["Male", "Female"])
    return d


@cache
def fit(formula: str, covariance: str = "us", df_method: str = "kenward-roger", reml: bool = True):
    return mmrm(
        fev_data(),
        formula,
        subject="USUBJID",
        visit="AVISIT",
        covariance=covariance,
        df_method=df_method,
        reml=reml,
    )


def close(actual, ref, *, abs_scale: float) -> None:
    """|actual - ref| <= abs_scale * max(1, |ref|) (the README's 'abs <= tol * max(1, |x|)')."""
    actual, ref = np.asarray(actual, float), np.asarray(ref, float)
    np.testing.assert_array_less(np.abs(actual - ref), abs_scale * np.maximum(1.0, np.abs(ref)) + 1e-300)


def p_close(actual, ref) -> None:
    """p-values: rel 1e-4, abs 1e-12 for p < 1e-8 (README)."""
    actual, ref = np.asarray(actual, float), np.asarray(ref, float)
    tiny = ref < 1e-8
    np.testing.assert_allclose(actual[~tiny], ref[~tiny], rtol=1e-4)
    np.testing.assert_allclose(actual[tiny], ref[tiny], atol=1e-12, rtol=0)


# ----------------------------------------------------------------------------- own (tight R)
OWN_MODELS = [
    ("main", MAIN, "us", FEV["main_model"]["own"]),
    ("baseline", MAIN + " + FEV1_BL", "us", FEV["main_model_with_baseline"]["own"]),
    *[(key, v["r_formula"], v["covariance"], v["own"]) for key, v in FEV["covariance_structures"].items()],
    *[(key, v["r_formula"], v["covariance"], v) for key, v in FEV["type3_ar1_models"].items()],
]


@pytest.mark.parametrize(("name", "formula", "cov", "own"), OWN_MODELS, ids=[m[0] for m in OWN_MODELS])
def test_against_own_tight_optimum(name, formula, cov, own):
    kr = fit(formula, cov, "kenward-roger")
    sat = fit(formula, cov, "satterthwaite")
    assert kr.converged_ and kr.convergence_["max_abs_score"] < 1e-6
    # own: -2 REML log-lik, abs 1e-6 (README; both are at |score| < 1e-7)
    assert abs(kr.neg2_loglik - own["minus2_reml_loglik"]) < 1e-6
    # own: covariance parameters, abs 1e-5 * max(1, |x|) (README)
    params = kr.covariance_parameters.set_index("parameter")["estimate"]
    ref_params = own["covariance_parameters"]
    close(params[list(ref_params)], list(ref_params.values()), abs_scale=1e-5)
    # own: covariance matrix, same tolerance
    close(kr.covariance_matrix.to_numpy(), own["covariance_matrix"]["matrix"], abs_scale=1e-5)
    names = own["coef_names"] if isinstance(own["coef_names"], list) else [own["coef_names"]]
    assert list(kr.coefficients["term"]) == names
    fe = pd.DataFrame(own["fixed_effects"])
    # own: estimates and SEs abs 1e-6 * max(1, |x|); df rel 1e-4; p rel 1e-4 (README)
    close(kr.coefficients["estimate"], fe["estimate"], abs_scale=1e-6)
    close(sat.coefficients["se"], fe["se"], abs_scale=1e-6)
    close(kr.coefficients["se"], fe["se_kr"], abs_scale=1e-6)
    np.testing.assert_allclose(sat.coefficients["df"], fe["df_satterthwaite"], rtol=1e-4)
    np.testing.assert_allclose(kr.coefficients["df"], fe["df_kr"], rtol=1e-4)
    np.testing.assert_allclose(kr.coefficients["t"], fe["t_kr"], rtol=1e-4)
    p_close(sat.coefficients["p"], fe["p_satterthwaite"])
    p_close(kr.coefficients["p"], fe["p_kr"])
    ci = kr.confint()
    close(ci["lower"], fe["lower95_kr"], abs_scale=1e-6)
    close(ci["upper"], fe["upper95_kr"], abs_scale=1e-6)
    ci = sat.confint()
    close(ci["lower"], fe["lower95_satterthwaite"], abs_scale=1e-6)
    # own: Phi and the Kenward-Roger adjusted Phi_A, abs 1e-6 * max(1, |x|)
    close(sat.vcov.to_numpy(), own["vcov_beta"], abs_scale=1e-6)
    close(kr.vcov.to_numpy(), own["vcov_beta_kr"], abs_scale=1e-6)


@pytest.mark.parametrize("key", ["main_model", "main_model_with_baseline"])
def test_lsmeans_and_contrasts_against_own(key):
    formula = MAIN + (" + FEV1_BL" if key.endswith("baseline") else "")
    own = FEV[key]["own"]
    for method, suffix in (("kenward-roger", "kr"), ("satterthwaite", "satterthwaite")):
        f = fit(formula, "us", method)
        ls = f.lsmeans("ARMCD", by="AVISIT")
        assert list(ls.columns) == ["ARMCD", "AVISIT", "estimate", "se", "df", "lower", "upper"]
        ref = pd.DataFrame(own["lsmeans"])
        merged = ls.astype({"ARMCD": str, "AVISIT": str}).merge(
            ref, on=["ARMCD", "AVISIT"], suffixes=("", "_ref")
        )
        assert len(merged) == 8
        se_ref = merged["se_kr"] if suffix == "kr" else merged["se_ref"]
        # own: LS means, SEs and CIs abs 1e-6 * max(1, |x|); df rel 1e-4 (README)
        close(merged["estimate"], merged["estimate_ref"], abs_scale=1e-6)
        close(merged["se"], se_ref, abs_scale=1e-6)
        np.testing.assert_allclose(merged["df"], merged[f"df_{suffix}"], rtol=1e-4)
        close(merged["lower"], merged[f"lower95_{suffix}"], abs_scale=1e-6)
        close(merged["upper"], merged[f"upper95_{suffix}"], abs_scale=1e-6)
        con = f.contrasts("ARMCD", "PBO", by="AVISIT")
        assert list(con.columns) == ["contrast", "AVISIT", "estimate", "se", "df", "t", "p", "lower", "upper"]
        assert set(con["contrast"]) == {"TRT - PBO"}
        ref = pd.DataFrame(own["trt_minus_pbo"])
        merged = con.astype({"AVISIT": str}).merge(ref, on="AVISIT", suffixes=("", "_ref"))
        assert len(merged) == 4
        se_ref = merged["se_kr"] if suffix == "kr" else merged["se_ref"]
        close(merged["estimate"], merged["estimate_ref"], abs_scale=1e-6)
        close(merged["se"], se_ref, abs_scale=1e-6)
        np.testing.assert_allclose(merged["df"], merged[f"df_{suffix}"], rtol=1e-4)
        p_close(merged["p"], merged[f"p_{suffix}"])
        close(merged["lower"], merged[f"lower95_{suffix}"], abs_scale=1e-6)


SAS_TO_R_EFFECT = {"AVISIT*ARMCD": "ARMCD:AVISIT", "FEV1_BL*ARMCD": "ARMCD:FEV1_BL", "SEX*ARMCD": "ARMCD:SEX"}


@pytest.mark.parametrize(
    ("formula", "cov", "tests"),
    [
        (MAIN, "us", FEV["main_model"]["own"]["type3_tests"]),
        *[(v["r_formula"], v["covariance"], v["type3_tests"]) for v in FEV["type3_ar1_models"].values()],
    ],
    ids=["main", *FEV["type3_ar1_models"]],
)
def test_type3_against_own(formula, cov, tests):
    for method, suffix in (("kenward-roger", "kr"), ("satterthwaite", "satterthwaite")):
        f = fit(formula, cov, method)
        t3 = f.type3().set_index("term")
        Ls = f.type3_matrices()
        for ref in tests:
            term = SAS_TO_R_EFFECT.get(ref["effect"], ref["effect"])
            # the L matrix is SAS's (stored with the reference), exactly
            np.testing.assert_allclose(Ls[term], np.asarray(ref["L"], float), atol=1e-14)
            row = t3.loc[term]
            assert row["num_df"] == ref["num_df"]
            # own: F and den df rel 1e-4 (README); p rel 1e-4 / abs 1e-12 below 1e-8
            np.testing.assert_allclose(row["F"], ref[f"F_{suffix}"], rtol=1e-4)
            np.testing.assert_allclose(row["den_df"], ref[f"den_df_{suffix}"], rtol=1e-4)
            p_close([row["p"]], [ref[f"p_{suffix}"]])


def test_kr_linear_differs_from_kr_for_ar1_only():
    ref = FEV["covariance_structures"]
    for key in ("ar1:FEV1_ARMCD", "us:FEV1_ARMCD", "toep:FEV1_ARMCD", "cs:FEV1_ARMCD"):
        formula, cov = ref[key]["r_formula"], ref[key]["covariance"]
        con = fit(formula, cov, "kenward-roger-linear").contrasts("ARMCD", "PBO").iloc[0]
        lin = ref[key]["trt_minus_pbo_kr_linear"]
        # own KR-linear: SE abs 1e-6 * max(1, |x|), df rel 1e-4 (README)
        close([con["se"]], [lin["se"]], abs_scale=1e-6)
        np.testing.assert_allclose(con["df"], lin["df"], rtol=1e-4)
    a = fit("FEV1 ~ ARMCD", "ar1", "kenward-roger").contrasts("ARMCD", "PBO")["se"].iloc[0]
    b = fit("FEV1 ~ ARMCD", "ar1", "kenward-roger-linear").contrasts("ARMCD", "PBO")["se"].iloc[0]
    assert abs(a - b) > 1e-3  # SAS: 0.958654 vs 0.960581


def test_random_intercept_crosscheck_lme4_lmertest():
    ref = FEV["random_intercept_crosscheck"]
    f = fit("FEV1 ~ RACE + ARMCD * AVISIT", "cs", "satterthwaite")
    # lme4 REMLcrit of (1 | USUBJID): -2RLL abs 1e-6 (README: own = lme4 to 1e-10)
    assert abs(f.neg2_loglik - ref["minus2_reml_loglik"]["lme4_REMLcrit"]) < 1e-6
    params = f.covariance_parameters.set_index("parameter")["estimate"]
    close(
        params[["CS", "Residual"]],
        [ref["covariance_parameters"]["lme4"][k] for k in ("USUBJID", "Residual")],
        abs_scale=1e-5,
    )
    kr = fit("FEV1 ~ RACE + ARMCD * AVISIT", "cs", "kenward-roger")
    for t in ref["tests"]:
        L = np.asarray(t["L"], float)
        # lmerTest::contest (Satterthwaite, 1- to 3-df): F and den df rel 1e-4 (README df/F tolerance)
        s = f.test(L)
        np.testing.assert_allclose(
            [s["F"], s["den_df"]],
            [t["satterthwaite_lmerTest"]["F"], t["satterthwaite_lmerTest"]["den_df"]],
            rtol=1e-4,
        )
        # own SAS-style KR (observed information): F, den df rel 1e-4
        k = kr.test(L)
        sas_style = t["kr_own_observed_information_SAS_style"]
        np.testing.assert_allclose(
            [k["F"], k["den_df"], k["kr_lambda"]],
            [sas_style["F"], sas_style["den_df"], sas_style["scaling"]],
            rtol=1e-4,
        )


# ----------------------------------------------------------------------------- SAS PROC MIXED
def _sas_fit(model):
    method = "kenward-roger" if model["ddfm"] == "Kenward-Roger" else "satterthwaite"
    return fit(model["r_mean_formula"], model["covariance"], method, model["estimation"] == "REML")


LISTING_MODELS = [m for m in SAS["models"] if "fixed_effects" in m]


@pytest.mark.parametrize("model", LISTING_MODELS, ids=[m["id"] for m in LISTING_MODELS])
def test_against_sas_listing(model):
    f = _sas_fit(model)
    assert f.converged_
    sas_m2 = model.get("minus2_reml_loglik", model.get("minus2_loglik"))
    # SAS: ours <= SAS + 1e-8 (SAS stops early, never below the optimum) and >= SAS - 1e-4 (README)
    assert sas_m2 - 1e-4 <= f.neg2_loglik <= sas_m2 + 1e-8
    # Where SAS's -2RLL is more than 1e-6 above the optimum (us and cs models: SAS stopped early,
    # README "Optimum"), its estimates sit up to 9e-4 (fixed effects) and 1.3e-3 relative
    # (covariance) away from the optimum, which the tight 'own' engine confirms (ours = own to
    # 1e-6 in test_against_own_tight_optimum); there the tolerances widen to abs 1e-3 / rel 2e-3.
    early = sas_m2 - f.neg2_loglik > 1e-6
    tol_est = 1e-3 if early else 3e-4
    tol_ci = 1.1e-3 if early else 4e-4
    tol_rel_cov = 2e-3 if early else 1e-3
    coefs = f.confint().set_index("term")
    for fe in model["fixed_effects"]:
        row = coefs.loc[fe["r_term"]]
        # SAS listing (4 dp): estimates and SEs abs 3e-4; df printed as integers abs 0.6 (README)
        assert abs(row["estimate"] - fe["estimate"]) < tol_est, fe
        assert abs(row["se"] - fe["se"]) < tol_est, fe
        assert abs(row["df"] - fe["df"]) < 0.6, fe
        if "t" in fe:  # t printed with 2 decimals; plus 2e-4 relative from the rounded SE
            assert abs(row["t"] - fe["t"]) < 0.006 + 2e-4 * abs(fe["t"]), fe
        if "lower95" in fe:  # CI limits abs 4e-4 (README)
            assert abs(row["lower"] - fe["lower95"]) < tol_ci
            assert abs(row["upper"] - fe["upper95"]) < tol_ci
        _check_sas_p(row["p"], fe.get("p"))
    sas_visits = model.get("sas_visit_order_for_UN_indices", VISITS)
    cov = f.covariance_matrix
    for par in model["covariance_parameters"]:
        name, est = par["parameter"], par["estimate"]
        if name.startswith("UN("):
            i, j = (int(x) - 1 for x in name[3:-1].split(","))
            ours = cov.loc[sas_visits[i], sas_visits[j]]
        else:
            ours = f.covariance_parameters.set_index("parameter").loc[name, "estimate"]
        # SAS covariance parameters: rel 1e-3, abs 6e-3 for elements < 5 (README; SAS stops early)
        if abs(est) < 5:
            assert abs(ours - est) < 6e-3, (name, ours, est)
        else:
            assert abs(ours - est) < tol_rel_cov * abs(est), (name, ours, est)
    for t in model.get("type3_tests", []):
        row = f.type3().set_index("term").loc[SAS_TO_R_EFFECT.get(t["effect"], t["effect"])]
        assert row["num_df"] == t["num_df"]
        # SAS Type III: F printed with 2 decimals abs 0.01, den df integer abs 0.6 (README)
        assert abs(row["F"] - t["F"]) < 0.01 * max(1, abs(t["F"]) / 100), (t, row)
        assert abs(row["den_df"] - t["den_df"]) < 0.6, (t, row)
        _check_sas_p(row["p"], t["p_F"])
    if "lsmeans" in model:
        by = ["AVISIT"] if "AVISIT" in model["lsmeans"][0] else None
        ls = f.lsmeans("ARMCD", by=by)
        for ref in model["lsmeans"]:
            sel = ls["ARMCD"] == ref["ARMCD"]
            if by:
                sel &= ls["AVISIT"] == ref["AVISIT"]
            row = ls[sel].iloc[0]
            # SAS LS means abs 3e-4, CI abs 4e-4, df abs 0.6 (README)
            assert abs(row["estimate"] - ref["estimate"]) < tol_est
            assert abs(row["se"] - ref["se"]) < tol_est
            assert abs(row["df"] - ref["df"]) < 0.6, ref  # README: TRT VIS2 borderline (143.485 vs 144)
            assert abs(row["lower"] - ref["lower95"]) < tol_ci
            assert abs(row["upper"] - ref["upper95"]) < tol_ci
        con = f.contrasts("ARMCD", "PBO", by=by)
        for ref in model["lsmean_differences"]:
            row = con[con["AVISIT"] == ref["AVISIT"]].iloc[0] if by else con.iloc[0]
            assert abs(row["estimate"] - ref["estimate"]) < tol_est
            assert abs(row["se"] - ref["se"]) < tol_est
            assert abs(row["df"] - ref["df"]) < 0.6
            assert abs(row["lower"] - ref["lower95"]) < tol_ci
            assert abs(row["upper"] - ref["upper95"]) < tol_ci
            _check_sas_p(row["p"], ref["p"])


def _check_sas_p(ours: float, printed) -> None:
    if printed is None:
        return
    if printed == "<.0001":
        assert ours < 1e-4
    else:
        # 4 dp printing (5e-5) plus the effect of SAS's early stop on t and df
        assert abs(ours - float(printed)) < 2e-4, (ours, printed)


KR_CSV = [m for m in SAS["models"] if "trt_minus_pbo_kr_full_precision" in m]
KR_DF_RTOL = {"us": 5e-4, "toep": 2e-4, "ar1": 1e-5, "cs": 1e-5}  # README (SAS early stop for us/toep)


@pytest.mark.parametrize("model", KR_CSV, ids=[m["id"] for m in KR_CSV])
@pytest.mark.parametrize("variant", ["kenward-roger", "kenward-roger-linear"])
def test_kenward_roger_against_sas_full_precision(model, variant):
    key = (
        "trt_minus_pbo_kr_full_precision"
        if variant == "kenward-roger"
        else "trt_minus_pbo_kr_linear_full_precision"
    )
    ref = model[key]
    f = fit(model["r_mean_formula"], model["covariance"], variant)
    con = f.contrasts("ARMCD", "PBO").iloc[0]
    assert con["contrast"] == "TRT - PBO"
    # SAS kr_*.csv / kr1_*.csv: KR df rel 5e-4 (us), 2e-4 (toep), 1e-5 (ar1, cs); SE rel 1e-4 (README)
    np.testing.assert_allclose(con["df"], ref["df"], rtol=KR_DF_RTOL[model["covariance"]])
    np.testing.assert_allclose(con["se"], ref["se"], rtol=1e-4)
    np.testing.assert_allclose(con["estimate"], ref["estimate"], rtol=1e-4)
    np.testing.assert_allclose([con["lower"], con["upper"]], [ref["lower95"], ref["upper95"]], rtol=1e-4)
    # the type III test of ARMCD is the same 1-df hypothesis
    t3 = f.type3().iloc[0]
    np.testing.assert_allclose(t3["den_df"], ref["df"], rtol=KR_DF_RTOL[model["covariance"]])
    np.testing.assert_allclose(t3["F"], ref["t"] ** 2, rtol=2e-4)


ANOVA = [m for m in SAS["models"] if m["id"].startswith("sas_anova")]


@pytest.mark.parametrize("model", ANOVA, ids=[m["id"] for m in ANOVA])
def test_type3_against_sas_full_precision(model):
    f = fit(model["r_mean_formula"], model["covariance"], "satterthwaite")
    t3 = f.type3().set_index("term")
    for ref in model["type3_tests"]:
        row = t3.loc[SAS_TO_R_EFFECT.get(ref["effect"], ref["effect"])]
        assert row["num_df"] == ref["num_df"]
        # SAS design/anova/test3_*.csv at full precision: den df and F rel 1e-5 (README)
        np.testing.assert_allclose(row["den_df"], ref["den_df"], rtol=1e-5)
        np.testing.assert_allclose(row["F"], ref["F"], rtol=1e-5)
        np.testing.assert_allclose(row["p"], ref["p_F"], rtol=1e-4)


def test_against_mmrm_readme():
    ref = SAS["mmrm_package_own_results"]
    f = fit(MAIN, "us", "satterthwaite")
    assert f.n_obs == ref["n_obs_used"] and f.n_subjects == ref["n_subjects_used"]
    coefs = f.coefficients.set_index("term")
    # mmrm README: estimates abs 3e-4 (its optimum is less tight), df abs 0.02 (README)
    for term, est in ref["coefficients_8dp"].items():
        assert abs(coefs.loc[term, "estimate"] - est) < 3e-4
    for row in ref["summary_table"]:
        assert abs(coefs.loc[row["r_term"], "df"] - row["df"]) < 0.02 + 0.005  # df printed with 2 dp
    assert round(f.neg2_loglik, 2) == ref["deviance_printed"]
    assert round(f.aic, 1) == ref["AIC_printed"]
    assert round(f.bic, 1) == ref["BIC_printed"]


def test_against_nlme_gls_and_emmeans():
    for key, formula in (("main_model", MAIN), ("main_model_with_baseline", MAIN + " + FEV1_BL")):
        nl = FEV[key]["nlme"]
        f = fit(formula, "us", "satterthwaite")
        fe = pd.DataFrame(nl["fixed_effects"])
        coefs = f.coefficients.set_index("term").loc[fe["term"]]
        # nlme::gls: estimates and SEs abs 5e-5 (README)
        np.testing.assert_allclose(coefs["estimate"], fe["estimate"], atol=5e-5, rtol=0)
        np.testing.assert_allclose(coefs["se"], fe["se"], atol=5e-5, rtol=0)
        # nlme -2RLL: within 1e-6 above ours (nlme stops slightly early)
        assert -1e-6 < nl["minus2_loglik"] - f.neg2_loglik < 1e-6
        em = pd.DataFrame(nl["emmeans_lsmeans"])
        ls = (
            f.lsmeans("ARMCD", by="AVISIT")
            .astype({"ARMCD": str, "AVISIT": str})
            .merge(em, on=["ARMCD", "AVISIT"])
        )
        # emmeans on gls: estimates and SEs abs 5e-5, df abs 0.5 (numerical Hessian; README)
        np.testing.assert_allclose(ls["estimate"], ls["emmean"], atol=5e-5, rtol=0)
        np.testing.assert_allclose(ls["se"], ls["SE"], atol=5e-5, rtol=0)
        if key == "main_model":
            # emmeans df abs 0.5 (README); for the baseline model emmeans' numerical-Hessian df are
            # up to 3 df off, so df are checked against 'own' only (test_lsmeans_and_contrasts_against_own)
            np.testing.assert_allclose(ls["df_x"], ls["df_y"], atol=0.5)


def test_ml_against_sas_and_nlme():
    f = fit(MAIN, "us", "satterthwaite", False)
    nl = FEV["main_model"]["nlme_ml"]
    # nlme ML -2LL: abs 1e-6 (tight optimum both); SAS ML -2LL 3397.57220025 (README: yours <= SAS + 1e-8)
    assert abs(f.neg2_loglik - nl["minus2_loglik"]) < 1e-6
    fe = pd.DataFrame(nl["fixed_effects"])
    # nlme ML estimates and SEs abs 5e-5 (README). nlme's vcov() of an ML gls fit rescales sigma^2
    # by N / (N - p) (its "residual standard error"); SAS and we do not, so undo that factor.
    n, p = f.n_obs, len(f.beta_)
    np.testing.assert_allclose(f.coefficients["estimate"], fe["estimate"], atol=5e-5, rtol=0)
    np.testing.assert_allclose(f.coefficients["se"], fe["se"] * np.sqrt((n - p) / n), atol=5e-5, rtol=0)
    # nlme covariance: abs 1e-3 * max(1, |x|): nlme's optimiser leaves 3e-4 on a 0.9 element
    # (the -2LL surface is flat there: its -2LL agrees with ours to 1e-6)
    close(f.covariance_matrix.to_numpy(), nl["covariance_matrix"]["matrix"], abs_scale=1e-3)
    sas = SAS_MODELS["sas_full_us_ml_satterthwaite"]["minus2_loglik"]
    assert sas - 1e-4 <= f.neg2_loglik <= sas + 1e-8  # SAS ML -2LL (README rule)


@pytest.mark.parametrize(
    ("model_id", "df_rtol", "se_rtol"),
    # us: SAS prints 4-5 significant digits; the README's own engine got df 160.7329 / SE 0.6612437
    # from them (SAS 160.7333 / 0.6612438): df rel 1e-5, SE rel 1e-6. toep: the 4-decimal rounding
    # of TOEP(k) limits df to rel 1e-4 (README: 160.038 vs SAS 160.027), SE rel 1e-6.
    [("sas_armcd_us_reml_kr", 1e-5, 1e-6), ("sas_armcd_toep_reml_kr", 1e-4, 1e-6)],
)
def test_kenward_roger_reproduces_sas_at_sas_estimates(model_id, df_rtol, se_rtol):
    """The KR formulas match SAS exactly: evaluated at SAS's own (early-stopped) covariance
    estimates, the engine reproduces SAS's full-precision KR SE and df."""
    model = SAS_MODELS[model_id]
    f = fit(model["r_mean_formula"], model["covariance"], "kenward-roger")
    names = [p["parameter"] for p in model["covariance_parameters"]]
    assert names == list(f.covariance_parameters["parameter"])  # visit order VIS1..VIS4 in these listings
    at_sas = f._at_theta(np.array([p["estimate"] for p in model["covariance_parameters"]]))
    ref = model["trt_minus_pbo_kr_full_precision"]
    con = at_sas.contrasts("ARMCD", "PBO").iloc[0]
    np.testing.assert_allclose(con["se"], ref["se"], rtol=se_rtol)
    np.testing.assert_allclose(con["df"], ref["df"], rtol=df_rtol)
    # and SAS's -2 Res Log Like at its estimates, to the rounding of the printed estimates
    np.testing.assert_allclose(at_sas.neg2_loglik, model["minus2_reml_loglik"], rtol=0, atol=1e-4)
