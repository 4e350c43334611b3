"""Revised EUSTAR activity index: reference vectors (tests/reference/instruments/eustar_ai.json) and rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ssctrial.exceptions import InputError
from ssctrial.instruments import get_instrument, score_eustar_ai

REF = Path(__file__).parents[1] / "reference" / "instruments" / "eustar_ai.json"
VECTORS = json.loads(REF.read_text())
NONE = {
    "delta_skin": False,
    "mrss": 10,
    "digital_ulcers": False,
    "tendon_friction_rubs": False,
    "crp_mg_dl": 0.3,
    "dlco_pct_pred": 85,
}


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.get("note", "crp mg/L"))
def test_reference(vector):
    result = score_eustar_ai(vector["inputs"])
    # sums of quarter points: exact in binary floating point; atol 1e-12 for safety only
    np.testing.assert_allclose(result["score"], vector["expected"]["score"], rtol=0, atol=1e-12)
    assert result["active"] is vector["expected"]["active_ge_2_5"]


def test_reference_as_one_frame():
    frame = pd.DataFrame([v["inputs"] for v in VECTORS])
    result = score_eustar_ai(frame)
    np.testing.assert_allclose(result["score"], [v["expected"]["score"] for v in VECTORS], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("change", "points"),
    [
        ({"delta_skin": True}, 1.5),
        ({"mrss": 19}, 1.5),
        ({"digital_ulcers": True}, 1.5),
        ({"tendon_friction_rubs": True}, 2.25),
        ({"crp_mg_dl": 1.0001}, 2.25),
        ({"dlco_pct_pred": 69.99}, 1.0),
        ({"mrss": 18}, 0.0),
        ({"crp_mg_dl": 1.0}, 0.0),
        ({"dlco_pct_pred": 70}, 0.0),
    ],
)
def test_each_item_weight(change, points):
    assert score_eustar_ai({**NONE, **change})["score"] == points


def test_threshold_parameter_and_missing_item():
    record = {**NONE, "delta_skin": True, "dlco_pct_pred": 60}  # 2.5
    assert score_eustar_ai(record)["active"] is True
    assert score_eustar_ai(record, threshold=3.0)["active"] is False
    assert score_eustar_ai({**record, "digital_ulcers": None}) == {"score": None, "active": None}
    with pytest.raises(
        InputError, match=r"EUSTAR_AI option threshold=11 is not allowed; expected a number from 0 to 10"
    ):
        score_eustar_ai(record, threshold=11)


def test_crp_units():
    both = {**NONE, "crp_mg_dl": 1.5, "crp_mg_l": 15}
    assert score_eustar_ai(both)["score"] == 2.25
    with pytest.raises(
        InputError,
        match=r"EUSTAR_AI items crp_mg_dl and crp_mg_l disagree \(10 mg/L = 1 mg/dL\) in row\(s\) 0",
    ):
        score_eustar_ai({**both, "crp_mg_l": 5})
    frame = pd.DataFrame([NONE]).drop(columns=["crp_mg_dl"])
    with pytest.raises(InputError, match="EUSTAR_AI: the data has neither crp_mg_dl nor crp_mg_l"):
        score_eustar_ai(frame)


def test_bad_values_listed():
    frame = pd.DataFrame([NONE] * 3)
    frame["mrss"] = [10, 52, 60]
    frame["dlco_pct_pred"] = [-1.0, 50.0, 50.0]
    with pytest.raises(InputError) as info:
        score_eustar_ai(frame)
    message = str(info.value)
    assert "EUSTAR_AI: 3 invalid value(s) in 3 row(s)" in message
    assert "row 1: 52; row 2: 60" in message and "row 0: -1.0" in message


def test_registry_entry():
    inst = get_instrument("EUSTAR_AI")
    assert inst.outputs["score"] == "EUSTARAI" and inst.options == {"threshold": 2.5}
