from __future__ import annotations

import pandas as pd
import pytest

from ssctrial.store import GENESIS_HASH, audit_row_hash, verify_audit_chain


def _write_some(store):
    df = pd.DataFrame(
        {
            "subject": "S001",
            "visit": "BL",
            "instrument": "MRSS",
            "item": ["face", "abdomen", "anterior_chest"],
            "value": [1, 2, 3],
        }
    )
    store.record_observations(df, user="ivan")


def test_chain_is_intact_after_normal_use(store):
    _write_some(store)
    report = verify_audit_chain(store)
    assert report.ok, report.problems
    audit = store.read_table("audit_log")
    assert report.n_rows == len(audit) and audit["id"].tolist() == list(range(1, len(audit) + 1))
    assert audit["prev_hash"].iloc[0] == GENESIS_HASH
    assert (audit["prev_hash"].iloc[1:].to_numpy() == audit["hash"].iloc[:-1].to_numpy()).all()
    # recompute one hash independently of verify_audit_chain
    r = audit.iloc[3]
    content = (
        int(r["id"]),
        r["at"],
        r["user_name"],
        r["action"],
        r["table_name"],
        r["record_key"],
        r["old"],
        r["new"],
        r["reason"],
    )
    assert audit_row_hash(r["prev_hash"], content) == r["hash"]
    assert "intact" in str(report)


def test_every_write_is_audited_with_who_what_and_new_values(store):
    audit = store.read_table("audit_log")
    subject_rows = audit.loc[audit["table_name"] == "subject"]
    assert subject_rows["record_key"].tolist() == ["S001", "S002"]
    assert set(subject_rows["user_name"]) == {"ivan"}
    assert '"sex":"F"' in subject_rows["new"].iloc[0]


def _raw(store, sql):
    with store.engine.begin() as conn:
        conn.exec_driver_sql(sql)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            'UPDATE audit_log SET new = replace(new, \'"value":"2"\', \'"value":"3"\') '
            "WHERE record_key = 'S001/BL/MRSS/abdomen'",
            "content does not match its hash \\(edited\\)",
        ),
        ("UPDATE audit_log SET user_name = 'mallory' WHERE id = 2", "row 2 .*edited"),
        ("DELETE FROM audit_log WHERE id = 5", "rows 5..5 are missing \\(deleted\\)"),
        ("DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)", "audit_head says the chain has"),
    ],
    ids=["edit-value", "edit-user", "delete-middle", "delete-last"],
)
def test_tampering_behind_the_applications_back_is_detected(store, sql, expected):
    _write_some(store)
    assert verify_audit_chain(store).ok
    _raw(store, sql)
    report = verify_audit_chain(store)
    assert not report.ok
    assert any(__import__("re").search(expected, p) for p in report.problems), report.problems
    assert "BROKEN" in str(report)


def test_rehashing_an_edited_row_still_breaks_the_next_link(store):
    """An attacker who edits a row and recomputes its hash breaks the following row's prev_hash."""
    _write_some(store)
    audit = store.read_table("audit_log")
    r = audit.iloc[2]
    content = (
        int(r["id"]),
        r["at"],
        "mallory",
        r["action"],
        r["table_name"],
        r["record_key"],
        r["old"],
        r["new"],
        r["reason"],
    )
    forged = audit_row_hash(r["prev_hash"], content)
    _raw(store, f"UPDATE audit_log SET user_name = 'mallory', hash = '{forged}' WHERE id = {int(r['id'])}")
    report = verify_audit_chain(store)
    assert not report.ok
    assert any(f"row {int(r['id']) + 1}: prev_hash does not match" in p for p in report.problems)


def test_data_edited_behind_the_back_differs_from_audit_trail(store):
    """The audit trail keeps the last value written through the application."""
    _write_some(store)
    _raw(store, "UPDATE observation SET value = '0' WHERE item = 'face'")
    audit = store.read_table("audit_log")
    last_face = audit.loc[audit["record_key"] == "S001/BL/MRSS/face", "new"].iloc[-1]
    assert '"value":"1"' in last_face
    assert store.observations().set_index("item").loc["face", "value"] == "0"
