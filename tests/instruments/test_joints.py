"""Joint counts: reference vectors (tests/reference/instruments/joint_counts.json) and rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ssctrial.exceptions import InputError
from ssctrial.instruments import (
    JOINTS_28,
    JOINTS_66,
    JOINTS_68,
    NOT_EVALUATED,
    compute_joint_counts,
    get_instrument,
    score_joint_counts,
)

REF = Path(__file__).parents[1] / "reference" / "instruments" / "joint_counts.json"
VECTORS = json.loads(REF.read_text())


def test_sets():
    assert (len(JOINTS_28), len(JOINTS_68), len(JOINTS_66)) == (28, 68, 66)
    assert set(JOINTS_28) <= set(JOINTS_66) <= set(JOINTS_68)
    assert set(JOINTS_68) - set(JOINTS_66) == {"right_hip", "left_hip"}


@pytest.mark.parametrize("vector", VECTORS[:4], ids=["none", "all28", "mixed", "outside28"])
def test_reference_counts(vector):
    result = compute_joint_counts(tender=vector["inputs"]["tender"], swollen=vector["inputs"]["swollen"])
    for key, value in vector["expected"].items():
        if key != "note":
            assert result[key] == value, key


def test_reference_swollen_hip_rejected():
    vector = VECTORS[4]
    assert compute_joint_counts(tender=vector["inputs"]["tender"])["tjc68"] == vector["expected"]["tjc68"]
    with pytest.raises(
        InputError,
        match=r"JOINTS swollen: unknown joint 'right_hip' \(hips are assessed for tenderness only\)",
    ):
        compute_joint_counts(**vector["inputs"])


def test_reference_duplicate_rejected():
    with pytest.raises(InputError, match="JOINTS tender: duplicate joint right_wrist; list each joint once"):
        compute_joint_counts(**VECTORS[5]["inputs"])


def test_unknown_joint_named():
    with pytest.raises(
        InputError, match=r"JOINTS tender: unknown joint 'right_pinky'; allowed joints are: right_tmj"
    ):
        compute_joint_counts(tender=["right_pinky"])
    with pytest.raises(InputError, match="expected a list of joint names, got the string 'right_knee'"):
        compute_joint_counts(tender="right_knee")


def test_not_evaluated_reduces_the_denominator_not_the_count():
    result = compute_joint_counts(tender=["left_knee"], not_evaluated=["right_knee", "right_hip"])
    assert result["tjc28"] == 1 and result["tjc28_n_evaluated"] == 27
    assert result["sjc28_n_evaluated"] == 27
    assert result["tjc68_n_evaluated"] == 66 and result["sjc66_n_evaluated"] == 65
    with pytest.raises(
        InputError, match=r"joint\(s\) left_knee listed as not evaluated and also as tender or swollen"
    ):
        compute_joint_counts(tender=["left_knee"], not_evaluated=["left_knee"])


def _form28(value=0):
    row = {f"tender_{j}": value for j in JOINTS_28}
    row.update({f"swollen_{j}": value for j in JOINTS_28})
    return row


def test_28_joint_form_gives_missing_68_counts():
    frame = pd.DataFrame([_form28(0), _form28(1)])
    frame.loc[0, "tender_left_wrist"] = 1
    result = score_joint_counts(frame)
    assert result["tjc28"].tolist() == [1, 28] and result["sjc28"].tolist() == [0, 28]
    assert result["tjc68"].isna().all() and result["sjc66_n_evaluated"].isna().all()


def test_frame_with_ne_and_missing_values():
    frame = pd.DataFrame([_form28(0)] * 3, dtype=object)
    frame.loc[1, "tender_right_knee"] = NOT_EVALUATED
    frame.loc[2, "swollen_right_knee"] = None
    result = score_joint_counts(frame)
    assert result["tjc28"].tolist() == [0, 0, 0]
    assert result["tjc28_n_evaluated"].tolist() == [28, 27, 28]
    assert result["sjc28"].isna().tolist() == [False, False, True]


def test_frame_bad_values_every_row_listed():
    frame = pd.DataFrame([_form28(0)] * 4, dtype=object)
    frame.loc[0, "tender_left_elbow"] = 2
    frame.loc[3, "tender_left_elbow"] = "yes"
    with pytest.raises(InputError) as info:
        score_joint_counts(frame)
    assert (
        "JOINTS item 'tender_left_elbow' (Tender: left elbow): 2 value(s) not allowed "
        "(expected one of 0, 1, 'NE') in row 0: 2; row 3: 'yes'"
    ) in str(info.value)


def test_frame_unknown_joint_column():
    frame = pd.DataFrame([{**_form28(0), "swollen_right_hip": 0}])
    with pytest.raises(InputError, match=r"JOINTS: unknown joint item\(s\) swollen_right_hip"):
        score_joint_counts(frame)


def test_frame_without_a_complete_set():
    frame = pd.DataFrame([_form28(0)]).drop(columns=["tender_right_knee"])
    with pytest.raises(
        InputError,
        match="JOINTS: the data has neither the 28-joint nor the 68/66-joint columns; "
        "missing: tender_right_knee",
    ):
        score_joint_counts(frame)


def test_registry_entry():
    inst = get_instrument("JOINTS")
    assert len(inst.items) == 68 + 66
    assert inst.outputs["tjc28"] == "TJC28" and inst.outputs["sjc28"] == "SJC28"
    assert inst.item("tender_right_wrist").check("NE", instrument="JOINTS") == "NE"
    assert inst.item("tender_right_wrist").check("1", instrument="JOINTS") == 1


def test_record_equals_frame_row():
    rng = np.random.default_rng(3)
    choices = np.array([0, 1, NOT_EVALUATED, None], dtype=object)
    codes = [f"tender_{j}" for j in JOINTS_68] + [f"swollen_{j}" for j in JOINTS_66]
    records = [
        dict(zip(codes, rng.choice(choices, size=len(codes), p=[0.6, 0.3, 0.08, 0.02]), strict=True))
        for _ in range(5)
    ]
    frame = score_joint_counts(pd.DataFrame(records))
    for i, record in enumerate(records):
        expected = {k: (None if pd.isna(v) else int(v)) for k, v in frame.iloc[i].to_dict().items()}
        assert score_joint_counts(record) == expected
