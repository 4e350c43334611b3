from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssctrial.exceptions import InputError, PermissionDeniedError
from ssctrial.instruments import get_instrument
from ssctrial.store import ObservationError, validate_observations, verify_audit_chain

MRSS_SITES = [i.code for i in get_instrument("MRSS").items if i.type == "integer"]


def _obs(rows):
    return pd.DataFrame(rows, columns=["subject", "visit", "instrument", "item", "value"])


def _counts(store):
    return {t: len(store.read_table(t)) for t in ("observation", "visit", "audit_log")}


def test_record_and_read_back(store):
    df = _obs([("S001", "BL", "MRSS", site, k % 4) for k, site in enumerate(MRSS_SITES)])
    result = store.record_observations(df, user="ivan")
    assert (result.n_inserted, result.n_updated, result.n_unchanged, result.n_visits) == (17, 0, 0, 1)
    back = store.observations()
    assert back["item"].tolist() == MRSS_SITES
    assert back["value_num"].tolist() == [float(k % 4) for k in range(17)]
    assert set(back["entered_by"]) == {"ivan"}
    audit = store.read_table("audit_log")
    assert (audit["table_name"] == "observation").sum() == 17
    assert verify_audit_chain(store).ok


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            ("S001", "BL", "MRSS", "face", 4),
            r"subject S001, visit BL, MRSS item 'face', value 4: MRSS item 'face' "
            r"\(Face\): value 4 is not allowed; expected an integer from 0 to 3",
        ),
        (("S001", "BL", "MRSS", "face", 1.5), r"value 1.5 is not allowed; expected an integer from 0 to 3"),
        (("S001", "BL", "MRSS", "face", "x"), r"value 'x' is not allowed; expected an integer from 0 to 3"),
        (("S001", "BL", "MRSS", "nose", 1), r"MRSS has no item 'nose'; its items are: face, anterior_chest"),
        (("S001", "BL", "NOPE", "face", 1), r"unknown instrument 'NOPE'"),
        (
            ("S001", "W99", "MRSS", "face", 1),
            r"visit W99.*unknown visit; visits are: SCR, BL, W4, W8, W12, W24",
        ),
        (("S999", "BL", "MRSS", "face", 1), r"subject S999.*unknown subject; enrol the subject first"),
        (
            ("S001", "SCR", "HAQ_DI", "eating_1", 1),
            r"instrument HAQ_DI is not collected at visit SCR; "
            r"scheduled there: (\w+, )*MRSS, PFT",
        ),
        (("S001", "W4", "MRSS", "face", 1), r"the subject is not randomised; post-baseline data"),
        (
            ("S001", "BL", "PFT", "fvc_l", 9.5),
            r"PFT item 'fvc_l' .*value 9.5 is not allowed; expected a number "
            r"from 0.3 to 8 L",
        ),
        (("S001", "BL", "PFT", "fvc_l", 0.1), r"expected a number from 0.3 to 8 L"),
        (("S001", "BL", "EQ5D_5L", "mobility", 6), r"expected one of 1, 2, 3, 4, 5"),
    ],
    ids=[
        "mrss-4",
        "mrss-fraction",
        "mrss-text",
        "unknown-item",
        "unknown-instrument",
        "unknown-visit",
        "unknown-subject",
        "unscheduled",
        "not-randomised",
        "fvc-high",
        "fvc-low",
        "eq5d-level",
    ],
)
def test_bad_values_are_refused_and_nothing_is_written(store, row, message):
    before = _counts(store)
    good = ("S001", "BL", "MRSS", "abdomen", 1)
    with pytest.raises(ObservationError, match=message) as info:
        store.record_observations(_obs([good, row]), user="ivan")
    assert "1 of 2 rows refused; nothing was written" in str(info.value)
    assert len(info.value.errors) == 1 and info.value.errors["row"].tolist() == [1]
    assert _counts(store) == before


def test_wrong_unit_is_refused(store):
    df = _obs([("S001", "BL", "PFT", "fvc_l", 2.5)]).assign(unit="mL")
    with pytest.raises(ObservationError, match=r"unit 'mL' is not allowed; expected 'L'"):
        store.record_observations(df, user="ivan")
    store.record_observations(df.assign(unit="L"), user="ivan")
    assert store.observations()["unit"].tolist() == ["L"]


