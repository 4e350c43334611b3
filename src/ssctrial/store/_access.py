"""Accounts: passwords (argon2id), site scope, activation, log-in checks and site access.

Passwords are hashed with argon2id at the OWASP Password Storage Cheat Sheet's first
recommended setting (19 MiB of memory, 2 iterations, 1 lane: ~25 ms per check here, against
~120-180 ms at argon2-cffi's defaults, which starved a busy web server at log-in; hashes made
with other settings are upgraded at the next log-in). The hash
never leaves the store: :meth:`Store.users`, :meth:`Store.read_table` and
:func:`~ssctrial.store.export_tables` drop the column, and audit rows say only that a password
was set or changed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ssctrial.exceptions import InputError, NotFoundError, PermissionDeniedError, StateError
from ssctrial.store._audit import AuditEntry, append_audit, now_utc, to_json
from ssctrial.store._models import AppUser, Site

if TYPE_CHECKING:
    from ssctrial.store._store import Store

__all__ = ["PASSWORD_MAX_LENGTH", "PASSWORD_MIN_LENGTH", "check_site_access"]

logger = logging.getLogger(__name__)

#: Shortest password accepted.
PASSWORD_MIN_LENGTH = 10
#: Longest password accepted.
PASSWORD_MAX_LENGTH = 128

_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    """Return a hash of a random secret, verified when there is no real hash (equal work)."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        import secrets

        _DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(32))
    return _DUMMY_HASH


def check_password(name: str, password: Any) -> None:
    """Raise :class:`InputError` naming the rule ``password`` breaks (never echoing it)."""
    if not isinstance(password, str):
        msg = f"password of user {name!r}: must be text, got {type(password).__name__}"
        raise InputError(msg)
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        msg = (
            f"password of user {name!r}: must be {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters, "
            f"got {len(password)}"
        )
        raise InputError(msg)
    if password.casefold() == name.casefold():
        msg = f"password of user {name!r}: must not be the user name"
        raise InputError(msg)


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password``."""
    return _HASHER.hash(password)


def check_site(session: Session, site: Any, *, field: str = "site") -> str | None:
    """Return ``site`` if it is ``None`` or a known site code; else raise listing the sites."""
    if site is None:
        return None
    if not isinstance(site, str) or session.get(Site, site) is None:
        sites = session.execute(select(Site.code).order_by(Site.code)).scalars().all()
        msg = f"{field}: unknown site {site!r}; sites are: {', '.join(sites) or '(none)'}"
        raise InputError(msg)
    return site


def _user_row(session: Session, name: str) -> AppUser:
    row = session.get(AppUser, name) if isinstance(name, str) else None
    if row is None:
        msg = f"unknown user {name!r}; an admin adds users with `ssctrial users add NAME --role ROLE`"
        raise NotFoundError(msg)
    return row


def set_password(store: Store, name: str, password: str, *, user: str) -> None:
    """Set ``name``'s password; see :meth:`Store.set_password`."""
    check_password(name, password)
    hashed = hash_password(password)  # before the transaction: not holding the write lock
    with store.session() as s:
        if user == name:
            row = s.get(AppUser, user)
            if row is None or not row.active:
                msg = f"unknown or deactivated user {user!r}"
                raise PermissionDeniedError(msg)
        else:
            store.check_role(s, user, "manage_users")
            row = _user_row(s, name)
        at = now_utc()
        had = row.password_hash is not None
        row.password_hash = hashed
        entry = AuditEntry(
            "update",
            "app_user",
            name,
            to_json({"password": "set" if had else "none"}),
            to_json({"password": "changed"}),
        )
        append_audit(s, [entry], user=user, at=at)
    logger.info("password of %s changed by %s", name, user)


def set_user_site(store: Store, name: str, site: str | None, *, user: str) -> None:
    """Restrict ``name`` to one site (``None``: all sites); see :meth:`Store.set_user_site`."""
    with store.session() as s:
        store.check_role(s, user, "manage_users")
        row = _user_row(s, name)
        site = check_site(s, site)
        old = row.site_code
        if old == site:
            return
        row.site_code = site
        append_audit(
            s,
            [AuditEntry("update", "app_user", name, to_json({"site": old}), to_json({"site": site}))],
            user=user,
        )


