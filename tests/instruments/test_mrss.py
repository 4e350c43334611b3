"""mRSS: reference vectors (tests/reference/instruments/mrss.json) plus rules and error messages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ssctrial.exceptions import InputError
from ssctrial.instruments import MRSS_SITES, ItemValueError, compute_mrss_total, get_instrument, score_mrss

REF = Path(__file__).parents[1] / "reference" / "instruments" / "mrss.json"
VECTORS = json.loads(REF.read_text())


def _ids(vectors):
    return [v.get("note", str(i)) for i, v in enumerate(vectors)]


@pytest.mark.parametrize(
    "vector", [v for v in VECTORS if "total" in v["expected"]], ids=lambda v: str(v["inputs"])[:40]
)
def test_reference_totals(vector):
    # derived vectors (sum of grades): exact integers, so compared exactly
    result = score_mrss(vector["inputs"])
    assert result["total"] == vector["expected"]["total"]
    # the same record scored as a DataFrame gives the same total
    frame = score_mrss(pd.DataFrame([vector["inputs"]]).reindex(columns=list(MRSS_SITES)))
    expected = vector["expected"]["total"]
    if expected is None:
        assert frame["total"].isna().all()
    else:
        assert frame["total"].iloc[0] == expected


def test_reference_errors():
    grade4 = VECTORS[4]
    with pytest.raises(
        InputError,
        match=r"MRSS item 'forearm_left' \(Forearm, left\): value 4 is not allowed; "
        r"expected an integer from 0 to 3",
    ):
        score_mrss(grade4["inputs"])
    half = VECTORS[6]
    with pytest.raises(InputError, match=r"MRSS item 'face' \(Face\): value 1.5 is not allowed"):
        score_mrss(half["inputs"])


def test_reference_change():
    vector = VECTORS[7]
    base = compute_mrss_total(vector["inputs"]["baseline"])
    week12 = compute_mrss_total(vector["inputs"]["week12"])
    assert (base, week12, week12 - base) == (23, 9, -14)


def test_missing_site_gives_missing_total_and_counts_sites():
    record = dict.fromkeys(MRSS_SITES, 2)
    record["abdomen"] = None
    assert score_mrss(record) == {"total": None, "n_sites": 16}


def test_dataframe_reports_every_offending_row():
    frame = pd.DataFrame([dict.fromkeys(MRSS_SITES, 1) for _ in range(5)], index=[10, 11, 12, 13, 14])
    frame = frame.astype(object)
    frame.loc[11, "face"] = 4
    frame.loc[13, "face"] = -1
    frame.loc[14, "thigh_left"] = "x"
    with pytest.raises(ItemValueError) as info:
        score_mrss(frame)
    message = str(info.value)
    assert "MRSS: 3 invalid value(s) in 3 row(s)" in message
    assert "row 11: 4; row 13: -1" in message
    assert "row 14: 'x'" in message
    errors = info.value.errors
    assert errors["row"].tolist() == [11, 13, 14]
    assert errors["item"].tolist() == ["face", "face", "thigh_left"]


def test_unknown_site_in_record_is_named():
    record = dict.fromkeys(MRSS_SITES, 0)
    record["neck"] = 1
    with pytest.raises(InputError, match=r"MRSS: unknown item\(s\) 'neck'; allowed items are"):
        score_mrss(record)


def test_dataframe_missing_column_is_named():
    frame = pd.DataFrame([dict.fromkeys(MRSS_SITES, 0)]).drop(columns=["abdomen"])
    with pytest.raises(InputError, match=r"MRSS: the data has no column for required item\(s\) abdomen"):
        score_mrss(frame)


def test_boolean_and_non_numeric_grades_rejected():
    record = dict.fromkeys(MRSS_SITES, 0)
    record["face"] = True
    with pytest.raises(InputError, match="value True is not allowed"):
        score_mrss(record)


def test_strings_from_csv_are_accepted_and_index_kept():
    frame = pd.DataFrame([dict.fromkeys(MRSS_SITES, "2"), dict.fromkeys(MRSS_SITES, "3.0")], index=["a", "b"])
    result = score_mrss(frame)
    assert result.index.tolist() == ["a", "b"]
    assert result["total"].tolist() == [34, 51]
    assert result["total"].dtype == "Int64"


def test_extra_columns_ignored_and_input_not_mutated():
    frame = pd.DataFrame([dict.fromkeys(MRSS_SITES, 1)])
    frame["USUBJID"] = "S1"
    before = frame.copy()
    score_mrss(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_registry_entry():
    inst = get_instrument("MRSS")
    codes = [i.code for i in inst.items if i.required]
    assert codes == list(MRSS_SITES) and len(codes) == 17
    assert inst.outputs["total"] == "MRSS"
    assert inst.item("face").check("3", instrument="MRSS") == 3
    with pytest.raises(InputError, match="MRSS item 'face'"):
        inst.item("face").check(4, instrument="MRSS")


def test_empty_frame():
    result = score_mrss(pd.DataFrame(columns=list(MRSS_SITES)))
    assert len(result) == 0 and list(result.columns) == ["total", "n_sites"]


def test_total_is_sum_on_random_data():
    rng = np.random.default_rng(1)
    grades = rng.integers(0, 4, size=(200, 17))
    frame = pd.DataFrame(grades, columns=list(MRSS_SITES))
    np.testing.assert_array_equal(score_mrss(frame)["total"].to_numpy(dtype=int), grades.sum(axis=1))
