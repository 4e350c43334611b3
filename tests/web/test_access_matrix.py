"""The access matrix, route by route and role by role, and site scoping.

Every route of the app must have an entry in :data:`ssctrial.web.ACCESS` (and every entry a route).
Then every (method, route) is requested by every role and by an anonymous visitor, with a valid
CSRF token of the requesting session (so that CSRF is never the reason for a refusal):

* a role the table does not allow gets 403 and nothing is written (audit chain length unchanged);
* an anonymous visitor gets 401 from the JSON API and a 303 redirect to ``/login`` from a page;
* an allowed role gets an answer that is not 401/403 (2xx, 3xx, or a business answer such as
  400/404/409: e.g. randomising a subject a second time).

The test ids show the table: ``test_route_access[POST /lock-investigator-denied]``.

Site scoping: on a two-site copy of BASICS, users bound to site B cannot see, enrol at, record,
randomise or query subjects of site A, through pages or API, and do not see them in lists, the
dashboard counts, the queries or the audit trail.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route
from tests.web.conftest import ELIGIBLE, ROLE_USER, USERS, enrol_form, login, make_store

from ssctrial.design import load_study
from ssctrial.randomize import create_allocation_list
from ssctrial.store import init_store
from ssctrial.web import ACCESS, WebSettings, access_table_markdown, create_app

ROLES = ("admin", "investigator", "monitor", "statistician")
VISIT, INSTRUMENT = "BL", "MRSS"
_counter = itertools.count(1)


# ------------------------------------------------------------------------------------------ helpers
def route_keys(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route of ``app`` in the form ACCESS uses (HEAD folded into GET)."""
    keys: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Mount):
            keys.add(("GET", route.path + "/{path:path}"))
        elif isinstance(route, APIRoute | Route):
            for method in route.methods or ():
                if method != "HEAD":
                    keys.add((method, route.path))
        else:  # pragma: no cover - a new kind of route must be added here and to ACCESS
            raise AssertionError(f"unexpected route type {type(route).__name__}: {route!r}")
    return keys


def audit_length(db: Path) -> int:
    """Number of rows in the audit chain (read with plain SQL, not through the app)."""
    with sqlite3.connect(db) as con:
        return int(con.execute("SELECT count(*) FROM audit_log").fetchone()[0])


def fill_path(path: str, ids: dict[str, str]) -> str:
    """Replace the path parameters of an ACCESS path with real values."""
    out = path
    for name, value in ids.items():
        out = out.replace("{" + name + "}", value)
    if "{path:path}" in out:
        out = out.replace("{path:path}", ids["path"])
    assert "{" not in out, f"unfilled parameter in {out}"
    return out


def request_kwargs(method: str, path: str, csrf: str, ids: dict[str, str]) -> dict[str, Any]:
    """A well-formed request for the route (form for pages, JSON for the API), with ``csrf``.

    Values are valid for an allowed role, so that the answer shows the access decision and not a
    validation error; each call uses fresh names where a route creates something.
    """
    n = next(_counter)
    api = path.startswith("/api/")
    headers = {"X-CSRF-Token": csrf} if method == "POST" else {}
    body: dict[str, Any] = {}
    sid = ids["subject_id"]
    if path in ("/login", "/api/v1/login"):
        name = ids.get("login_as", "ivan")
        body = {"username": name, "password": USERS[name][1]} | ({} if api else {"next": "/"})
    elif path == "/subjects/new":
        body = enrol_form(f"M{n:04d}", csrf)
    elif path == "/api/v1/subjects":
        body = {
            "subject_id": f"M{n:04d}",
            "consent_date": "2026-11-01",
            "sex": "F",
            "strata": {"SUBTYPE": "diffuse", "DURATION": "early"},
            "site": "HUASHAN",
            "eligibility": {k.removeprefix("elig_"): True for k in ELIGIBLE},
        }
    elif path.endswith("/randomize"):
        body = {} if api else {"confirm": "yes"}
    elif "/visits/" in path:
        body = {"values": {"face": 1}, "visit_date": "2026-11-05"} if api else {
            "item_face": "1", "visit_date": "2026-11-05"
        }  # fmt: skip
    elif path.endswith(("/ae/new", "/adverse-events")):
        body = {
            "term": "Headache",
            "body_system": "Nervous system disorders",
            "start_date": "2026-11-06",
            "grade": 1,
            "serious": False if api else "no",
            "relatedness": "unlikely",
            "outcome": "recovered",
        }
    elif path in ("/queries", "/api/v1/queries"):
        body = {"subject_id": sid, "text": "please check the face score"}
    elif path.endswith("/answer"):
        body = {"answer": "checked against the source"}
    elif path.endswith("/close"):
        body = {"note": "resolved"}
    elif path in ("/lock", "/unlock", "/api/v1/lock", "/api/v1/unlock"):
        body = {"reason": "interim analysis"}
    elif path == "/users":
        body = {"name": f"user{n}", "role": "monitor", "password": "a-long-password-1"}
    elif path.endswith("/active"):
        body = {"active": "yes"}
    elif path == "/account/password":  # wrong current password: answered, but changes nothing
        body = {"current": "not-the-password", "new": "new-password-123", "confirm": "new-password-123"}
    elif path == "/api/v1/validate":
        body = {"instrument": "MRSS", "item": "face", "value": 2}
    kwargs: dict[str, Any] = {"headers": headers, "follow_redirects": False}
    if method == "POST":
        if api:
            kwargs["json"] = body
        else:
            kwargs["data"] = body | {"csrf_token": csrf}
    return kwargs


