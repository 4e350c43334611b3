"""Data queries: a monitor opens, the site answers, the monitor closes (or reopens); all audited."""

from __future__ import annotations

import json

import pytest

from ssctrial.exceptions import InputError, NotFoundError, PermissionDeniedError, StateError
from ssctrial.store import verify_audit_chain

COLUMNS = [
    "id",
    "subject_id",
    "visit_code",
    "instrument",
    "item",
    "status",
    "text",
    "opened_by",
    "opened_at",
    "answer",
    "answered_by",
    "answered_at",
    "closed_by",
    "closed_at",
    "close_note",
]


def _audit_of(store, qid):
    log = store.read_table("audit_log")
    return log.loc[(log["table_name"] == "data_query") & (log["record_key"] == str(qid))]


def test_query_lifecycle(store):
    qid = store.open_query(
        "S001",
        user="mona",
        text="mRSS face 3 at BL but 0 at SCR?",
        visit="BL",
        instrument="mrss",
        item="face",
    )
    q = store.queries()
    assert list(q.columns) == COLUMNS
    row = q.iloc[0]
    assert (
        row["id"],
        row["subject_id"],
        row["visit_code"],
        row["instrument"],
        row["item"],
        row["status"],
    ) == (
        qid,
        "S001",
        "BL",
        "MRSS",  # canonical instrument code
        "face",
        "open",
    )
    assert row["opened_by"] == "mona" and row["opened_at"] is not None
    store.answer_query(qid, user="ivan", answer="transcription error; corrected")
    store.answer_query(qid, user="alice", answer="transcription error; corrected to 0")  # re-answer
    row = store.queries().iloc[0]
    assert (row["status"], row["answer"], row["answered_by"]) == (
        "answered",
        "transcription error; corrected to 0",
        "alice",
    )
    store.close_query(qid, user="mona", note="verified against source")
    row = store.queries().iloc[0]
    assert (row["status"], row["closed_by"], row["close_note"]) == (
        "closed",
        "mona",
        "verified against source",
    )
    with pytest.raises(StateError, match=f"query {qid} is already closed"):
        store.close_query(qid, user="mona")
    with pytest.raises(
        StateError, match=f"query {qid} is closed; only an open or answered query can be answered"
    ):
        store.answer_query(qid, user="ivan", answer="more")
    store.reopen_query(qid, user="mona", text="the correction is not in the data")
    assert store.queries().iloc[0]["status"] == "open"
    with pytest.raises(StateError, match=f"query {qid} is already open"):
        store.reopen_query(qid, user="mona", text="again")
    audit = _audit_of(store, qid)
    assert audit["action"].tolist() == ["insert", "update", "update", "update", "update"]
    assert audit["user_name"].tolist() == ["mona", "ivan", "alice", "mona", "mona"]
    assert json.loads(audit["new"].iloc[0]) == {
        "subject": "S001",
        "visit": "BL",
        "instrument": "MRSS",
        "item": "face",
        "status": "open",
        "text": "mRSS face 3 at BL but 0 at SCR?",
    }
    assert json.loads(audit["old"].iloc[2]) == {
        "status": "answered",
        "answer": "transcription error; corrected",
    }
    assert json.loads(audit["new"].iloc[3]) == {"status": "closed", "note": "verified against source"}
    assert json.loads(audit["old"].iloc[4]) == {"status": "closed"}
    assert audit["reason"].iloc[4] == "the correction is not in the data"
    assert verify_audit_chain(store).ok


def test_close_an_open_query_and_reopen_an_answered_one(store):
    a = store.open_query("S001", user="mona", text="a")
    b = store.open_query("S002", user="alice", text="b", visit="SCR")
    store.close_query(a, user="alice")
    store.answer_query(b, user="ivan", answer="ok")
    store.reopen_query(b, user="alice", text="not ok")
    q = store.queries()
    assert q["status"].tolist() == ["closed", "open"]
    assert q.loc[0, "close_note"] is None
    assert store.queries(status="open")["id"].tolist() == [b]
    assert store.queries(subject="S001")["id"].tolist() == [a]
    assert store.queries(status="answered", subject="S001").empty
    assert list(store.queries(status="answered").columns) == COLUMNS
    with pytest.raises(
        InputError, match="status: 'pending' is not allowed; expected one of open, answered, closed"
    ):
        store.queries(status="pending")


