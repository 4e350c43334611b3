"""Bulk enrolment and status changes: same rules, messages and audit content as one by one."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from ssctrial.exceptions import InputError, NotFoundError, PermissionDeniedError, StateError
from ssctrial.store import SubjectBatchError, verify_audit_chain


def _fields(i, **changes):
    row = {
        "subject_id": f"B{i:03d}",
        "consent_date": "2024-03-01",
        "sex": "F" if i % 2 else "M",
        "SUBTYPE": "diffuse" if i % 3 else "limited",
        "DURATION": "early",
        "birth_date": "1965-07-0" + str(1 + i % 9),
        "height_cm": 150.0 + i,
    }
    row.update(changes)
    return row


def _single(store, row):
    """The single-subject path with the same fields."""
    return store.enroll_subject(
        row["subject_id"],
        user="ivan",
        consent_date=row["consent_date"],
        sex=row["sex"],
        strata={k: row[k] for k in ("SUBTYPE", "DURATION") if k in row},
        site=row.get("site"),
        birth_date=row.get("birth_date"),
        height_cm=None if pd.isna(row.get("height_cm")) else row.get("height_cm"),
    )


def _audit(store):
    log = store.read_table("audit_log")
    return log[["user_name", "action", "table_name", "record_key", "old", "new", "reason"]]


def _snapshot(store):
    return len(store.read_table("subject")), verify_audit_chain(store).n_rows


def test_bulk_enrolment_stores_and_audits_as_the_single_path(store):
    rows = [_fields(i) for i in range(6)]
    rows[2]["birth_date"] = None  # optional cells may be missing
    rows[3]["height_cm"] = np.nan
    out = store.enroll_subjects(pd.DataFrame(rows), user="ivan")
    assert out["subject_id"].tolist() == [r["subject_id"] for r in rows]
    assert (out["status"] == "screened").all()
    assert out.loc[0, "stratum"] == "SUBTYPE=limited|DURATION=early"
    assert out.loc[0, "site_code"] == "HUASHAN"  # the study's only site
    bulk_audit = _audit(store).tail(6).reset_index(drop=True)
    # the same subjects through the single path, in a second batch of ids
    singles = [_single(store, {**r, "subject_id": r["subject_id"].replace("B", "C")}) for r in rows]
    single_audit = _audit(store).tail(6).reset_index(drop=True)
    single_audit["record_key"] = single_audit["record_key"].str.replace("C", "B")
    single_audit["new"] = single_audit["new"].str.replace('"C0', '"B0')
    pd.testing.assert_frame_equal(bulk_audit, single_audit)
    stored = store.read_table("subject").set_index("subject_id")
    cols = ["site_code", "consent_date", "sex", "birth_date", "height_cm", "strata", "stratum", "status"]
    for r, single in zip(rows, singles, strict=True):
        b = stored.loc[r["subject_id"], cols]
        c = stored.loc[single["subject_id"], cols]
        pd.testing.assert_series_equal(b, c, check_names=False)
    assert verify_audit_chain(store).ok


def test_strata_as_a_mapping_column(store):
    frame = pd.DataFrame(
        {
            "subject_id": ["M1", "M2"],
            "consent_date": [date(2024, 1, 2), date(2024, 1, 3)],
            "sex": ["F", "M"],
            "strata": [
                {"SUBTYPE": "diffuse", "DURATION": "late"},
                {"SUBTYPE": "limited", "DURATION": "late"},
            ],
        }
    )
    out = store.enroll_subjects(frame, user="ivan")
    assert out["stratum"].tolist() == ["SUBTYPE=diffuse|DURATION=late", "SUBTYPE=limited|DURATION=late"]


def test_every_bad_row_is_reported_with_the_single_path_message(store):
    future = (date.today() + timedelta(days=30)).isoformat()
    rows = [
        _fields(0),
        _fields(1, sex="X"),
        _fields(2, consent_date=future),
        _fields(3, SUBTYPE="sine"),
        _fields(4, height_cm=20.5),
        _fields(5, site="NOWHERE"),
        _fields(6, birth_date="2030-01-01"),
        _fields(7, subject_id="bad id!"),
        _fields(0),  # the first row's id again
        _fields(9, DURATION=None),
    ]
    before = _snapshot(store)
    with pytest.raises(SubjectBatchError) as err:
        store.enroll_subjects(pd.DataFrame(rows), user="ivan")
    errors = err.value.errors
    assert errors["row"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert str(err.value).startswith("9 of 10 subjects refused; nothing was written:")
    assert _snapshot(store) == before  # nothing written
    # each message is exactly what the single-subject path says for that row
    for row_label, message in zip(errors["row"], errors["error"], strict=True):
        row = dict(rows[row_label])
        if row_label == 8:
            assert message == "subject 'B000' appears more than once in the frame (first at row 0)"
            continue
        if row_label == 9:
            row.pop("DURATION")
        with pytest.raises(InputError) as single:
            _single(store, row)
        assert str(single.value) == message
    assert "subject B001: sex 'X' is not allowed; expected F or M" in str(err.value)
    assert "unknown site 'NOWHERE'" in str(err.value)


def test_already_enrolled_is_a_state_error_and_writes_nothing(store):
    before = _snapshot(store)
    frame = pd.DataFrame([_fields(1), _fields(2, subject_id="S001"), _fields(3, subject_id="S002")])
    with pytest.raises(StateError, match=r"(?s)2 of 3 subjects refused.*subject 'S001' is already enrolled"):
        store.enroll_subjects(frame, user="ivan")
    assert _snapshot(store) == before


def test_bulk_enrolment_checks_frame_and_role(store):
    with pytest.raises(InputError, match=r"subjects: missing column\(s\) sex; required: subject_id"):
        store.enroll_subjects(
            pd.DataFrame({"subject_id": ["X1"], "consent_date": ["2024-01-01"]}), user="ivan"
        )
    with pytest.raises(InputError, match="subjects must be a pandas DataFrame, got list"):
        store.enroll_subjects([_fields(1)], user="ivan")
    with pytest.raises(PermissionDeniedError):
        store.enroll_subjects(pd.DataFrame([_fields(1)]), user="mona")
    assert len(store.enroll_subjects(pd.DataFrame([_fields(1)]).iloc[:0], user="ivan")) == 0


def test_bulk_status_changes_match_the_single_path(store, allocate):
    store.enroll_subjects(pd.DataFrame([_fields(i) for i in range(4)]), user="ivan")
    allocate(store, "B002")
    allocate(store, "B003")
    n = store.update_subject_statuses(
        pd.DataFrame(
            {
                "subject_id": ["B000", "B001", "B002", "B003"],
                "status": ["screen_failed", "withdrawn", "withdrawn", "completed"],
                "reason": ["too old", "consent withdrawn", "adverse event", None],
            }
        ),
        user="ivan",
    )
    assert n == 4
    stored = store.read_table("subject").set_index("subject_id")
    assert stored.loc[["B000", "B001", "B002", "B003"], "status"].tolist() == [
        "screen_failed",
        "withdrawn",
        "withdrawn",
        "completed",
    ]
    bulk = _audit(store).tail(4).reset_index(drop=True)
    assert json.loads(bulk.loc[3, "old"]) == {"status": "randomised", "status_reason": None}
    # the single path writes the same audit content
    store.enroll_subjects(pd.DataFrame([_fields(i, subject_id=f"D{i:03d}") for i in range(2)]), user="ivan")
    store.update_subject_status("D000", "screen_failed", user="ivan", reason="too old")
    store.update_subject_status("D001", "withdrawn", user="ivan", reason="consent withdrawn")
    single = _audit(store).tail(2).reset_index(drop=True)
    single["record_key"] = ["B000", "B001"]
    pd.testing.assert_frame_equal(bulk.head(2), single)
    assert verify_audit_chain(store).ok


def test_bulk_status_refusals_are_all_or_nothing(store, allocate):
    allocate(store, "S002")
    before = store.read_table("subject")[["subject_id", "status", "status_reason"]]
    bad = pd.DataFrame(
        {
            "subject_id": ["S001", "S001", "S002", "S001"],
            "status": ["withdrawn", "completed", "screen_failed", "lost"],
            "reason": [None, None, "x", None],
        }
    )
    with pytest.raises(SubjectBatchError) as err:
        store.update_subject_statuses(bad, user="ivan")
    assert err.value.errors["error"].tolist() == [
        "subject S001: status 'withdrawn' needs a reason",
        "subject 'S001' appears more than once in the frame (first at row 0)",
        "subject S002 is randomised and cannot be a screen failure; use 'withdrawn'",
        "status 'lost' is not allowed; expected one of "
        "screened, screen_failed, randomised, completed, withdrawn",
    ]
    with pytest.raises(NotFoundError, match="unknown subject 'S999'"):
        store.update_subject_statuses(
            pd.DataFrame({"subject_id": ["S002", "S999"], "status": ["completed", "completed"]}), user="ivan"
        )
    with pytest.raises(StateError, match="subject S001 was never randomised and cannot complete the study"):
        store.update_subject_statuses(
            pd.DataFrame({"subject_id": ["S002", "S001"], "status": ["completed", "completed"]}), user="ivan"
        )
    after = store.read_table("subject")[["subject_id", "status", "status_reason"]]
    pd.testing.assert_frame_equal(after, before)