# ------------------------------------------------------------------------------------------ fixtures
class Matrix:
    """One app and store shared by the matrix tests, with a logged-in client per role."""

    def __init__(self, root: Path) -> None:
        self.db = root / "matrix.db"
        self.store = make_store(f"sqlite:///{self.db}")
        self.store.add_user("victim", "monitor", user="alice", password="victim-password-1")
        self.store.enroll_subject(
            "S001",
            user="ivan",
            consent_date="2026-11-01",
            sex="F",
            strata={"SUBTYPE": "diffuse", "DURATION": "early"},
            site="HUASHAN",
        )
        self.query_id = self.store.open_query("S001", user="mona", text="check the face score")
        reports = root / "reports" / "run-1"
        reports.mkdir(parents=True)
        (reports / "report.html").write_text("<html><body>report</body></html>", encoding="utf-8")
        # reports_dir is set but POST /report/run would start a real analysis: it is answered below
        self.app = create_app(self.store, settings=WebSettings(reports_dir=root / "reports"))
        self.ids = {
            "subject_id": "S001",
            "visit": VISIT,
            "instrument": INSTRUMENT,
            "query_id": str(self.query_id),
            "name": "victim",
            "path": "report.html",
        }
        self.clients: dict[str, tuple[TestClient, str]] = {}

    def client(self, role: str) -> tuple[TestClient, str]:
        """A client logged in (through the login form) as the role's user, and its CSRF token."""
        if role not in self.clients:
            client = TestClient(self.app)
            self.clients[role] = (client, login(client, ROLE_USER[role]))
        return self.clients[role]

    def fresh(self, role: str | None) -> tuple[TestClient, str]:
        """A new client: logged in as ``role``, or anonymous with the login page's CSRF token."""
        client = TestClient(self.app)
        if role is None:
            page = client.get("/login")
            token = re.search(r'name="csrf-token" content="([^"]*)"', page.text).group(1)
            return client, token
        return client, login(client, ROLE_USER[role])

    def close(self) -> None:
        for client, _ in self.clients.values():
            client.close()
        self.store.close()


@pytest.fixture(scope="module")
def matrix(tmp_path_factory) -> Iterator[Matrix]:
    m = Matrix(tmp_path_factory.mktemp("matrix"))
    # no real analysis in these tests: the report job answers without starting one
    m.app.state.report_job["running"] = True
    yield m
    m.close()


# ------------------------------------------------------------------------------------------ coverage
def test_every_route_has_an_access_rule_and_no_rule_is_stale(tmp_path):
    app = create_app(make_store(f"sqlite:///{tmp_path / 'routes.db'}"))
    routes = route_keys(app)
    missing = sorted(routes - set(ACCESS))
    stale = sorted(set(ACCESS) - routes)
    assert not missing, f"routes without an ACCESS rule: {missing}"
    assert not stale, f"ACCESS rules without a route: {stale}"
    app.state.store.close()


