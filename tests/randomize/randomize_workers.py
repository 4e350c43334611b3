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


def randomize_many(url, subject_ids, seed, start_at):
    """Worker: randomise ``subject_ids`` (shuffled) against ``url``; return outcomes and timings.

    Waits until the wall-clock time ``start_at`` so that all workers start together.
    """
    from ssctrial.randomize import randomize_subject
    from ssctrial.store import open_store

    store = open_store(url)
    order = list(subject_ids)
    random.Random(seed).shuffle(order)
    done, refused, errors = [], [], []
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)
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
    return {"done": done, "refused": refused, "errors": errors, "elapsed": elapsed}
