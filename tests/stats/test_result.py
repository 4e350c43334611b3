"""The shared result object: tidy table, printing, HTML, extra tables, copies."""

from __future__ import annotations

import copy
import pickle

import pandas as pd
import pytest

from ssctrial.stats import StatsResult, ancova

from ._refs import basics_like


def _result():
    table = pd.DataFrame({"contrast": ["B - A"], "estimate": [1.23456789], "method": ["OLS"]})
    extra = {"lsmeans": pd.DataFrame({"arm": ["A", "B"], "estimate": [0.0, 1.2]})}
    return StatsResult(table, title="Example", notes=["n = 10"], extra=extra, info={"n": 10})


def test_repr_shows_title_tables_and_notes():
    text = repr(_result())
    assert text.startswith("Example")
    assert "B - A" in text and "1.235" in text  # 4 significant digits
    assert "lsmeans:" in text and "Note: n = 10" in text


def test_html():
    html = _result()._repr_html_()
    assert "<b>Example</b>" in html and html.count("<table") == 2


def test_to_frame_and_extra_tables_are_copies():
    res = _result()
    frame = res.to_frame()
    frame.loc[0, "estimate"] = 0
    assert res.to_frame().loc[0, "estimate"] == pytest.approx(1.23456789)
    ls = res.lsmeans
    ls.loc[0, "estimate"] = 99
    assert res.lsmeans.loc[0, "estimate"] == 0
    assert res.tables == ["lsmeans"]
    with pytest.raises(AttributeError, match="no attribute 'coefficients'"):
        _ = res.coefficients


def test_copy_and_pickle():
    res = ancova(basics_like(), "CHG ~ ARM + BASE", group="ARM", reference="CTRL")
    for other in (copy.deepcopy(res), pickle.loads(pickle.dumps(res))):
        pd.testing.assert_frame_equal(other.contrasts, res.contrasts)
        assert other.title == res.title


def test_every_result_table_records_its_method():
    res = ancova(basics_like(), "CHG ~ ARM + BASE", group="ARM", reference="CTRL")
    assert res.to_frame()["method"].notna().all()
