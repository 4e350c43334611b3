from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ssctrial.design import list_studies, load_study, study_file_hash, validate_study
from ssctrial.exceptions import InputError, NotFoundError


@pytest.fixture(scope="module")
def raw() -> dict:
    from importlib import resources

    text = (resources.files("ssctrial.design.studies") / "basics.yaml").read_text()
    return yaml.safe_load(text)


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_basics_is_packaged_and_loads():
    assert "basics" in list_studies()
    d = load_study("basics", check_instruments=False)
    assert d.study_id == "BASICS"
    assert d.arm_codes == ["BARI4", "BARI2", "CTRL"]
    assert [a.ratio for a in d.arms] == [1, 1, 1]
    assert [a.label for a in d.arms] == ["Baricitinib 4 mg", "Baricitinib 2 mg", "Control"]
    assert d.visit_codes == ["SCR", "BL", "W4", "W8", "W12", "W24"]
    assert [d.visit(c).day for c in ("BL", "W4", "W8", "W12", "W24")] == [0, 28, 56, 84, 168]
    assert d.visit("SCR").earliest_day == -28 and d.visit("SCR").latest_day == 0
    assert d.reference_arm == "CTRL"
    assert d.baseline_visit.code == "BL"
    assert d.primary_endpoint is not None and d.primary_endpoint.paramcd == "MRSS"
    assert d.primary_endpoint.visits == ("W12",)
    expected = {
        "MRSS",
        "CRISS",
        "FVCPP",
        "DLCOPP",
        "HAQDI",
        "PTGLOBAL",
        "MDGLOBAL",
        "TJC28",
        "SJC28",
        "DUCNT",
        "EQ5DIDX",
        "EQ5DVAS",
        "EUSTARAI",
    }
    assert {e.paramcd for e in d.endpoints} == expected
    for e in d.endpoints:
        if e.paramcd != "MRSS":
            assert e.visits == ("W12", "W24")
    assert d.eq5d_value_set == "CN_5L_Luo2017"
    assert d.lung_equation.spirometry == "GLI-2012"
    assert d.randomization.block_sizes == (3, 6)
    assert d.simulation == {} or isinstance(d.simulation, dict)
    assert len(d.stratum_keys()) == 4


def test_basics_simulation_key_is_last(raw):
    assert list(raw)[-1] == "simulation"


def test_load_by_path_and_hash(tmp_path, raw):
    path = _write(tmp_path, raw)
    d = load_study(path, check_instruments=False)
    assert d.study_id == "BASICS"
    assert len(study_file_hash(path)) == 64


def test_unknown_study_and_missing_file(tmp_path):
    with pytest.raises(NotFoundError, match="unknown study 'nope'.*packaged: basics"):
        load_study("nope")
    with pytest.raises(NotFoundError, match="does not exist"):
        load_study(tmp_path / "missing.yaml")


