"""Heterogeneous covariance structures, grouped covariance and sandwich SEs of the MMRM.

References: ``tests/reference/mmrm/nlme_extra.json`` (``generate_nlme_extra.R``: nlme::gls with
varIdent + corARMA / corAR1 / corCompSymm, and clubSandwich CR0).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ssctrial.stats import mmrm

from .test_mmrm import MAIN, fev_data

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "mmrm" / "nlme_extra.json").read_text())


def _theta_from_matrix(cov: str, S: np.ndarray) -> np.ndarray:
    """SAS parameters of a heterogeneous structure from its covariance matrix."""
    v = np.diag(S)
    R = S / np.sqrt(np.outer(v, v))
    if cov == "toeph":
        return np.concatenate([v, [R[0, 1], R[0, 2], R[0, 3]]])
    if cov == "ar1h":
        return np.concatenate([v, [R[0, 1]]])
    return np.concatenate([v, [R[0, 1]]])  # csh


@pytest.mark.parametrize(
    ("cov", "key", "reml"),
    [("toeph", "toeph", True), ("ar1h", "ar1h", True), ("csh", "csh", True), ("csh", "csh_ml", False)],
)
def test_heterogeneous_structures_against_nlme(cov, key, reml):
    ref = REF[key]
    f = mmrm(
        fev_data(),
        "FEV1 ~ ARMCD",
        subject="USUBJID",
        visit="AVISIT",
        covariance=cov,
        reml=reml,
        df_method="satterthwaite",
    )
    assert f.converged_
    assert list(f.covariance_parameters["parameter"])[:4] == ["Var(1)", "Var(2)", "Var(3)", "Var(4)"]
    # 1. The likelihood itself, at nlme's own estimate of Sigma: -2(R)LL, beta and Phi equal nlme's
    #    to rounding (rel 1e-9 on -2LL, abs 1e-7 on beta); this checks the structure's algebra
    #    without any optimiser in between.
    theta = _theta_from_matrix(cov, np.asarray(ref["covariance_matrix"]))
    at_nlme = f._engine.evaluate(theta)
    np.testing.assert_allclose(at_nlme.m2loglik, ref["minus2_loglik"], rtol=1e-9)
    np.testing.assert_allclose(at_nlme.beta, ref["estimate"], atol=1e-7, rtol=0)
    se = np.sqrt(np.diag(at_nlme.phi))
    if not reml:  # nlme rescales ML vcov by N / (N - p)
        se = se * np.sqrt(f.n_obs / (f.n_obs - len(f.beta_)))
    np.testing.assert_allclose(se, ref["se"], rtol=1e-7)
    # 2. The optimum: ours is at least as high a likelihood as nlme's (nlme stops up to 2e-7 early)
    assert f.neg2_loglik <= ref["minus2_loglik"] + 1e-9
    assert f.neg2_loglik >= ref["minus2_loglik"] - 1e-6
    # estimates: abs 2e-4 (nlme's early stop moves beta by up to 1.5e-4 on this flat surface)
    np.testing.assert_allclose(f.coefficients["estimate"], ref["estimate"], atol=2e-4, rtol=0)


def test_empirical_sandwich_against_clubsandwich_cr0():
    ref = REF["us_empirical_cr0"]
    f = mmrm(fev_data(), MAIN, subject="USUBJID", visit="AVISIT", vcov="empirical", df_method="residual")
    assert list(f.coefficients["term"]) == ref["coef_names"]
    # clubSandwich::vcovCR(type = "CR0") on nlme::gls: SE rel 1e-5 (nlme's optimum differs from
    # ours by 2e-7 in -2RLL, which moves the SEs by up to 1.5e-6 relative)
    np.testing.assert_allclose(f.coefficients["se"], ref["se_cr0"], rtol=1e-5)
    np.testing.assert_allclose(f.coefficients["df"], f.n_obs - len(f.beta_))


def test_grouped_covariance_separates_by_arm():
    """With a cell-means mean model the grouped REML likelihood is the sum of per-arm fits."""
    d = fev_data()
    grouped = mmrm(
        d,
        "FEV1 ~ ARMCD:AVISIT - 1",
        subject="USUBJID",
        visit="AVISIT",
        group="ARMCD",
        df_method="satterthwaite",
    )
    assert grouped.converged_
    total = 0.0
    mats = grouped.covariance_matrix
    assert set(mats) == {"PBO", "TRT"}
    for arm in ("PBO", "TRT"):
        sub = d[d["ARMCD"] == arm]
        alone = mmrm(sub, "FEV1 ~ AVISIT - 1", subject="USUBJID", visit="AVISIT", df_method="satterthwaite")
        total += alone.neg2_loglik
        # exact identity (block-diagonal X and V): covariance abs 1e-6 * max(1, |x|) (both tight optima)
        np.testing.assert_allclose(
            mats[arm].to_numpy(), alone.covariance_matrix.to_numpy(), rtol=1e-6, atol=1e-6
        )
        ls = grouped.lsmeans("AVISIT", by="ARMCD")
        ls = ls[ls["ARMCD"] == arm]
        np.testing.assert_allclose(ls["estimate"], alone.coefficients["estimate"], rtol=1e-9)
        np.testing.assert_allclose(ls["se"], alone.coefficients["se"], rtol=1e-6)
        np.testing.assert_allclose(ls["df"], alone.coefficients["df"], rtol=1e-4)
    np.testing.assert_allclose(grouped.neg2_loglik, total, rtol=0, atol=1e-6)
    names = grouped.covariance_parameters
    assert len(names) == 20 and set(names["group"]) == {"PBO", "TRT"}


@pytest.mark.parametrize("cov", ["us", "toep", "toeph", "ar1", "ar1h", "cs", "csh"])
def test_every_structure_fits_the_main_model_with_kr(cov):
    f = mmrm(fev_data(), MAIN, subject="USUBJID", visit="AVISIT", covariance=cov)
    assert f.converged_ and f.convergence_["max_abs_score"] < 1e-6
    con = f.contrasts("ARMCD", "PBO", by="AVISIT")
    assert np.all(np.isfinite(con[["estimate", "se", "df", "p"]].to_numpy()))
    t3 = f.type3()
    assert list(t3["term"]) == ["RACE", "SEX", "ARMCD", "AVISIT", "ARMCD:AVISIT"]
    assert np.all(t3["den_df"] > 50)
    # a richer structure never has a lower restricted likelihood than one it nests
    if cov in ("toep", "cs", "ar1"):
        richer = {"toep": "toeph", "cs": "csh", "ar1": "ar1h"}[cov]
        g = mmrm(fev_data(), MAIN, subject="USUBJID", visit="AVISIT", covariance=richer)
        assert g.neg2_loglik <= f.neg2_loglik + 1e-8


def test_summary_and_repr():
    f = mmrm(fev_data(), MAIN, subject="USUBJID", visit="AVISIT")
    s = f.summary
    assert {"kind", "term", "estimate", "se", "method"} <= set(s.columns)
    assert (s["kind"] == "covariance").sum() == 10 and (s["kind"] == "fixed effect").sum() == 11
    assert "kenward-roger" in s["method"].iloc[0]
    text = repr(f)
    assert "converged" in text and "ARMCDTRT:AVISITVIS4" in text
    assert isinstance(f.covariance_matrix, pd.DataFrame)


@pytest.mark.parametrize("cov", ["us", "ar1"])
def test_grouped_kenward_roger_equals_per_arm_fits(cov):
    """Block-diagonal X, V and information: grouped KR SEs and df equal the per-arm fits' (rel 1e-8)."""
    d = fev_data()
    grouped = mmrm(
        d, "FEV1 ~ ARMCD:AVISIT - 1", subject="USUBJID", visit="AVISIT", group="ARMCD", covariance=cov
    )
    ls = grouped.lsmeans("AVISIT", by="ARMCD")
    for arm in ("PBO", "TRT"):
        alone = mmrm(
            d[d["ARMCD"] == arm], "FEV1 ~ AVISIT - 1", subject="USUBJID", visit="AVISIT", covariance=cov
        )
        mine = ls[ls["ARMCD"] == arm]
        np.testing.assert_allclose(mine["se"], alone.coefficients["se"], rtol=1e-8)
        np.testing.assert_allclose(mine["df"], alone.coefficients["df"], rtol=1e-8)
