"""What the pages and the JSON API show and do: one function per view, shared by both.

Every write goes through the store's validated library functions (the same ones the CLI uses);
this module only gathers what a page needs and applies site scoping.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from ssctrial.exceptions import InputError, NotFoundError
from ssctrial.instruments import get_instrument
from ssctrial.store import (
    CONCEALED_TABLES,
    AdverseEvent,
    Allocation,
    AuditLog,
    DataQuery,
    Observation,
    Site,
    Store,
    Subject,
    Visit,
)

__all__ = [
    "CurrentUser",
    "dashboard_data",
    "form_view",
    "list_subjects",
    "subject_view",
]


@dataclass(frozen=True)
class CurrentUser:
    """The logged-in user of a request."""

    name: str
    role: str
    site: str | None

    def sees_site(self, site: str | None) -> bool:
        """Whether this user's site scope includes ``site``."""
        return self.site is None or self.site == site


def _today() -> date:
    return date.today()


# ---------------------------------------------------------------------------------------- subjects
def get_subject_row(store: Store, subject_id: str, who: CurrentUser) -> Any:
    """Return the subject's row, or raise NotFoundError (also for a subject at another site)."""
    with store.reader.connect() as conn:
        row = conn.execute(select(Subject).where(Subject.subject_id == subject_id)).mappings().first()
    if row is None or not who.sees_site(row["site_code"]):
        msg = f"no subject {subject_id!r}" + (f" at site {who.site}" if who.site else "")
        raise NotFoundError(msg)
    return row


def _visit_due(design: Any, baseline: date | None, consent: date) -> dict[str, tuple[date, date, date]]:
    """Target date and window of each scheduled visit, from the baseline (or consent) date."""
    bl_day = next((v.day for v in design.visits if v.baseline), 0)
    anchor = baseline if baseline is not None else consent + timedelta(days=-min(0, design.visits[0].day))
    out: dict[str, tuple[date, date, date]] = {}
    for v in design.visits:
        target = anchor + timedelta(days=v.day - bl_day)
        out[v.code] = (
            target,
            target - timedelta(days=v.window_before),
            target + timedelta(days=v.window_after),
        )
    return out


def site_subject_ids(conn: Any, site: str) -> set[str]:
    """Return the ids of the subjects enrolled at ``site``."""
    return {r[0] for r in conn.execute(select(Subject.subject_id).where(Subject.site_code == site))}


def list_subjects(store: Store, who: CurrentUser) -> list[dict[str, Any]]:
    """Subjects visible to ``who`` with status, arm (once assigned), visits done and the next visit."""
    design = store.design
    with store.reader.connect() as conn:
        q = select(
            Subject.subject_id,
            Subject.site_code,
            Subject.status,
            Subject.status_reason,
            Subject.consent_date,
            Subject.stratum,
            Allocation.arm,
        ).outerjoin(Allocation, Allocation.subject_id == Subject.subject_id)
        if who.site is not None:
            q = q.where(Subject.site_code == who.site)
        subjects = conn.execute(q.order_by(Subject.subject_id)).mappings().all()
        visits = conn.execute(select(Visit.subject_id, Visit.visit_code, Visit.visit_date)).all()
    done: dict[str, dict[str, date | None]] = {}
    for sid, code, when in visits:
        done.setdefault(sid, {})[code] = when
    labels = {a.code: a.label for a in design.arms}
    baseline_code = next((v.code for v in design.visits if v.baseline), None)
    out = []
    for s in subjects:
        entered = done.get(s["subject_id"], {})
        due = _visit_due(design, entered.get(baseline_code) if baseline_code else None, s["consent_date"])
        nxt = None
        if s["status"] in ("screened", "randomised"):
            for v in design.visits:
                if v.code not in entered:
                    target, _lo, hi = due[v.code]
                    nxt = {"visit": v.code, "label": v.label, "due": target, "overdue": hi < _today()}
                    break
        out.append(
            {
                "subject_id": s["subject_id"],
                "site": s["site_code"],
                "status": s["status"],
                "status_reason": s["status_reason"],
                "stratum": s["stratum"],
                "arm": s["arm"],
                "arm_label": labels.get(s["arm"]) if s["arm"] else None,
                "visits_done": [v.code for v in design.visits if v.code in entered],
                "next_visit": nxt,
            }
        )
    return out


