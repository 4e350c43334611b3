"""Bulk adverse events: one transaction, every bad row reported, all or nothing.

Each row is checked with the rules and messages of :func:`~ssctrial.store.record_adverse_event`
(:func:`~ssctrial.store._events.check_adverse_event` plus the dates against the subject's consent);
subjects are looked up once per batch, the rows are inserted with one ``executemany`` (ids returned
in row order) and their audit rows, the same as the single-event path writes, appended in one go.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import insert, select

from ssctrial.exceptions import InputError
from ssctrial.store._audit import append_audit, now_utc, to_json
from ssctrial.store._bulk_subjects import _IN_CHUNK, _check_frame, _opt, _raise
from ssctrial.store._events import check_adverse_event
from ssctrial.store._models import AdverseEvent, Subject
from ssctrial.store._subjects import check_date

if TYPE_CHECKING:
    from ssctrial.store._store import Store

__all__ = ["record_adverse_events"]

_REQUIRED = ("subject_id", "term", "body_system", "start_date", "grade", "serious", "relatedness")


def record_adverse_events(store: Store, frame: pd.DataFrame, *, user: str) -> list[int]:
    """Record many adverse events in one transaction; see :meth:`Store.record_adverse_events`."""
    _check_frame(frame, required=_REQUIRED, what="adverse events")
    n = len(frame)
    labels = frame.index.tolist()
    cols = {c: frame[c].tolist() for c in frame.columns}
    ids = cols["subject_id"]
    problems: list[tuple[int, Any, Any, str, str]] = []
    checked: list[dict[str, Any] | None] = []
    for k in range(n):
        try:
            checked.append(
                check_adverse_event(
                    ids[k],
                    term=cols["term"][k],
                    body_system=cols["body_system"][k],
                    start_date=cols["start_date"][k],
                    grade=cols["grade"][k],
                    serious=cols["serious"][k],
                    relatedness=cols["relatedness"][k],
                    outcome=cols["outcome"][k] if "outcome" in cols else "unknown",
                    stop_date=_opt(cols["stop_date"][k]) if "stop_date" in cols else None,
                )
            )
        except InputError as exc:
            problems.append((k, labels[k], ids[k], str(exc), "input"))
            checked.append(None)
    rows: list[dict[str, Any]] = []
    with store.session() as s:
        store.check_role(s, user, "record")
        wanted = list(dict.fromkeys(sid for sid, c in zip(ids, checked, strict=True) if c is not None))
        consent: dict[Any, Any] = {}
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            q = select(Subject.subject_id, Subject.consent_date).where(Subject.subject_id.in_(chunk))
            consent.update(dict(s.execute(q).all()))
        for k in range(n):
            c = checked[k]
            if c is None:
                continue
            sid = ids[k]
            if sid not in consent:
                msg = f"unknown subject {sid!r}; enrol the subject first (`ssctrial enroll`)"
                problems.append((k, labels[k], sid, msg, "not_found"))
                continue
            try:
                for what in ("start_date", "stop_date"):
                    check_date(c[what], what=f"adverse event {what}", consent=consent[sid], subject=sid)
            except InputError as exc:
                problems.append((k, labels[k], sid, str(exc), "input"))
                continue
            rows.append({"subject_id": sid, **c})
        _raise(problems, n=n, what="adverse events")
        if not rows:
            return []
        at = now_utc()
        result = s.execute(
            insert(AdverseEvent).returning(AdverseEvent.id, sort_by_parameter_order=True),
            [{**v, "entered_at": at, "entered_by": user} for v in rows],
        )
        new_ids = [int(i) for i in result.scalars().all()]
        append_audit(
            s,
            [
                ("insert", "adverse_event", str(i), None, to_json(v), None)
                for i, v in zip(new_ids, rows, strict=True)
            ],
            user=user,
            at=at,
        )
    return new_ids
