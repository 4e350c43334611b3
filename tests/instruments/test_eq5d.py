# ruff: noqa: E501  (expected error messages are quoted whole, on one line each)
"""EQ-5D index: reference vectors, boundaries, DataFrame form, registry entries and error messages.

Reference files: tests/reference/instruments/ (see README.md there for provenance).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ssctrial.exceptions import InputError
from ssctrial.instruments import (
    EQ5D_DIMENSIONS,
    compute_eq5d_index,
    eq5d_index,
    get_instrument,
    list_eq5d_value_sets,
    score_eq5d,
)

REF = Path(__file__).resolve().parents[1] / "reference" / "instruments"
VECTORS = json.loads((REF / "eq5d.json").read_text())
SIX = [
    "CN_5L_Luo2017",
    "CN_3L_Liu2014",
    "EN_5L_Devlin2018",
    "US_5L_Pickard2019",
    "UK_3L_Dolan1997",
    "JP_5L_Shiroiwa2016",
]


def _id(v):
    return f"{v['kind']}-{v['inputs']['value_set']}-{v['inputs']['state']}"


@pytest.mark.parametrize("vector", VECTORS, ids=[_id(v) for v in VECTORS])
def test_reference_vector_single(vector):
    # Source: tests/reference/instruments/eq5d.json (published abstracts + derived from the coefficient
    # table). Tolerance: the vector's own (1e-6 derived; 5e-4 published = half a unit of 3 dp).
    got = eq5d_index(vector["inputs"]["state"], value_set=vector["inputs"]["value_set"])
    np.testing.assert_allclose(got, vector["expected"]["index"], rtol=0, atol=vector["tolerance"])


def test_reference_vectors_dataframe_identical_to_single():
    df = pd.DataFrame([v["inputs"] for v in VECTORS])
    for vs, part in df.groupby("value_set"):
        vec = compute_eq5d_index(part, value_set=vs, state_col="state")
        single = [eq5d_index(s, vs) for s in part["state"]]
        # identical, not just close: both read the same pre-computed state table
        assert vec.tolist() == single
        expected = [v["expected"]["index"] for v in VECTORS if v["inputs"]["value_set"] == vs]
        tol = max(v["tolerance"] for v in VECTORS if v["inputs"]["value_set"] == vs)
        np.testing.assert_allclose(vec.to_numpy(), expected, rtol=0, atol=tol)


def test_euroqol_full_state_table_sample_china_5l():
    # Source: EuroQol eq5dsuite-value-sets EQ-5D-5L/CN.csv (Luo 2017), an independently computed table.
    # Published to 3 dp and our coefficients are 3 dp, so agreement is exact up to float rounding.
    ref = pd.read_csv(REF / "eq5dsuite_cn5l_sample.csv", comment="#", dtype={"state": str})
    got = compute_eq5d_index(ref, state_col="state")
    np.testing.assert_allclose(got.to_numpy(), ref["value"].to_numpy(), rtol=0, atol=5e-7)


def test_six_required_value_sets_are_shipped_and_default_is_china_5l():
    listed = list_eq5d_value_sets()
    assert set(SIX) <= set(listed["value_set"])
    assert eq5d_index("55555") == eq5d_index("55555", "CN_5L_Luo2017")
    np.testing.assert_allclose(eq5d_index("55555"), -0.391, atol=1e-9)  # SPEC worst state, CN-5L
    assert listed.columns.tolist() == ["value_set", "version", "country", "min_index", "citation"]
    assert (listed["citation"].str.len() > 20).all()


@pytest.mark.parametrize("value_set", SIX + ["JP_5L_Shiroiwa2016_4dp"])
def test_full_health_is_one_in_every_set(value_set):
    state = "11111"
    assert eq5d_index(state, value_set) == 1.0


@pytest.mark.parametrize(
    ("value_set", "worst", "expected"),
    [
        ("CN_5L_Luo2017", "55555", -0.391),
        ("CN_3L_Liu2014", "33333", -0.149),
        ("EN_5L_Devlin2018", "55555", -0.285),
        ("US_5L_Pickard2019", "55555", -0.573),
        ("UK_3L_Dolan1997", "33333", -0.594),
        ("JP_5L_Shiroiwa2016", "55555", -0.025449),
    ],
)
def test_worst_state_of_each_set(value_set, worst, expected):
    # Source: SPEC.md EQ-5D table, "worst state" column (CN-3L and EN-5L published in the abstracts).
    np.testing.assert_allclose(eq5d_index(worst, value_set), expected, rtol=0, atol=1e-9)
    assert list_eq5d_value_sets().set_index("value_set").loc[value_set, "min_index"] == pytest.approx(
        expected
    )


def test_constant_and_n3_terms_of_3l_models():
    # UK Dolan 1997 by hand: 11211 = 1 - 0.081 - 0.036 = 0.883; 11311 = 1 - 0.081 - 0.269 - 0.094 = 0.556
    np.testing.assert_allclose(eq5d_index("11211", "UK_3L_Dolan1997"), 0.883, atol=1e-12)
    np.testing.assert_allclose(eq5d_index("11311", "UK_3L_Dolan1997"), 0.556, atol=1e-12)
    # JP constant applies once any dimension > 1: 11112 = 1 - 0.060924 - 0.071779
    np.testing.assert_allclose(eq5d_index("11112", "JP_5L_Shiroiwa2016"), 1 - 0.060924 - 0.071779, atol=1e-12)


def test_state_as_sequence_string_and_numpy_agree():
    assert eq5d_index([1, 2, 3, 4, 5]) == eq5d_index("12345") == eq5d_index(np.array([1, 2, 3, 4, 5]))
    assert eq5d_index(("1", "2", "3", "4", "5")) == eq5d_index(" 12345 ")
    assert eq5d_index([1.0, 2.0, 3.0, 4.0, 5.0]) == eq5d_index("12345")


def test_missing_dimension_gives_nan():
    assert np.isnan(eq5d_index([1, None, 3, 4, 5]))
    assert np.isnan(eq5d_index(["1", "2", "3", "4", pd.NA]))
    assert eq5d_index(pd.Series([1, 2, 3, 4, 5])) == eq5d_index("12345")
    assert np.isnan(eq5d_index([1, 2, float("nan"), 4, 5]))


def test_dataframe_with_dimension_columns_missing_and_index_kept():
    df = pd.DataFrame(
        {
            "mobility": [1, 2, None, 5],
            "self_care": [1, 1, 1, 5],
            "usual_activities": [1, 3, 1, 5],
            "pain_discomfort": [1, 4, 1, 5],
            "anxiety_depression": [1, 5, 1, 5],
        },
        index=["a", "b", "c", "d"],
    )
    before = df.copy()
    got = compute_eq5d_index(df)
    assert got.index.tolist() == ["a", "b", "c", "d"]
    assert got.name == "eq5d_index"
    np.testing.assert_allclose(got.to_numpy(), [1.0, eq5d_index("21345"), np.nan, -0.391], atol=1e-12)
    pd.testing.assert_frame_equal(df, before)  # input not mutated


def test_dataframe_custom_dims_and_text_levels():
    df = pd.DataFrame({"MO": ["2", "1"], "SC": [1, 1], "UA": [3, 1], "PD": [4, 1], "AD": [5, 1]})
    got = compute_eq5d_index(df, dims=["MO", "SC", "UA", "PD", "AD"], value_set="EN_5L_Devlin2018")
    assert got.tolist() == [eq5d_index("21345", "EN_5L_Devlin2018"), 1.0]


def test_series_of_states():
    s = pd.Series(["11111", None, "33333"], name="st")
    got = compute_eq5d_index(s, value_set="CN_3L_Liu2014")
    np.testing.assert_allclose(got.to_numpy(), [1.0, np.nan, -0.149], atol=1e-12)


def test_score_eq5d_keeps_vas_apart():
    df = pd.DataFrame({d: [1, 2] for d in EQ5D_DIMENSIONS} | {"vas": [90, 35]})
    out = score_eq5d(df)
    assert out.columns.tolist() == ["index", "vas"]
    assert out["vas"].tolist() == [90.0, 35.0]
    assert out["index"].tolist() == [1.0, eq5d_index("22222")]
    # changing the VAS never changes the index
    out2 = score_eq5d(df.assign(vas=[0, 100]))
    assert out2["index"].tolist() == out["index"].tolist()
    # VAS absent -> missing VAS, index still scored
    assert score_eq5d(df.drop(columns="vas"))["vas"].isna().all()


def test_score_eq5d_3l_default_value_set():
    df = pd.DataFrame({d: [3] for d in EQ5D_DIMENSIONS})
    np.testing.assert_allclose(score_eq5d(df, version="3L")["index"], [-0.149], atol=1e-12)


def test_registry_entries():
    for code, levels, default in (("EQ5D_5L", 5, "CN_5L_Luo2017"), ("EQ5D_3L", 3, "CN_3L_Liu2014")):
        inst = get_instrument(code)
        assert [i.code for i in inst.items] == [*EQ5D_DIMENSIONS, "vas"]
        for dim in EQ5D_DIMENSIONS:
            assert inst.item(dim).allowed == tuple(range(1, levels + 1))
        vas = inst.item("vas")
        assert (vas.min, vas.max, vas.required) == (0, 100, False)
        assert inst.outputs == {"index": "EQ5DIDX", "vas": "EQ5DVAS"}
        assert inst.options == {"value_set": default}
        assert inst.per_visit is True
        df = pd.DataFrame({d: [levels] for d in EQ5D_DIMENSIONS} | {"vas": [50]})
        scored = inst.scorer(df)
        assert scored["index"].iloc[0] == eq5d_index(str(levels) * 5, default)
    with pytest.raises(InputError, match=r"EQ5D_5L item 'mobility' \(Mobility\): value 6 is not allowed"):
        get_instrument("EQ5D_5L").check_item("mobility", 6)
    with pytest.raises(
        InputError, match=r"EQ5D_3L item 'self_care'.*value 4 is not allowed; expected one of 1, 2, 3"
    ):
        get_instrument("EQ5D_3L").check_item("self_care", 4)


def test_registry_scorer_accepts_value_set_option():
    df = pd.DataFrame({d: [5] for d in EQ5D_DIMENSIONS})
    got = get_instrument("EQ5D_5L").scorer(df, value_set="US_5L_Pickard2019")
    np.testing.assert_allclose(got["index"], [-0.573], atol=1e-12)


# -- errors: every documented bad input, message checked ------------------------------------------


@pytest.mark.parametrize(
    ("state", "value_set", "pattern"),
    [
        (
            "01111",
            "CN_5L_Luo2017",
            r"EQ5D_5L item 'mobility' \(Mobility\): value '0' is not allowed; expected one of 1, 2, 3, 4, 5",
        ),
        ("11611", "CN_5L_Luo2017", r"EQ5D_5L item 'usual_activities' .*value '6' is not allowed"),
        ([1, 1, 1, 1, 9], "CN_5L_Luo2017", r"EQ5D_5L item 'anxiety_depression' .*value 9 is not allowed"),
        (
            "11141",
            "CN_3L_Liu2014",
            r"EQ5D_3L item 'pain_discomfort' .*value '4' is not allowed; expected one of 1, 2, 3 "
            r"\(value set CN_3L_Liu2014 is an EQ-5D-3L value set\)",
        ),
        ([1, 1.5, 1, 1, 1], "CN_5L_Luo2017", r"EQ5D_5L item 'self_care' .*value 1.5 is not allowed"),
        ([1, True, 1, 1, 1], "CN_5L_Luo2017", r"EQ5D_5L item 'self_care' .*value True is not allowed"),
        ("1x111", "CN_5L_Luo2017", r"EQ5D_5L item 'self_care' .*value 'x' is not allowed"),
        ("2134", "CN_5L_Luo2017", r"EQ5D_5L state '2134': 4 characters instead of 5; expected 5 levels"),
        ("213451", "CN_5L_Luo2017", r"EQ5D_5L state '213451': 6 characters instead of 5"),
        ([1, 2, 3], "UK_3L_Dolan1997", r"EQ5D_3L state \[1, 2, 3\]: 3 levels instead of 5"),
        (21345, "CN_5L_Luo2017", r"EQ5D_5L state 21345: a value of type int is not a state"),
    ],
)
def test_bad_state_messages(state, value_set, pattern):
    with pytest.raises(InputError, match=pattern):
        eq5d_index(state, value_set)


def test_unknown_value_set_lists_known_ones():
    with pytest.raises(
        InputError, match=r"EQ-5D value set 'XX_5L' is not known; known value sets are: .*CN_5L_Luo2017"
    ):
        eq5d_index("11111", "XX_5L")
    with pytest.raises(InputError, match=r"EQ-5D value set 'XX' is not known"):
        compute_eq5d_index(pd.DataFrame({"s": ["11111"]}), value_set="XX", state_col="s")


def test_version_mismatch_in_scorer():
    df = pd.DataFrame({d: [1] for d in EQ5D_DIMENSIONS})
    with pytest.raises(
        InputError,
        match=r"'CN_5L_Luo2017' is an EQ-5D-5L value set and cannot score EQ-5D-3L data.*"
        r"EQ-5D-3L value sets are: CN_3L_Liu2014, UK_3L_Dolan1997",
    ):
        score_eq5d(df, version="3L", value_set="CN_5L_Luo2017")
    with pytest.raises(InputError, match=r"EQ-5D version '4L' is not allowed; expected '5L' or '3L'"):
        score_eq5d(df, version="4L")


def test_dataframe_reports_every_offending_row():
    df = pd.DataFrame(
        {
            "mobility": [1, 0, 2, 6, 1],
            "self_care": [1, 1, 1, 1, 7],
            "usual_activities": [1, 1, 1, 1, 1],
            "pain_discomfort": [1, 1, 1, 1, 1],
            "anxiety_depression": [1, 1, 1, 1, "bad"],
        },
        index=[10, 11, 12, 13, 14],
    )
    with pytest.raises(InputError) as exc:
        compute_eq5d_index(df)
    msg = str(exc.value)
    assert (
        "EQ5D_5L item 'mobility': 2 rows not allowed (expected one of 1, 2, 3, 4, 5): row 11: 0, row 13: 6"
        in msg
    )
    assert "EQ5D_5L item 'self_care': 1 row not allowed (expected one of 1, 2, 3, 4, 5): row 14: 7" in msg
    assert "EQ5D_5L item 'anxiety_depression' (column 'anxiety_depression'): 1 row not allowed" in msg
    assert "row 14: 'bad'" in msg
    assert msg.startswith("value set CN_5L_Luo2017: ")


def test_dataframe_state_column_errors_every_row():
    df = pd.DataFrame({"state": ["11111", "2134", "11x11", "11161", "44444"]})
    with pytest.raises(InputError) as exc:
        compute_eq5d_index(df, state_col="state", value_set="UK_3L_Dolan1997")
    msg = str(exc.value)
    assert "EQ5D_3L state column 'state': 2 rows not allowed (expected 5 digits" in msg
    assert "row 1: '2134', row 2: '11x11'" in msg
    assert (
        "EQ5D_3L item 'pain_discomfort': 2 rows not allowed (expected one of 1, 2, 3): row 3: 6, row 4: 4"
        in msg
    )
    assert "EQ5D_3L item 'mobility': 1 row not allowed (expected one of 1, 2, 3): row 4: 4" in msg
    assert "EQ5D_3L item 'anxiety_depression': 1 row not allowed" in msg  # 44444 -> every dimension listed


def test_dataframe_missing_columns_and_bad_dims():
    with pytest.raises(
        InputError, match=r"EQ5D_5L scoring: data has no column 'self_care', 'usual_activities'"
    ):
        compute_eq5d_index(pd.DataFrame({"mobility": [1], "pain_discomfort": [1], "anxiety_depression": [1]}))
    with pytest.raises(
        InputError, match=r"dims must name 5 columns \(MO, SC, UA, PD, AD\), got \['a', 'b'\]"
    ):
        compute_eq5d_index(pd.DataFrame({"a": [1], "b": [1]}), dims=["a", "b"])
    with pytest.raises(InputError, match=r"EQ5D_5L scoring: data must be a pandas DataFrame, got list"):
        compute_eq5d_index([[1, 1, 1, 1, 1]])


def test_vas_out_of_range_every_row():
    df = pd.DataFrame({d: [1, 1, 1] for d in EQ5D_DIMENSIONS} | {"vas": [50, 101, -1]})
    with pytest.raises(
        InputError,
        match=r"EQ5D_5L item 'vas' \(column 'vas'\): 2 rows not allowed "
        r"\(expected a number from 0 to 100\): row 1: 101, row 2: -1",
    ):
        score_eq5d(df)


def test_docstring_examples_run():
    import doctest

    import ssctrial.instruments._eq5d as module

    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 4 and result.failed == 0


def test_empty_dataframe_gives_empty_result():
    empty = pd.DataFrame({d: pd.Series([], dtype=float) for d in EQ5D_DIMENSIONS})
    assert compute_eq5d_index(empty).empty
    assert score_eq5d(empty).columns.tolist() == ["index", "vas"]
