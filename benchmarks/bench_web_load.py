"""Load test of the web app on PostgreSQL: N investigators enrolling, randomising and entering visits.

Run::

    python benchmarks/bench_web_load.py                       # 50 users, 60 s, think 0.5-1.5 s, 3 repeats
    python benchmarks/bench_web_load.py --think-min 0 --think-max 0   # saturation (no think time)
    python benchmarks/bench_web_load.py --profile prof.txt --repeat 1  # sample the server's stacks

Each repeat: a fresh PostgreSQL schema with a BASICS store (one investigator per virtual user,
each with an argon2id password), the real server in a child process (``python -m ssctrial.cli
serve --db URL --workers 2``: uvicorn with ``--workers`` processes, default 2 on this 2-core
machine; sessions live in the database, so any process serves any user; ``--servers N`` starts N
such servers on the same database and pins each user to one of them), then ``--users`` virtual users
(asyncio + httpx, one cookie jar each) log in through ``POST /api/v1/login`` and loop until
``--duration`` seconds or ``--max-requests`` requests: enrol a subject (all eligibility criteria
confirmed, random strata), enter the screening mRSS, randomise, enter the baseline mRSS and the
global assessments, waiting a uniform ``--think-min``..``--think-max`` seconds before each action.
Afterwards the database is checked directly (every acknowledged write stored, allocations equal to
the randomise responses with the arms the clients were shown, no subject or slot allocated twice,
slots used in list order, audit chain intact, allocation list reproduced from the seed).

Prints per repeat and as medians across repeats: requests, throughput, latency p50/p95/p99 overall
and per kind (login, enrol, form, randomise), errors, the load average, and PASS/FAIL against the
target p99 < 200 ms. Exit status 1 when a database check fails or a request errs.

The database URL comes from ``--db`` or ``SSCTRIAL_TEST_PG_URL`` (default: the local test server).
Client and server share this machine's cores, so the figures include the clients' own CPU use.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.web._load import (  # noqa: E402 - after the path set-up
    KINDS,
    LoadConfig,
    build_load_store,
    format_summary,
    merge_results,
    pg_schema,
    run_load,
    serving,
    summarise,
    verify_load,
)

DEFAULT_PG = "postgresql+psycopg://postgres:postgres@localhost:5432/ssctrial_test"
TARGET_P99_MS = 200.0

# A server started under a stack sampler (``--profile``): every 5 ms the stacks of the worker
# threads are recorded (py-spy is not available here); written out when the server is terminated.
_PROFILED_SERVER = r"""
import collections, os, signal, sys, threading, time
url, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
import uvicorn
from ssctrial.store import open_store
from ssctrial.web import WebSettings, create_app
app = create_app(open_store(url), settings=WebSettings())
cum, top, n, stop = collections.Counter(), collections.Counter(), [0], threading.Event()
def name(code):
    f = code.co_filename
    for cut in ("site-packages/", "/src/", "/lib/python3"):
        f = f.split(cut)[-1]
    return f"{f}:{code.co_name}"
def sample():
    skip = {threading.get_ident(), threading.main_thread().ident}
    while not stop.is_set():
        time.sleep(0.005)
        for tid, frame in sys._current_frames().items():
            if tid in skip:
                continue
            stack = []
            while frame is not None:
                stack.append(name(frame.f_code))
                frame = frame.f_back
            if not any("_run_sync_endpoint" in s or "run_endpoint_function" in s for s in stack):
                continue  # an idle pool thread
            n[0] += 1
            top[stack[0]] += 1
            for s in set(stack):
                cum[s] += 1
threading.Thread(target=sample, daemon=True).start()
def dump(*_a):
    stop.set()
    with open(out, "w") as fh:
        fh.write(f"{n[0]} samples of busy request threads (5 ms apart)\n== innermost frame ==\n")
        fh.writelines(f"{v:8d} {k}\n" for k, v in top.most_common(40))
        fh.write("== anywhere on the stack ==\n")
        fh.writelines(f"{v:8d} {k}\n" for k, v in cum.most_common(150))
    os._exit(0)