def subject_view(store: Store, subject_id: str, who: CurrentUser) -> dict[str, Any]:
    """Everything the subject page shows: status, arm, visits with forms entered, AEs, queries."""
    row = get_subject_row(store, subject_id, who)
    design = store.design
    with store.reader.connect() as conn:
        alloc = conn.execute(select(Allocation).where(Allocation.subject_id == subject_id)).mappings().first()
        visits = dict(
            conn.execute(
                select(Visit.visit_code, Visit.visit_date).where(Visit.subject_id == subject_id)
            ).all()
        )
        forms = conn.execute(
            select(Observation.visit_code, Observation.instrument, func.count())
            .where(Observation.subject_id == subject_id)
            .group_by(Observation.visit_code, Observation.instrument)
        ).all()
        aes = (
            conn.execute(
                select(AdverseEvent).where(AdverseEvent.subject_id == subject_id).order_by(AdverseEvent.id)
            )
            .mappings()
            .all()
        )
    entered = {(v, i): n for v, i, n in forms}
    baseline_code = next((v.code for v in design.visits if v.baseline), None)
    due = _visit_due(design, visits.get(baseline_code) if baseline_code else None, row["consent_date"])
    schedule = []
    for v in design.visits:
        schedule.append(
            {
                "code": v.code,
                "label": v.label,
                "date": visits.get(v.code),
                "due": due[v.code],
                "forms": [
                    {"instrument": code, "n_items": entered.get((v.code, code), 0)} for code in v.instruments
                ],
            }
        )
    labels = {a.code: a.label for a in design.arms}
    return {
        "subject": dict(row),
        "strata": json.loads(row["strata"]) if row["strata"] else {},
        "allocation": (
            {
                "arm": alloc["arm"],
                "arm_label": labels.get(alloc["arm"], alloc["arm"]),
                "randomized_at": alloc["randomized_at"],
                "randomized_by": alloc["randomized_by"],
            }
            if alloc
            else None
        ),
        "schedule": schedule,
        "adverse_events": [dict(a) for a in aes],
    }


# ---------------------------------------------------------------------------------------- forms
def _input_kind(item: Any) -> str:
    if item.type in ("integer", "number"):
        return "number"
    if item.type in ("categorical", "boolean"):
        return "select"
    return "date" if item.type == "date" else "text"


def check_scheduled(store: Store, visit: str, instrument: str) -> Any:
    """Return the schedule's visit if ``instrument`` is scheduled at it, else raise NotFoundError."""
    design = store.design
    v = next((v for v in design.visits if v.code == visit), None)
    if v is None:
        msg = (
            f"visit {visit!r} is not in the schedule; visits are: {', '.join(x.code for x in design.visits)}"
        )
        raise NotFoundError(msg)
    if instrument not in v.instruments:
        msg = f"instrument {instrument!r} is not scheduled at {visit}; scheduled: {', '.join(v.instruments)}"
        raise NotFoundError(msg)
    return v


