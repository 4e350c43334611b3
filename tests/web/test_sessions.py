"""Database-backed sessions and the login rate limiter (units; HTTP behaviour is in test_security)."""

from __future__ import annotations

import time

import pytest

from ssctrial.web._security import LoginRateLimiter, SessionStore


@pytest.fixture
def sessions(web_store):
    return SessionStore(web_store)


def test_tokens_are_random_and_only_issued_tokens_work(sessions, web_store):
    a = sessions.create(user="ivan", role="investigator")
    b = sessions.create(user="ivan", role="investigator")
    assert a != b and len(a) >= 43  # 32 random bytes, URL-safe base64
    assert sessions.get(a).user == "ivan"
    assert sessions.get("planted-by-an-attacker") is None
    assert sessions.get("x" * 500) is None
    sessions.delete(a)
    assert sessions.get(a) is None
    assert sessions.get(b) is not None
    # the database keeps only the token's SHA-256, never the token
    from sqlalchemy import select

    from ssctrial.store import WebSession

    with web_store.engine.connect() as conn:
        stored = [r[0] for r in conn.execute(select(WebSession.token_hash))]
    assert b not in stored and len(stored) == 1 and len(stored[0]) == 64


def test_sessions_are_shared_by_server_processes(web_store):
    """Two SessionStores on the same database (two server processes) see the same sessions."""
    first, second = SessionStore(web_store), SessionStore(web_store)
    token = first.create(user="mona", role="monitor")
    seen = second.get(token)
    assert (seen.user, seen.role, seen.csrf) == ("mona", "monitor", first.get(token).csrf)
    first.add_flash(first.get(token), "ok", "saved")
    assert second.pop_flash(second.get(token)) == [("ok", "saved")]
    assert first.get(token).flash == []
    second.delete(token)
    assert first.get(token) is None


def test_idle_sessions_expire(web_store):
    sessions = SessionStore(web_store, idle_timeout=0.05)
    token = sessions.create(user="mona", role="monitor")
    time.sleep(0.15)
    assert sessions.get(token) is None
    assert sessions.count() == 0


def test_a_flood_of_anonymous_sessions_evicts_the_oldest_not_the_users(web_store):
    sessions = SessionStore(web_store, max_anonymous=20)
    user = sessions.create(user="stan", role="statistician")
    anonymous = [sessions.create() for _ in range(60)]
    assert sessions.count(anonymous=True) == 20
    assert sum(sessions.get(t) is not None for t in anonymous) == 20
    assert sessions.get(user).user == "stan"


def test_end_user_sessions(sessions):
    tokens = [sessions.create(user="carl", role="investigator") for _ in range(3)]
    other = sessions.create(user="ivan", role="investigator")
    assert sessions.end_user_sessions("carl") == 3
    assert all(sessions.get(t) is None for t in tokens)
    assert sessions.get(other) is not None


def test_rate_limiter_blocks_after_max_failures_per_key(web_store):
    limiter = LoginRateLimiter(web_store, max_failures=3, window=60)
    for _ in range(3):
        assert limiter.retry_after("user:ivan") == 0
        limiter.failed("user:ivan", "addr:1.2.3.4")
    assert 0 < limiter.retry_after("user:ivan") <= 61
    assert limiter.retry_after("addr:1.2.3.4") > 0
    assert limiter.retry_after("user:mona") == 0
    # a second server process sees the same failures
    assert LoginRateLimiter(web_store, max_failures=3, window=60).retry_after("user:ivan") > 0
    limiter.succeeded("user:ivan")
    assert limiter.retry_after("user:ivan") == 0
    assert limiter.retry_after("addr:1.2.3.4") > 0  # the address stays blocked


def test_rate_limiter_window_slides(web_store):
    limiter = LoginRateLimiter(web_store, max_failures=2, window=0.2)
    limiter.failed("user:x")
    limiter.failed("user:x")
    assert limiter.retry_after("user:x") > 0
    time.sleep(0.3)
    assert limiter.retry_after("user:x") == 0


def test_web_tables_are_internal(web_store):
    """Sessions and failed log-ins are neither readable as tables nor exported."""
    assert "web_session" not in web_store.table_names()
    assert "web_login_failure" not in web_store.table_names()