def test_docs_show_exactly_the_enforced_access_table():
    """docs/web.md holds the table generated from ACCESS, unchanged (they cannot drift apart)."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "web.md").read_text(encoding="utf-8")
    lines = doc.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("| Method | Route |")))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    assert "\n".join(lines[start:end]) == access_table_markdown()
    assert doc.count("| Method | Route |") == 1
    assert len(lines[start + 2 : end]) == len(ACCESS)


def test_access_rules_name_known_roles_only():
    for key, roles in ACCESS.items():
        assert roles is None or (roles and set(roles) <= set(ROLES)), key


# ------------------------------------------------------------------------------------------ matrix
def _cases() -> list[Any]:
    cases = []
    for (method, path), allowed in ACCESS.items():
        for role in (*ROLES, None):
            if allowed is None:
                verdict = "public"
            elif role is None:
                verdict = "anonymous"
            else:
                verdict = "allowed" if role in allowed else "denied"
            cases.append(
                pytest.param(
                    method, path, role, verdict, id=f"{method} {path}-{role or 'anonymous'}-{verdict}"
                )
            )
    return cases


@pytest.mark.parametrize(("method", "path", "role", "verdict"), _cases())
def test_route_access(matrix, method, path, role, verdict):
    ends_session = path in ("/logout", "/api/v1/logout", "/login", "/api/v1/login")
    if role is None or ends_session:
        client, csrf = matrix.fresh(role)
    else:
        client, csrf = matrix.client(role)
    ids = dict(matrix.ids)
    if role is not None:
        ids["login_as"] = ROLE_USER[role]
    url = fill_path(path, ids)
    before = audit_length(matrix.db)
    response = client.request(method, url, **request_kwargs(method, path, csrf, ids))
    status = response.status_code
    try:
        if verdict == "denied":
            assert status == 403, (status, response.text[:300])
            assert ROLE_USER[role] in response.text and role in response.text  # names who and why
            assert audit_length(matrix.db) == before, "a refused request wrote to the store"
        elif verdict == "anonymous":
            if path.startswith("/api/"):
                assert status == 401, (status, response.text[:300])
                assert response.json() == {"detail": "not logged in"}
            else:
                assert status == 303, (status, response.text[:300])
                assert response.headers["location"].startswith("/login?next=")
            assert audit_length(matrix.db) == before, "an anonymous request wrote to the store"
        else:  # allowed or public: any answer but an authentication/authorisation refusal
            assert status not in (401, 403), (status, response.text[:300])
            assert status < 500, (status, response.text[:300])
    finally:
        if matrix.store.lock_state()["locked"]:  # keep the shared store writable for the next case
            matrix.store.unlock(user="stan", reason="access matrix test")
        if ends_session:
            client.close()


def test_allowed_writes_really_happen(matrix):
    """Spot check that 'allowed' means done, not merely 'not refused'."""
    client, csrf = matrix.client("investigator")
    sid = f"W{next(_counter):04d}"
    r = client.post("/subjects/new", data=enrol_form(sid, csrf), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/subjects/{sid}"
    r = client.post(f"/api/v1/subjects/{sid}/randomize", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["arm"] in {"BARI4", "BARI2", "CTRL"}
    mon, mcsrf = matrix.client("monitor")
    r = mon.post("/api/v1/queries", json={"subject_id": sid, "text": "x"}, headers={"X-CSRF-Token": mcsrf})
    assert r.status_code == 201
    queries = matrix.store.queries(subject=sid)
    assert len(queries) == 1 and queries.iloc[0]["opened_by"] == "mona"


# ------------------------------------------------------------------------------------------ site scoping
SITE_A, SITE_B = "HUASHAN", "RUIJIN"
B_USERS = {"ivan_b": ("investigator", "ivan-b-password-1"), "mona_b": ("monitor", "mona-b-password-1")}


class TwoSites:
    """BASICS with a second site; subject A001 at site A (with a query, a form, an AE), B001 at B."""

    def __init__(self, root: Path) -> None:
        design = load_study("basics")
        design = design.model_copy(
            update={"sites": (*design.sites, type(design.sites[0])(code=SITE_B, name="Ruijin Hospital"))}
        )
        self.db = root / "two.db"
        store = init_store(f"sqlite:///{self.db}", design, user="alice")
        store.set_password("alice", USERS["alice"][1], user="alice")
        for name, (role, pw) in USERS.items():
            if name != "alice":
                store.add_user(name, role, user="alice", password=pw)
        for name, (role, pw) in B_USERS.items():
            store.add_user(name, role, user="alice", password=pw, site=SITE_B)
        create_allocation_list(store, user="alice")
        strata = {"SUBTYPE": "diffuse", "DURATION": "early"}
        for sid, site in (("A001", SITE_A), ("A002", SITE_A), ("B001", SITE_B)):
            store.enroll_subject(
                sid, user="alice", consent_date="2026-11-01", sex="F", strata=strata, site=site
            )
        from ssctrial.randomize import randomize_subject

        randomize_subject(store, "A002", user="alice")
        self.query_a = store.open_query("A001", user="mona", text="site A query")
        self.query_b = store.open_query("B001", user="mona", text="site B query")
        self.store = store
        self.app = create_app(store)

    def client(self, name: str) -> tuple[TestClient, str]:
        client = TestClient(self.app)
        page = client.get("/login")
        token = re.search(r'name="csrf-token" content="([^"]*)"', page.text).group(1)
        pw = {**USERS, **B_USERS}[name][1]
        r = client.post(
            "/login",
            data={"csrf_token": token, "username": name, "password": pw, "next": "/"},
            follow_redirects=False,
        )
        assert r.status_code == 303
        token = re.search(r'name="csrf-token" content="([^"]*)"', client.get("/").text).group(1)
        return client, token


@pytest.fixture(scope="module")
def two_sites(tmp_path_factory) -> Iterator[TwoSites]:
    t = TwoSites(tmp_path_factory.mktemp("sites"))
    yield t
    t.store.close()


def _site_a_routes() -> list[tuple[str, str]]:
    """Every route that acts on one subject or query (and opening a query, which names one)."""
    return [
        (method, path)
        for method, path in ACCESS
        if "{subject_id}" in path or "{query_id}" in path or (method, path) in _OPEN_QUERY
    ]


_OPEN_QUERY = {("POST", "/queries"), ("POST", "/api/v1/queries")}


def _message(response: Any) -> str:
    """The error message of a refusal: the JSON detail, or the error page's main content."""
    if response.headers["content-type"].startswith("application/json"):
        return str(response.json()["detail"])
    return response.text.split("<main>", 1)[1].split("</main>", 1)[0]