def test_not_yaml_mapping(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("- just\n- a list\n")
    with pytest.raises(InputError, match="must be a YAML mapping"):
        load_study(p)
    p.write_text("a: [1, 2\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_study(p)


def test_every_wrong_field_is_reported_with_its_path(tmp_path, raw):
    bad = copy.deepcopy(raw)
    bad["arms"][2]["ratio"] = -1
    bad["arms"][0]["dose_mg"] = "lots"
    bad["visits"][3]["window_after"] = -2
    bad["endpoints"][0]["methods"] = ["magic"]
    bad["endpoints"][1]["colour"] = "red"
    del bad["title"]
    with pytest.raises(InputError) as info:
        load_study(_write(tmp_path, bad), check_instruments=False)
    text = str(info.value)
    assert "arms[2].ratio: must be a positive integer, got -1" in text
    assert "arms[0].dose_mg:" in text and "'lots'" in text
    assert "visits[3].window_after: must be a number of days of at least 0, got -2" in text
    assert "endpoints[0].methods: unknown method(s) ['magic']" in text
    assert "endpoints[1].colour: unknown field" in text
    assert "title: required field is missing" in text
    assert "(6 problem(s))" in text


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["arms"][1].update(code="BARI4"), r"arms\[1\]\.code: duplicate arm code 'BARI4'"),
        (lambda d: d["visits"][4].update(code="W8"), r"visits\[4\]\.code: duplicate visit code 'W8'"),
        (
            lambda d: d["endpoints"][0].update(visits=["W13"]),
            r"endpoints\[0\]\.visits\[0\]: unknown visit 'W13'; visits are: SCR, BL",
        ),
        (lambda d: d["visits"][3].update(day=20), r"visits\[3\]\.day: visit W8 at day 20 must come after W4"),
        (lambda d: d["visits"][3].update(window_before=40), r"visits\[3\]\.window_before: window of W8"),
        (
            lambda d: d["randomization"].update(block_sizes=[4]),
            r"block_sizes\[0\]: block size 4 is not a multiple of the sum of the arm ratios \(3\)",
        ),
        (
            lambda d: d["randomization"].update(stratify_by=["AGE"]),
            r"randomization\.stratify_by\[0\]: unknown stratification factor 'AGE'",
        ),
        (
            lambda d: d["arms"].__setitem__(slice(1, None), []),
            r"arms: a randomised study needs at least 2 arms",
        ),
        (lambda d: d["arms"][0].update(reference=True), r"arms\[2\]\.reference: only one arm"),
        (
            lambda d: d["endpoints"][1].update(role="primary"),
            r"endpoints\[1\]\.role: only one endpoint may be primary",
        ),
        (
            lambda d: d["strata"][0].update(levels=["diffuse"]),
            r"strata\[0\]\.levels: must list at least 2 levels",
        ),
        (lambda d: d["arms"][0].update(code="4mg"), r"arms\[0\]\.code: must be a code"),
        (lambda d: d["randomization"].update(method="coin"), r"randomization\.method: "),
        (
            lambda d: d["randomization"].update(block_sizes=[0]),
            r"randomization\.block_sizes: block sizes must be positive",
        ),
    ],
    ids=[
        "dup-arm",
        "dup-visit",
        "endpoint-visit",
        "visit-order",
        "window-overlap",
        "block-multiple",
        "stratify-unknown",
        "one-arm",
        "two-references",
        "two-primaries",
        "one-level",
        "bad-code",
        "bad-method",
        "zero-block",
    ],
)
def test_cross_field_rules(raw, edit, message):
    bad = copy.deepcopy(raw)
    edit(bad)
    with pytest.raises(InputError, match=message):
        validate_study(bad, check_instruments=False)


def test_instruments_checked_against_registry(raw, monkeypatch):
    from ssctrial.design import _models

    codes = {"MRSS", "HAQ_DI", "GLOBAL", "JOINTS", "DU", "EUSTAR_AI", "EQ5D_5L", "PFT", "ACR_CRISS"}
    codes |= {"DEMOG", "ORGAN"}
    monkeypatch.setattr(_models, "_registered_instruments", lambda: codes)
    assert validate_study(raw).study_id == "BASICS"
    bad = copy.deepcopy(raw)
    bad["visits"][1]["instruments"] = ["NOT_AN_INSTRUMENT"]
    with pytest.raises(
        InputError, match=r"visits\[1\]\.instruments\[0\]: unknown instrument 'NOT_AN_INSTRUMENT'"
    ):
        validate_study(bad)
    # and the check can be switched off
    assert validate_study(bad, check_instruments=False).visit("BL").instruments == ("NOT_AN_INSTRUMENT",)


def test_stratum_key(raw):
    d = validate_study(raw, check_instruments=False)
    assert d.stratum_key({"DURATION": "late", "SUBTYPE": "diffuse"}) == "SUBTYPE=diffuse|DURATION=late"
    with pytest.raises(
        InputError, match="SUBTYPE = 'mixed' is not allowed; expected one of diffuse, limited"
    ):
        d.stratum_key({"SUBTYPE": "mixed", "DURATION": "late"})
    with pytest.raises(InputError, match="factor DURATION .* is missing"):
        d.stratum_key({"SUBTYPE": "limited"})


def test_lookups_name_what_exists(raw):
    d = validate_study(raw, check_instruments=False)
    with pytest.raises(NotFoundError, match="unknown visit 'W99'; visits are: SCR, BL, W4"):
        d.visit("W99")
    with pytest.raises(NotFoundError, match="unknown arm 'X'; arms are: BARI4, BARI2, CTRL"):
        d.arm("X")
    assert d.endpoint("MRSS").role == "primary"
    assert d.visit_instruments()["SCR"] == ("DEMOG", "MRSS", "PFT")
