"""Sessions, CSRF tokens and login rate limiting for the web interface.

Sessions live in the store's database (table ``web_session``), so every server process (``ssctrial
serve --workers N``) sees the same sessions and a restart logs nobody out. The cookie carries only
a random 256-bit token; the database keeps its SHA-256. A token the server did not issue is
ignored, so an attacker cannot plant a session id (session fixation); logging in always issues a
fresh token and discards the anonymous one that carried the login form's CSRF token. Failed
log-ins are counted in ``web_login_failure``, also shared by all processes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, insert, select, update

from ssctrial.store import WebLoginFailure
from ssctrial.store import WebSession as SessionRow

if TYPE_CHECKING:
    from ssctrial.store import Store

__all__ = ["LoginRateLimiter", "SessionStore", "WebSession"]

#: Idle time after which a session ends (seconds).
IDLE_TIMEOUT_S = 30 * 60
#: Absolute lifetime of a session (seconds).
ABSOLUTE_TIMEOUT_S = 12 * 3600
#: Anonymous (login-form) sessions kept at most; the oldest are evicted first.
MAX_ANONYMOUS = 5_000
#: A session's last-seen time is written at most this often (seconds): reads stay reads.
_TOUCH_EVERY_S = 60


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.utcnow().replace(tzinfo=None)  # noqa: DTZ003 - the store keeps naive UTC


@dataclass
class WebSession:
    """One session: anonymous (login form) or of a logged-in user."""

    csrf: str
    key: str = ""
    user: str | None = None
    role: str | None = None
    site: str | None = None
    flash: list[tuple[str, str]] = field(default_factory=list)

    def check_csrf(self, token: str | None) -> bool:
        """Whether ``token`` equals this session's CSRF token (constant-time comparison)."""
        return bool(token) and hmac.compare_digest(str(token), self.csrf)


class SessionStore:
    """Sessions in the store's ``web_session`` table.

    Parameters
    ----------
    store
        The open store (its write engine creates and ends sessions; reads use the read engine).
    idle_timeout, absolute_timeout
        Seconds of inactivity, and in all, after which a session ends.
    max_anonymous
        Anonymous sessions kept at most (a flood of log-in forms evicts the oldest).
    """

    def __init__(
        self,
        store: Store,
        *,
        idle_timeout: float = IDLE_TIMEOUT_S,
        absolute_timeout: float = ABSOLUTE_TIMEOUT_S,
        max_anonymous: int = MAX_ANONYMOUS,
    ):
        self.store = store
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        self.max_anonymous = max_anonymous

    def create(self, *, user: str | None = None, role: str | None = None, site: str | None = None) -> str:
        """Create a session and return its token (to be set as the cookie value)."""
        token = secrets.token_urlsafe(32)
        now = _now()
        row = {
            "token_hash": _digest(token),
            "user_name": user,
            "role": role,
            "site_code": site,
            "csrf": secrets.token_urlsafe(32),
            "created_at": now,
            "seen_at": now,
            "flash": None,
        }
        with self.store.engine.begin() as conn:
            conn.execute(insert(SessionRow), [row])
            if user is None:
                self._evict_anonymous(conn, now)
        return token

    def _evict_anonymous(self, conn: object, now: datetime) -> None:
        anonymous = SessionRow.user_name.is_(None)
        stale = now - timedelta(seconds=self.idle_timeout)
        conn.execute(delete(SessionRow).where(anonymous, SessionRow.seen_at < stale))  # type: ignore[attr-defined]
        count = conn.execute(select(func.count()).where(anonymous)).scalar_one()  # type: ignore[attr-defined]
        if count > self.max_anonymous:
            oldest = (
                select(SessionRow.token_hash)
                .where(anonymous)
                .order_by(SessionRow.created_at)
                .limit(count - self.max_anonymous)
            )
            keys = [r[0] for r in conn.execute(oldest)]  # type: ignore[attr-defined]
            conn.execute(delete(SessionRow).where(SessionRow.token_hash.in_(keys)))  # type: ignore[attr-defined]

    def get(self, token: str | None) -> WebSession | None:
        """Return the live session of ``token`` (refreshing its idle timer), or ``None``."""
        if not token or len(token) > 200:
            return None
        key = _digest(token)
        with self.store.reader.connect() as conn:
            row = conn.execute(select(SessionRow).where(SessionRow.token_hash == key)).mappings().first()
        if row is None:
            return None
        now = _now()
        idle = (now - row["seen_at"]).total_seconds()
        if idle > self.idle_timeout or (now - row["created_at"]).total_seconds() > self.absolute_timeout:
            self._delete_key(key)
            return None
        if idle > _TOUCH_EVERY_S:
            with self.store.engine.begin() as conn:
                conn.execute(update(SessionRow).where(SessionRow.token_hash == key).values(seen_at=now))
        flash = [tuple(x) for x in json.loads(row["flash"])] if row["flash"] else []
        return WebSession(
            csrf=row["csrf"],
            key=key,
            user=row["user_name"],
            role=row["role"],
            site=row["site_code"],
            flash=flash,  # type: ignore[arg-type]
        )

    def add_flash(self, session: WebSession, kind: str, message: str) -> None:
        """Queue a message for the next page of ``session``."""
        session.flash.append((kind, message))
        with self.store.engine.begin() as conn:
            conn.execute(
                update(SessionRow)
                .where(SessionRow.token_hash == session.key)
                .values(flash=json.dumps(session.flash))
            )

    def pop_flash(self, session: WebSession) -> list[tuple[str, str]]:
        """Return and clear the queued messages of ``session``."""
        messages = list(session.flash)
        if messages:
            session.flash.clear()
            with self.store.engine.begin() as conn:
                conn.execute(
                    update(SessionRow).where(SessionRow.token_hash == session.key).values(flash=None)
                )
        return messages

    def delete(self, token: str | None) -> None:
        """End a session (logout); unknown tokens are ignored."""
        if token and len(token) <= 200:
            self._delete_key(_digest(token))

    def _delete_key(self, key: str) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(delete(SessionRow).where(SessionRow.token_hash == key))

    def end_user_sessions(self, user: str) -> int:
        """End every session of ``user`` (after a deactivation or password change)."""
        with self.store.engine.begin() as conn:
            return conn.execute(delete(SessionRow).where(SessionRow.user_name == user)).rowcount

    def count(self, *, anonymous: bool | None = None) -> int:
        """Return the number of stored sessions (all, anonymous only, or logged-in only)."""
        q = select(func.count()).select_from(SessionRow)
        if anonymous is True:
            q = q.where(SessionRow.user_name.is_(None))
        elif anonymous is False:
            q = q.where(SessionRow.user_name.is_not(None))
        with self.store.reader.connect() as conn:
            return int(conn.execute(q).scalar_one())


