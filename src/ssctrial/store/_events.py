"""Adverse events and biospecimens."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from ssctrial.exceptions import InputError, StateError
from ssctrial.store._audit import now_utc
from ssctrial.store._models import AE_OUTCOMES, AE_RELATEDNESS, AdverseEvent, Sample
from ssctrial.store._subjects import check_date, get_subject

if TYPE_CHECKING:
    from ssctrial.store._store import Store

__all__ = ["check_adverse_event", "record_adverse_event", "record_sample"]

_ASSAYS = ("rnaseq", "serum", "plasma", "skin_biopsy", "whole_blood", "other")


def _text(value: Any, *, field: str, subject: str) -> str:
    if value is None or not str(value).strip():
        msg = f"subject {subject}: {field} is required (non-empty text)"
        raise InputError(msg)
    return str(value).strip()


def _to_bool(value: Any, *, field: str, subject: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y"):
        return True
    if text in ("0", "false", "no", "n"):
        return False
    msg = f"subject {subject}: {field} {value!r} is not allowed; expected yes or no"
    raise InputError(msg)


def check_adverse_event(
    subject_id: str,
    *,
    term: str,
    body_system: str,
    start_date: date | str,
    grade: int,
    serious: bool | str,
    relatedness: str,
    outcome: str = "unknown",
    stop_date: date | str | None = None,
) -> dict[str, Any]:
    """Check an adverse event's fields (no database); return them canonicalised, in column order.

    Raises :class:`InputError` with the same messages for the single and the bulk path.
    """
    from ssctrial.store._store import as_date

    term = _text(term, field="term", subject=subject_id)
    body_system = _text(body_system, field="body_system", subject=subject_id)
    start = as_date(start_date, field="start_date")
    if start is None:
        msg = f"subject {subject_id}: adverse event start_date is required (YYYY-MM-DD)"
        raise InputError(msg)
    stop = as_date(stop_date, field="stop_date")
    try:
        grade_value = int(str(grade).strip())
        ok = float(str(grade).strip()) == grade_value and 1 <= grade_value <= 5
    except ValueError:
        ok = False
    if not ok or isinstance(grade, bool):
        msg = (
            f"subject {subject_id}: adverse event grade {grade!r} is not allowed; expected a CTCAE grade 1-5"
        )
        raise InputError(msg)
    serious_value = _to_bool(serious, field="serious", subject=subject_id)
    if relatedness not in AE_RELATEDNESS:
        msg = (
            f"subject {subject_id}: relatedness {relatedness!r} is not allowed; expected one of "
            + ", ".join(AE_RELATEDNESS)
        )
        raise InputError(msg)
    if outcome not in AE_OUTCOMES:
        msg = (
            f"subject {subject_id}: outcome {outcome!r} is not allowed;"
            f" expected one of {', '.join(AE_OUTCOMES)}"
        )
        raise InputError(msg)
    if grade_value == 5 and outcome != "fatal":
        msg = f"subject {subject_id}: a grade 5 adverse event is fatal; outcome {outcome!r} is not allowed"
        raise InputError(msg)
    if stop is not None and stop < start:
        msg = (
            f"subject {subject_id}: adverse event stop_date {stop.isoformat()} is before "
            f"start_date {start.isoformat()}"
        )
        raise InputError(msg)
    return {
        "term": term,
        "body_system": body_system,
        "start_date": start,
        "stop_date": stop,
        "grade": grade_value,
        "serious": serious_value,
        "relatedness": relatedness,
        "outcome": outcome,
    }


def record_adverse_event(
    store: Store,
    subject_id: str,
    *,
    user: str,
    term: str,
    body_system: str,
    start_date: date | str,
    grade: int,
    serious: bool | str,
    relatedness: str,
    outcome: str = "unknown",
    stop_date: date | str | None = None,
) -> int:
    """Record an adverse event and return its id.

    Parameters
    ----------
    store
        The open store.
    subject_id
        The subject (must be enrolled).
    user
        Who records (investigator or admin).
    term, body_system
        Reported term and system organ class (MedDRA SOC text).
    start_date, stop_date
        Onset and resolution dates: not in the future, not before consent, stop not before start.
    grade
        CTCAE grade, an integer 1-5.
    serious
        Serious adverse event (yes/no).
    relatedness
        One of ``not_related``, ``unlikely``, ``possible``, ``probable``, ``definite``.
    outcome
        One of ``recovered``, ``recovering``, ``not_recovered``, ``recovered_with_sequelae``,
        ``fatal``, ``unknown``.

    Returns
    -------
    int
        The new adverse event's id.
    """
    fields = check_adverse_event(
        subject_id,
        term=term,
        body_system=body_system,
        start_date=start_date,
        grade=grade,
        serious=serious,
        relatedness=relatedness,
        outcome=outcome,
        stop_date=stop_date,
    )
    start, stop = fields["start_date"], fields["stop_date"]
    with store.session() as s:
        store.check_role(s, user, "record")
        subj = get_subject(s, subject_id)
        check_date(start, what="adverse event start_date", consent=subj.consent_date, subject=subject_id)
        check_date(stop, what="adverse event stop_date", consent=subj.consent_date, subject=subject_id)
        values = {"subject_id": subject_id, **fields}
        row = AdverseEvent(**values, entered_at=now_utc(), entered_by=user)
        s.add(row)
        s.flush()
        store.audit(s, user=user, action="insert", table="adverse_event", record=str(row.id), new=values)
        return int(row.id)


def record_sample(
    store: Store,
    biospecimen_id: str,
    *,
    user: str,
    subject_id: str,
    visit: str,
    assay: str,
    counts_path: str | None = None,
    collected_date: date | str | None = None,
) -> None:
    """Record a biospecimen (and the path of its ``.h5ad`` counts file when assayed).

    ``assay`` is one of ``rnaseq``, ``serum``, ``plasma``, ``skin_biopsy``, ``whole_blood``,
    ``other``; ``visit`` must be in the schedule; the collection date is not in the future and
    not before consent; a counts file must end in ``.h5ad``.
    """
    from ssctrial.store._store import as_date
    from ssctrial.store._subjects import check_subject_id

    check_subject_id(biospecimen_id)
    if visit not in store.design.visit_codes:
        msg = (
            f"sample {biospecimen_id}: unknown visit {visit!r};"
            f" visits are: {', '.join(store.design.visit_codes)}"
        )
        raise InputError(msg)
    if assay not in _ASSAYS:
        msg = f"sample {biospecimen_id}: assay {assay!r} is not allowed; expected one of {', '.join(_ASSAYS)}"
        raise InputError(msg)
    if counts_path is not None and not str(counts_path).endswith(".h5ad"):
        msg = f"sample {biospecimen_id}: counts_path {counts_path!r} is not allowed; expected an .h5ad file"
        raise InputError(msg)
    collected = as_date(collected_date, field="collected_date")
    with store.session() as s:
        store.check_role(s, user, "record")
        subj = get_subject(s, subject_id)
        check_date(collected, what="collection date", consent=subj.consent_date, subject=subject_id)
        if s.get(Sample, biospecimen_id) is not None:
            msg = f"sample {biospecimen_id!r} is already recorded"
            raise StateError(msg)
        values = {
            "biospecimen_id": biospecimen_id,
            "subject_id": subject_id,
            "visit_code": visit,
            "assay": assay,
            "counts_path": None if counts_path is None else str(counts_path),
            "collected_date": collected,
        }
        s.add(Sample(**values, entered_at=now_utc(), entered_by=user))
        s.flush()
        store.audit(s, user=user, action="insert", table="sample", record=biospecimen_id, new=values)
