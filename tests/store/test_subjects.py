from __future__ import annotations

import json

import pytest

from ssctrial.exceptions import InputError, NotFoundError, StateError

STRATA = {"SUBTYPE": "diffuse", "DURATION": "early"}


def test_enrol_stores_strata_and_stratum_key(store):
    subjects = store.read_table("subject").set_index("subject_id")
    assert subjects.loc["S001", "stratum"] == "SUBTYPE=diffuse|DURATION=early"
    assert json.loads(subjects.loc["S002", "strata"]) == {"DURATION": "late", "SUBTYPE": "limited"}
    assert subjects.loc["S001", "status"] == "screened"
    assert subjects.loc["S001", "site_code"] == "HUASHAN"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"subject_id": "bad id"}, "subject id 'bad id' is not allowed"),
        ({"consent_date": "2099-01-01"}, "consent date 2099-01-01 is in the future"),
        ({"consent_date": "01/02/2024"}, "consent_date: '01/02/2024' is not a date; expected YYYY-MM-DD"),
        ({"sex": "X"}, "sex 'X' is not allowed; expected F or M"),
        (
            {"strata": {"SUBTYPE": "mixed", "DURATION": "early"}},
            "SUBTYPE = 'mixed' is not allowed; expected one of diffuse, limited",
        ),
        (
            {"strata": {"SUBTYPE": "diffuse"}},
            "stratification factor\\(s\\) missing: DURATION \\(one of early, late\\)",
        ),
        ({"strata": {**STRATA, "AGE": "old"}}, "unknown stratification factor 'AGE'"),
        ({"site": "MARS"}, "unknown site 'MARS'; sites are: HUASHAN"),
        ({"birth_date": "2024-06-01"}, "birth_date 2024-06-01 must be before consent"),
        ({"height_cm": 20}, "height_cm 20 is not allowed; expected a number from 50 to 250 cm"),
    ],
    ids=[
        "id",
        "future-consent",
        "date-format",
        "sex",
        "level",
        "missing-factor",
        "unknown-factor",
        "site",
        "birth-after-consent",
        "height",
    ],
)
def test_bad_enrolment_is_refused(store, kwargs, message):
    args = {"subject_id": "S010", "consent_date": "2024-03-01", "sex": "F", "strata": STRATA, **kwargs}
    sid = args.pop("subject_id")
    with pytest.raises(InputError, match=message):
        store.enroll_subject(sid, user="ivan", **args)
    assert "S010" not in store.read_table("subject")["subject_id"].tolist()


def test_enrolling_twice_is_refused(store):
    with pytest.raises(StateError, match="subject 'S001' is already enrolled"):
        store.enroll_subject("S001", user="ivan", consent_date="2024-01-05", sex="F", strata=STRATA)


def test_status_changes(store, allocate):
    with pytest.raises(InputError, match="status 'screen_failed' needs a reason"):
        store.update_subject_status("S002", "screen_failed", user="ivan")
    with pytest.raises(
        InputError, match="status 'gone' is not allowed; expected one of screened, screen_failed"
    ):
        store.update_subject_status("S002", "gone", user="ivan")
    with pytest.raises(StateError, match="cannot set status 'randomised' by hand"):
        store.update_subject_status("S002", "randomised", user="ivan")
    with pytest.raises(NotFoundError, match="unknown subject 'S404'"):
        store.update_subject_status("S404", "withdrawn", user="ivan", reason="moved")
    store.update_subject_status("S002", "screen_failed", user="ivan", reason="FVC below 50%")
    allocate(store, "S001")
    with pytest.raises(StateError, match="is randomised and cannot be a screen failure"):
        store.update_subject_status("S001", "screen_failed", user="ivan", reason="x")
    store.update_subject_status("S001", "withdrawn", user="ivan", reason="consent withdrawn")
    subjects = store.read_table("subject").set_index("subject_id")
    assert subjects.loc["S001", "status"] == "withdrawn"
    assert subjects.loc["S001", "status_reason"] == "consent withdrawn"
    audit = store.read_table("audit_log")
    assert audit["reason"].iloc[-1] == "consent withdrawn"


def test_visits_windows_and_corrections(store, allocate):
    store.record_visit("S001", "BL", user="ivan", visit_date="2024-01-20")
    with pytest.raises(StateError, match="subject S001, visit W4: the subject is not randomised"):
        store.record_visit("S001", "W4", user="ivan", visit_date="2024-02-17")
    allocate(store, "S001")
    with pytest.raises(
        InputError,
        match=r"visit W4: date 2024-03-20 is study day 60, outside the window "
        r"\(days 21..35: 2024-02-10 to 2024-02-24\)",
    ):
        store.record_visit("S001", "W4", user="ivan", visit_date="2024-03-20")
    store.record_visit("S001", "W4", user="ivan", visit_date="2024-02-17")
    with pytest.raises(
        InputError, match="date already recorded as 2024-02-17; a correction to 2024-02-18 needs a reason"
    ):
        store.record_visit("S001", "W4", user="ivan", visit_date="2024-02-18")
    store.record_visit("S001", "W4", user="ivan", visit_date="2024-02-18", reason="wrong day typed")
    with pytest.raises(InputError, match="unknown visit 'W5'; visits are: SCR, BL, W4"):
        store.record_visit("S001", "W5", user="ivan", visit_date="2024-02-18")
    with pytest.raises(
        InputError, match="subject S002: visit BL date 2024-01-01 is before consent \\(2024-02-10\\)"
    ):
        store.record_visit("S002", "BL", user="ivan", visit_date="2024-01-01")
    visits = store.read_table("visit")
    assert visits["visit_code"].tolist() == ["BL", "W4"]
    assert str(visits["visit_date"].iloc[1]) == "2024-02-18"
