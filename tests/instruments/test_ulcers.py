"""Digital ulcers: reference vectors (tests/reference/instruments/digital_ulcers.json) and rules."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ssctrial.exceptions import InputError
from ssctrial.instruments import (
    DU_LOCATIONS,
    DU_QUALIFYING,
    compute_digital_ulcer_changes,
    get_instrument,
    score_digital_ulcers,
)

REF = Path(__file__).parents[1] / "reference" / "instruments" / "digital_ulcers.json"
VECTORS = json.loads(REF.read_text())


def _visit(locations):
    return {loc: loc in locations for loc in DU_LOCATIONS}


def test_locations():
    assert len(DU_LOCATIONS) == 50 and len(DU_QUALIFYING) == 30
    assert "R2_tip" in DU_QUALIFYING and "R1_dorsal_mcp" not in DU_QUALIFYING


def test_reference_vector_1():
    i, e = VECTORS[0]["inputs"], VECTORS[0]["expected"]
    assert score_digital_ulcers(_visit(i["baseline_ulcers"]))["active_du"] == e["active_du_baseline"]
    assert score_digital_ulcers(_visit(i["week12_ulcers"]))["active_du"] == e["active_du_week12"]
    assert score_digital_ulcers(_visit(i["week24_ulcers"]))["active_du"] == e["active_du_week24"]
    w12 = compute_digital_ulcer_changes(i["baseline_ulcers"], i["week12_ulcers"])
    assert w12["change_active_du"] == e["change_nub_week12"]
    assert w12["new_du"] == e["new_du_baseline_to_week12"]
    assert w12["healed_du"] == e["healed_by_week12"]
    assert (
        compute_digital_ulcer_changes(i["baseline_ulcers"], i["week24_ulcers"])["change_active_du"]
        == e["change_nub_week24"]
    )


def test_reference_vector_2():
    i, e = VECTORS[1]["inputs"], VECTORS[1]["expected"]
    out = compute_digital_ulcer_changes(i["baseline_ulcers"], i["week12_ulcers"])
    assert out["active_du"] == e["active_du_week12"]
    assert out["change_active_du"] == e["change_nub_week12"]
    assert out["new_du"] == e["new_du_baseline_to_week12"]


def test_reference_vector_3_extensor_lesion_not_counted():
    i, e = VECTORS[2]["inputs"], VECTORS[2]["expected"]
    result = score_digital_ulcers(_visit(i["week12_ulcers"]))
    assert result["active_du"] == e["active_du_week12"] and result["other_lesions"] == 1
    assert compute_digital_ulcer_changes(i["baseline_ulcers"], i["week12_ulcers"])["active_du"] == 0


def test_frame_changes_match_list_changes():
    visits = [VECTORS[0]["inputs"]["baseline_ulcers"], VECTORS[1]["inputs"]["week12_ulcers"], []]
    before = pd.DataFrame([_visit(v) for v in visits], index=["s1", "s2", "s3"])
    after = pd.DataFrame([_visit(v) for v in reversed(visits)], index=["s1", "s2", "s3"])
    result = compute_digital_ulcer_changes(before, after)
    for label, b, a in zip(before.index, visits, list(reversed(visits)), strict=True):
        assert result.loc[label].to_dict() == compute_digital_ulcer_changes(b, a)


def test_errors():
    with pytest.raises(
        InputError, match=r"DU previous visit: unknown ulcer location 'R6_tip'; locations are"
    ):
        compute_digital_ulcer_changes(["R6_tip"], [])
    with pytest.raises(InputError, match="DU current visit: duplicate ulcer location R2_tip"):
        compute_digital_ulcer_changes([], ["R2_tip", "R2_tip"])
    with pytest.raises(InputError, match="same index"):
        compute_digital_ulcer_changes(
            pd.DataFrame([_visit([])], index=[1]), pd.DataFrame([_visit([])], index=[2])
        )
    with pytest.raises(InputError, match="give both visits as lists of locations or both as DataFrames"):
        compute_digital_ulcer_changes([], pd.DataFrame([_visit([])]))
    frame = pd.DataFrame([_visit([])] * 3, dtype=object)
    frame.loc[1, "L3_tip"] = "ulcer"
    frame.loc[2, "L3_tip"] = 3
    with pytest.raises(
        InputError,
        match=r"DU item 'L3_tip' \(Left middle finger, fingertip \(volar pad\)\): 2 value\(s\) "
        r"not allowed \(expected a boolean\) in row 1: 'ulcer'; row 2: 3",
    ):
        score_digital_ulcers(frame)


def test_missing_location_gives_missing_count():
    record = _visit(["R2_tip"])
    record["L1_tip"] = None
    assert score_digital_ulcers(record)["active_du"] is None


def test_registry_entry():
    inst = get_instrument("DU")
    assert inst.outputs["active_du"] == "DUCNT"
    assert {i.code for i in inst.items if i.required} == set(DU_QUALIFYING)
