"""Property-based tests of GLI lung function (hypothesis): monotone z, LLN, one-record == DataFrame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssctrial.instruments import compute_lung_function, lung_function

pytestmark = pytest.mark.slow

ETHNICITIES = ["Caucasian", "African-American", "North-East Asian", "South-East Asian", "Other/mixed"]
CASES = [
    ("GLI-2012", "FEV1", (3, 95), (0.2, 6.0)),
    ("GLI-2012", "FVC", (3, 95), (0.3, 7.0)),
    ("GLI-2012", "FEV1FVC", (3, 95), (0.3, 1.0)),
    ("GLI-Global-2022", "FEV1", (3, 95), (0.2, 6.0)),
    ("GLI-Global-2022", "FVC", (3, 95), (0.3, 7.0)),
    ("GLI-Global-2022", "FEV1FVC", (3, 95), (0.3, 1.0)),
    ("GLI-2017", "TLCO", (5, 85), (1.0, 15.0)),
    ("GLI-2017", "DLCO", (5, 85), (3.0, 45.0)),
    ("GLI-2017", "KCO", (5, 85), (0.5, 3.0)),
]


@st.composite
def record(draw):
    equation, parameter, (a0, a1), (m0, m1) = draw(st.sampled_from(CASES))
    return {
        "parameter": parameter,
        "equation": equation,
        "sex": draw(st.sampled_from(["F", "M"])),
        "age": draw(st.floats(a0, a1)),
        "height_cm": draw(st.floats(80, 250)),
        "ethnicity": draw(st.sampled_from(ETHNICITIES)),
        "measured": draw(st.floats(m0, m1)),
        "measured2": draw(st.floats(m0, m1)),
    }


def _call(r, measured):
    return lung_function(
        r["parameter"],
        sex=r["sex"],
        age=r["age"],
        height_cm=r["height_cm"],
        measured=measured,
        equation=r["equation"],
        ethnicity=r["ethnicity"],
    )


@given(record())
def test_z_and_percent_increase_with_measured_value(r):
    lo, hi = sorted((r["measured"], r["measured2"]))
    a, b = _call(r, lo), _call(r, hi)
    assert a["z"] <= b["z"] and a["percent_predicted"] <= b["percent_predicted"]
    if lo < hi * (1 - 1e-9):  # strictly increasing once the difference is above float rounding
        assert a["z"] < b["z"]
        assert a["percent_predicted"] < b["percent_predicted"]
    assert a["predicted"] == b["predicted"] and a["lln"] == b["lln"]


@given(record())
def test_lln_below_predicted_and_z_at_lln(r):
    out = _call(r, None)
    assert 0 < out["lln"] < out["predicted"]
    at_lln = _call(r, out["lln"])
    np.testing.assert_allclose(at_lln["z"], -1.645, rtol=1e-9)  # LLN is the z = -1.645 centile by definition
    if r["parameter"] == "FEV1FVC" and out["predicted"] > 1:
        return  # a ratio above 1 cannot be measured (predicted median can exceed 1 in small children)
    at_m = _call(r, out["predicted"])
    np.testing.assert_allclose(at_m["z"], 0.0, atol=1e-12)
    np.testing.assert_allclose(at_m["percent_predicted"], 100.0, rtol=1e-14)


@given(st.lists(record(), min_size=1, max_size=15))
def test_dataframe_equals_single_record(records):
    first = records[0]
    rows = [r for r in records if (r["equation"], r["parameter"]) == (first["equation"], first["parameter"])]
    frame = pd.DataFrame(rows)
    got = compute_lung_function(
        frame,
        first["parameter"],
        equation=first["equation"],
        measured_col="measured",
        ethnicity_col="ethnicity",
    )
    for k, r in enumerate(rows):
        assert got.iloc[k].to_dict() == _call(r, r["measured"])


@given(record(), st.floats(0, 0.2499))
def test_predicted_continuous_in_age(r, step):
    # linear interpolation of the spline tables: no jumps between quarter-year rows
    low, high = {"GLI-2017": (5, 85)}.get(r["equation"], (3, 95))
    age = min(max(r["age"], low), high - 0.001)
    a = lung_function(
        r["parameter"],
        sex=r["sex"],
        age=age,
        height_cm=r["height_cm"],
        equation=r["equation"],
        ethnicity=r["ethnicity"],
    )["predicted"]
    b = lung_function(
        r["parameter"],
        sex=r["sex"],
        age=age + 0.001,
        height_cm=r["height_cm"],
        equation=r["equation"],
        ethnicity=r["ethnicity"],
    )["predicted"]
    assert abs(b - a) / a < 1e-3
