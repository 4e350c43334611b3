"""randomize_subjects: the same allocations and audit content as one-by-one randomisation."""

from __future__ import annotations

import json
import threading

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from ssctrial.exceptions import InputError, NotFoundError, PermissionDeniedError, StateError
from ssctrial.randomize import create_allocation_list, randomize_subject, randomize_subjects
from ssctrial.store import Allocation, AuditLog, RandomizationList, init_store, open_store, verify_audit_chain

from .conftest import basics_design
from .randomize_workers import STRATA_LEVELS, setup_users

N = 60
_OPEN: list = []


@pytest.fixture(autouse=True)
def _close_stores():
    """Close every store a test opened (PostgreSQL connections must not outlive the test)."""
    yield
    while _OPEN:
        _OPEN.pop().close()


def _store(url, *, design, n=N):
    store = init_store(url, design, user="admin")
    _OPEN.append(store)
    setup_users(store)
    create_allocation_list(store, seed=4242, user="admin")
    rng = np.random.default_rng(11)
    frame = pd.DataFrame(
        {
            "subject_id": [f"R{i:03d}" for i in range(n)],
            "consent_date": "2024-03-01",
            "sex": "F",
            "strata": [STRATA_LEVELS[int(k)] for k in rng.integers(4, size=n)],
        }
    )
    store.enroll_subjects(frame, user="inv")
    return store


def _allocations(store):
    with store.engine.connect() as conn:
        return pd.DataFrame(
            conn.execute(
                select(
                    Allocation.id,
                    Allocation.subject_id,
                    Allocation.arm,
                    Allocation.stratum,
                    Allocation.list_id,
                ).order_by(Allocation.id)
            ).all(),
            columns=["id", "subject_id", "arm", "stratum", "list_id"],
        )


def _audit_content(store):
    """Audit rows without timestamps and hashes, in chain order."""
    with store.engine.connect() as conn:
        return pd.DataFrame(
            conn.execute(
                select(
                    AuditLog.user_name,
                    AuditLog.action,
                    AuditLog.table_name,
                    AuditLog.record_key,
                    AuditLog.old,
                    AuditLog.new,
                    AuditLog.reason,
                ).order_by(AuditLog.id)
            ).all(),
            columns=["user", "action", "table", "record", "old", "new", "reason"],
        )


@pytest.mark.parametrize("method", ["permuted_blocks", "minimisation"])
def test_bulk_equals_one_by_one(db_url, tmp_path, method):
    design = basics_design(list_length=40, method=method)
    # the one-by-one reference always on SQLite; the bulk path on the backend under test
    one = _store(f"sqlite:///{tmp_path / 'one.db'}", design=design)
    bulk = _store(db_url, design=design)
    ids = [f"R{i:03d}" for i in range(N)]
    order = list(np.random.default_rng(5).permutation(ids))  # arrival order differs from id order
    singles = [randomize_subject(one, sid, user="inv") for sid in order]
    # bulk in three batches, with one single call between them (the two paths mix freely)
    recs = randomize_subjects(bulk, order[:25], user="inv")
    recs.append(randomize_subject(bulk, order[25], user="inv"))
    recs += randomize_subjects(bulk, order[26:], user="inv")
    assert [(r.subject_id, r.arm, r.stratum, r.method) for r in recs] == [
        (r.subject_id, r.arm, r.stratum, r.method) for r in singles
    ]
    pd.testing.assert_frame_equal(_allocations(bulk), _allocations(one))
    pd.testing.assert_frame_equal(_audit_content(bulk), _audit_content(one))
    statuses = bulk.read_table("subject").set_index("subject_id")["status"]
    assert (statuses == "randomised").all()
    assert verify_audit_chain(bulk).ok
    if method == "permuted_blocks":  # the allocation record names the slot, as the single path's does
        first = json.loads(_audit_content(bulk).query("table == 'allocation'")["new"].iloc[0])
        assert set(first) == {"arm", "stratum", "method", "list_id", "position"}
    else:
        assert reproduce_ok(bulk)


def reproduce_ok(store):
    from ssctrial.randomize import reproduce_allocation_list

    return reproduce_allocation_list(store, user="stat").ok


def _snapshot(store):
    return (
        _allocations(store),
        store.read_table("subject")[["subject_id", "status"]],
        verify_audit_chain(store).n_rows,
    )


def _assert_unchanged(store, before):
    after = _snapshot(store)
    pd.testing.assert_frame_equal(after[0], before[0])
    pd.testing.assert_frame_equal(after[1], before[1])
    assert after[2] == before[2]


