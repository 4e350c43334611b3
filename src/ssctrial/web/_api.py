"""The JSON API (``/api/v1``): the same store functions as the pages and the CLI, described by OpenAPI.

Authentication: ``POST /api/v1/login`` with ``{"username", "password"}`` sets the session cookie
and returns a ``csrf_token``; every later POST sends it in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from ssctrial.exceptions import InputError, PermissionDeniedError
from ssctrial.store import ObservationError, Store
from ssctrial.web import _service as svc
from ssctrial.web._app import PublicDep, UserDep, login_user, session_of, set_session_cookie

__all__ = ["register_api"]


class LoginIn(BaseModel):
    """Credentials."""

    username: str = Field(max_length=64)
    password: str = Field(max_length=128)


class EnrolIn(BaseModel):
    """A subject to enrol (screen)."""

    subject_id: str
    consent_date: str
    sex: str
    strata: dict[str, str]
    site: str | None = None
    birth_date: str | None = None
    height_cm: float | None = None
    eligibility: dict[str, bool] = Field(
        default_factory=dict, description="criterion code -> confirmed (inclusion met / exclusion absent)"
    )


class FormIn(BaseModel):
    """Item values of one instrument at one visit (blank values are not recorded)."""

    values: dict[str, Any]
    visit_date: str | None = None
    reason: str | None = Field(default=None, description="reason for changing stored values")


class ValidateIn(BaseModel):
    """One value to check against the instrument registry."""

    instrument: str
    item: str
    value: Any = None


class AdverseEventIn(BaseModel):
    """An adverse event."""

    term: str
    body_system: str
    start_date: str
    stop_date: str | None = None
    grade: int
    serious: bool
    relatedness: str
    outcome: str = "unknown"


class QueryIn(BaseModel):
    """A data query on a subject, optionally on one value."""

    subject_id: str
    text: str
    visit: str | None = None
    instrument: str | None = None
    item: str | None = None


class AnswerIn(BaseModel):
    """The site's answer to a query."""

    answer: str


class CloseIn(BaseModel):
    """The monitor's closing note."""

    note: str | None = None


class ReasonIn(BaseModel):
    """A reason (lock and unlock)."""

    reason: str


def _store(request: Request) -> Store:
    return request.app.state.store


def _jsonable(value: Any) -> Any:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value)


