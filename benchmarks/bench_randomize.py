"""Randomisations per second under concurrent client processes, on SQLite and PostgreSQL.

Each repeat builds a fresh BASICS store (4 strata, permuted blocks), enrols the subjects, then
starts N client processes (spawn) that open their own store, wait at a barrier and randomise
their share of the subjects through ``ssctrial.randomize.randomize_subject`` (row locks,
conditional claim, audit chain: the full production path). Throughput is subjects divided by
the time from the barrier to the last client's finish. Prints the median over repeats.

    python benchmarks/bench_randomize.py                      # SQLite, and PostgreSQL if configured
    python benchmarks/bench_randomize.py --pg-url postgresql+psycopg://postgres:postgres@localhost/postgres
    python benchmarks/bench_randomize.py --subjects 800 --repeats 5 --clients 1 8

PostgreSQL: the URL comes from --pg-url or SSCTRIAL_TEST_PG_URL; the benchmark creates (and
drops) its own database ``ssctrial_bench_rand`` on that server.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from pathlib import Path

N_STRATA_LEVELS = [
    {"SUBTYPE": "diffuse", "DURATION": "early"},
    {"SUBTYPE": "diffuse", "DURATION": "late"},
    {"SUBTYPE": "limited", "DURATION": "early"},
    {"SUBTYPE": "limited", "DURATION": "late"},
]


def _client(url, subject_ids, barrier, queue):
    from ssctrial.randomize import randomize_subject
    from ssctrial.store import open_store

    store = open_store(url)
    barrier.wait(timeout=300)
    start = time.time()
    errors = 0
    for sid in subject_ids:
        try:
            randomize_subject(store, sid, user="inv")
        except Exception:  # noqa: BLE001 - counted and reported
            errors += 1
    end = time.time()
    store.close()
    queue.put((start, end, len(subject_ids), errors))


def _design(n_subjects):
    from ssctrial.design import load_study

    design = load_study("basics", check_instruments=False)
    spec = design.randomization.model_copy(update={"list_length_per_stratum": n_subjects})
    return type(design).model_validate(
        design.model_copy(update={"randomization": spec}).model_dump(), context={"check_instruments": False}
    )


def _prepare(url, n_subjects):
    import numpy as np

    from ssctrial.randomize import create_allocation_list
    from ssctrial.store import init_store

    store = init_store(url, _design(n_subjects), user="admin")
    store.add_user("inv", "investigator", user="admin")
    create_allocation_list(store, user="admin")
    rng = np.random.default_rng(1)
    ids = [f"B{i:05d}" for i in range(n_subjects)]
    for sid in ids:
        levels = N_STRATA_LEVELS[int(rng.integers(4))]
        store.enroll_subject(sid, user="inv", consent_date="2024-01-01", sex="F", strata=levels)
    store.close()
    return ids


def _one_run(url, n_subjects, clients):
    ids = _prepare(url, n_subjects)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(clients)
    queue = ctx.Queue()
    procs = [ctx.Process(target=_client, args=(url, ids[k::clients], barrier, queue)) for k in range(clients)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=900) for _ in procs]
    for p in procs:
        p.join()
    start = min(r[0] for r in results)
    end = max(r[1] for r in results)
    errors = sum(r[3] for r in results)
    if errors:
        msg = f"{errors} randomisations failed"
        raise RuntimeError(msg)
    return n_subjects / (end - start)


def _fresh_pg(admin_url):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url)
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text('DROP DATABASE IF EXISTS "ssctrial_bench_rand" WITH (FORCE)'))
        conn.execute(text('CREATE DATABASE "ssctrial_bench_rand"'))
    engine.dispose()
    return admin.set(database="ssctrial_bench_rand").render_as_string(hide_password=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--pg-url", default=os.environ.get("SSCTRIAL_TEST_PG_URL"))
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()

    print(f"randomisations per second ({args.subjects} subjects, 4 strata, median of {args.repeats} repeats)")
    print(f"machine: {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    for backend in args.backends:
        if backend == "postgresql" and not args.pg_url:
            print("postgresql: skipped (give --pg-url or set SSCTRIAL_TEST_PG_URL)")
            continue
        for clients in args.clients:
            rates = []
            for _ in range(args.repeats):
                if backend == "sqlite":
                    with tempfile.TemporaryDirectory() as tmp:
                        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
                        rates.append(_one_run(url, args.subjects, clients))
                else:
                    rates.append(_one_run(_fresh_pg(args.pg_url), args.subjects, clients))
            runs = ", ".join(f"{r:.0f}" for r in rates)
            median = statistics.median(rates)
            print(
                f"{backend:<10} {clients:>2} client(s): median {median:7.1f} randomisations/s (runs: {runs})",
                flush=True,
            )


if __name__ == "__main__":
    main()
