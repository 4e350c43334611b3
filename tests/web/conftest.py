"""Web fixtures: a BASICS store with one user per role (each with a password), the app and clients.

``web_store`` runs on SQLite; tests that must also run on PostgreSQL use ``pg_web_store`` (skipped
only outside CI, like the store's PostgreSQL tests).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.store.conftest import _pg_schema_url

from ssctrial.randomize import create_allocation_list
from ssctrial.store import Store, init_store
from ssctrial.web import WebSettings, create_app

#: user name -> (role, password); every role once, all sites.
USERS: dict[str, tuple[str, str]] = {
    "alice": ("admin", "alice-password-1"),
    "ivan": ("investigator", "ivan-password-1"),
    "mona": ("monitor", "mona-password-1"),
    "stan": ("statistician", "stan-password-1"),
}
#: one user per role (for the access matrix)
ROLE_USER: dict[str, str] = {role: name for name, (role, _pw) in USERS.items()}

ELIGIBLE = {
    "elig_I1": "yes",
    "elig_I2": "yes",
    "elig_I3": "yes",
    "elig_E1": "yes",
    "elig_E2": "yes",
    "elig_E3": "yes",
}


def make_store(url: str) -> Store:
    """Initialise a BASICS store with the four users and the allocation list."""
    store = init_store(url, "basics", user="alice")
    store.set_password("alice", USERS["alice"][1], user="alice")
    for name, (role, password) in USERS.items():
        if name != "alice":
            store.add_user(name, role, user="alice", password=password)
    create_allocation_list(store, user="alice")
    return store


@pytest.fixture
def web_store(tmp_path) -> Iterator[Store]:
    """A BASICS store on SQLite with alice (admin), ivan, mona, stan and an allocation list."""
    store = make_store(f"sqlite:///{tmp_path / 'web.db'}")
    yield store
    store.close()


@pytest.fixture
def pg_web_store() -> Iterator[Store]:
    """The same store on PostgreSQL (a fresh schema)."""
    for url in _pg_schema_url():
        store = make_store(url)
        try:
            yield store
        finally:
            store.close()


@pytest.fixture
def app(web_store, tmp_path):
    """The web app on ``web_store`` (reports folder under tmp_path)."""
    return create_app(web_store, settings=WebSettings(reports_dir=tmp_path / "reports"))


def csrf_of(html: str) -> str:
    """The CSRF token a page carries in its ``<meta name="csrf-token">``."""
    match = re.search(r'name="csrf-token" content="([^"]*)"', html)
    assert match, "page has no CSRF meta tag"
    return match.group(1)


def login(client: TestClient, name: str, password: str | None = None) -> str:
    """Log ``client`` in through the login form; return the session's CSRF token."""
    page = client.get("/login")
    token = csrf_of(page.text)
    response = client.post(
        "/login",
        data={"csrf_token": token, "username": name, "password": password or USERS[name][1], "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:500]
    return csrf_of(client.get("/").text)


@pytest.fixture
def client_for(app) -> Iterator:
    """Factory: ``client_for("ivan")`` returns (TestClient logged in as ivan, csrf token)."""
    clients: list[TestClient] = []

    def make(name: str | None = None) -> tuple[TestClient, str]:
        client = TestClient(app)
        clients.append(client)
        token = login(client, name) if name else ""
        return client, token

    yield make
    for c in clients:
        c.close()


def enrol_form(subject_id: str, csrf: str, **overrides: str) -> dict[str, str]:
    """A complete enrolment form for BASICS (eligible, diffuse/early)."""
    form = {
        "csrf_token": csrf,
        "subject_id": subject_id,
        "consent_date": "2026-11-01",
        "sex": "F",
        "birth_date": "1975-05-05",
        "height_cm": "162",
        "site": "HUASHAN",
        "stratum_SUBTYPE": "diffuse",
        "stratum_DURATION": "early",
        **ELIGIBLE,
        "action": "enrol",
    }
    form.update(overrides)
    return form


#: the 17 mRSS areas
MRSS_SITES = (
    "face", "anterior_chest", "abdomen", "fingers_right", "fingers_left", "dorsum_hand_right",
    "dorsum_hand_left", "forearm_right", "forearm_left", "upper_arm_right", "upper_arm_left",
    "thigh_right", "thigh_left", "lower_leg_right", "lower_leg_left", "dorsum_foot_right",
    "dorsum_foot_left",
)  # fmt: skip
