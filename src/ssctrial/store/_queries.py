"""Data queries: a monitor asks about a subject's data, the site answers, the monitor closes.

A query names a subject and optionally a visit, an instrument and an item. Its status moves
``open`` -> ``answered`` (re-answering allowed) -> ``closed``; a monitor may reopen an answered or
closed query. Every change is audited (table ``data_query``, record = the query id).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select

from ssctrial.exceptions import InputError, NotFoundError, SsctrialError, StateError
from ssctrial.store._audit import AuditEntry, append_audit, now_utc, to_json
from ssctrial.store._models import QUERY_STATUSES, DataQuery, Subject

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ssctrial.store._store import Store

__all__: list[str] = []

_MAX_TEXT = 2000


def _text(value: Any, *, field: str, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        msg = f"{field}: {value!r} is not allowed; expected non-blank text of 1 to {_MAX_TEXT} characters"
        raise InputError(msg)
    if len(value) > _MAX_TEXT:
        msg = f"{field}: {len(value)} characters is too long; at most {_MAX_TEXT} are allowed"
        raise InputError(msg)
    return value


def _target(
    store: Store, *, visit: Any, instrument: Any, item: Any
) -> tuple[str | None, str | None, str | None]:
    """Check the visit, instrument and item a query points at; return their canonical codes."""
    codes = [v.code for v in store.design.visits]
    if visit is not None and visit not in codes:
        msg = f"visit: {visit!r} is not a visit of the schedule; visits are: {', '.join(codes)}"
        raise InputError(msg)
    if item is not None and instrument is None:
        msg = f"item: {item!r} needs its instrument (give instrument= too)"
        raise InputError(msg)
    if instrument is None:
        return visit, None, None
    from ssctrial.instruments import get_instrument

    if not isinstance(instrument, str):
        msg = f"instrument: {instrument!r} is not allowed; expected an instrument code (e.g. MRSS)"
        raise InputError(msg)
    try:
        inst = get_instrument(instrument)
    except SsctrialError as exc:
        msg = f"instrument: {exc}"
        raise InputError(msg) from None
    if item is None:
        return visit, inst.code, None
    if not isinstance(item, str):
        msg = f"item: {item!r} is not allowed; expected an item code of {inst.code}"
        raise InputError(msg)
    try:
        inst.item(item)
    except SsctrialError as exc:
        msg = f"item: {exc}"
        raise InputError(msg) from None
    return visit, inst.code, item


def _query(session: Session, query_id: Any) -> DataQuery:
    if isinstance(query_id, bool) or not isinstance(query_id, int):
        msg = f"query_id: {query_id!r} is not allowed; expected a query number"
        raise InputError(msg)
    row = session.get(DataQuery, query_id)
    if row is None:
        msg = f"query_id: no data query {query_id}"
        raise NotFoundError(msg)
    return row


def open_query(
    store: Store,
    subject_id: str,
    *,
    user: str,
    text: str,
    visit: str | None = None,
    instrument: str | None = None,
    item: str | None = None,
) -> int:
    """Open a data query; see :meth:`Store.open_query`."""
    with store.session() as s:
        store.check_role(s, user, "open_query")
        text = _text(text, field="text")  # type: ignore[assignment]
        visit, instrument, item = _target(store, visit=visit, instrument=instrument, item=item)
        if not isinstance(subject_id, str) or s.get(Subject, subject_id) is None:
            msg = f"subject_id: unknown subject {subject_id!r}"
            raise NotFoundError(msg)
        at = now_utc()
        row = DataQuery(
            subject_id=subject_id,
            visit_code=visit,
            instrument=instrument,
            item=item,
            status="open",
            text=text,
            opened_by=user,
            opened_at=at,
        )
        s.add(row)
        s.flush()
        new = {"subject": subject_id, "visit": visit, "instrument": instrument, "item": item}
        new |= {"status": "open", "text": text}
        append_audit(
            s, [AuditEntry("insert", "data_query", str(row.id), None, to_json(new))], user=user, at=at
        )
        return int(row.id)


def answer_query(store: Store, query_id: int, *, user: str, answer: str) -> None:
    """Answer a query; see :meth:`Store.answer_query`."""
    with store.session() as s:
        store.check_role(s, user, "answer_query")
        answer = _text(answer, field="answer")  # type: ignore[assignment]
        row = _query(s, query_id)
        if row.status not in ("open", "answered"):
            msg = (
                f"query {query_id} is {row.status}; only an open or answered query can be answered "
                "(reopen it first)"
            )
            raise StateError(msg)
        old = {"status": row.status, "answer": row.answer}
        at = now_utc()
        row.status, row.answer, row.answered_by, row.answered_at = "answered", answer, user, at
        new = {"status": "answered", "answer": answer}
        entry = AuditEntry("update", "data_query", str(row.id), to_json(old), to_json(new))
        append_audit(s, [entry], user=user, at=at)


def close_query(store: Store, query_id: int, *, user: str, note: str | None = None) -> None:
    """Close a query; see :meth:`Store.close_query`."""
    with store.session() as s:
        store.check_role(s, user, "close_query")
        note = _text(note, field="note", required=False)
        row = _query(s, query_id)
        if row.status == "closed":
            msg = f"query {query_id} is already closed"
            raise StateError(msg)
        old = {"status": row.status}
        at = now_utc()
        row.status, row.closed_by, row.closed_at, row.close_note = "closed", user, at, note
        new = {"status": "closed", "note": note}
        entry = AuditEntry("update", "data_query", str(row.id), to_json(old), to_json(new))
        append_audit(s, [entry], user=user, at=at)


def reopen_query(store: Store, query_id: int, *, user: str, text: str) -> None:
    """Reopen a query; see :meth:`Store.reopen_query`."""
    with store.session() as s:
        store.check_role(s, user, "reopen_query")
        text = _text(text, field="text")  # type: ignore[assignment]
        row = _query(s, query_id)
        if row.status == "open":
            msg = f"query {query_id} is already open; only an answered or closed query can be reopened"
            raise StateError(msg)
        old = {"status": row.status}
        row.status = "open"
        entry = AuditEntry(
            "update", "data_query", str(row.id), to_json(old), to_json({"status": "open"}), text
        )
        append_audit(s, [entry], user=user)


def queries(store: Store, *, status: str | None = None, subject: str | None = None) -> pd.DataFrame:
    """Return the data queries; see :meth:`Store.queries`."""
    if status is not None and status not in QUERY_STATUSES:
        msg = f"status: {status!r} is not allowed; expected one of {', '.join(QUERY_STATUSES)}"
        raise InputError(msg)
    table = DataQuery.__table__
    stmt = select(table).order_by(table.c.id)
    if status is not None:
        stmt = stmt.where(table.c.status == status)
    if subject is not None:
        stmt = stmt.where(table.c.subject_id == subject)
    with store.reader.connect() as conn:
        rows = conn.execute(stmt).all()
    return pd.DataFrame(rows, columns=[c.name for c in table.columns])
