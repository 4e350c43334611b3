"""Concealed randomisation in the store: creation, atomic assignment, refusals, roles, reproduction."""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text, update

from ssctrial.exceptions import InputError, NotFoundError, PermissionDeniedError, StateError
from ssctrial.randomize import (
    create_allocation_list,
    permuted_block_list,
    randomize_subject,
    reproduce_allocation_list,
)
from ssctrial.store import (
    Allocation,
    AuditLog,
    RandomizationList,
    RandomizationSecret,
    Subject,
    init_store,
    open_store,
    verify_audit_chain,
)

from .conftest import basics_design
from .randomize_workers import STRATA_LEVELS, enroll, setup_users

SEED = 20260101


_OPEN = []


@pytest.fixture(autouse=True)
def _close_stores():
    yield
    while _OPEN:
        _OPEN.pop().close()


def _store(url, *, design=None, seed=SEED, create=True):
    store = init_store(url, design or basics_design(), user="admin")
    _OPEN.append(store)
    setup_users(store)
    if create:
        create_allocation_list(store, seed=seed, user="admin")
    return store


def _stored_list(store):
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                RandomizationList.stratum,
                RandomizationList.position,
                RandomizationList.block,
                RandomizationList.block_size,
                RandomizationList.arm,
                RandomizationList.used_by_subject_id,
            ).order_by(RandomizationList.id)
        ).all()
    return pd.DataFrame(rows, columns=["stratum", "position", "block", "block_size", "arm", "used_by"])


def test_create_stores_the_list_the_seed_generates(db_url):
    design = basics_design()
    store = init_store(db_url, design, user="admin")
    _OPEN.append(store)
    summary = create_allocation_list(store, seed=SEED, user="admin")
    # one row per stratum, no arms (nothing of the sequence is revealed)
    assert list(summary.columns) == ["stratum", "slots"]
    assert summary["stratum"].tolist() == design.stratum_keys()
    assert (summary["slots"] >= 48).all()  # default: target enrolment (48) per stratum
    expected = permuted_block_list(
        ["BARI4", "BARI2", "CTRL"],
        n_per_stratum=48,
        seed=SEED,
        block_sizes=[3, 6],
        strata=design.stratum_keys(),
    )
    stored = _stored_list(store)
    pd.testing.assert_frame_equal(stored.drop(columns="used_by"), expected)
    assert stored["used_by"].isna().all()
    with store.engine.connect() as conn:
        secret = conn.execute(select(RandomizationSecret.seed, RandomizationSecret.method)).one()
        audit = conn.execute(select(AuditLog.new, AuditLog.reason)).all()
    assert (secret.seed, secret.method) == (str(SEED), "permuted_blocks")
    # the audit trail records the generation (with a hash of the list) but never the seed
    assert not any(str(SEED) in (row.new or "") for row in audit)
    created = [json.loads(r.new) for r in audit if r.new and "list_sha256" in r.new]
    assert created and created[0]["slots"] == len(stored) and created[0]["algorithm"] == "ssctrial-pcg64-v1"
    store.close()


def test_default_seed_is_fresh_and_secret(sqlite_url, tmp_path):
    a = _store(sqlite_url, seed=None)
    b = _store(f"sqlite:///{tmp_path / 'other.db'}", seed=None)
    assert _stored_list(a)["arm"].tolist() != _stored_list(b)["arm"].tolist()
    with a.engine.connect() as conn:
        assert int(conn.execute(select(RandomizationSecret.seed)).scalar()) >= 0
    assert reproduce_allocation_list(a, user="stat").ok


def test_list_is_created_only_once_and_only_by_an_admin(sqlite_url):
    store = _store(sqlite_url)
    with pytest.raises(StateError, match="allocation sequence already exists; it is generated once"):
        create_allocation_list(store, seed=1, user="admin")
    other = _store(sqlite_url.replace("trial.db", "t2.db"), create=False)
    with pytest.raises(
        PermissionDeniedError, match="user 'inv' has role 'investigator', which may not create"
    ):
        create_allocation_list(other, seed=1, user="inv")
    with pytest.raises(InputError, match="seed: -1 is negative"):
        create_allocation_list(other, seed=-1, user="admin")


