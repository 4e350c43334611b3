"""ssctrial.stats.one_way against R 4.2.2 (tests/reference/stats/global_tests/generate.R)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssctrial.exceptions import InputError
from ssctrial.stats import one_way

from ._refs import basics_like, load_json

REF = load_json("global_tests")


def test_columns_and_rows():
    res = one_way(basics_like(), "CHG", group="ARM")
    assert list(res.columns[:5]) == ["test", "statistic", "df1", "df2", "p"]
    assert res["test"].tolist() == ["ANOVA", "Welch", "Kruskal-Wallis"]
    assert np.isnan(res.loc[2, "df2"])
    assert res["method"].str.len().min() > 5


@pytest.mark.parametrize(("row", "key"), [(0, "anova"), (1, "welch"), (2, "kruskal")])
def test_matches_r(row, key):
    res = one_way(basics_like(), "CHG", group="ARM").iloc[row]
    ref = REF[key]
    # closed-form statistics: R's anova(lm), oneway.test, kruskal.test; 1e-10 relative (double rounding only)
    np.testing.assert_allclose(res["statistic"], ref["statistic"], rtol=1e-10)
    np.testing.assert_allclose(res["df1"], ref["df1"], rtol=1e-12)
    if "df2" in ref:
        np.testing.assert_allclose(res["df2"], ref["df2"], rtol=1e-10)
    np.testing.assert_allclose(res["p"], ref["p"], rtol=1e-10)


def test_group_order_and_row_order_do_not_matter():
    d = basics_like()
    a = one_way(d, "CHG", group="ARM")
    b = one_way(d.sample(frac=1, random_state=3), "CHG", group="ARM")
    np.testing.assert_allclose(a[["statistic", "p"]].to_numpy(float), b[["statistic", "p"]].to_numpy(float),
                               rtol=1e-12)


def test_missing_outcome_is_dropped():
    d = basics_like()
    res = one_way(d, "CHGMISS", group="ARM")
    assert res["n"].iloc[0] == d["CHGMISS"].notna().sum()


def test_does_not_mutate_input():
    d = basics_like()
    before = d.copy()
    one_way(d, "CHG", group="ARM")
    pd.testing.assert_frame_equal(d, before)


def test_errors():
    d = basics_like()
    with pytest.raises(InputError, match=r"no column\(s\) \['CHANGE'\]"):
        one_way(d, "CHANGE", group="ARM")
    with pytest.raises(InputError, match="'ARM' must be numeric"):
        one_way(d, "ARM", group="STRATUM")
    small = d[(d.ARM != "BARI4") | (d.index == 40)]
    with pytest.raises(InputError, match="at least 2 non-missing.*'BARI4': 1"):
        one_way(small, "CHG", group="ARM")
    with pytest.raises(InputError, match="at least 2 groups"):
        one_way(d[d.ARM == "CTRL"], "CHG", group="ARM")
    with pytest.raises(InputError, match="must be a pandas DataFrame"):
        one_way(d.to_dict(), "CHG", group="ARM")


def test_constant_outcome_gives_nan_not_an_error():
    res = one_way(basics_like().assign(CHG=1.0), "CHG", group="ARM")
    assert res["statistic"].isna().all() and res["p"].isna().all()
    assert "undefined" in res.loc[0, "method"]
