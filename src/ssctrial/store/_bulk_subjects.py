"""Bulk enrolment and status changes: one transaction, every bad row reported, all or nothing.

Each row is checked with exactly the rules (and messages) of the single-subject path
(:func:`~ssctrial.store._subjects.check_enrolment` and the status rules of
:func:`~ssctrial.store._subjects.update_subject_status`); the database look-ups are done once per
batch (chunked ``IN`` queries), rows are written with one ``executemany`` and their audit rows are
appended to the hash chain in one go, all inside one write transaction. If any row is refused,
nothing is written and the error lists every refused row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import insert, select

from ssctrial.exceptions import InputError, NotFoundError, StateError
from ssctrial.store._audit import append_audit, now_utc, to_json
from ssctrial.store._models import SUBJECT_STATUSES, Allocation, Site, Subject
from ssctrial.store._subjects import _NEEDS_REASON, check_enrolment, check_subject_id

if TYPE_CHECKING:
    from ssctrial.store._store import Store

__all__ = ["SubjectBatchError", "enroll_subjects", "update_subject_statuses"]

_IN_CHUNK = 500
_MAX_SHOWN = 20
_ENROL_COLUMNS = (
    "subject_id",
    "site_code",
    "consent_date",
    "sex",
    "birth_date",
    "height_cm",
    "strata",
    "stratum",
    "status",
)


class SubjectBatchError(InputError):
    """Rows of a bulk enrolment or status change refused; nothing was written.

    ``errors`` is a DataFrame with one row per problem: ``row`` (the frame's index label),
    ``subject_id``, ``error`` (the message the single-subject path gives) and ``kind``
    (``input``, ``not_found`` or ``state``).
    """

    def __init__(self, message: str, errors: pd.DataFrame) -> None:
        super().__init__(message)
        self.errors = errors


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _opt(value: Any) -> Any:
    """Return ``None`` for a missing cell (None, NaN, NaT) of an optional column, else the value."""
    return None if _missing(value) else value


def _kind(exc: Exception) -> str:
    if isinstance(exc, NotFoundError):
        return "not_found"
    if isinstance(exc, StateError):
        return "state"
    return "input"


def _raise(problems: list[tuple[int, Any, Any, str, str]], *, n: int, what: str) -> None:
    """Raise for the collected problems (in frame order): the message lists every one.

    The exception is :class:`SubjectBatchError` if any row has bad input, else
    :class:`NotFoundError` if any subject is unknown, else :class:`StateError`.
    """
    if not problems:
        return
    problems = sorted(problems, key=lambda p: p[0])
    errors = pd.DataFrame([p[1:] for p in problems], columns=["row", "subject_id", "error", "kind"])
    lines = [f"{errors['row'].nunique()} of {n} {what} refused; nothing was written:"]
    lines += [f"  row {r.row}: {r.error}" for r in errors.head(_MAX_SHOWN).itertuples(index=False)]
    if len(errors) > _MAX_SHOWN:
        lines.append(f"  ... and {len(errors) - _MAX_SHOWN} more problem(s)")
    message = "\n".join(lines)
    kinds = set(errors["kind"])
    if "input" in kinds:
        raise SubjectBatchError(message, errors)
    if "not_found" in kinds:
        raise NotFoundError(message)
    raise StateError(message)


def _check_frame(frame: Any, *, required: tuple[str, ...], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        msg = f"{what} must be a pandas DataFrame, got {type(frame).__name__}"
        raise InputError(msg)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        msg = (
            f"{what}: missing column(s) {', '.join(missing)}; required: {', '.join(required)}; "
            f"got: {', '.join(map(str, frame.columns)) or '(none)'}"
        )
        raise InputError(msg)


def _duplicates(frame: pd.DataFrame, ids: list[Any]) -> dict[int, str]:
    """Positions of repeated subject ids in the frame -> message naming the first occurrence."""
    first: dict[Any, Any] = {}
    out: dict[int, str] = {}
    labels = frame.index.tolist()
    for k, sid in enumerate(ids):
        if sid in first:
            out[k] = f"subject {sid!r} appears more than once in the frame (first at row {first[sid]})"
        else:
            first[sid] = labels[k]
    return out


def _existing_ids(session: Any, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        found.update(
            session.execute(select(Subject.subject_id).where(Subject.subject_id.in_(chunk))).scalars()
        )
    return found


def enroll_subjects(store: Store, frame: pd.DataFrame, *, user: str) -> pd.DataFrame:
    """Enrol many subjects in one transaction; see :meth:`Store.enroll_subjects`."""
    _check_frame(frame, required=("subject_id", "consent_date", "sex"), what="subjects")
    design = store.design
    factors = [f.code for f in design.strata]
    n = len(frame)
    labels = frame.index.tolist()
    ids = frame["subject_id"].tolist()
    cols = {c: frame[c].tolist() for c in frame.columns}
    problems: list[tuple[int, Any, Any, str, str]] = []
    checked: list[dict[str, Any] | None] = []
    dup = _duplicates(frame, ids)
    for k in range(n):
        sid = ids[k]
        if "strata" in cols and isinstance(cols["strata"][k], Mapping):
            strata = dict(cols["strata"][k])
        else:
            strata = {f: cols[f][k] for f in factors if f in cols and not _missing(cols[f][k])}
        try:
            c = check_enrolment(
                store,
                sid,
                consent_date=cols["consent_date"][k],
                sex=cols["sex"][k],
                strata=strata,
                birth_date=_opt(cols["birth_date"][k]) if "birth_date" in cols else None,
                height_cm=_opt(cols["height_cm"][k]) if "height_cm" in cols else None,
            )
        except InputError as exc:
            problems.append((k, labels[k], sid, str(exc), "input"))
            checked.append(None)
            continue
        if k in dup:
            problems.append((k, labels[k], sid, dup[k], "input"))
        checked.append(c)
    sites_given = [_opt(s) for s in cols["site"]] if "site" in cols else [None] * n
    out_rows: list[dict[str, Any]] = []
    with store.session() as s:
        store.check_role(s, user, "enroll")
        sites = list(s.execute(select(Site.code)).scalars().all())
        default_site = sites[0] if len(sites) == 1 else None
        site_set = set(sites)
        valid_ids = [sid for sid, c in zip(ids, checked, strict=True) if c is not None]
        enrolled = _existing_ids(s, valid_ids)
        for k in range(n):
            good = checked[k]
            if good is None:
                continue
            c = good
            sid = ids[k]
            site = sites_given[k]
            if site is not None and site not in site_set:
                msg = f"subject {sid}: unknown site {site!r}; sites are: {', '.join(sites) or '(none)'}"
                problems.append((k, labels[k], sid, msg, "input"))
                continue
            if sid in enrolled:
                problems.append((k, labels[k], sid, f"subject {sid!r} is already enrolled", "state"))
                continue
            out_rows.append(
                {
                    "subject_id": sid,
                    "site_code": default_site if site is None else site,
                    "consent_date": c["consent_date"],
                    "sex": c["sex"],
                    "birth_date": c["birth_date"],
                    "height_cm": c["height_cm"],
                    "strata": json.dumps({f: str(v) for f, v in sorted(c["strata_map"].items())}),
                    "stratum": c["stratum"],
                    "status": "screened",
                }
            )
        _raise(problems, n=n, what="subjects")
        if out_rows:
            at = now_utc()
            s.execute(insert(Subject), [{**v, "enrolled_at": at, "enrolled_by": user} for v in out_rows])
            append_audit(
                s,
                [("insert", "subject", v["subject_id"], None, to_json(v), None) for v in out_rows],
                user=user,
                at=at,
            )
    return pd.DataFrame(out_rows, columns=list(_ENROL_COLUMNS))


def update_subject_statuses(store: Store, frame: pd.DataFrame, *, user: str) -> int:
    """Change the status of many subjects in one transaction; see :meth:`Store.update_subject_statuses`."""
    _check_frame(frame, required=("subject_id", "status"), what="status changes")
    n = len(frame)
    labels = frame.index.tolist()
    ids = frame["subject_id"].tolist()
    statuses = frame["status"].tolist()
    reasons = [_opt(r) for r in frame["reason"].tolist()] if "reason" in frame.columns else [None] * n
    reasons = [None if r is None else str(r) for r in reasons]
    problems: list[tuple[int, Any, Any, str, str]] = []
    ok = [True] * n
    dup = _duplicates(frame, ids)
    for k in range(n):
        sid, status, reason = ids[k], statuses[k], reasons[k]
        if status not in SUBJECT_STATUSES:
            msg = f"status {status!r} is not allowed; expected one of {', '.join(SUBJECT_STATUSES)}"
        elif status in _NEEDS_REASON and not (reason and reason.strip()):
            msg = f"subject {sid}: status {status!r} needs a reason"
        elif k in dup:
            msg = dup[k]
        else:
            try:
                check_subject_id(sid)
                continue
            except InputError as exc:
                msg = str(exc)
        problems.append((k, labels[k], sid, msg, "input"))
        ok[k] = False
    written = 0
    with store.session() as s:
        store.check_role(s, user, "update_status")
        wanted = [sid for sid, good in zip(ids, ok, strict=True) if good]
        current: dict[str, tuple[str, str | None, bool]] = {}
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            q = (
                select(Subject.subject_id, Subject.status, Subject.status_reason, Allocation.id)
                .outerjoin(Allocation, Allocation.subject_id == Subject.subject_id)
                .where(Subject.subject_id.in_(chunk))
            )
            for sid, st, why, alloc in s.execute(q):
                current[sid] = (st, why, alloc is not None)
        params: list[tuple[str, str | None, str]] = []
        audit: list[tuple[str, str, str, str | None, str | None, str | None]] = []
        for k in range(n):
            if not ok[k]:
                continue
            sid, status, reason = ids[k], statuses[k], reasons[k]
            if sid not in current:
                msg = f"unknown subject {sid!r}; enrol the subject first (`ssctrial enroll`)"
                problems.append((k, labels[k], sid, msg, "not_found"))
                continue
            old_status, old_reason, allocated = current[sid]
            refusal: str | None = None
            if status == "randomised" and not allocated:
                refusal = f"subject {sid}: cannot set status 'randomised' by hand; use `ssctrial randomize`"
            elif status == "screen_failed" and allocated:
                refusal = f"subject {sid} is randomised and cannot be a screen failure; use 'withdrawn'"
            elif status == "completed" and not allocated:
                refusal = f"subject {sid} was never randomised and cannot complete the study"
            if refusal is not None:
                problems.append((k, labels[k], sid, refusal, "state"))
                continue
            params.append((status, reason, sid))
            audit.append(
                (
                    "update",
                    "subject",
                    sid,
                    to_json({"status": old_status, "status_reason": old_reason}),
                    to_json({"status": status, "status_reason": reason}),
                    reason,
                )
            )
        _raise(problems, n=n, what="status changes")
        if params:
            conn = s.connection()
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            sql = f"UPDATE subject SET status = {mark}, status_reason = {mark} WHERE subject_id = {mark}"
            conn.exec_driver_sql(sql, params)
            append_audit(s, audit, user=user)
            written = len(params)
    return written