def set_user_active(store: Store, name: str, *, active: bool, user: str) -> None:
    """Activate or deactivate ``name``; see :meth:`Store.set_user_active`."""
    if not isinstance(active, bool):
        msg = f"active: {active!r} is not allowed; expected True or False"
        raise InputError(msg)
    with store.session() as s:
        store.check_role(s, user, "manage_users")
        row = _user_row(s, name)
        if not active and name == user:
            msg = f"user {user!r} cannot deactivate themself; another admin must do it"
            raise StateError(msg)
        old = bool(row.active)
        if old == active:
            return
        row.active = active
        append_audit(
            s,
            [AuditEntry("update", "app_user", name, to_json({"active": old}), to_json({"active": active}))],
            user=user,
        )


def authenticate(store: Store, name: Any, password: Any) -> dict[str, Any] | None:
    """Check a log-in; see :meth:`Store.authenticate`."""
    row = None
    if isinstance(name, str) and 0 < len(name) <= 64:
        # the read engine: a log-in never takes the write lock (SQLite) or blocks writers
        with store.reader.connect() as conn:
            row = conn.execute(
                select(
                    AppUser.name, AppUser.role, AppUser.site_code, AppUser.active, AppUser.password_hash
                ).where(AppUser.name == name)
            ).first()
    stored = row.password_hash if row is not None else None
    candidate = password if isinstance(password, str) else ""
    ok = False
    try:
        ok = _HASHER.verify(stored or _dummy_hash(), candidate)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if row is None or stored is None or not ok or not row.active:
        return None
    if _HASHER.check_needs_rehash(stored):
        with store.session() as s:
            s.execute(
                update(AppUser).where(AppUser.name == row.name).values(password_hash=hash_password(candidate))
            )
        logger.info("rehashed the password of %s (new argon2 parameters)", row.name)
    return {"name": row.name, "role": row.role, "site": row.site_code, "active": bool(row.active)}


def get_user(store: Store, name: str) -> dict[str, Any] | None:
    """Return a user's account (never the hash); see :meth:`Store.get_user`."""
    if not isinstance(name, str):
        return None
    with store.reader.connect() as conn:
        r = conn.execute(
            select(
                AppUser.name, AppUser.role, AppUser.site_code, AppUser.active, AppUser.password_hash
            ).where(AppUser.name == name)
        ).first()
    if r is None:
        return None
    return {
        "name": r.name,
        "role": r.role,
        "site": r.site_code,
        "active": bool(r.active),
        "has_password": r.password_hash is not None,
    }


def log_event(
    store: Store, *, user: str, action: str, record: str, reason: str | None = None, table: str = "web"
) -> None:
    """Append one audit row in its own transaction; see :meth:`Store.log_event`."""
    if not isinstance(action, str) or not 0 < len(action) <= 16:
        msg = f"action: {action!r} is not allowed; expected text of 1 to 16 characters (e.g. 'login')"
        raise InputError(msg)
    if not isinstance(table, str) or not 0 < len(table) <= 64:
        msg = f"table: {table!r} is not allowed; expected text of 1 to 64 characters"
        raise InputError(msg)
    who = str(user if user is not None else "")[:64]
    with store.session() as s:
        append_audit(s, [AuditEntry(action, table, str(record), None, None, reason)], user=who)


def check_site_access(user_info: dict[str, Any], site: str | None, *, subject: str | None = None) -> None:
    """Refuse a site-restricted user access to a record of another site.

    Parameters
    ----------
    user_info
        The account (as :meth:`Store.authenticate` or :meth:`Store.get_user` return it); its
        ``site`` is ``None`` for a user of all sites.
    site
        The site of the record (e.g. from :meth:`Store.subject_site`).
    subject
        The subject the record belongs to, named in the message.

    Raises
    ------
    PermissionDeniedError
        The user is restricted to another site.
    """
    own = user_info.get("site")
    if own is None or own == site:
        return
    what = f"subject {subject}" if subject else "the record"
    msg = f"user {user_info.get('name')!r} is restricted to site {own!r}; {what} is at site {site!r}"
    raise PermissionDeniedError(msg)
