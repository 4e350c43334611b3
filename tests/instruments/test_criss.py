"""ACR-CRISS: reference vectors (tests/reference/instruments/acr_criss.json), step-1 rules, scorer, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ssctrial.exceptions import InputError
from ssctrial.instruments import (
    compute_criss_probability,
    compute_criss_step1_fvc,
    compute_criss_step1_lv,
    compute_criss_step1_pah,
    get_instrument,
    score_acr_criss,
)

REF = Path(__file__).parents[1] / "reference" / "instruments" / "acr_criss.json"
VECTORS = json.loads(REF.read_text())
STEP2 = [v for v in VECTORS if "d_mrss" in v["inputs"]]
DELTAS = ("d_mrss", "d_fvc_pct_pred", "d_pt_global", "d_md_global", "d_haq_di")

BASE = {
    "mrss_base": 25,
    "fvc_pct_pred_base": 80.0,
    "pt_global_base": 6.0,
    "md_global_base": 5.0,
    "haq_di_base": 1.0,
}


def _record_from_deltas(inputs):
    """Express a change vector as baseline + follow-up values (what the scorer takes)."""
    record = dict(BASE)
    for stem in ("mrss", "fvc_pct_pred", "pt_global", "md_global", "haq_di"):
        record[stem] = BASE[f"{stem}_base"] + inputs[f"d_{stem}"]
    record["renal_crisis"] = inputs["step1_event"]
    return record


def test_vector_counts():
    assert len(VECTORS) == 16 and len(STEP2) == 9


@pytest.mark.parametrize(
    "vector", STEP2, ids=lambda v: v.get("note", v["inputs"].get("step1_reason", ""))[:40]
)
def test_reference_probability(vector):
    inputs, expected = vector["inputs"], vector["expected"]
    p = compute_criss_probability(**{k: inputs[k] for k in DELTAS}, step1_event=inputs["step1_event"])
    tol = vector.get("tolerance", {}).get("probability", 0.0)
    # vector printed to 6 dp: atol = its stated tolerance (1e-6), half-unit rounding of the print
    np.testing.assert_allclose(p, expected["probability"], rtol=0, atol=max(tol, 1e-12))
    if "linear_predictor" in expected:
        lp = np.log(p / (1 - p))
        np.testing.assert_allclose(lp, expected["linear_predictor"], rtol=0, atol=1e-9)
    # the full scorer from baseline/follow-up values gives the same probability and flag
    result = score_acr_criss(_record_from_deltas(inputs))
    np.testing.assert_allclose(result["probability"], expected["probability"], rtol=0, atol=max(tol, 1e-12))
    assert result["improved"] is expected["improved_ge_0_60"]


FVC = [v for v in VECTORS if "fvc_pct_pred_baseline" in v["inputs"]]


@pytest.mark.parametrize("vector", FVC, ids=lambda v: v.get("note", "")[:40])
def test_reference_step1_fvc(vector):
    i = vector["inputs"]
    out = compute_criss_step1_fvc(
        fvc_pct_pred_baseline=i["fvc_pct_pred_baseline"],
        fvc_pct_pred_followup=i["fvc_pct_pred_followup"],
        confirmed_within_1_month=i["confirmed_within_1_month"],
        hrct_confirms_ild=i["hrct_confirms_ild"],
        attributable_to_ssc=i["attributable_to_ssc"],
    )
    assert out["event"] is vector["expected"]["step1_fvc_event"]
    # printed to 4 dp
    np.testing.assert_allclose(
        out["relative_decline_pct"], vector["expected"]["relative_decline_pct"], atol=5e-5
    )


@pytest.mark.parametrize(
    "vector",
    [v for v in VECTORS if "lvef_pct_new" in v["inputs"]],
    ids=lambda v: str(v["inputs"]["lvef_pct_new"]),
)
def test_reference_step1_lv(vector):
    i = vector["inputs"]
    out = compute_criss_step1_lv(
        lvef_pct=i["lvef_pct_new"],
        requires_treatment=i["requires_treatment"],
        attributable_to_ssc=i["attributable_to_ssc"],
    )
    assert out is vector["expected"]["step1_lv_failure_event"]


@pytest.mark.parametrize(
    "vector",
    [v for v in VECTORS if "rhc_pvr_wood" in v["inputs"]],
    ids=lambda v: str(v["inputs"]["rhc_pvr_wood"]),
)
def test_reference_step1_pah(vector):
    i = vector["inputs"]
    out = compute_criss_step1_pah(
        mpap_mmhg=i["rhc_mpap_mmHg"],
        pawp_mmhg=i["rhc_pawp_mmHg"],
        pvr_wood=i["rhc_pvr_wood"],
        requires_treatment=i["requires_treatment"],
        new_onset=i["new_onset"],
    )
    assert out is vector["expected"]["step1_pah_event"]


def test_step1_fvc_each_condition_required():
    kw = {
        "fvc_pct_pred_baseline": 85.0,
        "fvc_pct_pred_followup": 70.0,
        "confirmed_within_1_month": True,
        "hrct_confirms_ild": True,
        "attributable_to_ssc": True,
    }
    assert compute_criss_step1_fvc(**kw)["event"] is True
    for key in ("confirmed_within_1_month", "hrct_confirms_ild", "attributable_to_ssc"):
        assert compute_criss_step1_fvc(**{**kw, key: False})["event"] is False
    # exactly 15 % relative decline counts (>=), and 80 % exactly is not "below 80"
    assert (
        compute_criss_step1_fvc(**{**kw, "fvc_pct_pred_baseline": 80.0, "fvc_pct_pred_followup": 68.0})[
            "event"
        ]
        is True
    )
    assert (
        compute_criss_step1_fvc(**{**kw, "fvc_pct_pred_baseline": 100.0, "fvc_pct_pred_followup": 80.0})[
            "event"
        ]
        is False
    )
    with pytest.raises(InputError, match="fvc_pct_pred_baseline=0 must be positive"):
        compute_criss_step1_fvc(**{**kw, "fvc_pct_pred_baseline": 0})


def test_step1_boundaries_lv_and_pah():
    assert compute_criss_step1_lv(lvef_pct=45, requires_treatment=True) is True
    assert compute_criss_step1_lv(lvef_pct=45, requires_treatment=False) is False
    pah = {"mpap_mmhg": 25, "pawp_mmhg": 15, "pvr_wood": 3.01, "requires_treatment": True}
    assert compute_criss_step1_pah(**pah) is True
    assert compute_criss_step1_pah(**{**pah, "mpap_mmhg": 24.9}) is False
    assert compute_criss_step1_pah(**{**pah, "pawp_mmhg": 15.1}) is False
    out = compute_criss_step1_lv(lvef_pct=np.array([40, 50]), requires_treatment=True)
    np.testing.assert_array_equal(out, [True, False])


@pytest.mark.parametrize("event", ["renal_crisis", "fvc_decline", "lv_failure", "pah"])
def test_each_step1_event_overrides_step2(event):
    record = {**BASE, "mrss": 5, "fvc_pct_pred": 90.0, "pt_global": 1.0, "md_global": 1.0, "haq_di": 0.0}
    assert score_acr_criss(record)["probability"] > 0.99
    result = score_acr_criss({**record, event: True})
    assert result["probability"] == 0.0 and result["improved"] is False and result["step1_event"] is True


def test_step1_overrides_even_with_missing_core_items():
    record = {**BASE, "mrss": None, "fvc_pct_pred": 90.0, "pt_global": 1.0, "md_global": 1.0, "haq_di": 0.0}
    assert score_acr_criss(record)["probability"] is None
    assert score_acr_criss(record)["improved"] is None
    assert score_acr_criss({**record, "pah": True})["probability"] == 0.0


def test_threshold_is_inclusive_and_a_parameter():
    # lp = log(0.6/0.4) exactly on the threshold: p >= 0.60 improved
    d = (np.log(1.5) + 5.54) / -0.81
    p = compute_criss_probability(d_mrss=d, d_fvc_pct_pred=0, d_pt_global=0, d_md_global=0, d_haq_di=0)
    np.testing.assert_allclose(p, 0.6, rtol=1e-12)
    record = {**BASE, "mrss": 25 - 8, "fvc_pct_pred": 80.0, "pt_global": 6.0, "md_global": 5.0, "haq_di": 1.0}
    p8 = score_acr_criss(record)["probability"]
    assert score_acr_criss(record, threshold=p8)["improved"] is True
    assert score_acr_criss(record, threshold=min(p8 + 1e-9, 0.999999))["improved"] is False


def test_globals_in_mm_are_divided_by_10():
    cm = {**BASE, "mrss": 20, "fvc_pct_pred": 82.0, "pt_global": 4.0, "md_global": 3.5, "haq_di": 0.75}
    mm = {**cm, "pt_global_base": 60.0, "pt_global": 40.0, "md_global_base": 50.0, "md_global": 35.0}
    a, b = score_acr_criss(cm), score_acr_criss(mm, global_scale="0-100")
    np.testing.assert_allclose(b["probability"], a["probability"], rtol=1e-12)
    np.testing.assert_allclose(b["d_pt_global"], -2.0, rtol=1e-12)
    with pytest.raises(
        InputError,
        match=r"ACR_CRISS item 'pt_global_base' .*value 60.0 is not allowed; expected a number from 0 to 10",
    ):
        score_acr_criss(mm)


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        (
            {"threshold": 1.5},
            r"ACR_CRISS option threshold=1.5 is not allowed; expected a probability between 0 and 1",
        ),
        ({"threshold": True}, r"ACR_CRISS option threshold=True is not allowed"),
        (
            {"global_scale": "cm"},
            r"ACR_CRISS option global_scale='cm' is not allowed; expected one of 0-10, 0-100",
        ),
    ],
)
def test_bad_options(options, pattern):
    with pytest.raises(InputError, match=pattern):
        score_acr_criss(
            {**BASE, "mrss": 1, "fvc_pct_pred": 80, "pt_global": 1, "md_global": 1, "haq_di": 1}, **options
        )


def test_frame_reports_every_bad_row_and_item():
    frame = pd.DataFrame(
        [{**BASE, "mrss": 20, "fvc_pct_pred": 80, "pt_global": 5, "md_global": 5, "haq_di": 1}] * 4
    ).astype(float)
    frame.loc[1, "haq_di"] = 3.5
    frame.loc[3, "haq_di"] = -0.5
    frame.loc[2, "mrss"] = 60
    with pytest.raises(InputError) as info:
        score_acr_criss(frame)
    message = str(info.value)
    assert message.startswith("ACR_CRISS: 3 invalid value(s) in 3 row(s)")
    assert (
        "'mrss' (mRSS total at follow-up): 1 value(s) not allowed "
        "(expected a number from 0 to 51) in row 2: 60"
        in message
    )
    assert "row 1: 3.5; row 3: -0.5" in message


def test_vectorised_probability_matches_scalar():
    rng = np.random.default_rng(7)
    d = rng.normal(size=(50, 5)) * [5, 5, 2, 2, 0.5]
    vec = compute_criss_probability(**{k: d[:, j] for j, k in enumerate(DELTAS)})
    one = [compute_criss_probability(**{k: d[i, j] for j, k in enumerate(DELTAS)}) for i in range(50)]
    np.testing.assert_array_equal(vec, one)


def test_registry_entry():
    inst = get_instrument("ACR-CRISS")
    assert inst.per_visit is False
    assert inst.outputs["probability"] == "CRISS"
    assert inst.options == {"threshold": 0.60, "global_scale": "0-10"}
    assert [i.code for i in inst.items if i.required] == [
        "mrss_base",
        "mrss",
        "fvc_pct_pred_base",
        "fvc_pct_pred",
        "pt_global_base",
        "pt_global",
        "md_global_base",
        "md_global",
        "haq_di_base",
        "haq_di",
    ]