def test_randomize_assigns_slots_in_order_and_updates_the_subject(db_url):
    store = _store(db_url)
    key = "SUBTYPE=diffuse|DURATION=early"
    for i in range(7):
        enroll(store, f"S{i:03d}", {"SUBTYPE": "diffuse", "DURATION": "early"})
    records = [randomize_subject(store, f"S{i:03d}", user="inv") for i in range(7)]
    stored = _stored_list(store)
    in_stratum = stored[stored["stratum"] == key].sort_values("position")
    # the first 7 slots of the stratum, in order, went to the 7 subjects in arrival order
    assert in_stratum["used_by"].head(7).tolist() == [f"S{i:03d}" for i in range(7)]
    assert in_stratum["used_by"].iloc[7:].isna().all()
    assert [r.arm for r in records] == in_stratum["arm"].head(7).tolist()
    assert records[0].stratum == key and records[0].randomized_by == "inv"
    assert records[0].arm_label in {"Baricitinib 4 mg", "Baricitinib 2 mg", "Control"}
    assert str(records[0]).startswith("S000 randomised to ")
    with store.engine.connect() as conn:
        subj = conn.execute(select(Subject.status).where(Subject.subject_id == "S003")).scalar()
        alloc = conn.execute(
            select(Allocation.arm, Allocation.list_id).where(Allocation.subject_id == "S003")
        ).one()
    assert subj == "randomised"
    assert alloc.arm == records[3].arm
    assert verify_audit_chain(store).ok
    store.close()


def test_refusals_name_the_subject_and_the_reason(db_url):
    store = _store(db_url)
    enroll(store, "S001", {"SUBTYPE": "limited", "DURATION": "late"})
    randomize_subject(store, "S001", user="inv")
    with pytest.raises(
        StateError, match=r"subject S001 is already randomised on .* UTC by inv; a subject is"
    ):
        randomize_subject(store, "S001", user="inv")
    enroll(store, "S002", {"SUBTYPE": "limited", "DURATION": "late"})
    store.update_subject_status("S002", "screen_failed", user="inv", reason="mRSS below 10")
    with pytest.raises(
        StateError, match=r"subject S002 is screen-failed \(mRSS below 10\) and cannot be randomised"
    ):
        randomize_subject(store, "S002", user="inv")
    with pytest.raises(NotFoundError, match="unknown subject 'S999'; enrol the subject before randomising"):
        randomize_subject(store, "S999", user="inv")
    enroll(store, "S003", {"SUBTYPE": "limited", "DURATION": "late"})
    for who, role in (("mon", "monitor"), ("stat", "statistician")):
        with pytest.raises(
            PermissionDeniedError, match=f"user '{who}' has role '{role}', which may not randomize"
        ):
            randomize_subject(store, "S003", user=who)
    with pytest.raises(PermissionDeniedError, match="unknown user 'nobody'"):
        randomize_subject(store, "S003", user="nobody")
    with pytest.raises(InputError, match="subject_id: '' is not a subject identifier"):
        randomize_subject(store, "", user="inv")
    # a refused request changed nothing
    used = _stored_list(store)["used_by"].dropna().tolist()
    assert used == ["S001"]
    store.close()


def test_no_list_and_exhausted_list_are_refused(sqlite_url, tmp_path):
    store = _store(sqlite_url, create=False)
    enroll(store, "S001", {"SUBTYPE": "limited", "DURATION": "late"})
    with pytest.raises(NotFoundError, match="no allocation sequence: create it first"):
        randomize_subject(store, "S001", user="inv")
    small = _store(f"sqlite:///{tmp_path / 'small.db'}", design=basics_design(list_length=3))
    for i in range(4):
        enroll(small, f"S{i}", {"SUBTYPE": "limited", "DURATION": "late"})
    n_slots = int((_stored_list(small)["stratum"] == "SUBTYPE=limited|DURATION=late").sum())
    for i in range(min(n_slots, 4)):
        randomize_subject(small, f"S{i}", user="inv")
    if n_slots == 3:  # a block of 3 ends the list; a block of 6 would leave room
        with pytest.raises(
            StateError, match=r"allocation list of stratum 'SUBTYPE=limited\|DURATION=late' is used up"
        ):
            randomize_subject(small, "S3", user="inv")