def form_view(
    store: Store, subject_id: str, *, who: CurrentUser, visit: str, instrument: str
) -> dict[str, Any]:
    """Return a visit form: the instrument's items (from the registry) with stored values and scores."""
    get_subject_row(store, subject_id, who)
    v = check_scheduled(store, visit, instrument)
    inst = get_instrument(instrument)
    with store.reader.connect() as conn:
        stored = dict(
            conn.execute(
                select(Observation.item, Observation.value).where(
                    Observation.subject_id == subject_id,
                    Observation.visit_code == visit,
                    Observation.instrument == instrument,
                )
            ).all()
        )
        visit_date = conn.execute(
            select(Visit.visit_date).where(Visit.subject_id == subject_id, Visit.visit_code == visit)
        ).scalar()
    items = []
    for it in inst.items:
        options: list[str] | None = None
        if it.type == "categorical" and it.allowed is not None:
            options = [str(a) for a in it.allowed]
        elif it.type == "boolean":
            options = ["yes", "no"]
        value = stored.get(it.code)
        if it.type == "boolean" and value is not None:
            value = "yes" if str(value).lower() in ("true", "1", "yes", "1.0") else "no"
        items.append(
            {
                "code": it.code,
                "label": it.label,
                "type": it.type,
                "kind": _input_kind(it),
                "options": options,
                "min": it.min,
                "max": it.max,
                "step": "1" if it.type == "integer" else "any",
                "unit": it.unit,
                "required": it.required,
                "allowed": it.allowed_text(),
                "description": it.description,
                "value": value,
            }
        )
    return {
        "visit": {"code": v.code, "label": v.label},
        "instrument": {
            "code": inst.code,
            "name": inst.name,
            "citation": inst.citation,
            "missing_rule": inst.missing_rule,
            "score_range": inst.score_range,
        },
        "items": items,
        "visit_date": visit_date,
        "has_values": bool(stored),
        "scores": visit_scores(store, subject_id, visit=visit, instrument=instrument) if stored else {},
    }


def validate_item(instrument: str, item: str, value: Any) -> str | None:
    """Check one value against the registry; return the error message, or ``None`` when valid."""
    inst = get_instrument(instrument)
    try:
        it = inst.item(item)
    except NotFoundError as exc:
        return str(exc)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        it.check(value, instrument=instrument)
    except InputError as exc:
        return str(exc)
    return None


def form_rows(
    subject_id: str, *, visit: str, instrument: str, values: dict[str, Any], visit_date: str | None
) -> pd.DataFrame:
    """Long observation rows for the non-blank values of a submitted form."""
    inst = get_instrument(instrument)
    rows = []
    for it in inst.items:
        raw = values.get(it.code)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        rows.append(
            {
                "subject": subject_id,
                "visit": visit,
                "instrument": instrument,
                "item": it.code,
                "value": raw.strip() if isinstance(raw, str) else raw,
                "visit_date": visit_date or None,
            }
        )
    unknown = sorted(set(values) - {it.code for it in inst.items})
    if unknown:
        msg = (
            f"{instrument}: unknown item(s) {', '.join(map(repr, unknown))}; items are listed in the registry"
        )
        raise InputError(msg)
    return pd.DataFrame(rows, columns=["subject", "visit", "instrument", "item", "value", "visit_date"])


