"""Server-side sessions and the login rate limiter (units; the HTTP behaviour is in test_security)."""

from __future__ import annotations

import time

from ssctrial.web._security import LoginRateLimiter, SessionStore


def test_tokens_are_random_and_only_issued_tokens_work():
    store = SessionStore()
    a, b = store.create(user="ivan", role="investigator"), store.create(user="ivan", role="investigator")
    assert a != b and len(a) >= 43  # 32 random bytes, URL-safe base64
    assert store.get(a).user == "ivan"
    assert store.get("planted-by-an-attacker") is None
    assert store.get("x" * 500) is None
    store.delete(a)
    assert store.get(a) is None
    assert store.get(b) is not None


def test_idle_sessions_expire():
    store = SessionStore(idle_timeout=0.05)
    token = store.create(user="mona", role="monitor")
    time.sleep(0.1)
    assert store.get(token) is None


def test_a_flood_of_anonymous_sessions_evicts_the_oldest_not_the_users():
    store = SessionStore(max_anonymous=100)
    user = store.create(user="stan", role="statistician")
    anonymous = [store.create() for _ in range(1_000)]
    assert sum(store.get(t) is not None for t in anonymous) == 100
    assert all(store.get(t) is not None for t in anonymous[-100:])
    assert store.get(user).user == "stan"
    assert len(store._sessions) == 101


def test_end_user_sessions():
    store = SessionStore()
    tokens = [store.create(user="carl", role="investigator") for _ in range(3)]
    other = store.create(user="ivan", role="investigator")
    assert store.end_user_sessions("carl") == 3
    assert all(store.get(t) is None for t in tokens)
    assert store.get(other) is not None


def test_rate_limiter_blocks_after_max_failures_per_key():
    limiter = LoginRateLimiter(max_failures=3, window=60)
    for _ in range(3):
        assert limiter.retry_after("user:ivan") == 0
        limiter.failed("user:ivan", "addr:1.2.3.4")
    assert 0 < limiter.retry_after("user:ivan") <= 61
    assert limiter.retry_after("addr:1.2.3.4") > 0
    assert limiter.retry_after("user:mona") == 0
    limiter.succeeded("user:ivan")
    assert limiter.retry_after("user:ivan") == 0
    assert limiter.retry_after("addr:1.2.3.4") > 0  # the address stays blocked


def test_rate_limiter_window_slides():
    limiter = LoginRateLimiter(max_failures=2, window=0.05)
    limiter.failed("user:x")
    limiter.failed("user:x")
    assert limiter.retry_after("user:x") > 0
    time.sleep(0.1)
    assert limiter.retry_after("user:x") == 0
