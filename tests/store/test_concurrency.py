"""Concurrent writers (separate engines, so separate connections and locks) keep the audit chain
sequential and lose nothing. Threads are used for speed; the database sees independent clients."""

from __future__ import annotations

import threading

import pandas as pd

from ssctrial.store import open_store, verify_audit_chain

SITES = ("face", "abdomen", "anterior_chest", "fingers_right", "fingers_left")


def _writer(url: str, subject: str, n_calls: int) -> None:
    store = open_store(url)
    try:
        for k in range(n_calls):
            df = pd.DataFrame(
                {
                    "subject": subject,
                    "visit": "BL",
                    "instrument": "MRSS",
                    "item": [SITES[k]],
                    "value": [k % 4],
                }
            )
            store.record_observations(df, user="ivan")
    finally:
        store.close()


def test_concurrent_writers_keep_the_chain(store, db_url):
    subjects = [f"C{i}" for i in range(4)]
    for sid in subjects:
        store.enroll_subject(
            sid,
            user="ivan",
            consent_date="2024-01-05",
            sex="M",
            strata={"SUBTYPE": "limited", "DURATION": "late"},
        )
    before = len(store.read_table("audit_log"))
    errors: list[BaseException] = []

    def run(sid: str) -> None:
        try:
            _writer(db_url, sid, len(SITES))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(sid,)) for sid in subjects]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    obs = store.observations()
    assert len(obs) == len(subjects) * len(SITES)
    # one audit row per observation plus one per visit row created, nothing lost or interleaved
    audit = store.read_table("audit_log")
    assert len(audit) == before + len(subjects) * (len(SITES) + 1)
    report = verify_audit_chain(store)
    assert report.ok, report.problems
