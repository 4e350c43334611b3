"""Sessions, CSRF tokens and login rate limiting for the web interface.

Sessions live on the server (in the process that serves the app): the cookie carries only a
random 256-bit token, and the server keeps the SHA-256 of it. A token the server did not issue is
ignored, so an attacker cannot plant a session id (session fixation); logging in always issues a
fresh token and discards the anonymous one that carried the login form's CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

__all__ = ["LoginRateLimiter", "WebSession", "SessionStore"]

#: Idle time after which a session ends (seconds).
IDLE_TIMEOUT_S = 30 * 60
#: Absolute lifetime of a session (seconds).
ABSOLUTE_TIMEOUT_S = 12 * 3600
#: Anonymous (login-form) sessions kept at most; the oldest are evicted first.
MAX_ANONYMOUS = 5_000


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class WebSession:
    """One server-side session: anonymous (login form) or of a logged-in user."""

    csrf: str
    user: str | None = None
    role: str | None = None
    site: str | None = None
    created: float = field(default_factory=time.monotonic)
    seen: float = field(default_factory=time.monotonic)
    flash: list[tuple[str, str]] = field(default_factory=list)

    def check_csrf(self, token: str | None) -> bool:
        """Whether ``token`` equals this session's CSRF token (constant-time comparison)."""
        return bool(token) and hmac.compare_digest(str(token), self.csrf)


class SessionStore:
    """Thread-safe map of session token digests to :class:`WebSession`."""

    def __init__(
        self,
        *,
        idle_timeout: float = IDLE_TIMEOUT_S,
        absolute_timeout: float = ABSOLUTE_TIMEOUT_S,
        max_anonymous: int = MAX_ANONYMOUS,
    ):
        self._sessions: dict[str, WebSession] = {}
        # anonymous sessions (a login form's CSRF token) in creation order: a flood of GET /login
        # evicts the oldest ones instead of growing memory without bound
        self._anonymous: OrderedDict[str, None] = OrderedDict()
        self.max_anonymous = max_anonymous
        self._lock = threading.Lock()
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout

    def create(self, *, user: str | None = None, role: str | None = None, site: str | None = None) -> str:
        """Create a session and return its token (to be set as the cookie value)."""
        token = secrets.token_urlsafe(32)
        sess = WebSession(csrf=secrets.token_urlsafe(32), user=user, role=role, site=site)
        key = _digest(token)
        with self._lock:
            self._sessions[key] = sess
            if user is None:
                self._anonymous[key] = None
                while len(self._anonymous) > self.max_anonymous:
                    oldest, _ = self._anonymous.popitem(last=False)
                    self._sessions.pop(oldest, None)
            if len(self._sessions) > 10_000:
                self._purge_locked()
        return token

    def get(self, token: str | None) -> WebSession | None:
        """Return the live session of ``token`` (refreshing its idle timer), or ``None``."""
        if not token or len(token) > 200:
            return None
        key = _digest(token)
        now = time.monotonic()
        with self._lock:
            sess = self._sessions.get(key)
            if sess is None:
                return None
            if now - sess.seen > self.idle_timeout or now - sess.created > self.absolute_timeout:
                del self._sessions[key]
                self._anonymous.pop(key, None)
                return None
            sess.seen = now
            return sess

    def delete(self, token: str | None) -> None:
        """End a session (logout); unknown tokens are ignored."""
        if token:
            key = _digest(token)
            with self._lock:
                self._sessions.pop(key, None)
                self._anonymous.pop(key, None)

    def end_user_sessions(self, user: str) -> int:
        """End every session of ``user`` (after a deactivation or password change)."""
        with self._lock:
            keys = [k for k, s in self._sessions.items() if s.user == user]
            for k in keys:
                del self._sessions[k]
        return len(keys)

    def _purge_locked(self) -> None:
        now = time.monotonic()
        stale = [
            k
            for k, s in self._sessions.items()
            if now - s.seen > self.idle_timeout or now - s.created > self.absolute_timeout
        ]
        for k in stale:
            del self._sessions[k]
            self._anonymous.pop(k, None)


class LoginRateLimiter:
    """Refuse logins after too many failures for one user name or from one client address.

    ``max_failures`` failed attempts within ``window`` seconds block further attempts for that
    name (and, separately, that address) until the oldest failure leaves the window.
    """

    def __init__(self, *, max_failures: int = 5, window: float = 15 * 60):
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def retry_after(self, *keys: str) -> int:
        """Seconds until a login may be tried again for these keys (0: allowed now)."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key in keys:
                q = self._recent(key, now)
                if len(q) >= self.max_failures:
                    wait = max(wait, self.window - (now - q[0]))
        return int(wait) + (1 if wait > 0 else 0)

    def failed(self, *keys: str) -> None:
        """Record one failed attempt for each key."""
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, key: str) -> None:
        """Forget the failures of ``key`` (a user name) after a successful login."""
        with self._lock:
            self._failures.pop(key, None)