def visit_scores(store: Store, subject_id: str, *, visit: str, instrument: str) -> dict[str, Any]:
    """Return the instrument's scores at the visit (the registry's scorer on the stored items).

    The form is scored as a one-row frame with typed items, the study's scorer options and, for
    lung function, the subject's sex, age at the visit and height, as
    :func:`ssctrial.derive.compute_visit_scores` does for a whole trial (a test checks both agree).
    """
    from ssctrial.derive import instrument_options

    inst = get_instrument(instrument)
    params = {col: paramcd for col, paramcd in inst.outputs.items() if paramcd}
    if not inst.per_visit or not params:
        return {}
    with store.reader.connect() as conn:
        stored = conn.execute(
            select(Observation.item, Observation.value).where(
                Observation.subject_id == subject_id,
                Observation.visit_code == visit,
                Observation.instrument == instrument,
            )
        ).all()
        if not stored:
            return {}
        demo = None
        if instrument == "PFT":
            demo = conn.execute(
                select(Subject.sex, Subject.birth_date, Subject.height_cm, Visit.visit_date)
                .outerjoin(Visit, (Visit.subject_id == Subject.subject_id) & (Visit.visit_code == visit))
                .where(Subject.subject_id == subject_id)
            ).first()
    record: dict[str, Any] = {item.code: None for item in inst.items}
    for code, value in stored:
        record[code] = inst.item(code).check(value, instrument=instrument)
    if demo is not None:
        sex, birth, height, when = demo
        record["sex"] = sex
        record["age"] = (when - birth).days / 365.25 if when and birth else None
        if record.get("height_cm") is None:
            record["height_cm"] = height
        if record["age"] is None or record["height_cm"] is None:
            return dict.fromkeys(params.values())  # no age or height: % predicted is missing
    frame = pd.DataFrame([record])
    for item in inst.items:
        if item.type in ("integer", "number"):
            frame[item.code] = frame[item.code].astype(float)
        elif item.type == "boolean":
            frame[item.code] = frame[item.code].astype("boolean")
    try:
        scores = inst.scorer(frame, **instrument_options(inst, store.design))
    except InputError as exc:
        return {"(not scored)": str(exc)}
    out: dict[str, Any] = {}
    for column, paramcd in params.items():
        value = scores[column].iloc[0] if column in scores else None
        if value is None or pd.isna(value):
            out[paramcd] = None
        else:
            number = round(float(value), 4)
            out[paramcd] = int(number) if number.is_integer() else number
    return out


# ---------------------------------------------------------------------------------------- dashboard
def dashboard_data(store: Store, who: CurrentUser) -> dict[str, Any]:
    """Enrolment by arm and site, subjects by status, missing forms and overdue visits, open queries."""
    design = store.design
    subjects = list_subjects(store, who)
    with store.reader.connect() as conn:
        sites = [r[0] for r in conn.execute(select(Site.code).order_by(Site.code)).all()]
        forms = conn.execute(
            select(Observation.subject_id, Observation.visit_code, Observation.instrument).distinct()
        ).all()
        visits = conn.execute(select(Visit.subject_id, Visit.visit_code)).all()
    if who.site is not None:
        sites = [who.site]
    arms = [a.code for a in design.arms]
    by_site = {site: {arm: 0 for arm in arms} | {"screened": 0, "screen_failed": 0} for site in sites}
    by_status: dict[str, int] = {}
    for s in subjects:
        row = by_site.setdefault(s["site"], {arm: 0 for arm in arms} | {"screened": 0, "screen_failed": 0})
        row["screened"] += 1
        if s["arm"]:
            row[s["arm"]] += 1
        if s["status"] == "screen_failed":
            row["screen_failed"] += 1
        by_status[s["status"]] = by_status.get(s["status"], 0) + 1
    entered = {(sid, v, i) for sid, v, i in forms}
    visible = {s["subject_id"]: s for s in subjects}
    schedule = {v.code: v for v in design.visits}
    missing = []
    for sid, vcode in sorted(visits):
        if sid not in visible or vcode not in schedule:
            continue
        for inst in schedule[vcode].instruments:
            if (sid, vcode, inst) not in entered:
                missing.append({"subject_id": sid, "visit": vcode, "instrument": inst})
    overdue = [
        {"subject_id": s["subject_id"], **s["next_visit"]}
        for s in subjects
        if s["next_visit"] is not None and s["next_visit"]["overdue"]
    ]
    queries = store.queries(status=None)
    if len(queries):
        queries = queries[queries["subject_id"].isin(list(visible))]
    open_q = int((queries["status"] == "open").sum()) if len(queries) else 0
    answered_q = int((queries["status"] == "answered").sum()) if len(queries) else 0
    return {
        "arms": [{"code": a.code, "label": a.label} for a in design.arms],
        "enrolment": [{"site": site, **counts} for site, counts in by_site.items()],
        "totals": {
            "screened": len(subjects),
            "randomised": sum(1 for s in subjects if s["arm"]),
            **{arm: sum(1 for s in subjects if s["arm"] == arm) for arm in arms},
        },
        "target_enrolment": design.target_enrolment,
        "by_status": by_status,
        "missing_forms": missing,
        "overdue_visits": overdue,
        "queries": {"open": open_q, "answered": answered_q},
        "lock": store.lock_state(),
    }


