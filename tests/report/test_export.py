"""XPORT v5 and Dataset-JSON v1.1 export: values and labels survive a round trip; limits enforced.

The XPT is read back with pyreadstat (ReadStat, an implementation independent of the writer's
checks); the Dataset-JSON is validated against the CDISC v1.1 JSON Schema shipped in the package
(provenance: src/ssctrial/report/data/PROVENANCE.md).
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from ssctrial.exceptions import InputError
from ssctrial.report import read_dataset_json, validate_dataset_json, write_dataset_json, write_xpt


@pytest.fixture
def adeff() -> pd.DataFrame:
    data = pd.DataFrame(
        {
            "USUBJID": ["BASICS-01-001", "BASICS-01-001", "BASICS-01-002"],
            "PARAMCD": ["MRSS", "MRSS", "MRSS"],
            "AVISITN": [0, 12, 0],
            "AVAL": [21.0, 13.0, np.nan],
            "CHG": [np.nan, -8.0, np.nan],
            "ADT": [dt.date(2021, 4, 1), dt.date(2021, 6, 24), dt.date(2021, 4, 3)],
            "ABLFL": ["Y", "", "Y"],
        }
    )
    data.attrs.update(
        name="ADEFF",
        label="Efficacy Analysis Dataset",
        labels={
            "USUBJID": "Unique Subject Identifier",
            "PARAMCD": "Parameter Code",
            "AVISITN": "Analysis Visit (N)",
            "AVAL": "Analysis Value",
            "CHG": "Change from Baseline",
            "ADT": "Analysis Date",
            "ABLFL": "Baseline Record Flag",
        },
    )
    return data


def test_xpt_round_trip_values_and_labels(adeff, tmp_path):
    path = write_xpt(adeff, tmp_path / "adeff.xpt")
    back, meta = pyreadstat.read_xport(str(path))
    assert meta.table_name == "ADEFF"
    assert meta.file_label == "Efficacy Analysis Dataset"
    assert meta.column_names_to_labels == adeff.attrs["labels"]
    assert list(back.columns) == list(adeff.columns)
    np.testing.assert_array_equal(back["USUBJID"], adeff["USUBJID"])
    # XPORT stores doubles in IBM format: exact for these small integers and halves
    np.testing.assert_allclose(back["AVAL"], adeff["AVAL"], rtol=0, atol=0)
    np.testing.assert_allclose(back["CHG"], adeff["CHG"], rtol=0, atol=0)
    assert list(back["ADT"]) == list(adeff["ADT"])
    assert list(back["ABLFL"]) == ["Y", "", "Y"]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"rename": {"USUBJID": "UNIQUESUBJID"}}, r"variable 'UNIQUESUBJID': XPORT v5 names are 1-8"),
        ({"label": "x" * 41}, r"dataset label .* at most 40 characters"),
        ({"labels": {"AVAL": "y" * 41}}, r"label of 'AVAL' .* has 41 characters; XPORT v5 allows at most 40"),
        ({"name": "ADEFFICACY"}, r"dataset name 'ADEFFICACY'"),
        ({"value": "z" * 201}, r"variable 'PARAMCD': 1 values longer than 200 bytes"),
    ],
    ids=["long-variable", "long-dataset-label", "long-variable-label", "long-name", "long-value"],
)
def test_xpt_limits_are_enforced_before_writing(adeff, tmp_path, change, match):
    data = adeff.copy()
    data.attrs = dict(adeff.attrs)
    if "rename" in change:
        data = data.rename(columns=change["rename"])
        data.attrs = {k: v for k, v in adeff.attrs.items() if k != "labels"}
    if "label" in change:
        data.attrs["label"] = change["label"]
    if "labels" in change:
        data.attrs["labels"] = {**adeff.attrs["labels"], **change["labels"]}
    if "name" in change:
        data.attrs["name"] = change["name"]
    if "value" in change:
        data.loc[0, "PARAMCD"] = change["value"]
    target = tmp_path / "out.xpt"
    with pytest.raises(InputError, match=match):
        write_xpt(data, target)
    assert not target.exists()


def test_dataset_json_validates_and_round_trips(adeff, tmp_path):
    path = write_dataset_json(adeff, tmp_path / "adeff.json", study_oid="BASICS", key_columns=["USUBJID"])
    document = json.loads(path.read_text())
    validate_dataset_json(document)  # the published v1.1 schema
    assert document["datasetJSONVersion"].startswith("1.1")
    assert document["records"] == 3
    types = {c["name"]: c["dataType"] for c in document["columns"]}
    assert types == {
        "USUBJID": "string",
        "PARAMCD": "string",
        "AVISITN": "integer",
        "AVAL": "double",
        "CHG": "double",
        "ADT": "date",
        "ABLFL": "string",
    }
    assert document["columns"][0]["keySequence"] == 1
    assert document["rows"][2][3] is None  # missing AVAL is null
    back = read_dataset_json(path)
    assert back.attrs["labels"] == adeff.attrs["labels"]
    assert back.attrs["name"] == "ADEFF"
    pd.testing.assert_frame_equal(
        back.astype({"AVISITN": "int64"}), adeff, check_dtype=True, check_exact=True
    )


def test_dataset_json_schema_rejects_broken_documents(adeff, tmp_path):
    path = write_dataset_json(adeff, tmp_path / "adeff.json")
    document = json.loads(path.read_text())
    broken = dict(document)
    del broken["itemGroupOID"]
    with pytest.raises(InputError, match="'itemGroupOID' is a required property"):
        validate_dataset_json(broken)
    broken = dict(document, records=5)
    with pytest.raises(InputError, match="records: 5 but the file has 3 rows"):
        validate_dataset_json(broken)
    broken = dict(document, columns=[dict(document["columns"][0], dataType="text")])
    with pytest.raises(InputError, match="columns/0/dataType: 'text' is not one of"):
        validate_dataset_json(broken)
    broken = dict(document, datasetJSONVersion="1.0.0")
    with pytest.raises(InputError, match="datasetJSONVersion"):
        validate_dataset_json(broken)


def test_export_needs_a_dataset_name(tmp_path):
    with pytest.raises(InputError, match="dataset name is missing"):
        write_dataset_json(pd.DataFrame({"A": [1]}), tmp_path / "a.json")


def test_unknown_key_column_is_named(adeff, tmp_path):
    with pytest.raises(InputError, match=r"key_columns \['SUBJID'\] are not columns of ADEFF"):
        write_dataset_json(adeff, tmp_path / "a.json", key_columns=["SUBJID"])


def test_export_does_not_mutate_input(adeff, tmp_path):
    before = adeff.copy()
    write_xpt(adeff, tmp_path / "a.xpt")
    write_dataset_json(adeff, tmp_path / "a.json")
    pd.testing.assert_frame_equal(adeff, before)


def test_dataset_json_row_rule_is_enforced(adeff, tmp_path):
    path = write_dataset_json(adeff, tmp_path / "adeff.json")
    document = json.loads(path.read_text())
    broken = dict(document, rows=[*document["rows"][:2], [1, {"a": 1}, 3, 4, 5, 6, 7]])
    with pytest.raises(InputError, match=r"rows/2: \{'a': 1\} is not a string, number, boolean or null"):
        validate_dataset_json(broken)
    broken = dict(document, rows=[*document["rows"][:2], "not a row"])
    with pytest.raises(InputError, match=r"rows/2: 'not a row' is not of type 'array'"):
        validate_dataset_json(broken)
