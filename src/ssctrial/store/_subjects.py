"""Enrolment, subject status and visits."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ssctrial.exceptions import InputError, NotFoundError, StateError
from ssctrial.store._audit import now_utc
from ssctrial.store._models import SUBJECT_STATUSES, Allocation, Site, Subject, Visit

if TYPE_CHECKING:
    from ssctrial.store._store import Store

_SUBJECT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_NEEDS_REASON = ("screen_failed", "withdrawn")


def today() -> date:
    """Today's date (UTC), the limit for any date entered."""
    return now_utc().date()


def check_subject_id(subject_id: Any) -> str:
    """Return ``subject_id`` if it is a valid subject identifier, else raise :class:`InputError`."""
    if not isinstance(subject_id, str) or not _SUBJECT_ID.match(subject_id):
        msg = (
            f"subject id {subject_id!r} is not allowed; use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. BASICS-001)"
        )
        raise InputError(msg)
    return subject_id


def check_date(value: date | None, *, what: str, consent: date | None = None, subject: str = "") -> None:
    """Refuse a date in the future or before the subject's consent."""
    if value is None:
        return
    who = f"subject {subject}: " if subject else ""
    if value > today():
        msg = (
            f"{who}{what} {value.isoformat()} is in the future;"
            f" expected a date on or before {today().isoformat()}"
        )
        raise InputError(msg)
    if consent is not None and value < consent:
        msg = (
            f"{who}{what} {value.isoformat()} is before consent ({consent.isoformat()});"
            f" expected a later date"
        )
        raise InputError(msg)


def get_subject(session: Session, subject_id: str) -> Subject:
    """Return the subject row or raise :class:`NotFoundError`."""
    row = session.get(Subject, subject_id)
    if row is None:
        msg = f"unknown subject {subject_id!r}; enrol the subject first (`ssctrial enroll`)"
        raise NotFoundError(msg)
    return row


def check_enrolment(
    store: Store,
    subject_id: str,
    *,
    consent_date: date | str,
    sex: str,
    strata: Mapping[str, str],
    birth_date: date | str | None = None,
    height_cm: float | None = None,
) -> dict[str, Any]:
    """Check one subject's enrolment fields (no database); return them canonicalised.

    Raises :class:`InputError` with the same messages for the single and the bulk enrolment path.
    """
    from ssctrial.store._store import as_date

    check_subject_id(subject_id)
    design = store.design
    consent = as_date(consent_date, field="consent_date")
    if consent is None:
        msg = f"subject {subject_id}: consent_date is required (YYYY-MM-DD)"
        raise InputError(msg)
    check_date(consent, what="consent date", subject=subject_id)
    sex_value = str(sex).strip().upper()[:1] if sex is not None else ""
    if sex_value not in ("F", "M") or len(str(sex).strip()) not in (1, 4, 6):
        msg = f"subject {subject_id}: sex {sex!r} is not allowed; expected F or M"
        raise InputError(msg)
    born = as_date(birth_date, field="birth_date")
    if born is not None and born >= consent:
        msg = (
            f"subject {subject_id}: birth_date {born.isoformat()} must be before consent "
            f"({consent.isoformat()})"
        )
        raise InputError(msg)
    if born is not None and (consent.year - born.year) > 120:
        msg = f"subject {subject_id}: birth_date {born.isoformat()} gives an age over 120 years"
        raise InputError(msg)
    if height_cm is not None:
        try:
            height = float(height_cm)
        except (TypeError, ValueError):
            height = float("nan")
        if not 50 <= height <= 250:
            msg = (
                f"subject {subject_id}: height_cm {height_cm!r} is not allowed;"
                f" expected a number from 50 to 250 cm"
            )
            raise InputError(msg)
        height_cm = height
    strata = dict(strata or {})
    known = {f.code: f for f in design.strata}
    for code, level in strata.items():
        if code not in known:
            msg = (
                f"subject {subject_id}: unknown stratification factor {code!r}; "
                f"factors are: {', '.join(known) or '(none)'}"
            )
            raise InputError(msg)
        if str(level) not in known[code].levels:
            msg = (
                f"subject {subject_id}: {code} = {level!r} is not allowed; "
                f"expected one of {', '.join(known[code].levels)}"
            )
            raise InputError(msg)
    missing = [c for c in known if c not in strata]
    if missing:
        need = "; ".join(f"{c} (one of {', '.join(known[c].levels)})" for c in missing)
        msg = f"subject {subject_id}: stratification factor(s) missing: {need}"
        raise InputError(msg)
    return {
        "consent_date": consent,
        "sex": sex_value,
        "birth_date": born,
        "height_cm": height_cm,
        "strata_map": strata,
        "stratum": design.stratum_key(strata),
    }