class LoginRateLimiter:
    """Refuse logins after too many failures for one user name or from one client address.

    ``max_failures`` failed attempts within ``window`` seconds block further attempts for that
    name (and, separately, that address) until the oldest failure leaves the window. Failures
    are rows of ``web_login_failure``, so all server processes share the count.
    """

    def __init__(self, store: Store, *, max_failures: int = 5, window: float = 15 * 60):
        self.store = store
        self.max_failures = max_failures
        self.window = window

    def retry_after(self, *keys: str) -> int:
        """Seconds until a login may be tried again for these keys (0: allowed now)."""
        now = _now()
        since = now - timedelta(seconds=self.window)
        q = (
            select(WebLoginFailure.key, func.count(), func.min(WebLoginFailure.at))
            .where(WebLoginFailure.key.in_([k[:200] for k in keys]), WebLoginFailure.at > since)
            .group_by(WebLoginFailure.key)
        )
        wait = 0.0
        with self.store.reader.connect() as conn:
            for _key, n, first in conn.execute(q):
                if n >= self.max_failures:
                    # the oldest failure that still counts leaves the window at first + window
                    wait = max(wait, self.window - (now - first).total_seconds())
        return int(wait) + (1 if wait > 0 else 0)

    def failed(self, *keys: str) -> None:
        """Record one failed attempt for each key (and forget failures older than the window)."""
        now = _now()
        with self.store.engine.begin() as conn:
            conn.execute(insert(WebLoginFailure), [{"key": k[:200], "at": now} for k in keys])
            conn.execute(
                delete(WebLoginFailure).where(WebLoginFailure.at < now - timedelta(seconds=self.window))
            )

    def succeeded(self, key: str) -> None:
        """Forget the failures of ``key`` (a user name) after a successful login."""
        with self.store.engine.begin() as conn:
            conn.execute(delete(WebLoginFailure).where(WebLoginFailure.key == key[:200]))
