"""Predictive-mean-matching imputation: properties (donors, by-arm, reproducibility) and MAR recovery."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssctrial.exceptions import InputError
from ssctrial.stats import impute_pmm

from ._refs import basics_like


def test_imputed_values_are_observed_donors_from_the_same_arm():
    d = basics_like()
    imps = impute_pmm(d, "CHGMISS", predictors=["BASE", "STRATUM"], by="ARM", m=5, seed=3)
    assert len(imps) == 5
    for imp in imps:
        assert imp["CHGMISS"].notna().all()
        obs = d["CHGMISS"].notna()
        pd.testing.assert_series_equal(imp.loc[obs, "CHGMISS"], d.loc[obs, "CHGMISS"])
        assert imp["CHGMISS_IMPUTED"].sum() == (~obs).sum()
        for arm, g in imp[imp["CHGMISS_IMPUTED"]].groupby("ARM"):
            donors = set(d.loc[(d.ARM == arm) & obs, "CHGMISS"])
            assert set(g["CHGMISS"]) <= donors


def test_reproducible_and_varies_between_imputations():
    d = basics_like()
    a = impute_pmm(d, "CHGMISS", predictors=["BASE"], by="ARM", m=4, seed=11)
    b = impute_pmm(d, "CHGMISS", predictors=["BASE"], by="ARM", m=4, seed=11)
    for x, y in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(x, y)
    values = np.array([x.loc[x.CHGMISS_IMPUTED, "CHGMISS"].to_numpy() for x in a])
    assert np.ptp(values, axis=0).max() > 0  # imputations differ (between-imputation variance)


def test_chained_equations_two_columns_recover_mar_mean():
    # y1, y2 correlated with x; y2 missing more often when x is high (MAR). The complete-case mean of y2
    # is biased low; the imputed mean should be close to the truth (0 + 2 * E[x] = 2).
    rng = np.random.default_rng(5)
    n = 600
    x = rng.normal(1.0, 1.0, n)
    y1 = 2 * x + rng.normal(0, 0.7, n)
    y2 = y1 + rng.normal(0, 0.7, n)
    d = pd.DataFrame({"x": x, "y1": y1, "y2": y2})
    p_miss = 1 / (1 + np.exp(-(x - 1.5) * 2))
    d.loc[rng.uniform(size=n) < p_miss, "y2"] = np.nan
    d.loc[rng.uniform(size=n) < 0.15, "y1"] = np.nan
    cc_bias = d["y2"].mean() - 2 * x.mean()
    assert cc_bias < -0.4
    imps = impute_pmm(d, ["y1", "y2"], predictors=["x"], m=5, iterations=5, seed=1)
    mi_mean = np.mean([imp["y2"].mean() for imp in imps])
    # Monte-Carlo sd of a mean of 600 with ~40 % imputed is ~0.1: 0.25 absolute
    assert abs(mi_mean - y2.mean()) < 0.25


def test_errors():
    d = basics_like()
    with pytest.raises(InputError, match="m=1 must be an integer >= 2"):
        impute_pmm(d, "CHGMISS", m=1)
    with pytest.raises(InputError, match="predictors must be complete"):
        impute_pmm(d, "CHG", predictors=["RESP"])
    with pytest.raises(InputError, match="'STRATUM' must be numeric"):
        impute_pmm(d, "STRATUM")
    few = d.copy()
    few.loc[few.ARM == "CTRL", "CHGMISS"] = np.nan
    few.loc[few.index[0], "CHGMISS"] = 1.0
    with pytest.raises(InputError, match="1 observed value.*ARM='CTRL'"):
        impute_pmm(few, "CHGMISS", by="ARM")