def enroll_subject(
    store: Store,
    subject_id: str,
    *,
    user: str,
    consent_date: date | str,
    sex: str,
    strata: Mapping[str, str],
    site: str | None = None,
    birth_date: date | str | None = None,
    height_cm: float | None = None,
) -> dict[str, Any]:
    """Enrol (screen) a subject; see :meth:`Store.enroll_subject`."""
    checked = check_enrolment(
        store,
        subject_id,
        consent_date=consent_date,
        sex=sex,
        strata=strata,
        birth_date=birth_date,
        height_cm=height_cm,
    )
    consent, sex_value, born, height_cm = (
        checked["consent_date"],
        checked["sex"],
        checked["birth_date"],
        checked["height_cm"],
    )
    strata = checked["strata_map"]
    stratum = checked["stratum"]
    with store.session() as s:
        store.check_role(s, user, "enroll")
        if site is None:
            sites = s.execute(select(Site.code)).scalars().all()
            site = sites[0] if len(sites) == 1 else None
        elif s.get(Site, site) is None:
            sites = s.execute(select(Site.code)).scalars().all()
            msg = f"subject {subject_id}: unknown site {site!r}; sites are: {', '.join(sites) or '(none)'}"
            raise InputError(msg)
        if s.get(Subject, subject_id) is not None:
            msg = f"subject {subject_id!r} is already enrolled"
            raise StateError(msg)
        at = now_utc()
        values = {
            "subject_id": subject_id,
            "site_code": site,
            "consent_date": consent,
            "sex": sex_value,
            "birth_date": born,
            "height_cm": height_cm,
            "strata": json.dumps({k: str(v) for k, v in sorted(strata.items())}),
            "stratum": stratum,
            "status": "screened",
        }
        s.add(Subject(**values, enrolled_at=at, enrolled_by=user))
        s.flush()
        store.audit(s, user=user, action="insert", table="subject", record=subject_id, new=values)
    return values


def update_subject_status(
    store: Store, subject_id: str, status: str, *, user: str, reason: str | None = None
) -> None:
    """Change a subject's status; see :meth:`Store.update_subject_status`."""
    if status not in SUBJECT_STATUSES:
        msg = f"status {status!r} is not allowed; expected one of {', '.join(SUBJECT_STATUSES)}"
        raise InputError(msg)
    if status in _NEEDS_REASON and not (reason and reason.strip()):
        msg = f"subject {subject_id}: status {status!r} needs a reason"
        raise InputError(msg)
    with store.session() as s:
        store.check_role(s, user, "update_status")
        row = get_subject(s, subject_id)
        allocated = s.execute(select(Allocation.id).where(Allocation.subject_id == subject_id)).first()
        if status == "randomised" and allocated is None:
            msg = f"subject {subject_id}: cannot set status 'randomised' by hand; use `ssctrial randomize`"
            raise StateError(msg)
        if status == "screen_failed" and allocated is not None:
            msg = f"subject {subject_id} is randomised and cannot be a screen failure; use 'withdrawn'"
            raise StateError(msg)
        if status == "completed" and allocated is None:
            msg = f"subject {subject_id} was never randomised and cannot complete the study"
            raise StateError(msg)
        old = {"status": row.status, "status_reason": row.status_reason}
        row.status = status
        row.status_reason = reason
        store.audit(
            s,
            user=user,
            action="update",
            table="subject",
            record=subject_id,
            old=old,
            new={"status": status, "status_reason": reason},
            reason=reason,
        )


def baseline_day(store: Store) -> int:
    """Study day of the baseline visit."""
    return store.design.baseline_visit.day


def is_post_baseline(store: Store, visit_code: str) -> bool:
    """Whether ``visit_code`` is scheduled after the baseline visit (needs randomisation)."""
    return store.design.visit(visit_code).day > baseline_day(store)