@pytest.mark.parametrize("who", ["ivan_b", "mona_b"])
def test_site_bound_user_cannot_reach_other_sites_subjects(two_sites, who):
    t = two_sites
    client, csrf = t.client(who)
    role = B_USERS[who][0]
    before = audit_length(t.db)
    ids = {
        "subject_id": "A001",
        "visit": VISIT,
        "instrument": INSTRUMENT,
        "query_id": str(t.query_a),
        "path": "",
    }
    routes = _site_a_routes()
    assert len(routes) == 18, routes
    for method, path in routes:
        r = client.request(method, fill_path(path, ids), **request_kwargs(method, path, csrf, ids))
        if role in ACCESS[(method, path)]:  # the role may use the route, but not on site A's data
            assert r.status_code == 404, (method, path, r.status_code, r.text[:300])
            # the answer does not even tell that the subject (or query) exists: it is the answer
            # about an identifier that does not exist
            ghost = ids | {"subject_id": "ZZ999", "query_id": "999999"}
            r2 = client.request(method, fill_path(path, ghost), **request_kwargs(method, path, csrf, ghost))
            assert r2.status_code == 404
            said, said2 = _message(r), _message(r2)
            if "{query_id}" in path:
                said = said.replace(f"#{t.query_a}", "#999999")
            assert said.replace("A001", "ZZ999") == said2, (method, path, said, said2)
        else:
            assert r.status_code == 403, (method, path, r.status_code, r.text[:300])
    assert audit_length(t.db) == before, "a refused request about another site wrote to the store"
    assert t.store.queries(subject="A001")["status"].tolist() == ["open"]
    with sqlite3.connect(t.db) as con:
        assert con.execute("SELECT status FROM subject WHERE subject_id='A001'").fetchone()[0] == "screened"
        assert con.execute("SELECT count(*) FROM observation").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM adverse_event").fetchone()[0] == 0


