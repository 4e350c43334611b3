"""The data lock: a statistician locks the database; no data change until an audited unlock.

Enforced in the store itself: :meth:`Store.check_role`, which every write path calls inside its
transaction, reads the lock in that transaction and refuses the actions in
:data:`LOCK_REFUSED_ACTIONS`. On PostgreSQL the study row is read ``FOR SHARE`` and locking takes
it ``FOR UPDATE``, so a write cannot slip past a lock being committed at the same moment.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ssctrial.exceptions import InputError, NotFoundError, StateError
from ssctrial.store._audit import AuditEntry, append_audit, iso, now_utc, to_json
from ssctrial.store._models import Study

if TYPE_CHECKING:
    from ssctrial.store._store import Store

__all__ = ["LOCK_REFUSED_ACTIONS"]

#: Actions refused while the database is locked (every change of trial data).
LOCK_REFUSED_ACTIONS: frozenset[str] = frozenset(
    {
        "enroll",
        "randomize",
        "record",
        "update_status",
        "create_allocation_list",
        "open_query",
        "answer_query",
        "close_query",
        "reopen_query",
    }
)


def _stamp(at: datetime | None) -> str:
    return "?" if at is None else at.strftime("%Y-%m-%dT%H:%M:%SZ")


def locked_message(locked_at: datetime | None, locked_by: str | None, reason: str | None) -> str:
    """Return the message of a change refused because the database is locked."""
    return (
        f"the database is locked (since {_stamp(locked_at)} by {locked_by}: {reason}); "
        "a statistician must unlock it, with a reason, before any change"
    )


def assert_unlocked(session: Session) -> None:
    """Raise :class:`StateError` if the database is locked (read in ``session``'s transaction)."""
    row = session.execute(
        select(Study.locked_at, Study.locked_by, Study.lock_reason).with_for_update(read=True)
    ).first()
    if row is not None and row.locked_at is not None:
        raise StateError(locked_message(row.locked_at, row.locked_by, row.lock_reason))


def _reason(reason: Any, *, what: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        msg = f"reason: {what} needs a reason (non-blank text), got {reason!r}"
        raise InputError(msg)
    if len(reason) > 2000:
        msg = f"reason: at most 2000 characters, got {len(reason)}"
        raise InputError(msg)
    return reason.strip()


def _study_for_update(session: Session) -> Study:
    study = session.execute(select(Study).with_for_update()).scalars().first()
    if study is None:
        msg = "no study recorded in this store"
        raise NotFoundError(msg)
    return study


def lock(store: Store, *, user: str, reason: str) -> None:
    """Lock the database; see :meth:`Store.lock`."""
    why = _reason(reason, what="locking the database")
    with store.session() as s:
        store.check_role(s, user, "lock")
        study = _study_for_update(s)
        if study.locked_at is not None:
            msg = (
                f"the database is already locked (since {_stamp(study.locked_at)} by {study.locked_by}: "
                f"{study.lock_reason})"
            )
            raise StateError(msg)
        at = now_utc()
        study.locked_at, study.locked_by, study.lock_reason = at, user, why
        new = {"locked_at": iso(at), "locked_by": user}
        append_audit(
            s, [AuditEntry("lock", "study", study.study_id, None, to_json(new), why)], user=user, at=at
        )


def unlock(store: Store, *, user: str, reason: str) -> None:
    """Unlock the database; see :meth:`Store.unlock`."""
    why = _reason(reason, what="unlocking the database")
    with store.session() as s:
        store.check_role(s, user, "unlock")
        study = _study_for_update(s)
        if study.locked_at is None:
            msg = "the database is not locked; nothing to unlock"
            raise StateError(msg)
        old = {"locked_at": iso(study.locked_at), "locked_by": study.locked_by, "reason": study.lock_reason}
        study.locked_at, study.locked_by, study.lock_reason = None, None, None
        append_audit(s, [AuditEntry("unlock", "study", study.study_id, to_json(old), None, why)], user=user)


def lock_state(store: Store) -> dict[str, Any]:
    """Return the lock; see :meth:`Store.lock_state`."""
    with store.reader.connect() as conn:
        row = conn.execute(select(Study.locked_at, Study.locked_by, Study.lock_reason)).first()
    if row is None or row.locked_at is None:
        return {"locked": False, "locked_at": None, "locked_by": None, "reason": None}
    return {"locked": True, "locked_at": row.locked_at, "locked_by": row.locked_by, "reason": row.lock_reason}