def record_visit(
    store: Store,
    subject_id: str,
    visit: str,
    *,
    user: str,
    visit_date: date | str,
    reason: str | None = None,
) -> None:
    """Record (or correct, with a reason) the date of a subject's visit; see :meth:`Store.record_visit`."""
    from ssctrial.store._store import as_date

    design = store.design
    if visit not in design.visit_codes:
        msg = f"subject {subject_id}: unknown visit {visit!r}; visits are: {', '.join(design.visit_codes)}"
        raise InputError(msg)
    when = as_date(visit_date, field="visit_date")
    if when is None:
        msg = f"subject {subject_id}, visit {visit}: visit_date is required (YYYY-MM-DD)"
        raise InputError(msg)
    with store.session() as s:
        store.check_role(s, user, "record")
        subj = get_subject(s, subject_id)
        check_date(when, what=f"visit {visit} date", consent=subj.consent_date, subject=subject_id)
        check_randomised(s, store, subject_id, visit)
        check_window(s, store, subject_id, visit, when)
        write_visit(s, store, subject_id, visit, when, user=user, reason=reason)


def check_randomised(session: Session, store: Store, subject_id: str, visit: str) -> None:
    """Refuse post-baseline data for a subject without an allocation."""
    if not is_post_baseline(store, visit):
        return
    allocated = session.execute(select(Allocation.id).where(Allocation.subject_id == subject_id)).first()
    if allocated is None:
        msg = (
            f"subject {subject_id}, visit {visit}: the subject is not randomised; "
            f"post-baseline data (after {store.design.baseline_visit.code}) needs randomisation first"
        )
        raise StateError(msg)


def check_window(session: Session, store: Store, subject_id: str, visit: str, when: date) -> None:
    """Refuse a visit date outside the visit's window (relative to the baseline visit's date)."""
    design = store.design
    base = design.baseline_visit
    if visit == base.code:
        return
    base_date = session.execute(
        select(Visit.visit_date).where(Visit.subject_id == subject_id, Visit.visit_code == base.code)
    ).scalar()
    if base_date is None:
        return
    v = design.visit(visit)
    day = (when - base_date).days + base.day
    if not v.earliest_day <= day <= v.latest_day:
        from datetime import timedelta

        lo = base_date + timedelta(days=v.earliest_day - base.day)
        hi = base_date + timedelta(days=v.latest_day - base.day)
        msg = (
            f"subject {subject_id}, visit {visit}: date {when.isoformat()} is study day {day}, outside the "
            f"window (days {v.earliest_day}..{v.latest_day}: {lo.isoformat()} to {hi.isoformat()})"
        )
        raise InputError(msg)


def write_visit(
    session: Session,
    store: Store,
    subject_id: str,
    visit: str,
    when: date | None,
    *,
    user: str,
    reason: str | None = None,
) -> None:
    """Insert the visit row, or correct its date (a changed date needs a reason)."""
    row = session.execute(
        select(Visit).where(Visit.subject_id == subject_id, Visit.visit_code == visit)
    ).scalar_one_or_none()
    record = f"{subject_id}/{visit}"
    if row is None:
        session.add(
            Visit(
                subject_id=subject_id,
                visit_code=visit,
                visit_date=when,
                entered_at=now_utc(),
                entered_by=user,
            )
        )
        session.flush()
        store.audit(
            session,
            user=user,
            action="insert",
            table="visit",
            record=record,
            new={"visit_date": when},
            reason=reason,
        )
        return
    if row.visit_date == when or when is None:
        return
    if row.visit_date is not None and not (reason and reason.strip()):
        msg = (
            f"subject {subject_id}, visit {visit}: date already recorded as {row.visit_date.isoformat()}; "
            f"a correction to {when.isoformat()} needs a reason"
        )
        raise InputError(msg)
    old = {"visit_date": row.visit_date}
    row.visit_date = when
    store.audit(
        session,
        user=user,
        action="update",
        table="visit",
        record=record,
        old=old,
        new={"visit_date": when},
        reason=reason,
    )


__all__ = [
    "check_date",
    "check_enrolment",
    "check_randomised",
    "check_subject_id",
    "check_window",
    "enroll_subject",
    "get_subject",
    "record_visit",
    "today",
    "update_subject_status",
    "write_visit",
]