def test_reproduce_needs_a_statistician_and_detects_tampering(db_url):
    store = _store(db_url)
    for i in range(10):
        enroll(store, f"S{i:02d}", STRATA_LEVELS[i % 4])
        randomize_subject(store, f"S{i:02d}", user="inv")
    for who in ("inv", "admin", "mon"):
        with pytest.raises(
            PermissionDeniedError, match="which may not read secret; roles allowed: statistician"
        ):
            reproduce_allocation_list(store, user=who)
    report = reproduce_allocation_list(store, user="stat")
    assert report.ok, report.problems
    assert report.n_rows == len(_stored_list(store))
    assert report.data["matches"].all()
    assert "identical" in str(report)
    # the same works from a freshly opened store (design read back from the database)
    reopened = open_store(db_url)
    _OPEN.append(reopened)
    assert reproduce_allocation_list(reopened, user="stat").ok
    # change one unused slot's arm behind the application's back: reproduction finds it
    with store.engine.begin() as conn:
        slot = conn.execute(
            select(
                RandomizationList.id,
                RandomizationList.stratum,
                RandomizationList.position,
                RandomizationList.arm,
            )
            .where(RandomizationList.used_by_subject_id.is_(None))
            .order_by(RandomizationList.id)
            .limit(1)
        ).one()
        other = "CTRL" if slot.arm != "CTRL" else "BARI4"
        conn.execute(update(RandomizationList).where(RandomizationList.id == slot.id).values(arm=other))
    report = reproduce_allocation_list(store, user="stat")
    assert not report.ok
    assert len(report.problems) == 1
    assert f"#{slot.position}: stored {other}" in report.problems[0]
    assert "DIFFERS" in str(report)
    # a deleted slot is reported as missing
    with store.engine.begin() as conn:
        conn.execute(
            text("DELETE FROM randomization_list WHERE id = (SELECT MAX(id) FROM randomization_list)")
        )
    assert any("missing from the store" in p for p in reproduce_allocation_list(store, user="stat").problems)
    store.close()


def test_minimisation_in_the_store(db_url):
    store = _store(db_url, design=basics_design(method="minimisation"))
    assert _stored_list(store).empty  # minimisation has no list, only the secret seed
    n = 30
    for i in range(n):
        enroll(store, f"M{i:02d}", STRATA_LEVELS[(i * 7) % 4])
    arms = [randomize_subject(store, f"M{i:02d}", user="inv").arm for i in range(n)]
    counts = Counter(arms)
    assert max(counts.values()) - min(counts.values()) <= 3
    with store.engine.connect() as conn:
        assert conn.execute(select(Allocation.list_id).where(Allocation.list_id.is_not(None))).first() is None
    report = reproduce_allocation_list(store, user="stat")
    assert report.ok and report.n_rows == n
    assert report.data["subject_id"].tolist() == [f"M{i:02d}" for i in range(n)]
    with pytest.raises(StateError, match="already randomised"):
        randomize_subject(store, "M00", user="inv")
    # edit one stored allocation behind the application's back: reproduction finds it
    with store.engine.begin() as conn:
        new = "CTRL" if arms[5] != "CTRL" else "BARI2"
        conn.execute(update(Allocation).where(Allocation.subject_id == "M05").values(arm=new))
    report = reproduce_allocation_list(store, user="stat")
    assert not report.ok
    assert report.problems[0].startswith(f"allocation 6 (M05): stored {new}, seed gives {arms[5]}")
    store.close()


def test_unstratified_study(sqlite_url):
    store = _store(sqlite_url, design=basics_design(unstratified=True))
    assert store.design.stratum_keys() == [""]
    for i in range(6):
        enroll(store, f"U{i}", {})
    arms = [randomize_subject(store, f"U{i}", user="inv").arm for i in range(6)]
    assert _stored_list(store)["stratum"].eq("").all()
    assert arms == _stored_list(store)["arm"].head(6).tolist()
    assert reproduce_allocation_list(store, user="stat").ok
    store.close()


