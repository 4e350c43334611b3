"""The data lock: refused on every write path while locked (nothing written), works after unlock."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import func, select

from ssctrial.exceptions import InputError, PermissionDeniedError, StateError
from ssctrial.randomize import create_allocation_list, randomize_subject, randomize_subjects
from ssctrial.store import (
    LOCK_REFUSED_ACTIONS,
    PERMISSIONS,
    Base,
    export_tables,
    import_csv,
    verify_audit_chain,
)

LOCKED = r"the database is locked \(since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ by stan: final analysis\); " + (
    r"a statistician must unlock it, with a reason, before any change"
)

AE = {
    "term": "Herpes zoster",
    "body_system": "Infections and infestations",
    "start_date": "2024-03-01",
    "grade": 2,
    "serious": "no",
    "relatedness": "possible",
}


def _counts(store):
    """Row count of every table (the concealed ones too) and the audit chain's length."""
    with store.engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar()
            for t in Base.metadata.sorted_tables
        }


def _obs(subject="S001", item="face", value=1):
    return pd.DataFrame(
        {"subject": [subject], "visit": ["BL"], "instrument": ["MRSS"], "item": [item], "value": [value]}
    )


def _query(store):
    return store.open_query("S001", user="mona", text="please check")


# name -> (setup before locking (returns a context), the write to try)
def _w_enroll(store, ctx):
    store.enroll_subject(
        "S003",
        user="ivan",
        consent_date="2024-03-01",
        sex="F",
        strata={"SUBTYPE": "diffuse", "DURATION": "early"},
    )


def _w_enroll_many(store, ctx):
    frame = pd.DataFrame(
        {
            "subject_id": ["S004"],
            "consent_date": ["2024-03-01"],
            "sex": ["M"],
            "SUBTYPE": ["limited"],
            "DURATION": ["late"],
        }
    )
    store.enroll_subjects(frame, user="ivan")


def _w_status(store, ctx):
    store.update_subject_status("S002", "screen_failed", user="ivan", reason="not eligible")


def _w_statuses(store, ctx):
    store.update_subject_statuses(
        pd.DataFrame({"subject_id": ["S002"], "status": ["screen_failed"], "reason": ["not eligible"]}),
        user="ivan",
    )


def _w_visit(store, ctx):
    store.record_visit("S001", "BL", user="ivan", visit_date="2024-01-20")


def _w_observations(store, ctx):
    store.record_observations(_obs(), user="ivan")


def _w_import(store, ctx):
    import_csv(store, ctx, user="ivan")


def _s_import(store, tmp_path):
    path = tmp_path / "obs.csv"
    path.write_text("subject,visit,instrument,item,value\nS001,BL,MRSS,face,1\n")
    return path


def _w_ae(store, ctx):
    store.record_adverse_event("S001", user="ivan", **AE)


def _w_aes(store, ctx):
    store.record_adverse_events(pd.DataFrame([{"subject_id": "S001", **AE}]), user="ivan")


def _w_sample(store, ctx):
    store.record_sample("BS-1", user="ivan", subject_id="S001", visit="BL", assay="rnaseq")


def _w_list(store, ctx):
    create_allocation_list(store, seed=7, user="alice")


def _s_list(store, tmp_path):
    create_allocation_list(store, seed=7, user="alice")


def _w_randomize(store, ctx):
    randomize_subject(store, "S001", user="ivan")


def _w_randomize_many(store, ctx):
    randomize_subjects(store, ["S001", "S002"], user="ivan")


def _w_open_query(store, ctx):
    _query(store)


def _s_query(store, tmp_path):
    return _query(store)


def _s_answered(store, tmp_path):
    qid = _query(store)
    store.answer_query(qid, user="ivan", answer="checked")
    return qid


def _w_answer(store, ctx):
    store.answer_query(ctx, user="ivan", answer="source verified")


def _w_close(store, ctx):
    store.close_query(ctx, user="mona")


def _w_reopen(store, ctx):
    store.reopen_query(ctx, user="mona", text="still unclear")