def test_site_bound_investigator_cannot_enrol_at_other_site(two_sites):
    t = two_sites
    client, csrf = t.client("ivan_b")
    r = client.post("/subjects/new", data=enrol_form("X001", csrf, site=SITE_A), follow_redirects=False)
    assert r.status_code == 403 and f"you may enrol at site {SITE_B} only" in r.text
    body = {
        "subject_id": "X002",
        "consent_date": "2026-11-01",
        "sex": "F",
        "strata": {"SUBTYPE": "diffuse", "DURATION": "early"},
        "site": SITE_A,
        "eligibility": {k.removeprefix("elig_"): True for k in ELIGIBLE},
    }
    r = client.post("/api/v1/subjects", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403 and SITE_B in r.json()["detail"]
    with sqlite3.connect(t.db) as con:
        assert con.execute("SELECT count(*) FROM subject WHERE subject_id LIKE 'X%'").fetchone()[0] == 0
    # the enrolment page offers site B only
    page = client.get("/subjects/new").text
    assert f'value="{SITE_B}"' in page and f'value="{SITE_A}"' not in page
    # and enrolling at the own site works (the refusal above is about the site, not the user)
    r = client.post("/subjects/new", data=enrol_form("B900", csrf, site=SITE_B), follow_redirects=False)
    assert r.status_code == 303


@pytest.mark.parametrize("who", ["ivan_b", "mona_b"])
def test_site_bound_user_sees_only_own_site_in_lists_dashboard_and_audit(two_sites, who):
    t = two_sites
    client, _csrf = t.client(who)
    pages = {
        "/subjects": client.get("/subjects").text,
        "/": client.get("/").text,
        "/queries": client.get("/queries").text,
        "/audit": client.get("/audit").text,
        "/audit?record=A001": client.get("/audit", params={"record": "A001"}).text,
        "/audit?table=subject": client.get("/audit", params={"table": "subject"}).text,
    }
    for url, text in pages.items():
        if url.startswith("/audit"):  # the filter echoes what was asked; the rows must not match
            text = text.split('<table id="audit">', 1)[1]
        assert "A001" not in text and "A002" not in text, url
        assert "site A query" not in text, url
    assert "B001" in pages["/subjects"] and "site B query" in pages["/queries"]
    api = {
        "subjects": client.get("/api/v1/subjects").json(),
        "queries": client.get("/api/v1/queries").json(),
        "audit": client.get("/api/v1/audit").json(),
        "audit_a": client.get("/api/v1/audit", params={"record": "A001"}).json(),
    }
    assert {s["subject_id"] for s in api["subjects"]} <= {"B001", "B900"}
    assert "B001" in {s["subject_id"] for s in api["subjects"]}
    assert [q["subject_id"] for q in api["queries"]] == ["B001"]
    assert api["audit_a"] == []
    assert all("A00" not in str(row) for row in api["audit"])
    assert any("B001" in str(row) for row in api["audit"])
    dash = client.get("/api/v1/dashboard").json()
    assert [row["site"] for row in dash["enrolment"]] == [SITE_B]
    n_b = sum(1 for s in api["subjects"])
    assert dash["totals"]["screened"] == n_b and dash["totals"]["randomised"] == 0  # A002 is not counted
    assert dash["queries"]["open"] == 1  # B001's query only
    html = pages["/"]
    assert re.search(r'id="n-screened">\s*' + str(n_b) + "<", html)
    assert re.search(r'id="n-randomised">\s*0<', html)
    assert re.search(r'id="n-open-queries">\s*1<', html)


def test_unbound_user_sees_both_sites(two_sites):
    """Control for the scoping tests: an unbound monitor does see site A's subject and query."""
    client, _ = two_sites.client("mona")
    ids = {s["subject_id"] for s in client.get("/api/v1/subjects").json()}
    assert {"A001", "A002", "B001"} <= ids
    assert client.get("/subjects/A001").status_code == 200
    assert "site A query" in client.get("/queries").text


def test_site_bound_user_sees_the_audit_rows_of_own_site_queries_and_adverse_events(tmp_path):
    """Rows keyed by their own id (queries, adverse events) are attributed to their subject's site."""
    t = TwoSites(tmp_path)
    ae = {
        "term": "Headache",
        "body_system": "Nervous system disorders",
        "start_date": "2026-11-05",
        "grade": 1,
        "serious": False,
        "relatedness": "unlikely",
    }
    ae_a = t.store.record_adverse_event("A001", user="alice", **ae)
    ae_b = t.store.record_adverse_event("B001", user="alice", **ae)
    t.store.answer_query(t.query_b, user="alice", answer="checked")
    client, _ = t.client("ivan_b")
    rows = client.get("/api/v1/audit").json()
    seen = {(r["table_name"], r["record_key"]) for r in rows}
    assert ("data_query", str(t.query_b)) in seen
    assert sum(1 for r in rows if (r["table_name"], r["record_key"]) == ("data_query", str(t.query_b))) == 2
    assert ("adverse_event", str(ae_b)) in seen
    assert ("data_query", str(t.query_a)) not in seen
    assert ("adverse_event", str(ae_a)) not in seen
    t.store.close()
