"""Allocation concealment through the web: nobody but the statistician can learn the sequence.

An investigator (or monitor, or admin) must not be able to tell the next arm of a stratum from
anything the server sends: page and API bodies, the audit trail, the randomisation page before
assignment, the messages of failed randomisations, the OpenAPI schema, or the response time of
the randomisation itself. The tests read the concealed list directly with SQL (as only the
statistician could) to know what must not leak.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from scipy import stats
from tests.web.conftest import USERS, csrf_of, login, make_store
from tests.web.test_access_matrix import fill_path

from ssctrial.design import load_study
from ssctrial.randomize import create_allocation_list, randomize_subject
from ssctrial.store import Store, init_store, open_store
from ssctrial.web import ACCESS, create_app

STRATA = [
    {"SUBTYPE": "diffuse", "DURATION": "early"},
    {"SUBTYPE": "diffuse", "DURATION": "late"},
    {"SUBTYPE": "limited", "DURATION": "early"},
    {"SUBTYPE": "limited", "DURATION": "late"},
]
NON_STATISTICIANS = ("ivan", "mona", "alice")


def stratum_key(strata: dict[str, str]) -> str:
    return "|".join(f"{k}={v}" for k, v in strata.items())


def next_arms(store: Store, stratum: str, n: int = 1) -> list[str]:
    """The next ``n`` arms of a stratum, read from the concealed list (what must not leak)."""
    query = sa.text(
        "SELECT arm FROM randomization_list WHERE stratum = :s AND used_by_subject_id IS NULL "
        "ORDER BY position LIMIT :n"
    )
    with store.engine.connect() as conn:
        return [r[0] for r in conn.execute(query, {"s": stratum, "n": n})]


def enrol(store: Store, sid: str, strata: dict[str, str]) -> None:
    store.enroll_subject(sid, user="alice", consent_date="2026-11-01", sex="F", strata=strata, site="HUASHAN")


def arm_words(store: Store) -> list[str]:
    """Every arm code and label of the study."""
    return [w for a in store.design.arms for w in (a.code, a.label)]


@pytest.fixture(scope="module")
def template_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "web.db"
    make_store(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def web_store(template_db, tmp_path) -> Iterator[Store]:
    """A fresh copy of the BASICS web store (overrides the conftest's; ``app`` uses it)."""
    path = tmp_path / "web.db"
    shutil.copyfile(template_db, path)
    store = open_store(f"sqlite:///{path}")
    yield store
    store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend_store(request) -> Store:
    """The BASICS web store on SQLite, and on PostgreSQL (where the slot claim differs)."""
    return request.getfixturevalue("web_store" if request.param == "sqlite" else "pg_web_store")


def db_of(store: Store) -> Path:
    return Path(store.url.removeprefix("sqlite:///"))


# ------------------------------------------------------------------------------------------ bodies
def _forbidden_markers(db: Path) -> list[str]:
    """Strings that only the concealed tables (or their audit rows) contain."""
    with sqlite3.connect(db) as con:
        seed = con.execute("SELECT seed FROM randomization_secret").fetchone()[0]
        digest = json.loads(
            con.execute("SELECT new FROM audit_log WHERE table_name='randomization_list'").fetchone()[0]
        )["list_sha256"]
    return [
        seed,
        digest,
        "randomization_list",
        "randomization_secret",
        "list_sha256",
        "block_size",
        "list_id",
    ]


@pytest.mark.parametrize("who", NON_STATISTICIANS)
def test_no_get_route_returns_sequence_content(web_store, app, who):
    db = db_of(web_store)
    for i, strata in enumerate(STRATA):
        enrol(web_store, f"S{i}", strata)
        enrol(web_store, f"R{i}", strata)
        randomize_subject(web_store, f"R{i}", user="ivan")
    web_store.open_query("S0", user="mona", text="check")
    client = TestClient(app)
    login(client, who)
    markers = _forbidden_markers(db)
    ids = {"subject_id": "R0", "visit": "BL", "instrument": "MRSS", "query_id": "1", "path": "app.css"}
    gets = [path for method, path in ACCESS if method == "GET"]
    extra = [
        "/audit?table=randomization_list",
        "/audit?table=randomization_secret",
        "/audit?table=allocation",
        "/api/v1/audit?table=randomization_list&limit=2000",
        "/api/v1/audit?table=randomization_secret",
        "/api/v1/audit?limit=2000",
        "/api/v1/subjects/S0",
        "/subjects/S0/randomize",
    ]
    checked = 0
    role = USERS[who][0]
    for path in gets:  # the role gets the real page or API answer (not an error that hides nothing)
        allowed = ACCESS[("GET", path)]
        expected = 200 if allowed is None or role in allowed else 403
        if path == "/report/files/{path:path}" and expected == 200:
            expected = 404  # no analysis report in this store
        assert client.get(fill_path(path, ids)).status_code == expected, path
    for url in [fill_path(p, ids) for p in gets] + extra:
        r = client.get(url)
        body = r.text
        if url.startswith("/audit?"):  # the filter form echoes the table asked for; rows must be empty
            body = body.split('<table id="audit">', 1)[1]
            assert "No entries." in body or "table=allocation" in url
        for marker in markers:
            assert marker not in body, (who, url, marker)
        if not url.startswith("/static"):  # CSS may say "position:"
            assert not re.search(r"\bposition\b|\"block\"", body), (who, url)
        checked += 1
    assert checked == len(gets) + len(extra)
    client.close()


def test_statistician_does_see_the_concealed_audit_rows(web_store, app):
    """Control: the markers above are really reachable for the one role allowed to see them."""
    client = TestClient(app)
    login(client, "stan")
    rows = client.get("/api/v1/audit", params={"table": "randomization_list"}).json()
    assert len(rows) == 1 and "list_sha256" in rows[0]["new"]
    assert _forbidden_markers(db_of(web_store))[1] in client.get("/audit").text
    client.close()


@pytest.mark.parametrize("who", NON_STATISTICIANS)
def test_audit_trail_hides_concealed_rows_and_list_slots(web_store, app, who):
    for i, strata in enumerate(STRATA):
        enrol(web_store, f"R{i}", strata)
        randomize_subject(web_store, f"R{i}", user="ivan")
    client = TestClient(app)
    login(client, who)
    rows = client.get("/api/v1/audit", params={"limit": 2000}).json()
    tables = {r["table_name"] for r in rows}
    assert "randomization_list" not in tables and "randomization_secret" not in tables
    alloc = [r for r in rows if r["table_name"] == "allocation"]
    assert len(alloc) == len(STRATA)
    for r in alloc:
        new = json.loads(r["new"])
        assert set(new) == {"arm", "stratum", "method"}, new  # no position, list_id, block
    # the stored audit row does hold the slot: the redaction is what hides it
    with sqlite3.connect(db_of(web_store)) as con:
        stored = json.loads(
            con.execute("SELECT new FROM audit_log WHERE table_name='allocation'").fetchone()[0]
        )
    assert {"position", "list_id"} <= set(stored)
    page = client.get("/audit", params={"table": "allocation"}).text
    assert "position" not in page and "list_id" not in page and "R0" in page
    client.close()


# ------------------------------------------------------------------------------------------ page before
def _normalised(html: str, sid: str, strata: dict[str, str]) -> str:
    out = html.replace(csrf_of(html), "CSRF").replace(sid, "SUBJECT")
    for k, v in strata.items():
        out = out.replace(f"{k} = {v}", f"{k} = LEVEL")
    return out


def test_randomize_page_before_assignment_does_not_depend_on_the_next_arm(backend_store):
    web_store = backend_store
    app = create_app(web_store)
    client = TestClient(app)
    login(client, "ivan")
    # 1. the same subject, before and after the next slot of its stratum changes arm
    strata = STRATA[0]
    key = stratum_key(strata)
    enrol(web_store, "X1", strata)
    first_next = next_arms(web_store, key)[0]
    before = client.get("/subjects/X1/randomize")
    api_before = client.get("/api/v1/subjects/X1").json()
    n = 0
    while next_arms(web_store, key)[0] == first_next:  # use slots (as another clinic would) until it differs
        enrol(web_store, f"F{n}", strata)
        randomize_subject(web_store, f"F{n}", user="alice")
        n += 1
    after = client.get("/subjects/X1/randomize")
    assert before.status_code == after.status_code == 200
    assert before.content == after.content, "the page before assignment changed with the next arm"
    assert client.get("/api/v1/subjects/X1").json() == api_before
    # 2. two subjects in strata whose next arms differ: the same page up to id, token and strata
    pages = {}
    for i, s in enumerate(STRATA):
        enrol(web_store, f"Y{i}", s)
        pages[next_arms(web_store, stratum_key(s))[0]] = (f"Y{i}", s)
    if len(pages) < 2:  # every stratum's next arm is the same: move one stratum on
        s = STRATA[1]
        while next_arms(web_store, stratum_key(s))[0] in pages:
            n += 1
            enrol(web_store, f"F{n}", s)
            randomize_subject(web_store, f"F{n}", user="alice")
        pages[next_arms(web_store, stratum_key(s))[0]] = ("Y1", s)
    assert len(pages) >= 2
    bodies = set()
    for sid, s in pages.values():
        html = TestClient(app, cookies=client.cookies).get(f"/subjects/{sid}/randomize").text
        bodies.add(_normalised(html, sid, s))
    assert len(bodies) == 1, "randomisation pages differ with the next arm"
    for word in arm_words(web_store):
        assert word not in before.text


# ------------------------------------------------------------------------------------------ errors
def _assert_no_future_arm(body: str, store: Store, *, own: str | None = None) -> None:
    for arm in store.design.arms:
        if arm.code == own:
            continue
        assert arm.code not in body and arm.label not in body, (arm.code, body[-500:])


def test_failed_randomisations_reveal_no_arm(backend_store):
    web_store = backend_store
    app = create_app(web_store)
    client = TestClient(app)
    csrf = login(client, "ivan")
    strata = STRATA[2]
    key = stratum_key(strata)
    enrol(web_store, "SF1", strata)
    web_store.update_subject_status("SF1", "screen_failed", user="ivan", reason="E2 not met")
    enrol(web_store, "OK1", strata)
    enrol(web_store, "DONE1", strata)
    done = randomize_subject(web_store, "DONE1", user="ivan")
    # make the next slot's arm differ from DONE1's, so that "no other arm" is a real check
    n = 0
    while next_arms(web_store, key)[0] == done.arm:
        enrol(web_store, f"F{n}", strata)
        randomize_subject(web_store, f"F{n}", user="alice")
        n += 1
    slot = next_arms(web_store, key, 6)
    cases = [
        ("SF1", {"confirm": "yes"}, 409, None),  # not eligible (screen failure)
        ("DONE1", {"confirm": "yes"}, 409, done.arm),  # already randomised (its own arm may show)
        ("OK1", {}, 400, None),  # confirmation box not ticked
        ("NOPE", {"confirm": "yes"}, 404, None),  # no such subject
    ]
    for sid, form, status, own in cases:
        r = client.post(f"/subjects/{sid}/randomize", data={"csrf_token": csrf, **form})
        assert r.status_code == status, (sid, r.status_code, r.text[-300:])
        _assert_no_future_arm(r.text, web_store, own=own)
        if sid != "OK1":
            r = client.post(f"/api/v1/subjects/{sid}/randomize", headers={"X-CSRF-Token": csrf})
            assert r.status_code == status, (sid, r.status_code, r.text)
            _assert_no_future_arm(r.json()["detail"], web_store)
    mona = TestClient(app)
    mcsrf = login(mona, "mona")
    r = mona.post("/api/v1/subjects/OK1/randomize", headers={"X-CSRF-Token": mcsrf})
    assert r.status_code == 403
    _assert_no_future_arm(r.text, web_store)
    # failed attempts used no slot
    assert next_arms(web_store, key, 6) == slot
    for c in (client, mona):
        c.close()


def test_exhausted_list_message_reveals_no_arm(tmp_path):
    design = load_study("basics")
    design = design.model_copy(
        update={
            "randomization": design.randomization.model_copy(
                update={"block_sizes": (3,), "list_length_per_stratum": 3}
            )
        }
    )
    store = init_store(f"sqlite:///{tmp_path / 'small.db'}", design, user="alice")
    store.add_user("ivan", "investigator", user="alice", password=USERS["ivan"][1])
    create_allocation_list(store, user="alice")
    strata = STRATA[0]
    for i in range(4):
        enrol(store, f"E{i}", strata)
    for i in range(3):
        randomize_subject(store, f"E{i}", user="ivan")
    client = TestClient(create_app(store))
    csrf = login(client, "ivan")
    r = client.post("/api/v1/subjects/E3/randomize", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 409 and "used up" in r.json()["detail"]
    _assert_no_future_arm(r.text, store)
    r = client.post("/subjects/E3/randomize", data={"csrf_token": csrf, "confirm": "yes"})
    assert r.status_code == 409 and "used up" in r.text
    _assert_no_future_arm(r.text, store)
    client.close()
    store.close()


# ------------------------------------------------------------------------------------------ openapi
def test_openapi_has_no_route_that_reads_the_sequence(app):
    client = TestClient(app)
    schema = client.get("/api/v1/openapi.json").json()
    paths = set(schema["paths"])
    api_in_access = {p for (_m, p) in ACCESS if p.startswith("/api/v1/") and p != "/api/v1/openapi.json"}
    assert paths == api_in_access  # nothing documented that the access matrix does not list
    text = json.dumps(schema).lower()
    for word in (
        "randomization_list",
        "randomization_secret",
        "secret",
        "seed",
        "sequence",
        "block",
        "list_id",
    ):
        assert word not in text, word
    props = set(re.findall(r'"([a-z_]+)": \{"(?:type|title|anyOf|items|\$ref)', json.dumps(schema)))
    assert not props & {"position", "block", "block_size", "seed", "list_id", "stratum_list"}
    assert [m for m, p in ACCESS if "randomiz" in p and p.startswith("/api/")] == ["POST"]
    client.close()


def test_randomize_answer_carries_only_the_assignment(web_store, app):
    enrol(web_store, "A1", STRATA[0])
    client = TestClient(app)
    csrf = login(client, "ivan")
    body = client.post("/api/v1/subjects/A1/randomize", headers={"X-CSRF-Token": csrf}).json()
    assert set(body) == {"subject_id", "arm", "arm_label", "randomized_at", "randomized_by"}
    client.close()


# ------------------------------------------------------------------------------------------ timing
def test_randomize_timing_does_not_depend_on_the_arm(tmp_path):
    """Latency of POST randomise (API and page) grouped by the arm it assigned.

    Why this is a sound check and not a flaky one: when the server's work does not depend on the
    arm, the latencies of the three arms are draws from one distribution. Permuted blocks (sizes
    3 and 6) interleave the arms within a few requests and the subjects cycle through the four
    strata, so a slow spell of the shared machine hits every arm alike rather than one of them.
    Kruskal-Wallis is rank-based (no assumption on the heavy-tailed latency distribution) and
    under that null gives p < 0.001 one time in a thousand. The median check is deliberately
    generous (max(5 ms, 50 %) of the pooled median): a leak worth worrying about (an extra query
    or a sleep for one arm) is larger, while scheduling noise on a loaded 2-core machine mostly
    stays inside it. Because load spikes can still push one arm's median of 20 requests out, a
    channel that fails is measured once more on 60 new subjects and must pass then: noise does
    not repeat, a real dependence on the arm does. A control shows the check is not blind: 50 ms
    added to one arm's requests is flagged.
    """
    design = load_study("basics")
    spec = design.randomization.model_copy(update={"list_length_per_stratum": 60})
    store = init_store(
        f"sqlite:///{tmp_path / 'timing.db'}", design.model_copy(update={"randomization": spec}), user="alice"
    )
    store.add_user("ivan", "investigator", user="alice", password=USERS["ivan"][1])
    create_allocation_list(store, user="alice")
    n = 60
    for i in range(4 * n + 8):
        enrol(store, f"T{i:03d}", STRATA[i % 4])
    client = TestClient(create_app(store))
    csrf = login(client, "ivan")
    subjects = iter(f"T{i:03d}" for i in range(4 * n + 8))
    for _ in range(8):  # warm-up: the first requests are slower
        client.post(f"/api/v1/subjects/{next(subjects)}/randomize", headers={"X-CSRF-Token": csrf})

    def measure(channel: str) -> dict[str, list[float]]:
        by_arm: dict[str, list[float]] = {}
        for _ in range(n):
            sid = next(subjects)
            start = time.perf_counter()
            if channel == "api":
                r = client.post(f"/api/v1/subjects/{sid}/randomize", headers={"X-CSRF-Token": csrf})
            else:
                r = client.post(f"/subjects/{sid}/randomize", data={"csrf_token": csrf, "confirm": "yes"})
            elapsed = time.perf_counter() - start
            assert r.status_code == 200, r.text[-300:]
            with sqlite3.connect(db_of(store)) as con:
                (arm,) = con.execute("SELECT arm FROM allocation WHERE subject_id=?", (sid,)).fetchone()
            by_arm.setdefault(arm, []).append(elapsed)
        assert len(by_arm) == 3 and all(len(v) >= 10 for v in by_arm.values()), {
            k: len(v) for k, v in by_arm.items()
        }
        return by_arm

    for channel in ("api", "page"):
        first = measure(channel)
        if not _arm_independent(first):
            again = measure(channel)
            assert _arm_independent(again), (channel, _summary(first), _summary(again))
        # control: the same check flags a 50 ms difference for one arm (it is not blind)
        biased = {arm: [x + (0.05 if arm == "CTRL" else 0.0) for x in v] for arm, v in first.items()}
        assert not _arm_independent(biased), _summary(biased)
    client.close()
    store.close()


def _summary(by_arm: dict[str, list[float]]) -> dict[str, float]:
    return {arm: round(1000 * statistics.median(v), 2) for arm, v in by_arm.items()}


def _arm_independent(by_arm: dict[str, list[float]]) -> bool:
    pooled = statistics.median([x for v in by_arm.values() for x in v])
    tolerance = max(0.005, 0.5 * pooled)
    medians_close = all(abs(statistics.median(v) - pooled) <= tolerance for v in by_arm.values())
    p = stats.kruskal(*by_arm.values()).pvalue
    return medians_close and p > 0.001
