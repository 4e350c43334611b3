"""Bulk adverse events: the rules, messages and audit content of record_adverse_event, all or nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from ssctrial.exceptions import InputError, NotFoundError, PermissionDeniedError
from ssctrial.store import SubjectBatchError, verify_audit_chain


def _ae(subject="S001", **changes):
    row = {
        "subject_id": subject,
        "term": "Herpes zoster",
        "body_system": "Infections and infestations",
        "start_date": "2024-02-01",
        "stop_date": "2024-02-20",
        "grade": 2,
        "serious": False,
        "relatedness": "possible",
        "outcome": "recovered",
    }
    row.update(changes)
    return row


def _single(store, row):
    fields = {k: v for k, v in row.items() if k != "subject_id"}
    return store.record_adverse_event(row["subject_id"], user="ivan", **fields)


def _audit(store):
    return store.read_table("audit_log")[
        ["user_name", "action", "table_name", "record_key", "old", "new", "reason"]
    ]


def test_bulk_events_store_and_audit_as_the_single_path(store):
    rows = [
        _ae(),
        _ae("S002", term="ALT increased", grade=1, start_date="2024-03-01", stop_date=None),
        _ae(grade=3, serious="yes"),
    ]
    ids = store.record_adverse_events(pd.DataFrame(rows), user="ivan")
    assert len(ids) == 3
    assert ids == sorted(ids)
    bulk = _audit(store).tail(3).reset_index(drop=True)
    single_ids = [_single(store, r) for r in rows]
    single = _audit(store).tail(3).reset_index(drop=True)
    single["record_key"] = [str(i) for i in ids]
    pd.testing.assert_frame_equal(bulk, single)
    stored = store.read_table("adverse_event").set_index("id")
    cols = ["subject_id", "term", "body_system", "start_date", "stop_date", "grade", "serious", "outcome"]
    for b, s in zip(ids, single_ids, strict=True):
        pd.testing.assert_series_equal(stored.loc[b, cols], stored.loc[s, cols], check_names=False)
    assert stored.loc[ids[2], "serious"] in (True, 1)
    assert verify_audit_chain(store).ok


def test_every_bad_event_is_reported_and_nothing_written(store):
    future = (date.today() + timedelta(days=10)).isoformat()
    rows = [
        _ae(),
        _ae(grade=7),
        _ae(start_date="2023-01-01"),  # before S001's consent (2024-01-05)
        _ae(stop_date="2024-01-20"),  # before the start
        _ae(relatedness="maybe"),
        _ae(grade=5, outcome="recovered"),
        _ae(start_date=future, stop_date=None),
        _ae(term=" "),
    ]
    before = (len(store.read_table("adverse_event")), verify_audit_chain(store).n_rows)
    with pytest.raises(SubjectBatchError) as err:
        store.record_adverse_events(pd.DataFrame(rows), user="ivan")
    errors = err.value.errors
    assert errors["row"].tolist() == [1, 2, 3, 4, 5, 6, 7]
    for label, message in zip(errors["row"], errors["error"], strict=True):
        with pytest.raises(InputError) as single:
            _single(store, rows[label])
        assert str(single.value) == message
    assert (len(store.read_table("adverse_event")), verify_audit_chain(store).n_rows) == before
    with pytest.raises(NotFoundError, match=r"(?s)1 of 2 adverse events refused.*unknown subject 'S404'"):
        store.record_adverse_events(pd.DataFrame([_ae(), _ae("S404")]), user="ivan")
    with pytest.raises(InputError, match=r"adverse events: missing column\(s\) grade"):
        store.record_adverse_events(pd.DataFrame([_ae()]).drop(columns="grade"), user="ivan")
    with pytest.raises(PermissionDeniedError):
        store.record_adverse_events(pd.DataFrame([_ae()]), user="mona")
    assert (len(store.read_table("adverse_event")), verify_audit_chain(store).n_rows) == before