def test_write_conflicts_are_retried_and_then_reported(sqlite_url, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    import ssctrial.randomize._allocate as allocate

    store = _store(sqlite_url)
    for sid in ("R1", "R2"):
        enroll(store, sid, STRATA_LEVELS[0])
    real = allocate._randomize_once
    calls = []

    def conflict():
        try:
            raise IntegrityError("UPDATE randomization_list ...", {}, Exception("UNIQUE constraint failed"))
        except IntegrityError as exc:
            raise StateError("the database refused the change (a concurrent or duplicate write)") from exc

    def flaky(*args, **kwargs):
        calls.append(args[1])
        if len(calls) <= 2:
            conflict()
        return real(*args, **kwargs)

    monkeypatch.setattr(allocate.time, "sleep", lambda _s: None)
    monkeypatch.setattr(allocate, "_randomize_once", flaky)
    assert randomize_subject(store, "R1", user="inv").subject_id == "R1"
    assert calls == ["R1"] * 3  # two conflicts, then success
    monkeypatch.setattr(allocate, "_randomize_once", lambda *a, **k: conflict())
    with pytest.raises(
        StateError, match="R2: randomisation did not complete after 30 attempts because of concurrent"
    ):
        randomize_subject(store, "R2", user="inv")
    # a refusal (not a conflict) is not retried
    calls.clear()
    monkeypatch.setattr(allocate, "_randomize_once", flaky)
    calls.extend(["x", "x"])  # skip the injected conflicts
    with pytest.raises(StateError, match="already randomised"):
        randomize_subject(store, "R1", user="inv")
    assert len(calls) == 3


def test_assert_allocation_design_names_the_study_file_field():
    from ssctrial.randomize import assert_allocation_design

    design = basics_design()
    assert_allocation_design(design)  # BASICS is fine
    no_length = design.model_copy(update={"target_enrolment": None})
    with pytest.raises(
        InputError, match="randomization.list_length_per_stratum: not set, and the study has no"
    ):
        assert_allocation_design(no_length)
    # (the design itself only allows p from 0.5; a 2-arm trial could go lower in principle)
    low_p = design.model_copy(
        update={
            "randomization": design.randomization.model_copy(
                update={"method": "minimisation", "minimisation_p": 0.2}
            )
        }
    )
    with pytest.raises(
        InputError, match=r"randomization.minimisation_p: 0.2 is not allowed; it must be in \[0.3333, 1\]"
    ):
        assert_allocation_design(low_p)


def test_create_refuses_a_design_other_than_the_stored_one(sqlite_url):
    store = _store(sqlite_url, create=False)
    other = basics_design(list_length=99)
    with pytest.raises(
        InputError, match="design: its arms, ratios, stratification or randomization settings differ"
    ):
        create_allocation_list(store, other, seed=1, user="admin")
    # the design the store holds (here given explicitly) is accepted
    assert len(create_allocation_list(store, basics_design(), seed=1, user="admin")) == 4


@pytest.mark.slow
@settings(max_examples=8, deadline=None)
@given(arrivals=st.lists(st.integers(0, 3), min_size=1, max_size=25), seed=st.integers(0, 2**128 - 1))
def test_store_allocations_follow_the_pure_list_for_any_arrival_order(arrivals, seed):
    # whatever order subjects of different strata arrive in, each stratum's k-th subject gets the
    # k-th slot of that stratum's list as generated by permuted_block_list from the seed
    import tempfile

    design = basics_design()
    expected = permuted_block_list(
        design.arm_codes, n_per_stratum=48, seed=seed, block_sizes=[3, 6], strata=design.stratum_keys()
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = _store(f"sqlite:///{tmp}/p.db", seed=seed)
        seen = Counter()
        for i, level in enumerate(arrivals):
            enroll(store, f"P{i:02d}", STRATA_LEVELS[level])
            record = randomize_subject(store, f"P{i:02d}", user="inv")
            seen[record.stratum] += 1
            slot = expected[
                (expected["stratum"] == record.stratum) & (expected["position"] == seen[record.stratum])
            ]
            assert record.arm == slot["arm"].item()
        store.close()
        _OPEN.remove(store)


def test_reproduce_detects_a_seed_and_list_replaced_together(sqlite_url):
    # someone with database access replaces the seed AND rewrites the list to match it: the list
    # still agrees with the seed, but not with the SHA-256 recorded in the audit chain at creation
    store = _store(sqlite_url)
    design = store.design
    forged = permuted_block_list(
        design.arm_codes, n_per_stratum=48, seed=999, block_sizes=[3, 6], strata=design.stratum_keys()
    )
    with store.engine.begin() as conn:
        conn.execute(update(RandomizationSecret).values(seed="999"))
        conn.execute(text("DELETE FROM randomization_list"))
        conn.execute(
            RandomizationList.__table__.insert(),
            [
                {
                    "stratum": r.stratum,
                    "position": r.position,
                    "arm": r.arm,
                    "block": r.block,
                    "block_size": r.block_size,
                }
                for r in forged.itertuples()
            ],
        )
    report = reproduce_allocation_list(store, user="stat")
    assert not report.ok
    assert report.problems == [
        "the list the seed generates does not match the SHA-256 recorded in the audit trail when the list "
        "was created (seed or list replaced)"
    ]