def register_api(app: FastAPI) -> None:  # noqa: C901 - one function per endpoint, registered here
    """Add the JSON API to ``app``."""

    @app.post("/api/v1/login", tags=["session"])
    def api_login(request: Request, _u: PublicDep, body: LoginIn) -> Response:
        """Log in; returns the user and the CSRF token to send in ``X-CSRF-Token``."""
        info, error = login_user(request, body.username, body.password)
        if info is None:
            status = 429 if error and error.startswith("too many") else 401
            return JSONResponse({"detail": error}, status_code=status)
        old, _sess = session_of(request)
        request.app.state.sessions.delete(old)
        token = request.app.state.sessions.create(user=info["name"], role=info["role"], site=info["site"])
        sess = request.app.state.sessions.get(token)
        response = JSONResponse(
            {"user": info["name"], "role": info["role"], "site": info["site"], "csrf_token": sess.csrf}
        )
        set_session_cookie(request, response, token)
        return response

    @app.post("/api/v1/logout", tags=["session"])
    def api_logout(request: Request, user: UserDep) -> dict[str, str]:
        """End the session."""
        token, _sess = session_of(request)
        request.app.state.sessions.delete(token)
        _store(request).log_event(user=user.name, action="logout", record="api")
        return {"detail": "logged out"}

    @app.get("/api/v1/me", tags=["session"])
    def api_me(request: Request, user: UserDep) -> dict[str, Any]:
        """Return the logged-in user and the session's CSRF token."""
        _t, sess = session_of(request)
        return {
            "user": user.name,
            "role": user.role,
            "site": user.site,
            "csrf_token": sess.csrf if sess else None,
        }

    @app.get("/api/v1/dashboard", tags=["monitoring"])
    def api_dashboard(request: Request, user: UserDep) -> Any:
        """Enrolment by arm and site, missing forms, overdue visits, open queries, lock state."""
        return _jsonable(svc.dashboard_data(_store(request), user))

    @app.get("/api/v1/subjects", tags=["subjects"])
    def api_subjects(request: Request, user: UserDep) -> Any:
        """Subjects visible to the user, with status, arm and next visit."""
        return _jsonable(svc.list_subjects(_store(request), user))

    @app.post("/api/v1/subjects", tags=["subjects"], status_code=201)
    def api_enrol(request: Request, user: UserDep, body: EnrolIn) -> Any:
        """Enrol (screen) a subject; every eligibility criterion of the study must be confirmed."""
        store = _store(request)
        site = body.site or user.site
        if user.site is not None and site != user.site:
            msg = f"user {user.name!r} may enrol at site {user.site} only"
            raise PermissionDeniedError(msg)
        unmet = [c.code for c in store.design.eligibility if not body.eligibility.get(c.code, False)]
        if unmet:
            msg = (
                f"eligibility: criteria not confirmed: {', '.join(unmet)} (send eligibility: {{code: true}})"
            )
            raise InputError(msg)
        stored = store.enroll_subject(
            body.subject_id,
            user=user.name,
            consent_date=body.consent_date,
            sex=body.sex,
            strata=body.strata,
            site=site,
            birth_date=body.birth_date,
            height_cm=body.height_cm,
        )
        return _jsonable(stored)

    @app.get("/api/v1/subjects/{subject_id}", tags=["subjects"])
    def api_subject(request: Request, user: UserDep, subject_id: str) -> Any:
        """Return a subject: status, arm once assigned, visits and forms, adverse events."""
        return _jsonable(svc.subject_view(_store(request), subject_id, user))

    @app.post("/api/v1/subjects/{subject_id}/randomize", tags=["subjects"])
    def api_randomize(request: Request, user: UserDep, subject_id: str) -> Any:
        """Randomise a screened subject; the arm is returned only after the assignment."""
        from ssctrial.randomize import randomize_subject

        store = _store(request)
        svc.get_subject_row(store, subject_id, user)
        rec = randomize_subject(store, subject_id, user=user.name)
        return {
            "subject_id": rec.subject_id,
            "arm": rec.arm,
            "arm_label": rec.arm_label,
            "randomized_at": rec.randomized_at.isoformat(),
            "randomized_by": rec.randomized_by,
        }

    @app.get("/api/v1/subjects/{subject_id}/visits/{visit}/{instrument}", tags=["forms"])
    def api_form(request: Request, user: UserDep, subject_id: str, visit: str, instrument: str) -> Any:
        """Return a visit form: items with stored values and the computed scores."""
        return _jsonable(
            svc.form_view(_store(request), subject_id, who=user, visit=visit, instrument=instrument)
        )

    @app.post("/api/v1/subjects/{subject_id}/visits/{visit}/{instrument}", tags=["forms"])
    def api_record(
        request: Request,
        user: UserDep,
        subject_id: str,
        visit: str,
        instrument: str,
        body: FormIn,
    ) -> Any:
        """Record a form (all values validated first; nothing is written when any is refused)."""
        store = _store(request)
        svc.get_subject_row(store, subject_id, user)
        svc.check_scheduled(store, visit, instrument)
        rows = svc.form_rows(
            subject_id,
            visit=visit,
            instrument=instrument,
            values={k: (v if isinstance(v, str) or v is None else str(v)) for k, v in body.values.items()},
            visit_date=body.visit_date,
        )
        if rows.empty:
            msg = "values: the form is empty; send at least one item value"
            raise InputError(msg)
        try:
            result = store.record_observations(rows, user=user.name, reason=body.reason)
        except ObservationError as exc:
            errors = exc.errors[["item", "value", "error"]].astype(str).to_dict("records")
            return JSONResponse({"detail": str(exc), "errors": errors}, status_code=400)
        scores = svc.visit_scores(store, subject_id, visit=visit, instrument=instrument)
        return {
            "inserted": result.n_inserted,
            "corrected": result.n_updated,
            "unchanged": result.n_unchanged,
            "scores": scores,
        }

    @app.post("/api/v1/subjects/{subject_id}/adverse-events", tags=["forms"], status_code=201)
    def api_ae(request: Request, user: UserDep, subject_id: str, body: AdverseEventIn) -> Any:
        """Record an adverse event."""
        store = _store(request)
        svc.get_subject_row(store, subject_id, user)
        ae_id = store.record_adverse_event(subject_id, user=user.name, **body.model_dump())
        return {"id": ae_id}

    @app.post("/api/v1/validate", tags=["forms"])
    def api_validate(request: Request, user: UserDep, body: ValidateIn) -> dict[str, Any]:
        """Check one value against the instrument registry (what the forms call as the user types)."""
        message = svc.validate_item(body.instrument, body.item, body.value)
        return {"ok": message is None, "message": message}

    @app.get("/api/v1/audit", tags=["monitoring"])
    def api_audit(
        request: Request,
        user: UserDep,
        table: str | None = None,
        record: str | None = None,
        limit: int = 200,
    ) -> Any:
        """Return the audit trail, newest first (optionally of one table and record)."""
        return _jsonable(svc.audit_trail(_store(request), user, table=table, record=record, limit=limit))

    @app.get("/api/v1/queries", tags=["monitoring"])
    def api_queries(
        request: Request,
        user: UserDep,
        status: str | None = None,
        subject: str | None = None,
    ) -> Any:
        """Return the data queries visible to the user."""
        return _jsonable(svc.visible_queries(_store(request), user, status=status, subject=subject))

    @app.post("/api/v1/queries", tags=["monitoring"], status_code=201)
    def api_query_open(request: Request, user: UserDep, body: QueryIn) -> Any:
        """Open a query (monitor)."""
        store = _store(request)
        svc.get_subject_row(store, body.subject_id, user)
        qid = store.open_query(
            body.subject_id,
            user=user.name,
            text=body.text,
            visit=body.visit,
            instrument=body.instrument,
            item=body.item,
        )
        return {"id": qid}

    @app.post("/api/v1/queries/{query_id}/answer", tags=["monitoring"])
    def api_query_answer(request: Request, user: UserDep, query_id: int, body: AnswerIn) -> Any:
        """Answer a query (site)."""
        store = _store(request)
        svc.query_for(store, query_id, user)
        store.answer_query(query_id, user=user.name, answer=body.answer)
        return {"id": query_id, "status": "answered"}

    @app.post("/api/v1/queries/{query_id}/close", tags=["monitoring"])
    def api_query_close(request: Request, user: UserDep, query_id: int, body: CloseIn) -> Any:
        """Close a query (monitor)."""
        store = _store(request)
        svc.query_for(store, query_id, user)
        store.close_query(query_id, user=user.name, note=body.note)
        return {"id": query_id, "status": "closed"}

    @app.get("/api/v1/lock", tags=["lock"])
    def api_lock_state(request: Request, user: UserDep) -> Any:
        """Whether the database is locked, since when and by whom."""
        return _jsonable(_store(request).lock_state())

    @app.post("/api/v1/lock", tags=["lock"])
    def api_lock(request: Request, user: UserDep, body: ReasonIn) -> Any:
        """Lock the database (statistician)."""
        _store(request).lock(user=user.name, reason=body.reason)
        return _jsonable(_store(request).lock_state())

    @app.post("/api/v1/unlock", tags=["lock"])
    def api_unlock(request: Request, user: UserDep, body: ReasonIn) -> Any:
        """Unlock the database with a reason (statistician; audited)."""
        _store(request).unlock(user=user.name, reason=body.reason)
        return _jsonable(_store(request).lock_state())
