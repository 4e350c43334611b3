"""Security of the web interface: CSRF, session fixation and cookies, login rate limiting, password
storage, SQL and script injection, path traversal.

Everything goes through real HTTP requests (FastAPI's TestClient); what was stored is read back
with plain SQL on the SQLite file, not through the app.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from tests.web.conftest import USERS, csrf_of, enrol_form, login, make_store
from tests.web.test_access_matrix import Matrix, audit_length, fill_path, request_kwargs

from ssctrial.store import Store, export_tables, open_store
from ssctrial.web import ACCESS, WebSettings, create_app

COOKIE = "ssctrial_session"


def table_counts(db: Path) -> dict[str, int]:
    """Row count of every table (plain SQL)."""
    with sqlite3.connect(db) as con:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: int(con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in names}


def sql(db: Path, query: str, *params: Any) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(query, params).fetchall()


def anonymous(app: Any, **kwargs: Any) -> tuple[TestClient, str]:
    """A client that opened the login page: an anonymous session and its CSRF token."""
    client = TestClient(app, **kwargs)
    return client, csrf_of(client.get("/login").text)


def db_of(app: Any) -> Path:
    return Path(app.state.store.url.removeprefix("sqlite:///"))


# ============================================================================================ stores
@pytest.fixture(scope="module")
def template_db(tmp_path_factory) -> Path:
    """The conftest's BASICS store, built once per module (argon2 hashing is slow on purpose)."""
    path = tmp_path_factory.mktemp("template") / "web.db"
    make_store(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def web_store(template_db, tmp_path) -> Iterator[Store]:
    """A fresh copy of the template store (overrides the conftest's; the ``app`` fixture uses it)."""
    path = tmp_path / "web.db"
    shutil.copyfile(template_db, path)
    store = open_store(f"sqlite:///{path}")
    yield store
    store.close()


# ============================================================================================ CSRF
@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Iterator[Matrix]:
    m = Matrix(tmp_path_factory.mktemp("security"))
    m.app.state.report_job["running"] = True  # never start a real analysis here
    tokens = (anonymous(m.app)[1], m.fresh("monitor")[1], m.fresh("investigator")[1])
    m.attacker_tokens = lambda: tokens  # type: ignore[attr-defined]
    yield m
    m.close()


#: every unsafe route; the JSON login is exempt by design (see test_json_login_refuses_form_posts)
UNSAFE = [(m, p) for (m, p), roles in ACCESS.items() if m == "POST" and p != "/api/v1/login"]


def _allowed_role(path: str) -> str | None:
    roles = ACCESS[("POST", path)]
    if roles is None:
        return None
    return next(r for r in ("admin", "statistician", "investigator", "monitor") if r in roles)


@pytest.mark.parametrize("forged", ["missing", "anonymous-session", "other-user-session"])
@pytest.mark.parametrize(("method", "path"), UNSAFE, ids=[f"{m} {p}" for m, p in UNSAFE])
def test_unsafe_route_rejects_missing_or_foreign_csrf_token(shared, method, path, forged):
    role = _allowed_role(path)
    ends_session = path in ("/logout", "/api/v1/logout", "/login")
    # the victim: a session allowed to use the route
    client, own = shared.fresh(role) if ends_session or role is None else shared.client(role)
    if forged == "missing":
        token = ""
    elif forged == "anonymous-session":  # what an attacker gets by opening /login himself
        token = shared.attacker_tokens()[0]
    else:  # the attacker's own logged-in session
        token = shared.attacker_tokens()[1 if role != "monitor" else 2]
    assert token != own
    kwargs = request_kwargs(method, path, token, shared.ids)
    if forged == "missing":
        kwargs["headers"].pop("X-CSRF-Token", None)
        kwargs.get("data", {}).pop("csrf_token", None)
    counts = table_counts(shared.db)
    response = client.request(method, fill_path(path, shared.ids), **kwargs)
    assert response.status_code == 403, (response.status_code, response.text[:300])
    assert "CSRF" in response.text or "login form expired" in response.text
    assert table_counts(shared.db) == counts, "a request with a forged CSRF token wrote to the store"
    # the header is checked like the form field: a foreign token there is refused too
    if not path.startswith("/api/") and forged != "missing":
        kwargs["data"].pop("csrf_token")
        kwargs["headers"]["X-CSRF-Token"] = token
        assert client.request(method, fill_path(path, shared.ids), **kwargs).status_code == 403
    # and the same request with the session's own token is not refused for CSRF
    ok = client.request(method, fill_path(path, shared.ids), **request_kwargs(method, path, own, shared.ids))
    assert ok.status_code != 403 or "CSRF" not in ok.text
    if shared.store.lock_state()["locked"]:
        shared.store.unlock(user="stan", reason="csrf test")
    if ends_session or role is None:
        client.close()


def test_login_form_token_is_bound_to_its_anonymous_session(app):
    victim, victim_token = anonymous(app)
    attacker, attacker_token = anonymous(app)
    db = db_of(app)
    before = audit_length(db)
    form = {"username": "ivan", "password": USERS["ivan"][1], "next": "/"}
    r = victim.post("/login", data=form | {"csrf_token": attacker_token}, follow_redirects=False)
    assert r.status_code == 403 and "login form expired" in r.text
    r = victim.post("/login", data=form, follow_redirects=False)
    assert r.status_code == 403
    fresh = TestClient(app)  # no session at all: the token of someone else's page is refused
    r = fresh.post("/login", data=form | {"csrf_token": victim_token}, follow_redirects=False)
    assert r.status_code == 403 and "set-cookie" not in r.headers
    assert audit_length(db) == before, "a refused login form was evaluated (and audited)"
    r = victim.post("/login", data=form | {"csrf_token": victim_token}, follow_redirects=False)
    assert r.status_code == 303
    for c in (victim, attacker, fresh):
        c.close()


def test_json_login_refuses_form_posts(app):
    """The JSON login has no CSRF token (no session yet); a cross-site HTML form can only send
    form-encoded or text/plain bodies, which it refuses without logging anybody in."""
    client = TestClient(app)
    creds = {"username": "ivan", "password": USERS["ivan"][1]}
    r = client.post("/api/v1/login", data=creds)
    assert r.status_code == 422 and "set-cookie" not in r.headers
    body = '{"username": "ivan", "password": "' + USERS["ivan"][1] + '"}'
    r = client.post("/api/v1/login", content=body, headers={"content-type": "text/plain"})
    assert r.status_code == 422 and "set-cookie" not in r.headers
    r = client.post("/api/v1/login", json=creds)
    assert r.status_code == 200 and COOKIE in r.headers["set-cookie"]
    client.close()


# ============================================================================================ sessions
def test_planted_session_cookie_is_replaced_at_login(app):
    client = TestClient(app)
    client.cookies.set(COOKIE, "attacker-chosen-value", domain="testserver.local")
    page = client.get("/login")
    anon = client.cookies.get(COOKIE)
    assert anon != "attacker-chosen-value", "the server kept a session id it did not issue"
    r = client.post(
        "/login",
        data={
            "csrf_token": csrf_of(page.text),
            "username": "ivan",
            "password": USERS["ivan"][1],
            "next": "/",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    after = client.cookies.get(COOKIE)
    assert after not in ("attacker-chosen-value", anon), "no new session token at login"
    assert client.get("/api/v1/me").json()["user"] == "ivan"
    client.close()


def test_pre_login_token_does_not_authenticate_after_login(app):
    """Session fixation: the attacker opens /login, plants that anonymous token in the victim's
    browser; the victim logs in; the attacker's copy of the token must stay anonymous."""
    attacker = TestClient(app)
    page = attacker.get("/login")
    planted = attacker.cookies.get(COOKIE)
    victim = TestClient(app)
    victim.cookies.set(COOKIE, planted, domain="testserver.local")
    r = victim.post(
        "/login",
        data={
            "csrf_token": csrf_of(page.text),
            "username": "ivan",
            "password": USERS["ivan"][1],
            "next": "/",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert victim.cookies.get(COOKIE) != planted
    assert victim.get("/api/v1/me").status_code == 200
    r = attacker.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert attacker.get("/api/v1/me").status_code == 401
    # the anonymous session was discarded, not merely left anonymous
    assert app.state.sessions.get(planted) is None
    for c in (attacker, victim):
        c.close()


@pytest.mark.parametrize("via", ["page", "api"])
def test_logout_invalidates_the_server_side_session(app, via):
    client = TestClient(app)
    if via == "page":
        csrf = login(client, "mona")
    else:
        csrf = client.post("/api/v1/login", json={"username": "mona", "password": USERS["mona"][1]}).json()[
            "csrf_token"
        ]
    old = client.cookies.get(COOKIE)
    if via == "page":
        r = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"
    else:
        assert client.post("/api/v1/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    replay = TestClient(app)  # the old cookie, replayed by someone who copied it
    replay.cookies.set(COOKIE, old, domain="testserver.local")
    r = replay.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert replay.get("/api/v1/me").status_code == 401
    r = replay.post("/api/v1/queries", json={"subject_id": "x", "text": "x"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403  # the session (and with it its CSRF token) is gone
    actions = [a for (a,) in sql(db_of(app), "SELECT action FROM audit_log WHERE user_name='mona'")]
    assert actions[-2:] == ["login", "logout"]
    for c in (client, replay):
        c.close()


def _set_cookie(response: Any) -> str:
    cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith(COOKIE)]
    assert len(cookies) == 1, cookies
    return cookies[0]


def _flags(header: str) -> dict[str, str]:
    parts = [p.strip() for p in header.split(";")[1:]]
    return {p.split("=", 1)[0].lower(): (p.split("=", 1)[1].lower() if "=" in p else "") for p in parts}


@pytest.mark.parametrize(
    ("base_url", "secure_setting", "secure"),
    [
        ("http://testserver", None, False),
        ("https://testserver", None, True),
        ("http://testserver", True, True),
    ],
    ids=["http-default", "https", "http-secure_cookies"],
)
def test_cookie_flags(web_store, tmp_path, base_url, secure_setting, secure):
    app = create_app(web_store, settings=WebSettings(secure_cookies=secure_setting))
    client = TestClient(app, base_url=base_url)
    page = client.get("/login")
    responses = [page]
    if secure == base_url.startswith("https"):  # a Secure cookie does not come back over http
        form = {"csrf_token": csrf_of(page.text), "username": "ivan", "password": USERS["ivan"][1]}
        responses.append(client.post("/login", data=form, follow_redirects=False))
    responses.append(client.post("/api/v1/login", json={"username": "ivan", "password": USERS["ivan"][1]}))
    for response in responses:
        flags = _flags(_set_cookie(response))
        assert "httponly" in flags
        assert flags["samesite"] == "lax"
        assert flags["path"] == "/"
        assert ("secure" in flags) is secure, flags
    client.close()


def test_security_headers_on_pages_and_api(client_for):
    client, _ = client_for("ivan")
    for url in ("/", "/subjects", "/api/v1/subjects", "/login"):
        h = client.get(url).headers
        csp = h["content-security-policy"]
        script_src = re.search(r"script-src ([^;]*)", csp).group(1)
        assert script_src.strip() == "'self'", csp  # no inline script, no eval
        assert "frame-ancestors 'none'" in csp
        assert h["x-content-type-options"] == "nosniff"
        assert h["x-frame-options"] == "DENY"
        assert h["cache-control"] == "no-store"


# ============================================================================================ rate limit
@pytest.mark.parametrize("via", ["page", "api"])
def test_five_wrong_passwords_block_the_sixth_attempt(app, via):
    client = TestClient(app)

    def attempt(password: str) -> Any:
        if via == "api":
            return client.post("/api/v1/login", json={"username": "ivan", "password": password})
        page = client.get("/login")
        return client.post(
            "/login",
            data={"csrf_token": csrf_of(page.text), "username": "ivan", "password": password, "next": "/"},
            follow_redirects=False,
        )

    for i in range(5):
        r = attempt(f"wrong-password-{i}")
        assert r.status_code == 401, r.text[:300]
        assert "user name or password is wrong" in r.text
    r = attempt(USERS["ivan"][1])  # the right password, too late
    assert r.status_code == 429, r.text[:300]
    assert "too many failed logins; try again in about 15 minute(s)" in r.text
    assert COOKIE not in r.headers.get("set-cookie", "") or via == "page"
    assert client.get("/api/v1/me").status_code == 401
    rows = sql(db_of(app), "SELECT user_name, action, table_name FROM audit_log WHERE table_name='web'")
    assert rows == [("ivan", "login_failed", "web")] * 5 + [("ivan", "login_blocked", "web")]
    # another user from the same address is blocked as well (per-address limit)
    other = TestClient(app)
    r = other.post("/api/v1/login", json={"username": "mona", "password": USERS["mona"][1]})
    assert r.status_code == 429
    for c in (client, other):
        c.close()


def test_failed_and_successful_logins_are_audited(app):
    client = TestClient(app)
    assert (
        client.post("/api/v1/login", json={"username": "stan", "password": "nope-nope-nope"}).status_code
        == 401
    )
    assert (
        client.post("/api/v1/login", json={"username": "stan", "password": USERS["stan"][1]}).status_code
        == 200
    )
    rows = sql(db_of(app), "SELECT user_name, action, record_key FROM audit_log WHERE table_name='web'")
    assert [(u, a) for u, a, _ in rows] == [("stan", "login_failed"), ("stan", "login")]
    assert all(rec == "testclient" for _, _, rec in rows)  # the client address
    client.close()


def test_unknown_user_and_wrong_password_get_the_same_answer(app):
    client = TestClient(app)
    wrong = client.post("/api/v1/login", json={"username": "ivan", "password": "wrong-password"})
    unknown = client.post("/api/v1/login", json={"username": "nobody", "password": "wrong-password"})
    assert (
        (wrong.status_code, wrong.json())
        == (unknown.status_code, unknown.json())
        == (
            401,
            {"detail": "user name or password is wrong"},
        )
    )
    pages = []
    for name in ("ivan", "nobody"):
        page = client.get("/login")
        r = client.post(
            "/login",
            data={
                "csrf_token": csrf_of(page.text),
                "username": name,
                "password": "wrong-password",
                "next": "/",
            },
        )
        pages.append((r.status_code, re.sub(r'content="[^"]*"|value="[^"]*"', "", r.text)))
    assert pages[0] == pages[1]  # byte-identical except the CSRF token and the typed name
    client.close()


# ============================================================================================ passwords
def test_passwords_are_argon2id_and_never_shown(client_for, app, tmp_path):
    db = db_of(app)
    hashes = dict(sql(db, "SELECT name, password_hash FROM app_user"))
    assert set(hashes) == set(USERS)
    for name, h in hashes.items():
        assert h.startswith("$argon2id$v=19$"), (name, h[:20])
        assert USERS[name][1] not in h
    # a password set through the web (admin adds a user) is hashed the same way
    admin, csrf = client_for("alice")
    admin.post(
        "/users", data={"csrf_token": csrf, "name": "bob", "role": "monitor", "password": "bob-secret-pw-1"}
    )
    (bob,) = sql(db, "SELECT password_hash FROM app_user WHERE name='bob'")[0]
    assert bob.startswith("$argon2id$")
    secrets = [pw for _, pw in USERS.values()] + ["bob-secret-pw-1"] + list(hashes.values()) + [bob]
    # not in the audit log ...
    audit = "\n".join(str(r) for r in sql(db, "SELECT * FROM audit_log"))
    assert "argon2" not in audit
    for s in secrets:
        assert s not in audit
    assert '"password":"set"' in audit.replace(" ", "")  # the audit says a password was set, not which
    # ... nor in exports (a statistician's export has every table, the concealed ones too) ...
    files = export_tables(app.state.store, tmp_path / "export", user="stan")
    exported = "\n".join(p.read_text(encoding="utf-8") for p in files)
    assert "app_user" in {p.stem for p in files} and "password_hash" not in exported
    for s in secrets:
        assert s not in exported
    # ... nor on any page or API answer an admin sees
    shown = "".join(admin.get(u).text for u in ("/users", "/audit", "/api/v1/audit", "/account"))
    for s in secrets:
        assert s not in shown


def test_passwords_are_never_echoed_in_error_messages(client_for):
    admin, csrf = client_for("alice")
    pw = "shortpw"
    r = admin.post("/users", data={"csrf_token": csrf, "name": "carol", "role": "monitor", "password": pw})
    assert "must be 10 to 128 characters" in r.text and pw not in r.text
    r = admin.post(
        "/users", data={"csrf_token": csrf, "name": "carol2", "role": "monitor", "password": "carol2"}
    )
    assert pw not in r.text and "password of user" in r.text
    bad = "x" * 129
    r = admin.post(
        "/account/password",
        data={"csrf_token": csrf, "current": USERS["alice"][1], "new": bad, "confirm": bad},
    )
    assert "must be 10 to 128 characters" in r.text and bad not in r.text and USERS["alice"][1] not in r.text
    client = TestClient(admin.app)
    page = client.get("/login")
    secret_guess = "my-guess-at-the-password"
    r = client.post(
        "/login",
        data={"csrf_token": csrf_of(page.text), "username": "ivan", "password": secret_guess, "next": "/"},
    )
    assert r.status_code == 401 and secret_guess not in r.text
    r = client.post("/api/v1/login", json={"username": "ivan", "password": secret_guess})
    assert secret_guess not in r.text
    r = client.post(
        "/api/v1/login", json={"username": "ivan", "password": "p" * 200}
    )  # too long for the model
    assert r.status_code == 422 and "p" * 129 not in r.text
    client.close()


# ============================================================================================ injection
SQLI = ["'; DROP TABLE subject; --", "' OR '1'='1"]
XSS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)"]
PAYLOADS = SQLI + XSS


def assert_safe_html(html: str, payload: str, *, shown: bool = True) -> None:
    """``html`` holds ``payload`` only HTML-escaped: no raw tag, no raw attribute break-out."""
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "onerror=alert(1)>" not in html or "&gt;" in html
    assert not re.search(r"(href|src|action)\s*=\s*[\"']?\s*javascript:", html, re.I)
    if shown:
        assert str(escape(payload)) in html, f"{payload!r} not shown (escaped) on the page"


@pytest.fixture(scope="module")
def injected(template_db, tmp_path_factory):
    """Every free-text field stored through the web, once per payload (pages and API)."""
    path = tmp_path_factory.mktemp("inject") / "web.db"
    shutil.copyfile(template_db, path)
    app = create_app(open_store(f"sqlite:///{path}"))
    admin, stat = TestClient(app), TestClient(app)
    csrf = login(admin, "alice")  # admin: enrols, records, answers; also opens/closes queries
    scsrf = login(stat, "stan")
    store = app.state.store
    refused: dict[tuple[str, str], Any] = {}
    for i, p in enumerate(PAYLOADS):
        sid = f"INJ{i}"
        # subject id outside its pattern, and enrolment fields: refused with a clear 400
        for field in ("subject_id", "sex", "consent_date", "height_cm", "birth_date"):
            r = admin.post("/subjects/new", data=enrol_form(sid, csrf) | {field: p})
            refused[("enrol page", field, p)] = r
        r = admin.post(
            "/api/v1/subjects",
            json={
                "subject_id": p,
                "consent_date": "2026-11-01",
                "sex": "F",
                "strata": {"SUBTYPE": "diffuse", "DURATION": p},
                "eligibility": {c: True for c in ("I1", "I2", "I3", "E1", "E2", "E3")},
            },
            headers={"X-CSRF-Token": csrf},
        )
        refused[("enrol api", "subject_id", p)] = r
        # the user name of a new user (pattern-checked)
        r = admin.post(
            "/users", data={"csrf_token": csrf, "name": p, "role": "monitor", "password": "long-enough-1"}
        )
        refused[("users", "name", p)] = r
        # a valid subject that carries the payload in every stored free-text field
        r = admin.post("/subjects/new", data=enrol_form(sid, csrf), follow_redirects=False)
        assert r.status_code == 303, r.text[:300]
        r = admin.post(
            f"/subjects/{sid}/ae/new",
            data={
                "csrf_token": csrf,
                "term": p,
                "body_system": p,
                "start_date": "2026-11-02",
                "grade": "2",
                "serious": "no",
                "relatedness": "possible",
                "outcome": "recovering",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text[:300]
        r = admin.post(
            f"/api/v1/subjects/{sid}/adverse-events",
            json={
                "term": p,
                "body_system": p,
                "start_date": "2026-11-03",
                "grade": 1,
                "serious": False,
                "relatedness": "unlikely",
            },
            headers={"X-CSRF-Token": csrf},
        )
        assert r.status_code == 201, r.text[:300]
        url = f"/subjects/{sid}/visits/BL/MRSS"
        r = admin.post(
            url,
            data={"csrf_token": csrf, "item_face": "1", "item_assessor_id": p, "visit_date": "2026-11-04"},
        )
        assert r.status_code == 200, r.text[:500]
        r = admin.post(
            url, data={"csrf_token": csrf, "item_face": "2", "visit_date": "2026-11-04", "reason": p}
        )
        assert r.status_code == 200, r.text[:500]
        r = admin.post(
            "/queries",
            data={"csrf_token": csrf, "subject_id": sid, "visit": "BL", "instrument": "MRSS", "item": "face",
                  "text": p, "back": "javascript:alert(1)"},
            follow_redirects=False,
        )  # fmt: skip
        # a javascript: (or any off-site) "back" target is not followed
        assert r.status_code == 303 and r.headers["location"] == "/", r.headers.get("location")
        qid = int(store.queries(subject=sid)["id"].iloc[0])
        r = admin.post(
            f"/queries/{qid}/answer", data={"csrf_token": csrf, "answer": p}, follow_redirects=False
        )
        assert r.status_code == 303
        r = admin.post(f"/queries/{qid}/close", data={"csrf_token": csrf, "note": p}, follow_redirects=False)
        assert r.status_code == 303
        r = admin.post("/api/v1/queries", json={"subject_id": sid, "text": p}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201
        r = stat.post("/lock", data={"csrf_token": scsrf, "reason": p}, follow_redirects=False)
        assert r.status_code == 303
        lock_page = stat.get("/lock").text
        r = stat.post("/unlock", data={"csrf_token": scsrf, "reason": p}, follow_redirects=False)
        assert r.status_code == 303
        refused[("lock page", "reason", p)] = lock_page
    yield {"admin": admin, "stat": stat, "refused": refused, "db": db_of(app)}
    for c in (admin, stat):
        c.close()
    store.close()


def test_injection_is_refused_with_clear_messages_and_escaped(injected):
    for (where, field, p), r in injected["refused"].items():
        if where == "lock page":
            assert_safe_html(r, p)  # the locked state shows the reason
            continue
        if where == "users":
            assert r.status_code == 200  # redirected back to /users with the message
            assert "is not allowed; use 1-64 letters" in r.text
            assert_safe_html(r.text, p)
            continue
        assert r.status_code in (400, 422), (where, field, p, r.status_code)
        if where == "enrol api":
            detail = r.json()["detail"]
            assert isinstance(detail, str) and ("subject id" in detail or "DURATION" in detail), detail
            continue
        assert field.replace("_", " ") in r.text or field in r.text, (where, field, r.text[-800:])
        assert_safe_html(r.text, p, shown=field == "subject_id")


def test_injection_is_stored_verbatim_and_tables_intact(injected):
    db = injected["db"]
    tables = {r[0] for r in sql(db, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"subject", "app_user", "audit_log", "observation", "data_query", "adverse_event"} <= tables
    assert sql(db, "SELECT count(*) FROM subject")[0][0] == len(PAYLOADS)  # no injected subject, none lost
    assert sql(db, "SELECT count(*) FROM app_user")[0][0] == len(USERS)
    for i, p in enumerate(PAYLOADS):
        sid = f"INJ{i}"
        aes = sql(db, "SELECT term, body_system FROM adverse_event WHERE subject_id=?", sid)
        assert aes == [(p, p), (p, p)]
        assert sql(db, "SELECT value FROM observation WHERE subject_id=? AND item='assessor_id'", sid) == [
            (p,)
        ]
        qs = sql(db, "SELECT text, answer, close_note FROM data_query WHERE subject_id=? ORDER BY id", sid)
        assert qs == [(p, p, p), (p, None, None)]
        reasons = [r for (r,) in sql(db, "SELECT reason FROM audit_log WHERE table_name='study'")]
        assert reasons.count(p) == 2  # lock and unlock
        assert (p,) in sql(db, "SELECT reason FROM audit_log WHERE record_key LIKE ?", f"{sid}%")
    # the audit chain is still whole
    ids = [i for (i,) in sql(db, "SELECT id FROM audit_log ORDER BY id")]
    assert ids == list(range(1, len(ids) + 1))


def test_injection_is_shown_escaped_on_every_page(injected):
    admin = injected["admin"]
    for i, p in enumerate(PAYLOADS):
        sid = f"INJ{i}"
        pages = {
            f"/subjects/{sid}": True,  # AEs and queries
            f"/subjects/{sid}/visits/BL/MRSS": True,  # assessor in the input's value
            "/queries": True,
            f"/queries?subject={sid}": True,
            "/audit": True,
            f"/audit?record={sid}": False,
            "/": False,
            "/subjects": False,
        }
        for url, shown in pages.items():
            r = admin.get(url)
            assert r.status_code == 200, url
            assert_safe_html(r.text, p, shown=shown)


def test_injection_comes_back_as_plain_strings_from_the_api(injected):
    admin = injected["admin"]
    for i, p in enumerate(PAYLOADS):
        sid = f"INJ{i}"
        subject = admin.get(f"/api/v1/subjects/{sid}").json()
        assert [(a["term"], a["body_system"]) for a in subject["adverse_events"]] == [(p, p), (p, p)]
        form = admin.get(f"/api/v1/subjects/{sid}/visits/BL/MRSS").json()
        assert {it["code"]: it["value"] for it in form["items"]}["assessor_id"] == p
        queries = admin.get("/api/v1/queries", params={"subject": sid}).json()
        got = sorted(((q["text"], q["answer"], q["close_note"]) for q in queries), key=str)
        assert got == sorted([(p, p, p), (p, None, None)], key=str)
        audit = admin.get("/api/v1/audit", params={"table": "study"}).json()
        assert sum(1 for row in audit if row["reason"] == p) == 2
    r = admin.get("/api/v1/queries")
    assert r.headers["content-type"] == "application/json"


@pytest.mark.parametrize("payload", PAYLOADS)
def test_audit_filters_are_parameters_not_sql(client_for, payload):
    client, _ = client_for("alice")
    everything = client.get("/api/v1/audit").json()
    assert everything  # the filter below must narrow a non-empty trail
    for params in ({"table": payload}, {"record": payload}, {"table": "subject", "record": payload}):
        r = client.get("/api/v1/audit", params=params)
        assert r.status_code == 200 and r.json() == [], params
        page = client.get("/audit", params=params)
        assert page.status_code == 200 and "No entries." in page.text
        assert_safe_html(page.text, payload)
    with sqlite3.connect(db_of(client.app)) as con:
        assert con.execute("SELECT count(*) FROM subject").fetchone() == (0,)


TRAVERSALS = [
    "/report/files/../../etc/passwd",
    "/report/files/..%2F..%2Fetc%2Fpasswd",
    "/report/files/%2e%2e/%2e%2e/etc/passwd",
    "/report/files/run-1/../../secret.txt",
    "/report/files/..%2F..%2Fsecret.txt",
    "/report/files/%2e%2e/%2e%2e/secret.txt",
    "/report/files/..%5C..%5Csecret.txt",
    "/report/files//etc/passwd",
    "/report/files/%2Fetc%2Fpasswd",
]


def test_report_files_refuse_path_traversal(web_store, tmp_path):
    (tmp_path / "secret.txt").write_text("TOP-SECRET", encoding="utf-8")
    run = tmp_path / "reports" / "run-1"
    run.mkdir(parents=True)
    (run / "report.html").write_text("<p>the report</p>", encoding="utf-8")
    app = create_app(web_store, settings=WebSettings(reports_dir=tmp_path / "reports"))
    client = TestClient(app)
    login(client, "stan")
    assert client.get("/report/files/report.html").text == "<p>the report</p>"  # the route works
    for url in TRAVERSALS:
        r = client.get(url)
        assert r.status_code == 404, (url, r.status_code)
        assert "TOP-SECRET" not in r.text and "root:" not in r.text, url
    client.close()


# ============================================================================================ more
OFFSITE = [
    "//evil.example/",
    "https://evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "javascript:alert(1)",
    '/"><script>alert(1)</script>',
]


@pytest.mark.parametrize("target", OFFSITE)
def test_login_next_is_not_an_open_redirect(app, target):
    from urllib.parse import urlsplit

    client = TestClient(app)
    page = client.get("/login", params={"next": target})
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    r = client.post(
        "/login",
        data={
            "csrf_token": csrf_of(page.text),
            "username": "ivan",
            "password": USERS["ivan"][1],
            "next": target,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    location = r.headers["location"]
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc, location
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location
    assert not re.search(r"[\s\x00-\x1f\\]", location), location  # browsers drop tabs: "/\t/x" is "//x"
    # logged in, /login?next= redirects at once: the same rule
    again = client.get("/login", params={"next": target}, follow_redirects=False)
    assert again.status_code == 303 and not urlsplit(again.headers["location"]).netloc
    client.close()


def test_deactivation_and_password_change_end_sessions(client_for):
    admin, acsrf = client_for("alice")
    mona, _ = client_for("mona")
    assert mona.get("/api/v1/me").status_code == 200
    r = admin.post("/users/mona/active", data={"csrf_token": acsrf, "active": "no"}, follow_redirects=False)
    assert r.status_code == 303
    assert mona.get("/api/v1/me").status_code == 401
    r = TestClient(admin.app).post("/api/v1/login", json={"username": "mona", "password": USERS["mona"][1]})
    assert r.status_code == 401 and r.json() == {"detail": "user name or password is wrong"}
    # a password change ends every session of the user (a stolen cookie too)
    ivan1, csrf1 = client_for("ivan")
    ivan2, _ = client_for("ivan")
    new = "ivan-new-password-2"
    r = ivan1.post(
        "/account/password",
        data={"csrf_token": csrf1, "current": USERS["ivan"][1], "new": new, "confirm": new},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert ivan1.get("/api/v1/me").status_code == 401 and ivan2.get("/api/v1/me").status_code == 401
    probe = TestClient(admin.app)
    assert (
        probe.post("/api/v1/login", json={"username": "ivan", "password": USERS["ivan"][1]}).status_code
        == 401
    )
    assert probe.post("/api/v1/login", json={"username": "ivan", "password": new}).status_code == 200


def test_user_names_typed_at_login_are_shown_escaped_in_the_audit(client_for):
    admin, _ = client_for("alice")  # logged in first: the failures below block this address
    attacker = TestClient(admin.app)
    for p in PAYLOADS:
        r = attacker.post("/api/v1/login", json={"username": p, "password": "whatever-password"})
        assert r.status_code == 401 and p not in r.text
    page = admin.get("/audit", params={"table": "web"}).text
    for p in PAYLOADS:
        assert_safe_html(page, p)
    rows = admin.get("/api/v1/audit", params={"table": "web"}).json()
    assert {r["user_name"] for r in rows if r["action"] == "login_failed"} == set(PAYLOADS)
    attacker.close()


def test_idle_session_expires(web_store):
    app = create_app(web_store, settings=WebSettings(idle_timeout_s=0.3))
    client = TestClient(app)
    login(client, "ivan")
    assert client.get("/api/v1/me").status_code == 200
    time.sleep(0.45)
    assert client.get("/api/v1/me").status_code == 401
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    client.close()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_injection_in_path_parameters_is_escaped(client_for, payload):
    from urllib.parse import quote

    client, _ = client_for("alice")
    seg = quote(payload, safe="")
    for url in (f"/subjects/{seg}", f"/subjects/{seg}/randomize", f"/subjects/{seg}/visits/BL/MRSS"):
        r = client.get(url)
        assert r.status_code in (400, 404), (url, r.status_code)
        assert_safe_html(r.text, payload, shown=False)
    r = client.get(f"/subjects/S1/visits/{seg}/MRSS")
    assert r.status_code == 404 and "<script>alert" not in r.text
    r = client.get(f"/api/v1/subjects/{seg}")
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"
    detail = r.json()["detail"]  # a plain JSON string: the client escapes it where it shows it
    assert payload in detail or ("/" in payload and detail == "page not found"), detail
    with sqlite3.connect(db_of(client.app)) as con:
        assert con.execute("SELECT count(*) FROM app_user").fetchone() == (len(USERS),)