def test_roles(store):
    with pytest.raises(
        PermissionDeniedError,
        match="role 'investigator', which may not open query; roles allowed: admin, monitor",
    ):
        store.open_query("S001", user="ivan", text="x")
    with pytest.raises(PermissionDeniedError, match="role 'statistician'"):
        store.open_query("S001", user="stan", text="x")
    qid = store.open_query("S001", user="mona", text="x")
    with pytest.raises(
        PermissionDeniedError,
        match="role 'monitor', which may not answer query; roles allowed: admin, investigator",
    ):
        store.answer_query(qid, user="mona", answer="self-answered")
    with pytest.raises(PermissionDeniedError, match="role 'investigator', which may not close query"):
        store.close_query(qid, user="ivan")
    store.close_query(qid, user="mona")
    with pytest.raises(PermissionDeniedError, match="role 'investigator', which may not reopen query"):
        store.reopen_query(qid, user="ivan", text="no")
    with pytest.raises(PermissionDeniedError, match="unknown user 'eve'"):
        store.open_query("S001", user="eve", text="x")
    assert store.queries()["status"].tolist() == ["closed"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"text": ""},
            InputError,
            "text: '' is not allowed; expected non-blank text of 1 to 2000 characters",
        ),
        ({"text": "  \n"}, InputError, "text: .* is not allowed; expected non-blank text"),
        ({"text": None}, InputError, "text: None is not allowed"),
        ({"text": "x" * 2001}, InputError, "text: 2001 characters is too long; at most 2000 are allowed"),
        ({"visit": "W99"}, InputError, "visit: 'W99' is not a visit of the schedule; visits are: SCR, BL, "),
        (
            {"instrument": "NOPE"},
            InputError,
            "instrument: unknown instrument 'NOPE'; registered instruments are: .*MRSS",
        ),
        (
            {"instrument": "MRSS", "item": "tail"},
            InputError,
            "item: MRSS has no item 'tail'; its items are: face, ",
        ),
        ({"item": "face"}, InputError, "item: 'face' needs its instrument"),
        ({"subject_id": "S999"}, NotFoundError, "subject_id: unknown subject 'S999'"),
    ],
)
def test_open_query_refusals(store, kwargs, error, match):
    args = {"subject_id": "S001", "text": "please check"} | kwargs
    subject = args.pop("subject_id")
    n = len(store.read_table("audit_log"))
    with pytest.raises(error, match=match):
        store.open_query(subject, user="mona", **args)
    assert store.queries().empty
    assert len(store.read_table("audit_log")) == n


def test_answer_close_reopen_refusals(store):
    qid = store.open_query("S001", user="mona", text="x")
    with pytest.raises(NotFoundError, match="query_id: no data query 999"):
        store.answer_query(999, user="ivan", answer="a")
    with pytest.raises(NotFoundError, match="query_id: no data query 999"):
        store.close_query(999, user="mona")
    with pytest.raises(NotFoundError, match="query_id: no data query 999"):
        store.reopen_query(999, user="mona", text="a")
    with pytest.raises(InputError, match="query_id: '1' is not allowed; expected a query number"):
        store.answer_query("1", user="ivan", answer="a")
    with pytest.raises(InputError, match="answer: '' is not allowed; expected non-blank text"):
        store.answer_query(qid, user="ivan", answer="")
    with pytest.raises(InputError, match="note: 2001 characters is too long"):
        store.close_query(qid, user="mona", note="n" * 2001)
    store.close_query(qid, user="mona")
    with pytest.raises(InputError, match="text: ' ' is not allowed"):
        store.reopen_query(qid, user="mona", text=" ")
    assert store.queries()["status"].tolist() == ["closed"]
    assert verify_audit_chain(store).ok


def test_script_and_sql_text_is_stored_verbatim(store):
    text = "<script>alert(1)</script>'); DROP TABLE data_query; --"
    qid = store.open_query("S001", user="mona", text=text)
    store.answer_query(qid, user="ivan", answer=text)
    row = store.queries().iloc[0]
    assert row["text"] == text and row["answer"] == text