signal.signal(signal.SIGTERM, dump)
config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
server = uvicorn.Server(config)
server.install_signal_handlers = lambda: None
server.run()
"""


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--duration", type=float, default=60.0, help="seconds per repeat")
    p.add_argument("--max-requests", type=int, default=20_000, help="request budget per repeat")
    p.add_argument("--think-min", type=float, default=0.5, help="seconds (uniform think time, lower)")
    p.add_argument("--think-max", type=float, default=1.5, help="seconds (uniform think time, upper)")
    p.add_argument("--ramp", type=float, default=10.0, help="seconds over which the users log in")
    p.add_argument(
        "--servers",
        type=int,
        default=1,
        help="server processes on the database; users pinned round-robin (sticky sessions)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        help="uvicorn worker processes per server (ssctrial serve --workers; sessions are in the database)",
    )
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--db", default=os.environ.get("SSCTRIAL_TEST_PG_URL") or DEFAULT_PG)
    p.add_argument(
        "--sequential",
        type=int,
        default=0,
        metavar="N",
        help="first run N requests by ONE user, no think time: uncontended latency, server CPU per kind",
    )
    p.add_argument("--profile", type=Path, default=None, help="write a stack-sample profile of the server")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the load test ``--repeat`` times and print the medians."""
    args = _args(argv)
    config = LoadConfig(
        users=args.users,
        duration_s=args.duration,
        max_requests=args.max_requests,
        think_min_s=args.think_min,
        think_max_s=args.think_max,
        ramp_s=args.ramp,
    )
    print(
        f"web load: {config.users} users x {config.duration_s:.0f} s (max {config.max_requests} requests), "
        f"think {config.think_min_s}-{config.think_max_s} s, logins spread over {config.ramp_s:.0f} s, "
        f"{args.servers} server(s) of {args.workers} uvicorn worker process(es) each, PostgreSQL, "
        f"{os.cpu_count()} CPUs, {args.repeat} repeat(s)"
    )
    summaries = []
    all_ok = True
    if args.sequential:
        all_ok &= _sequential(args.db, args.sequential)
    for rep in range(args.repeat):
        load_before = os.getloadavg()
        with pg_schema(args.db) as url:
            # every subject could land in one stratum; each needs an enrol request before its randomise
            store = build_load_store(
                url, n_users=config.users, slots_per_stratum=config.max_requests // 2 + 1
            )
            try:
                command = None
                if args.profile is not None:
                    script = Path(args.profile).with_suffix(".server.py")
                    script.write_text(_PROFILED_SERVER)
                    out = args.profile.with_name(f"{args.profile.stem}-{rep + 1}{args.profile.suffix}")
                    command = [sys.executable, str(script), "{url}", "{port}", str(out)]
                with contextlib.ExitStack() as stack:
                    servers = [
                        stack.enter_context(serving(url, command=command, workers=args.workers))
                        for _ in range(args.servers)
                    ]
                    cpu0 = sum(server.cpu_s() for server in servers)
                    result = run_load([server.base for server in servers], config)
                    cpu = sum(server.cpu_s() for server in servers) - cpu0
                    load_during = os.getloadavg()
                    log = servers[0].log
                checks = verify_load(store, result)
            finally:
                store.close()
        summary = summarise(result)
        summary["server_cpu_ms_per_request"] = 1000 * cpu / max(1, summary["requests"])
        summary["server_cpu_cores"] = cpu / result.wall_s
        summary["load_average"] = load_during[0]
        summaries.append(summary)
        print(
            f"\n--- repeat {rep + 1}: load average before {load_before[0]:.2f}, at end {load_during[0]:.2f}"
        )
        print(format_summary(summary))
        print(
            f"server process CPU: {summary['server_cpu_ms_per_request']:.1f} ms per request, "
            f"{summary['server_cpu_cores']:.2f} cores on average"
        )
        for name, (ok, detail) in checks.items():
            print(f"  [{'ok' if ok else 'FAIL'}] {name}: {detail[:200]}")
            all_ok &= ok
        if not all(ok for ok, _d in checks.values()):
            print(f"  server log tail: {log.read_text()[-1500:]}")
        time.sleep(2)
    med = _median_summary(summaries)
    print(f"\n=== medians of {len(summaries)} repeat(s) ===")
    print(format_summary(med))
    print(
        f"server process CPU {med['server_cpu_ms_per_request']:.1f} ms per request "
        f"({med['server_cpu_cores']:.2f} cores); load average at the end of the runs "
        f"{med['load_average']:.2f}"
    )
    p99 = med["latency_ms"]["all"]["p99"]
    verdict = "PASS" if p99 < TARGET_P99_MS else "FAIL"
    print(f"p99 (all requests) {p99:.1f} ms vs target {TARGET_P99_MS:.0f} ms: {verdict}")
    print(f"p99 (all but login) {med['latency_ms']['all but login']['p99']:.1f} ms")
    print(f"database checks: {'all ok' if all_ok else 'FAILED'}; load average now {os.getloadavg()}")
    return 0 if all_ok else 1


def _sequential(db: str, n: int) -> bool:
    """One user, no think time, ``n`` requests: latency without queueing, server CPU per kind."""
    config = LoadConfig(users=1, duration_s=600, max_requests=n, think_min_s=0, think_max_s=0)
    with pg_schema(db) as url:
        store = build_load_store(url, n_users=1, slots_per_stratum=n)
        try:
            with serving(url) as server:
                warm_up = LoadConfig(users=1, duration_s=60, max_requests=30, think_max_s=0)
                warm = run_load(server.base, warm_up)
                result = run_load(server.base, config, cpu_probe=server.cpu_s)
            checks = verify_load(store, merge_results(warm, result))
        finally:
            store.close()
    summary = summarise(result)
    print(f"\n--- sequential: 1 user, no think time, {n} requests; load average {os.getloadavg()[0]:.2f}")
    print(format_summary(summary))
    for kind in KINDS:
        count = summary["latency_ms"].get(kind, {}).get("n", 0)
        if count:
            cpu = 1000 * result.cpu_by_kind[kind] / count
            print(f"  server CPU per {kind:<10} {cpu:6.1f} ms (process CPU clock, {int(count)} requests)")
    failed = [name for name, (ok, _d) in checks.items() if not ok]
    print(f"  database checks: {'all ok' if not failed else 'FAILED ' + str(failed)}")
    return not failed


def _median_summary(summaries: list[dict]) -> dict:
    med: dict = {
        key: statistics.median(s[key] for s in summaries)
        for key in (
            "requests",
            "duration_s",
            "throughput_rps",
            "errors",
            "subjects",
            "randomised",
            "forms",
            "server_cpu_ms_per_request",
            "server_cpu_cores",
            "load_average",
        )
    }
    med["latency_ms"] = {}
    for kind in ("all", "all but login", *KINDS):
        rows = [s["latency_ms"][kind] for s in summaries if kind in s["latency_ms"]]
        if rows:
            med["latency_ms"][kind] = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    return med


if __name__ == "__main__":
    sys.exit(main())
