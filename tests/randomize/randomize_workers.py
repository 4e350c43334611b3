"""Helpers of the randomisation tests, importable by spawned worker processes."""

from __future__ import annotations

import random
import time

from ssctrial.exceptions import StateError

STRATA_LEVELS = [
    {"SUBTYPE": "diffuse", "DURATION": "early"},
    {"SUBTYPE": "diffuse", "DURATION": "late"},
    {"SUBTYPE": "limited", "DURATION": "early"},
    {"SUBTYPE": "limited", "DURATION": "late"},
]


def setup_users(store):
    """Add an investigator, a monitor and a statistician (the admin is ``admin``)."""
    store.add_user("inv", "investigator", user="admin")
    store.add_user("mon", "monitor", user="admin")
    store.add_user("stat", "statistician", user="admin")


def enroll(store, subject_id, strata):
    """Enrol a screened subject through the store's public enrolment path."""
    store.enroll_subject(subject_id, user="inv", consent_date="2024-01-15", sex="F", strata=strata)


def randomize_many(url, subject_ids, seed, barrier, queue):
    """Worker process: randomise ``subject_ids`` (shuffled by ``seed``) against ``url``.

    Opens its own store, waits at ``barrier`` so that every worker starts together, and puts a
    dict of outcomes on ``queue``: ``done`` (subject, arm), ``refused`` (already randomised),
    ``errors`` (anything else, which the test treats as a failure) and ``elapsed`` seconds.
    """
    from ssctrial.randomize import randomize_subject
    from ssctrial.store import open_store

    store = open_store(url)
    order = list(subject_ids)
    random.Random(seed).shuffle(order)
    done, refused, errors = [], [], []
    barrier.wait(timeout=120)
    t0 = time.perf_counter()
    for sid in order:
        try:
            rec = randomize_subject(store, sid, user="inv")
            done.append((sid, rec.arm))
        except StateError as exc:
            if "already randomised" in str(exc):
                refused.append(sid)
            else:
                errors.append(f"{sid}: {exc}")
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on any
            errors.append(f"{sid}: {type(exc).__name__}: {exc}")
    elapsed = time.perf_counter() - t0
    store.close()
    queue.put({"done": done, "refused": refused, "errors": errors, "elapsed": elapsed})


def run_workers(url, assignments, *, seed=0):
    """Run one spawned process per list in ``assignments``; return their outcome dicts."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(assignments))
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=randomize_many, args=(url, ids, seed + k, barrier, queue))
        for k, ids in enumerate(assignments)
    ]
    for p in procs:
        p.start()
    import queue as queue_module

    results = []
    deadline = time.monotonic() + 600
    while len(results) < len(procs):
        try:
            results.append(queue.get(timeout=2))
        except queue_module.Empty:
            # a worker that died without reporting fails the test at once, not after the deadline
            dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                for p in procs:
                    p.kill()
                msg = f"workers died or timed out (exit codes {[p.exitcode for p in procs]})"
                raise RuntimeError(msg) from None
    for p in procs:
        p.join(timeout=60)
    codes = [p.exitcode for p in procs]
    if any(c != 0 for c in codes):
        msg = f"worker exit codes {codes}"
        raise RuntimeError(msg)
    return results