# ---------------------------------------------------------------------------------------- audit
def audit_trail(
    store: Store, who: CurrentUser, *, table: str | None = None, record: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Audit rows (newest first), optionally for one table and record key.

    Rows of the concealed tables (the allocation sequence) are shown to statisticians only, and
    site-scoped users see only rows about their site's subjects.
    """
    q = select(AuditLog).order_by(AuditLog.id.desc()).limit(max(1, min(int(limit), 2000)))
    if table:
        q = q.where(AuditLog.table_name == table)
    if record:
        q = q.where(AuditLog.record_key == record)
    if who.role != "statistician":
        q = q.where(AuditLog.table_name.not_in(CONCEALED_TABLES))
    with store.reader.connect() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings().all()]
        if who.site is not None:
            mine = site_subject_ids(conn, who.site)
            query_subjects = {
                str(i): sid for i, sid in conn.execute(select(DataQuery.id, DataQuery.subject_id))
            }
            rows = [r for r in rows if _record_subject(r, query_subjects) in mine]
    if who.role != "statistician":
        for r in rows:
            if r["table_name"] == "allocation":
                r["new"] = _redact_slot(r["new"])
    return rows


def _redact_slot(text: str | None) -> str | None:
    """Drop the list slot (position, list id) from an allocation's audit values.

    With the block sizes, the slot positions would help predict the next assignments.
    """
    if not text:
        return text
    try:
        values = json.loads(text)
    except ValueError:
        return text
    if isinstance(values, dict):
        for key in ("position", "list_id", "block", "block_size"):
            values.pop(key, None)
    return json.dumps(values, sort_keys=True)


def _record_subject(row: dict[str, Any], query_subjects: dict[str, str]) -> str | None:
    """Return the subject an audit row is about (``None`` for study-level rows).

    Subject-level tables key their rows by ``SUBJECT`` or ``SUBJECT/VISIT/...``; adverse events and
    samples are keyed by their own id and name the subject in their values; data queries are keyed
    by query number (``query_subjects`` maps it to the query's subject).
    """
    table = row.get("table_name")
    key = str(row.get("record_key") or "")
    if table in ("subject", "allocation", "visit", "observation"):
        return key.split("/")[0]
    if table == "data_query":
        return query_subjects.get(key)
    if table in ("adverse_event", "sample") and row.get("new"):
        try:
            return json.loads(row["new"]).get("subject_id")
        except (ValueError, AttributeError):
            return None
    return None


# ---------------------------------------------------------------------------------------- queries
def visible_queries(
    store: Store, who: CurrentUser, *, status: str | None = None, subject: str | None = None
) -> list[dict[str, Any]]:
    """Return the data queries ``who`` may see (site scoping), as records with ``None`` for missing."""
    q = store.queries(status=status or None, subject=subject or None)
    if who.site is not None and len(q):
        with store.reader.connect() as conn:
            q = q[q["subject_id"].isin(site_subject_ids(conn, who.site))]
    records = q.to_dict("records") if len(q) else []
    for r in records:
        for k, v in list(r.items()):
            if v is not None and not isinstance(v, str) and pd.isna(v):
                r[k] = None
    return records


def query_for(store: Store, query_id: int, who: CurrentUser) -> dict[str, Any]:
    """Return query ``query_id`` if ``who`` may act on it; another site's query is "no query" too."""
    q = store.queries()
    row = q[q["id"] == query_id]
    if row.empty:
        msg = f"no query #{query_id}"
        raise NotFoundError(msg)
    rec = row.iloc[0].to_dict()
    try:
        get_subject_row(store, str(rec["subject_id"]), who)
    except NotFoundError:  # another site's query: the same answer as no query (no subject id leaked)
        msg = f"no query #{query_id}"
        raise NotFoundError(msg) from None
    return rec
