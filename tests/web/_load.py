"""Load test of the web app: many investigators enrolling, randomising and entering visits at once.

Used by ``tests/web/test_load.py`` (a short run in CI) and ``benchmarks/bench_web_load.py`` (the
issue's 50 users for 60 s). The pieces:

- :func:`pg_schema` makes a fresh PostgreSQL schema (dropped afterwards) and yields its URL;
- :func:`build_load_store` initialises a BASICS store there with one investigator per virtual
  user (each with a password), a statistician and an allocation list long enough for the run;
- :func:`serving` runs the real server (``python -m ssctrial.cli serve --db URL``, uvicorn, one
  worker process: sessions live in the process's memory, so several workers would need sticky
  sessions) and yields its base URL;
- :func:`run_load` drives ``users`` virtual users (asyncio + ``httpx.AsyncClient``, one cookie
  jar each) until the deadline or the request budget: log in with ``POST /api/v1/login``, then
  repeatedly enrol a new subject, enter its screening mRSS, randomise it, enter its baseline mRSS
  and global assessments, with a think time between actions; every request's kind, status and
  latency is recorded together with every write the server acknowledged;
- :func:`verify_load` checks the database directly against what the clients were told: no lost
  writes, no double allocation, an intact audit chain, a reproducible allocation list;
- :func:`summarise` / :func:`format_summary`: throughput and p50/p95/p99 latency per kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import sqlalchemy as sa

from ssctrial.design import load_study
from ssctrial.instruments import get_instrument
from ssctrial.randomize import create_allocation_list, reproduce_allocation_list
from ssctrial.store import Store, init_store, verify_audit_chain

#: request kinds, in the order of a subject's cycle
KINDS: tuple[str, ...] = ("login", "enrol", "form", "randomise")
ADMIN = ("admin", "admin-password-1")
STATISTICIAN = ("stan", "stan-password-1")
SITE = "HUASHAN"
ELIGIBILITY = {"I1": True, "I2": True, "I3": True, "E1": True, "E2": True, "E3": True}
STRATA_LEVELS = {"SUBTYPE": ("diffuse", "limited"), "DURATION": ("early", "late")}
MRSS_ITEMS = tuple(it.code for it in get_instrument("MRSS").items if it.type == "integer")
#: (visit, instrument) forms entered per subject; SCR before randomisation, BL after it
FORMS: tuple[tuple[str, str], ...] = (("SCR", "MRSS"), ("BL", "MRSS"), ("BL", "GLOBAL"))


def user_name(i: int) -> str:
    """Name of virtual user ``i`` (an investigator)."""
    return f"inv{i:03d}"


def user_password(i: int) -> str:
    """Password of virtual user ``i``."""
    return f"inv{i:03d}-load-password"


# ----------------------------------------------------------------------------------------- set-up
@contextlib.contextmanager
def pg_schema(url: str) -> Iterator[str]:
    """Create a fresh schema in the PostgreSQL database ``url``; yield a URL that uses it; drop it."""
    schema = f"load_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def build_load_store(url: str, *, n_users: int, slots_per_stratum: int) -> Store:
    """Initialise a BASICS store for a load run.

    The design is BASICS with ``randomization.list_length_per_stratum`` set to
    ``slots_per_stratum`` (the published target of 48 would run out within seconds). Users: the
    admin, the statistician and ``n_users`` investigators bound to the study's site, each with
    a password (argon2id, as for real accounts).
    """
    base = load_study("basics")
    spec = base.randomization.model_copy(update={"list_length_per_stratum": slots_per_stratum})
    design = type(base).model_validate(base.model_copy(update={"randomization": spec}).model_dump())
    store = init_store(url, design, user=ADMIN[0])
    store.set_password(ADMIN[0], ADMIN[1], user=ADMIN[0])
    store.add_user(STATISTICIAN[0], "statistician", user=ADMIN[0], password=STATISTICIAN[1])
    for i in range(n_users):
        store.add_user(user_name(i), "investigator", user=ADMIN[0], site=SITE, password=user_password(i))
    create_allocation_list(store, user=ADMIN[0])
    return store


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Served:
    """A running server: its base URL, log file and process id."""

    base: str
    log: Path
    pid: int

    def cpu_s(self) -> float:
        """CPU time (user + system, all threads) the server and its worker processes have used, in s."""
        ticks = 0
        parents = {self.pid}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                pid = int(stat.parent.name)
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, ValueError):
                continue
            # fields[1] is the parent pid; uvicorn's workers are children of the serve process
            if pid in parents or int(fields[1]) in parents:
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def serving(
    url: str, *, startup_timeout: float = 60.0, command: list[str] | None = None, workers: int = 1
) -> Iterator[Served]:
    """Run ``ssctrial serve --db url`` in a child process on a free port; yield it as :class:`Served`.

    ``command`` replaces the server command (``{url}`` and ``{port}`` are filled in), e.g. to run
    it under a profiler. The child is terminated (then killed) when the block ends.
    """
    port = _free_port()
    args = command or [sys.executable, "-m", "ssctrial.cli", "serve", "--db", "{url}", "--port", "{port}"]
    if command is None and workers > 1:
        args = [*args, "--workers", str(workers)]
    args = [a.replace("{url}", url).replace("{port}", str(port)) for a in args]
    log = Path(tempfile.mkstemp(prefix="ssctrial-load-server-", suffix=".log")[1])
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                msg = (
                    f"the server stopped while starting (exit {proc.returncode}):\n{log.read_text()[-3000:]}"
                )
                raise RuntimeError(msg)
            try:
                if httpx.get(f"{base}/api/v1/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                msg = f"the server did not answer within {startup_timeout} s:\n{log.read_text()[-3000:]}"
                raise RuntimeError(msg)
            time.sleep(0.2)
        yield Served(base, log, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# ------------------------------------------------------------------------------------------- load
@dataclass(frozen=True)
class LoadConfig:
    """How hard and how long to push.

    ``think_min_s``/``think_max_s``: a virtual user waits a uniform random time in this range
    before each action after logging in (a coordinator reads the screen and types between
    submissions); 0/0 gives the saturation figure. User ``i`` logs in at ``i / users * ramp_s``
    seconds (people do not all log in within the same second; 0: all at once). The run stops at
    ``duration_s`` or after ``max_requests`` requests, whichever comes first; requests in flight
    then complete.
    """

    users: int = 50
    duration_s: float = 60.0
    max_requests: int = 20_000
    think_min_s: float = 0.5
    think_max_s: float = 1.5
    ramp_s: float = 0.0
    seed: int = 8
    timeout_s: float = 60.0


@dataclass
class LoadResult:
    """What the clients did and saw."""

    config: LoadConfig
    #: one row per request: (kind, status (0: transport error), latency in s, start offset in s)
    samples: list[tuple[str, int, float, float]] = field(default_factory=list)
    t0: float = field(default_factory=time.perf_counter)
    wall_s: float = 0.0
    #: unexpected responses: "kind METHOD path -> status: body"
    errors: list[str] = field(default_factory=list)
    #: acknowledged writes: subject -> enrolling user; subject -> arm; (subject, visit, instrument)
    #: -> (number of items sent, visit date sent)
    enrolled: dict[str, str] = field(default_factory=dict)
    allocated: dict[str, str] = field(default_factory=dict)
    forms: dict[tuple[str, str, str], tuple[int, str | None]] = field(default_factory=dict)
    #: subject -> stratum levels sent
    strata: dict[str, dict[str, str]] = field(default_factory=dict)
    #: with one user: a function returning the server's CPU seconds, and the server CPU seconds
    #: used per request kind (meaningful only when requests do not overlap)
    cpu_probe: Any = None
    cpu_by_kind: dict[str, float] = field(default_factory=lambda: defaultdict(float))


class _Budget:
    def __init__(self, config: LoadConfig) -> None:
        self.deadline = time.monotonic() + config.duration_s
        self.left = config.max_requests

    def take(self) -> bool:
        if self.left <= 0 or time.monotonic() >= self.deadline:
            return False
        self.left -= 1
        return True


async def _call(
    client: httpx.AsyncClient, result: LoadResult, t0: float, kind: str, path: str, body: dict[str, Any]
) -> httpx.Response | None:
    cpu0 = result.cpu_probe() if result.cpu_probe else 0.0
    start = time.perf_counter()
    try:
        response = await client.post(path, json=body)
    except httpx.HTTPError as exc:
        result.samples.append((kind, 0, time.perf_counter() - start, start - t0))
        result.errors.append(
            f"{kind} POST {path} at {start - t0:.2f} s after {time.perf_counter() - start:.3f} s "
            f"-> {type(exc).__name__}: {exc}"
        )
        return None
    result.samples.append((kind, response.status_code, time.perf_counter() - start, start - t0))
    if result.cpu_probe:
        result.cpu_by_kind[kind] += result.cpu_probe() - cpu0
    if not 200 <= response.status_code < 300:
        result.errors.append(f"{kind} POST {path} -> {response.status_code}: {response.text[:300]}")
        return None
    return response


async def _virtual_user(i: int, base: str, config: LoadConfig, result: LoadResult, budget: _Budget) -> None:
    rng = random.Random(config.seed * 100_003 + i)  # noqa: S311 - test data, not security
    today = date.today()
    consent = today - timedelta(days=20)
    dates = {"SCR": consent.isoformat(), "BL": (consent + timedelta(days=14)).isoformat()}
    run = uuid.uuid4().hex[:6]
    t0 = result.t0

    async def think() -> None:
        if config.think_max_s > 0:
            await asyncio.sleep(rng.uniform(config.think_min_s, config.think_max_s))

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    await asyncio.sleep(i / config.users * config.ramp_s)
    async with httpx.AsyncClient(base_url=base, timeout=config.timeout_s, limits=limits) as client:
        if not budget.take():
            return
        login = await _call(
            client,
            result,
            t0,
            "login",
            "/api/v1/login",
            {"username": user_name(i), "password": user_password(i)},
        )
        if login is None:
            return
        client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        n = 0
        while True:
            n += 1
            sid = f"L{run}-{i:03d}-{n:04d}"
            strata = {code: rng.choice(levels) for code, levels in STRATA_LEVELS.items()}
            await think()
            if not budget.take():
                return
            enrol = {
                "subject_id": sid,
                "consent_date": consent.isoformat(),
                "sex": rng.choice(["F", "M"]),
                "strata": strata,
                "site": SITE,
                "birth_date": f"{rng.randint(1950, 2000)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                "height_cm": rng.randint(150, 185),
                "eligibility": ELIGIBILITY,
            }
            if await _call(client, result, t0, "enrol", "/api/v1/subjects", enrol) is None:
                continue
            result.enrolled[sid] = user_name(i)
            result.strata[sid] = strata
            for visit, instrument in FORMS:
                if visit == "BL":  # randomise between the screening and the baseline forms
                    if sid not in result.allocated:
                        await think()
                        if not budget.take():
                            return
                        response = await _call(
                            client, result, t0, "randomise", f"/api/v1/subjects/{sid}/randomize", {}
                        )
                        if response is None:
                            break
                        result.allocated[sid] = response.json()["arm"]
                if instrument == "MRSS":
                    values: dict[str, Any] = {code: rng.randint(0, 3) for code in MRSS_ITEMS}
                else:
                    values = {
                        "pt_global": round(rng.uniform(0, 10), 1),
                        "md_global": round(rng.uniform(0, 10), 1),
                    }
                await think()
                if not budget.take():
                    return
                body = {"values": values, "visit_date": dates[visit]}
                path = f"/api/v1/subjects/{sid}/visits/{visit}/{instrument}"
                response = await _call(client, result, t0, "form", path, body)
                if response is None:
                    break
                inserted = int(response.json()["inserted"])
                if inserted != len(values):
                    result.errors.append(f"form {path}: sent {len(values)} items, server inserted {inserted}")
                result.forms[(sid, visit, instrument)] = (len(values), dates[visit])


async def _run(base: str | Sequence[str], config: LoadConfig, cpu_probe: Any) -> LoadResult:
    result = LoadResult(config=config, cpu_probe=cpu_probe)
    budget = _Budget(config)
    result.t0 = time.perf_counter()
    bases = [base] if isinstance(base, str) else list(base)
    await asyncio.gather(
        *(_virtual_user(i, bases[i % len(bases)], config, result, budget) for i in range(config.users))
    )
    result.wall_s = time.perf_counter() - result.t0
    return result


def run_load(base: str | Sequence[str], config: LoadConfig, *, cpu_probe: Any = None) -> LoadResult:
    """Drive ``config.users`` virtual users against the server at ``base``; return what they saw.

    With several base URLs (several server processes on the same database) user ``i`` always
    talks to ``base[i % len(base)]``: what a load balancer with sticky sessions does, as login
    sessions live in the memory of the process that created them.

    ``cpu_probe`` (e.g. :meth:`Served.cpu_s`) is read before and after every request to charge
    the server's CPU time to request kinds; use it with one user only.
    """
    return asyncio.run(_run(base, config, cpu_probe))


def merge_results(first: LoadResult, second: LoadResult) -> LoadResult:
    """The requests and acknowledged writes of two runs against the same store (for :func:`verify_load`)."""
    merged = LoadResult(config=second.config, wall_s=first.wall_s + second.wall_s)
    for part in (first, second):
        merged.samples.extend(part.samples)
        merged.errors.extend(part.errors)
        merged.enrolled.update(part.enrolled)
        merged.allocated.update(part.allocated)
        merged.forms.update(part.forms)
        merged.strata.update(part.strata)
    return merged


# ----------------------------------------------------------------------------------------- verify
def verify_load(store: Store, result: LoadResult) -> dict[str, tuple[bool, str]]:
    """Compare the database with the writes the clients saw acknowledged.

    Returns ``{check: (ok, detail)}``; every check must be ok for the run to pass.
    """
    checks: dict[str, tuple[bool, str]] = {}
    statuses = Counter(s for _k, s, _l, _t in result.samples)
    bad = {s: n for s, n in statuses.items() if not 200 <= s < 300}
    checks["no error responses"] = (
        not bad and not result.errors,
        f"statuses {dict(sorted(statuses.items()))}; first errors: {result.errors[:3]}",
    )
    n_random_ok = sum(1 for k, s, _l, _t in result.samples if k == "randomise" and s == 200)
    with store.engine.connect() as conn:
        subjects = {
            r.subject_id: r
            for r in conn.execute(sa.text("SELECT subject_id, status, stratum, site_code FROM subject"))
        }
        allocations = conn.execute(
            sa.text("SELECT subject_id, arm, stratum, list_id FROM allocation ORDER BY id")
        ).all()
        slots = conn.execute(
            sa.text(
                "SELECT id, stratum, position, arm, used_by_subject_id FROM randomization_list "
                "WHERE used_by_subject_id IS NOT NULL"
            )
        ).all()
        obs = conn.execute(
            sa.text(
                "SELECT subject_id, visit_code, instrument, count(*) AS n FROM observation "
                "GROUP BY subject_id, visit_code, instrument"
            )
        ).all()
        visits = {
            (r.subject_id, r.visit_code): r.visit_date
            for r in conn.execute(sa.text("SELECT subject_id, visit_code, visit_date FROM visit"))
        }
        dup_subject_slots = conn.execute(
            sa.text(
                "SELECT used_by_subject_id FROM randomization_list WHERE used_by_subject_id IS NOT NULL "
                "GROUP BY used_by_subject_id HAVING count(*) > 1"
            )
        ).all()
    # enrolment
    missing = sorted(set(result.enrolled) - set(subjects))
    extra = sorted(set(subjects) - set(result.enrolled))
    checks["every acknowledged enrolment stored (and nothing else)"] = (
        not missing and not extra,
        f"{len(result.enrolled)} acknowledged, {len(subjects)} stored; "
        f"missing {missing[:5]}, extra {extra[:5]}",
    )
    # allocation
    alloc_subjects = Counter(a.subject_id for a in allocations)
    alloc_lists = Counter(a.list_id for a in allocations)
    double_subject = [s for s, n in alloc_subjects.items() if n > 1]
    double_slot = [lid for lid, n in alloc_lists.items() if n > 1 or lid is None]
    checks["no subject allocated twice, no slot used twice"] = (
        not double_subject and not double_slot and not dup_subject_slots,
        f"{len(allocations)} allocations; subjects twice {double_subject[:5]}, slots twice or missing "
        f"{double_slot[:5]}, list rows sharing a subject {[r[0] for r in dup_subject_slots][:5]}",
    )
    stored_arms = {a.subject_id: a.arm for a in allocations}
    wrong_arm = sorted(s for s, arm in result.allocated.items() if stored_arms.get(s) != arm)
    checks["allocations == randomise 200s, with the arm the client was shown"] = (
        len(allocations) == n_random_ok == len(result.allocated)
        and not wrong_arm
        and set(stored_arms) == set(result.allocated),
        f"{len(allocations)} stored, {n_random_ok} randomise 200s; arm differs for {wrong_arm[:5]}",
    )
    slot_by_id = {r.id: r for r in slots}
    mismatched = [
        a.subject_id
        for a in allocations
        if a.list_id not in slot_by_id
        or slot_by_id[a.list_id].used_by_subject_id != a.subject_id
        or slot_by_id[a.list_id].arm != a.arm
        or slot_by_id[a.list_id].stratum != a.stratum
    ]
    used_positions: dict[str, list[int]] = defaultdict(list)
    for r in slots:
        used_positions[r.stratum].append(int(r.position))
    gaps = {
        st: len(pos)
        for st, pos in used_positions.items()
        if sorted(pos) != list(range(min(pos), min(pos) + len(pos))) or min(pos) != _first_position(store, st)
    }
    status_wrong = [s for s in stored_arms if subjects.get(s) is None or subjects[s].status != "randomised"]
    checks["allocation rows match their list slots, slots used in list order"] = (
        not mismatched and not gaps and len(slots) == len(allocations) and not status_wrong,
        f"{len(slots)} slots used; mismatched {mismatched[:5]}; strata with gaps {gaps}; "
        f"randomised subjects not in status randomised {status_wrong[:5]}",
    )
    # observations and visit dates
    stored_obs = {(r.subject_id, r.visit_code, r.instrument): int(r.n) for r in obs}
    expected_obs = {k: n for k, (n, _d) in result.forms.items()}
    diff = sorted(k for k in set(stored_obs) | set(expected_obs) if stored_obs.get(k) != expected_obs.get(k))
    wrong_dates = sorted(
        (s, v) for (s, v, _i), (_n, d) in result.forms.items() if str(visits.get((s, v))) != d
    )
    checks["observations per form == items sent; visit dates stored"] = (
        not diff and not wrong_dates,
        f"{len(expected_obs)} forms, {sum(expected_obs.values())} items acknowledged, "
        f"{sum(stored_obs.values())} stored; differing forms {diff[:5]}; wrong dates {wrong_dates[:5]}",
    )
    audit = verify_audit_chain(store)
    checks["audit chain intact"] = (bool(audit.ok), str(audit))
    repro = reproduce_allocation_list(store, user=STATISTICIAN[0])
    checks["allocation list reproduces from the seed"] = (bool(repro.ok), str(repro))
    return checks


def _first_position(store: Store, stratum: str) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT min(position) FROM randomization_list WHERE stratum = :s"), {"s": stratum}
            ).scalar_one()
        )


# ---------------------------------------------------------------------------------------- summary
def summarise(result: LoadResult) -> dict[str, Any]:
    """Throughput and latency percentiles (ms), overall and per request kind."""
    out: dict[str, Any] = {
        "requests": len(result.samples),
        "duration_s": result.wall_s,
        "throughput_rps": len(result.samples) / result.wall_s if result.wall_s else 0.0,
        "errors": sum(1 for _k, s, _l, _t in result.samples if not 200 <= s < 300) + 0,
        "subjects": len(result.enrolled),
        "randomised": len(result.allocated),
        "forms": len(result.forms),
    }
    groups: dict[str, list[float]] = {"all": [lat for _k, _s, lat, _t in result.samples]}
    groups["all but login"] = [lat for k, _s, lat, _t in result.samples if k != "login"]
    for kind in KINDS:
        groups[kind] = [lat for k, _s, lat, _t in result.samples if k == kind]
    out["latency_ms"] = {name: _percentiles(values) for name, values in groups.items() if values}
    return out


def _percentiles(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values) * 1000.0
    p50, p95, p99 = np.percentile(arr, [50, 95, 99])
    return {
        "n": float(arr.size),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "max": float(arr.max()),
    }


def format_summary(summary: dict[str, Any]) -> str:
    """A plain-text table of :func:`summarise`'s figures."""
    lines = [
        f"requests {summary['requests']} in {summary['duration_s']:.1f} s: "
        f"{summary['throughput_rps']:.1f} req/s; errors {summary['errors']}; subjects {summary['subjects']}, "
        f"randomised {summary['randomised']}, forms {summary['forms']}",
        f"{'kind':<14}{'n':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}",
    ]
    for name, p in summary["latency_ms"].items():
        lines.append(
            f"{name:<14}{int(p['n']):>8}{p['p50']:>10.1f}{p['p95']:>10.1f}{p['p99']:>10.1f}{p['max']:>10.1f}"
        )
    return "\n".join(lines)