WRITES = {
    "enroll_subject": (None, _w_enroll),
    "enroll_subjects": (None, _w_enroll_many),
    "update_subject_status": (None, _w_status),
    "update_subject_statuses": (None, _w_statuses),
    "record_visit": (None, _w_visit),
    "record_observations": (None, _w_observations),
    "import_csv": (_s_import, _w_import),
    "record_adverse_event": (None, _w_ae),
    "record_adverse_events": (None, _w_aes),
    "record_sample": (None, _w_sample),
    "create_allocation_list": (None, _w_list),
    "randomize_subject": (_s_list, _w_randomize),
    "randomize_subjects": (_s_list, _w_randomize_many),
    "open_query": (None, _w_open_query),
    "answer_query": (_s_query, _w_answer),
    "close_query": (_s_answered, _w_close),
    "reopen_query": (_s_answered, _w_reopen),
}


def test_lock_refused_actions_are_the_data_changing_permissions():
    assert set(PERMISSIONS) - LOCK_REFUSED_ACTIONS == {
        "manage_users",
        "read_secret",
        "export_concealed",
        "lock",
        "unlock",
    }


@pytest.mark.parametrize("name", sorted(WRITES))
def test_every_write_is_refused_while_locked_and_works_after_unlock(store, tmp_path, name):
    setup, write = WRITES[name]
    ctx = setup(store, tmp_path) if setup else None
    store.lock(user="stan", reason="final analysis")
    before = _counts(store)
    with pytest.raises(StateError, match=LOCKED):
        write(store, ctx)
    assert _counts(store) == before  # nothing written, not even an audit row
    assert verify_audit_chain(store).ok
    store.unlock(user="stan", reason="late data from site")
    write(store, ctx)
    after = _counts(store)
    assert after["audit_log"] > before["audit_log"] + 1  # the unlock and the write
    assert verify_audit_chain(store).ok


def test_lock_state_and_audit(store):
    assert store.lock_state() == {"locked": False, "locked_at": None, "locked_by": None, "reason": None}
    store.lock(user="stan", reason="  final analysis ")
    state = store.lock_state()
    assert state["locked"] is True and state["locked_by"] == "stan" and state["reason"] == "final analysis"
    assert state["locked_at"] is not None
    log = store.read_table("audit_log")
    last = log.iloc[-1]
    assert (last["action"], last["table_name"], last["record_key"], last["reason"]) == (
        "lock",
        "study",
        "BASICS",
        "final analysis",
    )
    study = store.read_table("study").iloc[0]
    assert study["locked_by"] == "stan" and study["lock_reason"] == "final analysis"
    store.unlock(user="stan", reason="query answered late")
    last = store.read_table("audit_log").iloc[-1]
    assert (last["action"], last["reason"]) == ("unlock", "query answered late")
    assert '"locked_by":"stan"' in last["old"]
    assert store.lock_state()["locked"] is False
    assert verify_audit_chain(store).ok


def test_lock_rules(store):
    with pytest.raises(StateError, match="the database is not locked; nothing to unlock"):
        store.unlock(user="stan", reason="x")
    for blank in ("", "   ", None):
        with pytest.raises(InputError, match="reason: locking the database needs a reason"):
            store.lock(user="stan", reason=blank)
    with pytest.raises(InputError, match="reason: at most 2000 characters, got 2001"):
        store.lock(user="stan", reason="x" * 2001)
    for who in ("alice", "ivan", "mona"):
        with pytest.raises(
            PermissionDeniedError, match=f"user '{who}' has role .* may not lock; roles allowed: statistician"
        ):
            store.lock(user=who, reason="final analysis")
    before = _counts(store)
    store.lock(user="stan", reason="final analysis")
    with pytest.raises(StateError, match="the database is already locked .*by stan: final analysis"):
        store.lock(user="stan", reason="again")
    with pytest.raises(InputError, match="reason: unlocking the database needs a reason"):
        store.unlock(user="stan", reason=" ")
    with pytest.raises(PermissionDeniedError, match="may not unlock; roles allowed: statistician"):
        store.unlock(user="alice", reason="I am the admin")
    assert _counts(store)["audit_log"] == before["audit_log"] + 1
    assert store.lock_state()["locked"] is True


def test_user_management_reads_and_exports_still_work_while_locked(store, tmp_path):
    create_allocation_list(store, seed=3, user="alice")
    store.lock(user="stan", reason="final analysis")
    store.add_user("val", "monitor", user="alice")
    store.set_user_active("val", active=False, user="alice")
    assert store.read_randomization_secret(user="stan")["method"]
    files = export_tables(store, tmp_path / "out", user="stan")
    assert any(f.name == "randomization_list.csv" for f in files)
    store.log_event(user="ivan", action="login", record="web")
    assert len(store.read_table("subject")) == 2
    assert verify_audit_chain(store).ok
