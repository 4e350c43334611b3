"""Randomise many subjects in one transaction: :func:`randomize_subjects`.

The result is the same as calling :func:`~ssctrial.randomize.randomize_subject` for each subject
in the order given (same arms, same slots, same audit content apart from timestamps and hashes),
but in one write transaction with one query per stratum instead of one transaction per subject.

Locking is that of the one-by-one path: on PostgreSQL the subjects' rows are locked
(``SELECT ... FOR UPDATE``) and the first free slots of each stratum are locked in list order
(``SELECT ... ORDER BY position LIMIT k FOR UPDATE``); a slot claimed meanwhile by a concurrent
transaction is detected (fewer free slots locked than needed while the stratum still has them, or
an ``UPDATE ... WHERE used_by_subject_id IS NULL`` that matches no row) and the whole transaction
is rolled back and retried. On SQLite the transaction holds the database's write lock
(``BEGIN IMMEDIATE``). Minimisation takes the per-study advisory lock once, rebuilds the marginal
counts from the stored allocations once, and assigns the subjects in order. The ``UNIQUE``
constraints still make a double allocation impossible.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from ssctrial.exceptions import InputError, NotFoundError, StateError
from ssctrial.randomize._allocate import (
    _MAX_ATTEMPTS,
    AllocationRecord,
    _advisory_key,
    _assert_eligible,
    _is_conflict,
    _levels,
    _minimiser,
    _now,
    _secret,
    _SlotTaken,
)
from ssctrial.store._audit import append_audit, to_json
from ssctrial.store._models import Allocation, RandomizationList, Subject

if TYPE_CHECKING:
    from ssctrial.store import Store

__all__ = ["randomize_subjects"]

logger = logging.getLogger(__name__)

_IN_CHUNK = 500
_MAX_SHOWN = 20


def randomize_subjects(store: Store, subject_ids: Iterable[str], *, user: str) -> list[AllocationRecord]:
    """Randomise many subjects, in the order given, in one transaction (all or nothing).

    Parameters
    ----------
    store
        An open store whose allocation sequence has been created.
    subject_ids
        The screened subjects to randomise, in order of arrival: each is given the next free
        slot of their stratum (or the next minimisation draw) exactly as consecutive calls of
        :func:`~ssctrial.randomize.randomize_subject` would.
    user
        The user randomising (role ``investigator`` or ``admin``).

    Returns
    -------
    list of AllocationRecord
        One per subject, in the order given (all with the same ``randomized_at``).

    Raises
    ------
    InputError
        A subject id is not a string, or appears twice.
    NotFoundError
        Unknown subject(s) (all listed), or no allocation sequence yet.
    StateError
        Any subject is screen-failed, withdrawn or already randomised, or a stratum's list is
        used up (all listed). Nothing is allocated.
    PermissionDeniedError
        The user's role may not randomise.

    Notes
    -----
    The audit trail gets, per subject and in order, the same two rows as the one-by-one path
    (the allocation, then the subject's status change). Safe alongside concurrent callers of
    either function on SQLite and PostgreSQL; see the module documentation.
    """
    ids = list(subject_ids)
    seen: set[str] = set()
    for sid in ids:
        if not isinstance(sid, str) or not sid.strip():
            msg = f"subject_id: {sid!r} is not a subject identifier"
            raise InputError(msg)
        if sid in seen:
            msg = f"subject_id: {sid!r} is given more than once; a subject is randomised only once"
            raise InputError(msg)
        seen.add(sid)
    if not ids:
        return []
    for attempt in range(1, _MAX_ATTEMPTS + 1):
        try:
            return _randomize_batch(store, ids, user=user)
        except (StateError, IntegrityError, OperationalError, _SlotTaken) as exc:
            if not _is_conflict(exc):
                raise
            if attempt == _MAX_ATTEMPTS:
                msg = (
                    f"randomisation of {len(ids)} subjects did not complete after {attempt} attempts "
                    f"because of concurrent writes ({exc}); nothing was allocated, try again"
                )
                raise StateError(msg) from exc
            logger.debug("randomize_subjects: conflict (%s), retry %d", exc, attempt)
            time.sleep(random.uniform(0.002, 0.02) * min(attempt, 10))  # noqa: S311 - back-off jitter
    msg = "unreachable"  # pragma: no cover
    raise AssertionError(msg)  # pragma: no cover


def _listing(head: str, problems: list[str]) -> str:
    lines = [head, *(f"  {p}" for p in problems[:_MAX_SHOWN])]
    if len(problems) > _MAX_SHOWN:
        lines.append(f"  ... and {len(problems) - _MAX_SHOWN} more")
    return "\n".join(lines)


def _load_subjects(session: Any, ids: list[str]) -> dict[str, Any]:
    """Lock (PostgreSQL) and read the subjects with any allocation, in chunks; id -> row."""
    rows: dict[str, Any] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        q = (
            select(
                Subject.subject_id,
                Subject.status,
                Subject.status_reason,
                Subject.stratum,
                Allocation.randomized_at,
                Allocation.randomized_by,
            )
            .outerjoin(Allocation, Allocation.subject_id == Subject.subject_id)
            .where(Subject.subject_id.in_(chunk))
            .order_by(Subject.subject_id)  # one lock order for every caller: no deadlock between batches
            .with_for_update(of=Subject)
        )
        for row in session.execute(q):
            rows[row.subject_id] = row
    return rows


def _claim_slots(
    session: Any, stratum: str, subject_ids: list[str], *, at: Any
) -> list[tuple[str, int, int]]:
    """Claim the first ``len(subject_ids)`` free slots of ``stratum`` in list order, for them in order."""
    k = len(subject_ids)
    free = session.execute(
        select(RandomizationList.id, RandomizationList.arm, RandomizationList.position)
        .where(RandomizationList.stratum == stratum)
        .where(RandomizationList.used_by_subject_id.is_(None))
        .order_by(RandomizationList.position)
        .limit(k)
        .with_for_update()
    ).all()
    if len(free) < k:
        n_free = session.execute(
            select(func.count())
            .where(RandomizationList.stratum == stratum)
            .where(RandomizationList.used_by_subject_id.is_(None))
        ).scalar_one()
        if n_free >= k:  # a concurrent claim moved the slots under us: roll back and retry
            raise _SlotTaken(stratum)
        total = session.execute(select(func.count()).where(RandomizationList.stratum == stratum)).scalar_one()
        first = subject_ids[len(free)] if len(free) < k else subject_ids[-1]
        msg = (
            f"subject {first}: the allocation list of stratum {stratum!r} is used up "
            f"({total} slots); randomisation cannot continue in this stratum "
            f"({k} subjects of this batch need a slot, {len(free)} free)"
        )
        raise StateError(msg)
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"UPDATE randomization_list SET used_by_subject_id = {mark}, used_at = {mark} "
        f"WHERE id = {mark} AND used_by_subject_id IS NULL"
    )
    stamp = at.strftime("%Y-%m-%d %H:%M:%S.%f") if conn.dialect.name == "sqlite" else at
    params = [(sid, stamp, int(slot.id)) for sid, slot in zip(subject_ids, free, strict=True)]
    result = conn.exec_driver_sql(sql, params)
    if result.rowcount not in (-1, len(params)):  # a slot taken between SELECT and UPDATE
        raise _SlotTaken(stratum)
    return [(str(slot.arm), int(slot.id), int(slot.position)) for slot in free]


def _randomize_batch(store: Store, ids: list[str], *, user: str) -> list[AllocationRecord]:
    postgres = store.engine.dialect.name == "postgresql"
    with store.session() as s:
        store.check_role(s, user, "randomize")
        method, seed = _secret(store, s)
        rows = _load_subjects(s, ids)
        unknown = [sid for sid in ids if sid not in rows]
        if unknown:
            msg = _listing(
                f"{len(unknown)} of {len(ids)} subjects unknown; nothing was allocated:",
                [f"unknown subject {sid!r}; enrol the subject before randomising" for sid in unknown],
            )
            raise NotFoundError(msg)
        refused = []
        for sid in ids:
            try:
                _assert_eligible(rows[sid])
            except StateError as exc:
                refused.append(str(exc))
        if refused:
            msg = _listing(
                f"{len(refused)} of {len(ids)} subjects cannot be randomised; nothing was allocated:", refused
            )
            raise StateError(msg)
        at = _now()
        assigned: dict[str, tuple[str, int | None, dict[str, Any]]] = {}
        if method == "minimisation":
            if postgres:
                s.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": _advisory_key(store.design.study_id)}
                )
            minimiser = _minimiser(store.design, int(seed))
            for arm, stratum in s.execute(select(Allocation.arm, Allocation.stratum).order_by(Allocation.id)):
                minimiser.record(_levels(stratum), arm)
            for sid in ids:
                assigned[sid] = (minimiser.assign(_levels(rows[sid].stratum)), None, {})
        else:
            by_stratum: dict[str, list[str]] = {}
            for sid in ids:
                by_stratum.setdefault(rows[sid].stratum, []).append(sid)
            for stratum in sorted(by_stratum):  # one lock order for every caller
                members = by_stratum[stratum]
                for sid, (arm, list_id, position) in zip(
                    members, _claim_slots(s, stratum, members, at=at), strict=True
                ):
                    assigned[sid] = (arm, list_id, {"list_id": list_id, "position": position})
        # allocation ids follow the order of arrival (minimisation replays allocations by id)
        s.execute(
            insert(Allocation),
            [
                {
                    "subject_id": sid,
                    "arm": assigned[sid][0],
                    "stratum": rows[sid].stratum,
                    "list_id": assigned[sid][1],
                    "randomized_at": at,
                    "randomized_by": user,
                }
                for sid in ids
            ],
        )
        conn = s.connection()
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(
            f"UPDATE subject SET status = 'randomised' WHERE subject_id = {mark}", [(sid,) for sid in ids]
        )
        entries: list[tuple[str, str, str, str | None, str | None, str | None]] = []
        for sid in ids:
            arm, _, slot_info = assigned[sid]
            new = {"arm": arm, "stratum": rows[sid].stratum, "method": method, **slot_info}
            entries.append(("insert", "allocation", sid, None, to_json(new), None))
            entries.append(
                (
                    "update",
                    "subject",
                    sid,
                    to_json({"status": rows[sid].status}),
                    to_json({"status": "randomised"}),
                    "randomised",
                )
            )
        append_audit(s, entries, user=user, at=at)
    logger.info("randomised %d subjects in one transaction (%s)", len(ids), method)
    design = store.design
    return [
        AllocationRecord(
            sid, assigned[sid][0], design.arm(assigned[sid][0]).label, rows[sid].stratum, method, at, user
        )
        for sid in ids
    ]