def test_refusals_are_all_or_nothing(db_url):
    store = _store(db_url, design=basics_design(list_length=40), n=8)
    randomize_subject(store, "R000", user="inv")
    store.update_subject_status("R001", "screen_failed", user="inv", reason="not eligible")
    before = _snapshot(store)
    with pytest.raises(StateError) as err:
        randomize_subjects(store, ["R002", "R000", "R003", "R001"], user="inv")
    text = str(err.value)
    assert "2 of 4 subjects cannot be randomised; nothing was allocated" in text
    assert "subject R000 is already randomised on " in text
    assert "subject R001 is screen-failed (not eligible) and cannot be randomised" in text
    _assert_unchanged(store, before)
    with pytest.raises(NotFoundError, match=r"unknown subject 'NOPE'; enrol the subject before randomising"):
        randomize_subjects(store, ["R002", "NOPE"], user="inv")
    with pytest.raises(InputError, match=r"subject_id: 'R002' is given more than once"):
        randomize_subjects(store, ["R002", "R003", "R002"], user="inv")
    with pytest.raises(InputError, match=r"subject_id: 7 is not a subject identifier"):
        randomize_subjects(store, ["R002", 7], user="inv")
    with pytest.raises(PermissionDeniedError):
        randomize_subjects(store, ["R002"], user="mon")
    _assert_unchanged(store, before)
    assert randomize_subjects(store, [], user="inv") == []


def test_used_up_stratum_refuses_the_whole_batch(sqlite_url):
    design = basics_design(list_length=6)
    store = init_store(sqlite_url, design, user="admin")
    _OPEN.append(store)
    setup_users(store)
    create_allocation_list(store, seed=1, user="admin")
    levels = STRATA_LEVELS[0]
    frame = pd.DataFrame(
        {"subject_id": [f"U{i}" for i in range(8)], "consent_date": "2024-03-01", "sex": "M"}
        | {k: v for k, v in levels.items()}
    )
    store.enroll_subjects(frame, user="inv")
    before = _snapshot(store)
    with pytest.raises(
        StateError, match=r"subject U6: the allocation list of stratum .* is used up \(6 slots\)"
    ):
        randomize_subjects(store, [f"U{i}" for i in range(8)], user="inv")
    _assert_unchanged(store, before)
    assert len(randomize_subjects(store, [f"U{i}" for i in range(6)], user="inv")) == 6


def test_concurrent_batches_and_singles_never_double_allocate(db_url):
    """Threads with their own store connections: two bulk callers and two one-by-one callers race for
    the same subjects and slots; every subject ends with one allocation and each stratum's slots are
    used in list order without gaps."""
    store = _store(db_url, design=basics_design(list_length=60), n=80)
    url = db_url
    ids = [f"R{i:03d}" for i in range(80)]
    errors: list[str] = []
    barrier = threading.Barrier(4)

    def bulk(batch):
        st = open_store(url)
        barrier.wait(timeout=60)
        for start in range(0, len(batch), 10):
            chunk = batch[start : start + 10]
            try:
                randomize_subjects(st, chunk, user="inv")
            except StateError as exc:  # some subject of the chunk was taken by another caller
                if "already randomised" not in str(exc):
                    errors.append(str(exc))
                for sid in chunk:  # fall back to one by one for the rest of the chunk
                    single(st, sid)
        st.close()

    def single(st, sid):
        try:
            randomize_subject(st, sid, user="inv")
        except StateError as exc:
            if "already randomised" not in str(exc):
                errors.append(f"{sid}: {exc}")

    def singles(batch):
        st = open_store(url)
        barrier.wait(timeout=60)
        for sid in batch:
            single(st, sid)
        st.close()

    threads = [
        threading.Thread(target=bulk, args=(ids[:50],)),
        threading.Thread(target=bulk, args=(ids[30:],)),
        threading.Thread(target=singles, args=(ids[40:70],)),
        threading.Thread(target=singles, args=(ids[::-3],)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]
    alloc = _allocations(store)
    assert sorted(alloc["subject_id"]) == ids
    assert alloc["list_id"].is_unique
    with store.engine.connect() as conn:
        slots = pd.DataFrame(
            conn.execute(
                select(
                    RandomizationList.stratum,
                    RandomizationList.position,
                    RandomizationList.used_by_subject_id,
                )
            ).all(),
            columns=["stratum", "position", "used_by"],
        )
    for stratum, part in slots.groupby("stratum"):
        used = part.sort_values("position")["used_by"].notna().to_numpy()
        assert used[: used.sum()].all(), f"slots of {stratum} not used in list order"
    assert verify_audit_chain(store).ok
