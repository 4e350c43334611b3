"""HAQ-DI and SHAQ VAS: reference vectors (tests/reference/instruments/haq_di.json) plus every rule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ssctrial.exceptions import InputError
from ssctrial.instruments import (
    HAQ_CATEGORIES,
    HAQ_DEVICES,
    SHAQ_VAS,
    compute_shaq_vas,
    get_instrument,
    score_haq_di,
)

REF = Path(__file__).parents[1] / "reference" / "instruments" / "haq_di.json"
VECTORS = json.loads(REF.read_text())
HAQ_VECTORS = [v for v in VECTORS if "items" in v["inputs"]]
VAS_VECTORS = [v for v in VECTORS if v["inputs"].get("instrument") == "SHAQ VAS item"]
QUESTIONS = [code for qs in HAQ_CATEGORIES.values() for code in qs]


def _record(inputs):
    record = {}
    for category, answers in inputs["items"].items():
        for n, answer in enumerate(answers, start=1):
            record[f"{category}_{n}"] = answer
    for category in inputs.get("aids_or_help_categories", []):
        record[f"help_{category}"] = True
    return record


def _all(value):
    return dict.fromkeys(QUESTIONS, value)


def test_vector_counts():
    assert len(HAQ_VECTORS) == 10 and len(VAS_VECTORS) == 5


@pytest.mark.parametrize(
    "vector", [v for v in HAQ_VECTORS if "haq_di" in v["expected"]], ids=lambda v: v.get("note", "")[:50]
)
def test_reference_haq_di(vector):
    scoring = vector["inputs"].get("scoring", "standard")
    result = score_haq_di(_record(vector["inputs"]), scoring=scoring)
    expected = vector["expected"]
    if expected["haq_di"] is None:
        assert result["haq_di"] is None
    else:
        # sums of eighths are exact; 4/3 is not, so rtol 1e-12 (float division), not equality
        np.testing.assert_allclose(result["haq_di"], expected["haq_di"], rtol=1e-12)
    for category, score in expected["category_scores"].items():
        assert result[f"category_{category}"] == score, category
    if "n_categories" in expected:
        assert result["n_categories"] == expected["n_categories"]


def test_reference_invalid_item():
    vector = next(v for v in HAQ_VECTORS if "error" in v["expected"])
    with pytest.raises(
        InputError,
        match=r"HAQ_DI item 'walking_1' \(Walk outdoors on flat ground\): value 4 "
        r"is not allowed; expected an integer from 0 to 3",
    ):
        score_haq_di(_record(vector["inputs"]))


@pytest.mark.parametrize(
    "vector", VAS_VECTORS, ids=lambda v: f"{v['inputs']['mark_mm']}/{v['inputs']['line_length_mm']}"
)
def test_reference_vas(vector):
    mark, line = vector["inputs"]["mark_mm"], vector["inputs"]["line_length_mm"]
    # closed form 3*mark/line: rtol 1e-12
    np.testing.assert_allclose(
        compute_shaq_vas(mark, line_length_mm=line), vector["expected"]["score_0_3"], rtol=1e-12
    )
    record = {**_all(0), "vas_raynauds": mark}
    result = score_haq_di(record, vas_line_mm=line)
    np.testing.assert_allclose(result["vas_raynauds_score"], vector["expected"]["score_0_3"], rtol=1e-12)


@pytest.mark.parametrize("device", list(HAQ_DEVICES))
def test_each_device_raises_its_category_only(device):
    category = HAQ_DEVICES[device][1]
    result = score_haq_di({**_all(1), device: True})
    for cat in HAQ_CATEGORIES:
        assert result[f"category_{cat}"] == (2 if cat == category else 1)
    np.testing.assert_allclose(result["haq_di"], (7 + 2) / 8, rtol=1e-12)


@pytest.mark.parametrize("category", list(HAQ_CATEGORIES))
def test_help_raises_0_to_2_but_leaves_3(category):
    zero = score_haq_di({**_all(0), f"help_{category}": True})
    assert zero[f"category_{category}"] == 2
    three = score_haq_di({**_all(3), f"help_{category}": True})
    assert three[f"category_{category}"] == 3


def test_without_aids_ignores_devices_and_help():
    record = {**_all(0), "device_cane": True, "help_grip": True}
    assert score_haq_di(record, scoring="without_aids")["haq_di"] == 0.0
    np.testing.assert_allclose(score_haq_di(record)["haq_di"], 4 / 8, rtol=1e-12)


def test_aid_for_unanswered_category_does_not_create_a_score():
    record = {**_all(1), "walking_1": None, "walking_2": None, "device_cane": True}
    result = score_haq_di(record)
    assert result["category_walking"] is None and result["n_categories"] == 7
    np.testing.assert_allclose(result["haq_di"], 1.0, rtol=1e-12)


def test_six_of_eight_rule_boundary():
    record = _all(2)
    for code in HAQ_CATEGORIES["grip"]:
        record[code] = None
    assert score_haq_di(record)["haq_di"] == 2.0  # 7 categories
    for code in HAQ_CATEGORIES["activities"]:
        record[code] = None
    assert score_haq_di(record)["haq_di"] == 2.0  # 6 categories: still computed
    for code in HAQ_CATEGORIES["reach"]:
        record[code] = None
    result = score_haq_di(record)
    assert result["haq_di"] is None and result["n_categories"] == 5


def test_device_value_must_be_boolean_and_all_rows_reported():
    frame = pd.DataFrame([_all(0)] * 4)
    frame["device_cane"] = ["yes", "no", "maybe", 2]
    with pytest.raises(InputError) as info:
        score_haq_di(frame)
    message = str(info.value)
    assert (
        "HAQ_DI item 'device_cane' (Cane): 2 value(s) not allowed "
        "(expected a boolean) in row 2: 'maybe'; row 3: 2"
        in message
    )


def test_vas_mark_beyond_line_rejected_with_line_length():
    with pytest.raises(
        InputError,
        match=r"HAQ_DI item 'vas_gi' .*: value 120 is not allowed; expected a number from 0 to 100 mm",
    ):
        score_haq_di({**_all(0), "vas_gi": 120}, vas_line_mm=100)
    with pytest.raises(
        InputError, match=r"SHAQ VAS mark\(s\) 151.0 mm not allowed; expected a number from 0 to 150 mm"
    ):
        compute_shaq_vas([10, 151])


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        (
            {"scoring": "with_aids"},
            r"HAQ_DI option scoring='with_aids' is not allowed; expected one of standard, without_aids",
        ),
        ({"vas_line_mm": 0}, r"HAQ_DI option vas_line_mm=0 is not allowed; expected a positive length in mm"),
        ({"vas_line_mm": "long"}, r"HAQ_DI option vas_line_mm='long' is not allowed"),
    ],
)
def test_bad_options(options, pattern):
    with pytest.raises(InputError, match=pattern):
        score_haq_di(_all(0), **options)


def test_shaq_line_length_error():
    with pytest.raises(InputError, match=r"SHAQ VAS line_length_mm=-5 is not allowed"):
        compute_shaq_vas(3, line_length_mm=-5)


def test_vas_array_and_missing():
    out = compute_shaq_vas(np.array([0.0, 75.0, np.nan]))
    np.testing.assert_allclose(out, [0.0, 1.5, np.nan], rtol=1e-12)
    assert score_haq_di(_all(0))["vas_pain_score"] is None


def test_registry_entry():
    inst = get_instrument("haq-di")
    required = [i.code for i in inst.items if i.required]
    assert required == QUESTIONS and len(required) == 20
    optional = {i.code for i in inst.items if not i.required}
    assert set(HAQ_DEVICES) <= optional and set(SHAQ_VAS) <= optional
    assert {f"help_{c}" for c in HAQ_CATEGORIES} <= optional
    assert inst.outputs["haq_di"] == "HAQDI"
    assert inst.options == {"scoring": "standard", "vas_line_mm": 150.0}