def test_missing_columns_and_wrong_type(store):
    with pytest.raises(
        InputError, match="missing column\\(s\\) value; required: subject, visit, instrument, item"
    ):
        store.record_observations(
            pd.DataFrame({"subject": ["S001"], "visit": ["BL"], "instrument": ["MRSS"], "item": ["face"]}),
            user="ivan",
        )
    with pytest.raises(InputError, match="must be a pandas DataFrame"):
        store.record_observations([("S001", "BL", "MRSS", "face", 1)], user="ivan")


def test_duplicate_rows_are_refused(store):
    df = _obs([("S001", "BL", "MRSS", "face", 1), ("S001", "BL", "MRSS", "face", 2)])
    with pytest.raises(ObservationError, match="duplicate of row 0"):
        store.record_observations(df, user="ivan")


def test_monitor_may_not_record(store):
    with pytest.raises(PermissionDeniedError, match="role 'monitor'"):
        store.record_observations(_obs([("S001", "BL", "MRSS", "face", 1)]), user="mona")


def test_post_baseline_after_randomisation(store, allocate):
    allocate(store, "S001")
    store.record_observations(_obs([("S001", "W4", "MRSS", "face", 2)]), user="ivan")
    assert store.observations()["visit"].tolist() == ["W4"]


def test_corrections_need_a_reason_and_are_audited(store):
    store.record_observations(
        _obs([("S001", "BL", "MRSS", "face", 1), ("S001", "BL", "MRSS", "abdomen", 0)]), user="ivan"
    )
    corrected = _obs([("S001", "BL", "MRSS", "face", 2), ("S001", "BL", "MRSS", "abdomen", 0)])
    with pytest.raises(
        ObservationError, match=r"value '2': already recorded as '1'; a correction needs a reason"
    ):
        store.record_observations(corrected, user="ivan")
    assert store.observations()["value"].tolist() == ["1", "0"]
    result = store.record_observations(corrected, user="ivan", reason="transcription error")
    assert (result.n_updated, result.n_unchanged, result.n_inserted) == (1, 1, 0)
    assert store.observations()["value"].tolist() == ["2", "0"]
    audit = store.read_table("audit_log")
    last = audit.iloc[-1]
    assert (last["action"], last["record_key"], last["reason"]) == (
        "update",
        "S001/BL/MRSS/face",
        "transcription error",
    )
    assert '"value":"1"' in last["old"] and '"value":"2"' in last["new"]
    assert verify_audit_chain(store).ok


def test_dates_not_in_future_or_before_consent(store):
    base = _obs([("S001", "BL", "MRSS", "face", 1)])
    with pytest.raises(ObservationError, match="visit_date 2099-01-01 is in the future"):
        store.record_observations(base.assign(visit_date="2099-01-01"), user="ivan")
    with pytest.raises(ObservationError, match=r"visit_date 2023-12-31 is before consent \(2024-01-05\)"):
        store.record_observations(base.assign(visit_date="2023-12-31"), user="ivan")
    with pytest.raises(ObservationError, match="visit_date: 'soon' is not a date; expected YYYY-MM-DD"):
        store.record_observations(base.assign(visit_date="soon"), user="ivan")
    store.record_observations(base.assign(visit_date="2024-01-20"), user="ivan")
    assert str(store.read_table("visit")["visit_date"].iloc[0]) == "2024-01-20"


def test_validate_only_reports(store):
    valid, errors = validate_observations(
        store, _obs([("S001", "BL", "MRSS", "face", 1), ("S001", "BL", "MRSS", "face2", 1)])
    )
    assert len(valid) == 1 and errors["item"].tolist() == ["face2"]
    assert len(store.read_table("observation")) == 0


values = st.lists(st.integers(0, 3), min_size=17, max_size=17)
fvc = st.floats(0.3, 8.0, allow_nan=False, allow_infinity=False)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mrss=values, fvc_l=fvc, vas=st.integers(0, 100))
def test_roundtrip_write_then_read_equals_input(tmp_path_factory, mrss, fvc_l, vas):
    """Property: what is written is what is read back (exact values, units, order)."""
    from ssctrial.store import init_store

    path = tmp_path_factory.mktemp("rt") / "rt.db"
    store = init_store(f"sqlite:///{path}", "basics", user="a")
    store.add_user("i", "investigator", user="a")
    store.enroll_subject(
        "R1", user="i", consent_date="2024-01-01", sex="F", strata={"SUBTYPE": "diffuse", "DURATION": "late"}
    )
    rows = [("R1", "BL", "MRSS", s, v) for s, v in zip(MRSS_SITES, mrss, strict=True)]
    rows += [("R1", "BL", "PFT", "fvc_l", fvc_l), ("R1", "BL", "EQ5D_5L", "vas", vas)]
    df = _obs(rows)
    store.record_observations(df, user="i")
    back = store.observations()
    pd.testing.assert_frame_equal(
        back[["subject", "visit", "instrument", "item"]], df[["subject", "visit", "instrument", "item"]]
    )
    assert back["value_num"].tolist() == [float(v) for v in df["value"]]  # exact: floats stored as repr
    assert back["unit"].tolist() == [None] * 17 + ["L", "points"]
    store.close()


def test_visit_dates_windows_and_corrections(store, allocate):
    allocate(store, "S001")
    rows = _obs([("S001", "BL", "MRSS", "face", 1), ("S001", "W4", "MRSS", "face", 1)])
    with pytest.raises(
        ObservationError,
        match=r"visit_date 2024-04-01 is study day 72, outside the window of W4 "
        r"\(days 21..35: 2024-02-10 to 2024-02-24\)",
    ):
        store.record_observations(rows.assign(visit_date=["2024-01-20", "2024-04-01"]), user="ivan")
    with pytest.raises(ObservationError, match="different visit_date values for the same subject and visit"):
        store.record_observations(
            _obs([("S001", "BL", "MRSS", "face", 1), ("S001", "BL", "MRSS", "abdomen", 1)]).assign(
                visit_date=["2024-01-20", "2024-01-21"]
            ),
            user="ivan",
        )
    assert len(store.read_table("visit")) == 0
    store.record_observations(rows.assign(visit_date=["2024-01-20", "2024-02-17"]), user="ivan")
    moved = _obs([("S001", "W4", "MRSS", "face", 1)]).assign(visit_date="2024-02-18")
    with pytest.raises(
        ObservationError,
        match="visit_date already recorded as 2024-02-17; a correction to 2024-02-18 needs a reason",
    ):
        store.record_observations(moved, user="ivan")
    store.record_observations(moved, user="ivan", reason="date typo")
    visits = store.read_table("visit").set_index("visit_code")["visit_date"]
    assert str(visits["W4"]) == "2024-02-18"
    assert verify_audit_chain(store).ok


def test_date_items_not_in_future_or_before_consent(tmp_path, monkeypatch):
    """No registered instrument has a date item yet, so register one for this test only."""
    import copy
    from importlib import resources

    import yaml

    from ssctrial.design import validate_study
    from ssctrial.instruments import Instrument, Item, _registry
    from ssctrial.store import init_store

    inst = Instrument(
        code="ZZDATE",
        name="test",
        items=(Item("onset", "Onset", "date"),),
        scorer=lambda df: df,
        outputs={},
        score_range="",
        missing_rule="",
        citation="",
    )
    monkeypatch.setitem(_registry._REGISTRY, "ZZDATE", inst)
    raw = yaml.safe_load((resources.files("ssctrial.design.studies") / "basics.yaml").read_text())
    raw = copy.deepcopy(raw)
    raw["visits"][1]["instruments"].append("ZZDATE")
    st = init_store(f"sqlite:///{tmp_path / 'd.db'}", validate_study(raw), user="a")
    st.add_user("i", "investigator", user="a")
    st.enroll_subject(
        "D1", user="i", consent_date="2024-01-10", sex="F", strata={"SUBTYPE": "diffuse", "DURATION": "early"}
    )
    df = _obs([("D1", "BL", "ZZDATE", "onset", "2099-05-01")])
    with pytest.raises(ObservationError, match="date 2099-05-01 is in the future"):
        st.record_observations(df, user="i")
    with pytest.raises(ObservationError, match=r"date 2024-01-01 is before consent \(2024-01-10\)"):
        st.record_observations(df.assign(value="2024-01-01"), user="i")
    with pytest.raises(ObservationError, match="value '1 May' is not allowed; expected a date"):
        st.record_observations(df.assign(value="1 May"), user="i")
    st.record_observations(df.assign(value="2024-02-01"), user="i")
    assert st.observations()["value"].tolist() == ["2024-02-01"]
    st.close()


def test_booleans_are_not_taken_for_integers(store):
    """pandas.factorize merges True with 1; the validator must still refuse True for an mRSS site."""
    df = _obs([("S001", "BL", "MRSS", "face", 1), ("S001", "BL", "MRSS", "abdomen", True)])
    with pytest.raises(
        ObservationError, match=r"MRSS item 'abdomen', value True: .*expected an integer from 0 to 3"
    ):
        store.record_observations(df, user="ivan")
