"""Server-rendered pages (Jinja2 templates, plain forms; a little JavaScript for inline checks)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from ssctrial.exceptions import InputError, SsctrialError
from ssctrial.store import ObservationError, Store
from ssctrial.web import _service as svc
from ssctrial.web._app import (
    PublicDep,
    UserDep,
    client_address,
    flash,
    html_response,
    latest_report,
    login_user,
    report_file,
    run_report_job,
    session_of,
    set_session_cookie,
    status_of,
)
from ssctrial.web._service import CurrentUser

__all__ = ["register_pages"]


def _store(request: Request) -> Store:
    return request.app.state.store


def _form(request: Request) -> dict[str, str]:
    return getattr(request.state, "form", {}) or {}


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def register_pages(app: FastAPI) -> None:  # noqa: C901, PLR0915 - one function per page, registered here
    """Add the HTML pages to ``app``."""

    # ------------------------------------------------------------------ login / logout
    @app.get("/login", include_in_schema=False)
    def login_page(request: Request, _u: PublicDep, next: str = "/") -> Response:  # noqa: A002
        token, sess = session_of(request)
        if sess is not None and sess.user is not None:
            return _see_other(_safe_next(next))
        token = request.app.state.sessions.create()
        request.state.session = request.app.state.sessions.get(token)
        response = html_response(request, "login.html", {"next": _safe_next(next), "error": None})
        set_session_cookie(request, response, token)
        return response

    @app.post("/login", include_in_schema=False)
    def login_submit(request: Request, _u: PublicDep) -> Response:
        form = _form(request)
        info, error = login_user(request, form.get("username", ""), form.get("password", ""))
        target = _safe_next(form.get("next"))
        if info is None:
            status = 429 if error and error.startswith("too many") else 401
            return html_response(request, "login.html", {"next": target, "error": error}, status=status)
        old, _sess = session_of(request)
        request.app.state.sessions.delete(old)  # a fresh session id at login (no fixation)
        token = request.app.state.sessions.create(user=info["name"], role=info["role"], site=info["site"])
        response = _see_other(target)
        set_session_cookie(request, response, token)
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, user: UserDep) -> Response:
        token, _sess = session_of(request)
        request.app.state.sessions.delete(token)
        _store(request).log_event(user=user.name, action="logout", record=client_address(request))
        response = _see_other("/login")
        response.delete_cookie("ssctrial_session", path="/")
        return response

    # ------------------------------------------------------------------ dashboard and subjects
    @app.get("/", include_in_schema=False)
    def dashboard(request: Request, user: UserDep) -> Response:
        data = svc.dashboard_data(_store(request), user)
        return html_response(request, "dashboard.html", {"d": data})

    @app.get("/subjects", include_in_schema=False)
    def subjects(request: Request, user: UserDep) -> Response:
        rows = svc.list_subjects(_store(request), user)
        return html_response(request, "subjects.html", {"subjects": rows})

    def _enrol_context(
        request: Request, user: CurrentUser, values: dict[str, str], errors: list[str]
    ) -> dict:
        design = _store(request).design
        sites = [s for s in design.sites if user.site is None or s.code == user.site]
        return {"design": design, "sites": sites, "v": values, "errors": errors}

    @app.get("/subjects/new", include_in_schema=False)
    def enrol_page(request: Request, user: UserDep) -> Response:
        return html_response(request, "enrol.html", _enrol_context(request, user, {}, []))

    @app.post("/subjects/new", include_in_schema=False)
    def enrol_submit(request: Request, user: UserDep) -> Response:
        store = _store(request)
        form = _form(request)
        design = store.design
        site = form.get("site") or (user.site or (design.sites[0].code if len(design.sites) == 1 else None))
        if user.site is not None and site != user.site:
            return html_response(
                request,
                "enrol.html",
                _enrol_context(request, user, form, [f"you may enrol at site {user.site} only"]),
                status=403,
            )
        unmet = [
            f"{c.code} ({c.kind}): {c.text}"
            for c in design.eligibility
            if form.get(f"elig_{c.code}") != "yes"
        ]
        screen_fail = form.get("action") == "screen_fail"
        if unmet and not screen_fail:
            errors = ["not eligible: these criteria are not confirmed: " + "; ".join(unmet)]
            return html_response(
                request,
                "enrol.html",
                _enrol_context(request, user, form, errors) | {"offer_fail": True},
                status=400,
            )
        try:
            stored = store.enroll_subject(
                form.get("subject_id", "").strip(),
                user=user.name,
                consent_date=form.get("consent_date", ""),
                sex=form.get("sex", ""),
                strata={f.code: form.get(f"stratum_{f.code}", "") for f in design.strata},
                site=site,
                birth_date=form.get("birth_date") or None,
                height_cm=_float_or_text(form.get("height_cm")),
            )
            if screen_fail:
                reason = "not eligible: " + ", ".join(u.split(" ")[0] for u in unmet)
                store.update_subject_status(
                    stored["subject_id"], "screen_failed", user=user.name, reason=reason
                )
        except SsctrialError as exc:
            return html_response(
                request, "enrol.html", _enrol_context(request, user, form, [str(exc)]), status=status_of(exc)
            )
        sid = stored["subject_id"]
        flash(
            request, "ok", f"subject {sid} " + ("recorded as a screen failure" if screen_fail else "enrolled")
        )
        return _see_other(f"/subjects/{quote(sid)}")

    @app.get("/subjects/{subject_id}", include_in_schema=False)
    def subject_page(request: Request, user: UserDep, subject_id: str) -> Response:
        view = svc.subject_view(_store(request), subject_id, user)
        queries = _store(request).queries(subject=subject_id)
        return html_response(
            request,
            "subject.html",
            {"s": view, "queries": queries.to_dict("records") if len(queries) else []},
        )

    # ------------------------------------------------------------------ randomisation
    @app.get("/subjects/{subject_id}/randomize", include_in_schema=False)
    def randomize_page(request: Request, user: UserDep, subject_id: str) -> Response:
        view = svc.subject_view(_store(request), subject_id, user)
        return html_response(request, "randomize.html", {"s": view, "result": None, "error": None})

    @app.post("/subjects/{subject_id}/randomize", include_in_schema=False)
    def randomize_submit(request: Request, user: UserDep, subject_id: str) -> Response:
        from ssctrial.randomize import randomize_subject

        store = _store(request)
        svc.get_subject_row(store, subject_id, user)
        if _form(request).get("confirm") != "yes":
            view = svc.subject_view(store, subject_id, user)
            error = "tick the box to confirm the subject is eligible and consented"
            return html_response(
                request, "randomize.html", {"s": view, "result": None, "error": error}, status=400
            )
        record = randomize_subject(store, subject_id, user=user.name)
        view = svc.subject_view(store, subject_id, user)
        return html_response(request, "randomize.html", {"s": view, "result": record, "error": None})

    # ------------------------------------------------------------------ visit forms
    @app.get("/subjects/{subject_id}/visits/{visit}/{instrument}", include_in_schema=False)
    def form_page(request: Request, user: UserDep, subject_id: str, visit: str, instrument: str) -> Response:
        view = svc.form_view(_store(request), subject_id, who=user, visit=visit, instrument=instrument)
        return html_response(
            request,
            "form.html",
            {"f": view, "subject_id": subject_id, "errors": {}, "general": [], "saved": False},
        )

    @app.post("/subjects/{subject_id}/visits/{visit}/{instrument}", include_in_schema=False)
    def form_submit(
        request: Request, user: UserDep, subject_id: str, visit: str, instrument: str
    ) -> Response:
        store = _store(request)
        svc.get_subject_row(store, subject_id, user)
        svc.check_scheduled(store, visit, instrument)
        form = _form(request)
        values = {k[5:]: v for k, v in form.items() if k.startswith("item_")}
        errors: dict[str, str] = {}
        general: list[str] = []
        try:
            rows = svc.form_rows(
                subject_id,
                visit=visit,
                instrument=instrument,
                values=values,
                visit_date=form.get("visit_date"),
            )
            if rows.empty:
                msg = "the form is empty: enter at least one value"
                raise InputError(msg)
            result = store.record_observations(rows, user=user.name, reason=form.get("reason") or None)
        except ObservationError as exc:
            for e in exc.errors.itertuples(index=False):
                if isinstance(e.item, str) and e.item in values:
                    errors[e.item] = str(e.error)
                else:
                    general.append(str(e.error))
            if not errors and not general:
                general.append(str(exc))
        except SsctrialError as exc:
            general.append(str(exc))
        if errors or general:
            view = svc.form_view(store, subject_id, who=user, visit=visit, instrument=instrument)
            for item in view["items"]:
                if item["code"] in values:
                    item["value"] = values[item["code"]]
            view["visit_date"] = form.get("visit_date") or view["visit_date"]
            return html_response(
                request,
                "form.html",
                {"f": view, "subject_id": subject_id, "errors": errors, "general": general, "saved": False},
                status=400,
            )
        view = svc.form_view(store, subject_id, who=user, visit=visit, instrument=instrument)
        flash(
            request,
            "ok",
            f"{instrument} at {visit} saved: {result.n_inserted} new, {result.n_updated} corrected, "
            f"{result.n_unchanged} unchanged",
        )
        return html_response(
            request,
            "form.html",
            {"f": view, "subject_id": subject_id, "errors": {}, "general": [], "saved": True},
        )

    # ------------------------------------------------------------------ adverse events
    @app.get("/subjects/{subject_id}/ae/new", include_in_schema=False)
    def ae_page(request: Request, user: UserDep, subject_id: str) -> Response:
        svc.get_subject_row(_store(request), subject_id, user)
        return html_response(request, "ae.html", _ae_context(subject_id, {}, None))

    @app.post("/subjects/{subject_id}/ae/new", include_in_schema=False)
    def ae_submit(request: Request, user: UserDep, subject_id: str) -> Response:
        store = _store(request)
        svc.get_subject_row(store, subject_id, user)
        form = _form(request)
        try:
            ae_id = store.record_adverse_event(
                subject_id,
                user=user.name,
                term=form.get("term", ""),
                body_system=form.get("body_system", ""),
                start_date=form.get("start_date", ""),
                stop_date=form.get("stop_date") or None,
                grade=_int_or_text(form.get("grade")),
                serious=form.get("serious", ""),
                relatedness=form.get("relatedness", ""),
                outcome=form.get("outcome") or "unknown",
            )
        except SsctrialError as exc:
            return html_response(
                request, "ae.html", _ae_context(subject_id, form, str(exc)), status=status_of(exc)
            )
        flash(request, "ok", f"adverse event #{ae_id} recorded")
        return _see_other(f"/subjects/{quote(subject_id)}")

    # ------------------------------------------------------------------ audit trail
    @app.get("/audit", include_in_schema=False)
    def audit_page(
        request: Request,
        user: UserDep,
        table: str | None = None,
        record: str | None = None,
    ) -> Response:
        rows = svc.audit_trail(_store(request), user, table=table, record=record)
        return html_response(request, "audit.html", {"rows": rows, "table": table, "record": record})

    # ------------------------------------------------------------------ queries
    @app.get("/queries", include_in_schema=False)
    def queries_page(
        request: Request,
        user: UserDep,
        status: str | None = None,
        subject: str | None = None,
    ) -> Response:
        rows = svc.visible_queries(_store(request), user, status=status, subject=subject)
        return html_response(request, "queries.html", {"queries": rows, "status": status, "subject": subject})

    @app.post("/queries", include_in_schema=False)
    def query_open(request: Request, user: UserDep) -> Response:
        store = _store(request)
        form = _form(request)
        sid = form.get("subject_id", "")
        svc.get_subject_row(store, sid, user)
        qid = store.open_query(
            sid,
            user=user.name,
            text=form.get("text", ""),
            visit=form.get("visit") or None,
            instrument=form.get("instrument") or None,
            item=form.get("item") or None,
        )
        flash(request, "ok", f"query #{qid} opened")
        return _see_other(_safe_next(form.get("back")) if form.get("back") else "/queries")

    @app.post("/queries/{query_id}/answer", include_in_schema=False)
    def query_answer(request: Request, user: UserDep, query_id: int) -> Response:
        store = _store(request)
        svc.query_for(store, query_id, user)
        store.answer_query(query_id, user=user.name, answer=_form(request).get("answer", ""))
        flash(request, "ok", f"query #{query_id} answered")
        return _see_other(_safe_next(_form(request).get("back") or "/queries"))

    @app.post("/queries/{query_id}/close", include_in_schema=False)
    def query_close(request: Request, user: UserDep, query_id: int) -> Response:
        store = _store(request)
        svc.query_for(store, query_id, user)
        store.close_query(query_id, user=user.name, note=_form(request).get("note") or None)
        flash(request, "ok", f"query #{query_id} closed")
        return _see_other(_safe_next(_form(request).get("back") or "/queries"))

    # ------------------------------------------------------------------ lock
    @app.get("/lock", include_in_schema=False)
    def lock_page(request: Request, user: UserDep) -> Response:
        return html_response(request, "lock.html", {"state": _store(request).lock_state()})

    @app.post("/lock", include_in_schema=False)
    def lock_submit(request: Request, user: UserDep) -> Response:
        _store(request).lock(user=user.name, reason=_form(request).get("reason", ""))
        flash(request, "ok", "database locked")
        return _see_other("/lock")

    @app.post("/unlock", include_in_schema=False)
    def unlock_submit(request: Request, user: UserDep) -> Response:
        _store(request).unlock(user=user.name, reason=_form(request).get("reason", ""))
        flash(request, "ok", "database unlocked (audited)")
        return _see_other("/lock")

    # ------------------------------------------------------------------ report
    @app.get("/report", include_in_schema=False)
    def report_page(request: Request, user: UserDep) -> Response:
        settings = request.app.state.settings
        report = latest_report(settings)
        job = request.app.state.report_job
        return html_response(
            request,
            "report.html",
            {
                "report": report.parent.name if report else None,
                "reports_dir": settings.reports_dir,
                "job": {"running": job["running"], "message": job["message"]},
            },
        )

    @app.post("/report/run", include_in_schema=False)
    def report_run(request: Request, user: UserDep) -> Response:
        flash(request, "ok", run_report_job(request.app, user=user.name))
        return _see_other("/report")

    @app.get("/report/files/{path:path}", include_in_schema=False)
    def report_files(request: Request, user: UserDep, path: str) -> Response:
        return report_file(request.app.state.settings, path)

    # ------------------------------------------------------------------ users and account
    @app.get("/users", include_in_schema=False)
    def users_page(request: Request, user: UserDep) -> Response:
        users = _store(request).users()
        return html_response(
            request, "users.html", {"users": users.to_dict("records"), "sites": _store(request).design.sites}
        )

    @app.post("/users", include_in_schema=False)
    def users_add(request: Request, user: UserDep) -> Response:
        form = _form(request)
        store = _store(request)
        try:
            store.add_user(
                form.get("name", "").strip(),
                form.get("role", ""),
                user=user.name,
                site=form.get("site") or None,
                password=form.get("password") or None,
            )
        except SsctrialError as exc:
            flash(request, "error", str(exc))
            return _see_other("/users")
        flash(request, "ok", f"user {form.get('name')} added")
        return _see_other("/users")

    @app.post("/users/{name}/active", include_in_schema=False)
    def users_active(request: Request, user: UserDep, name: str) -> Response:
        active = _form(request).get("active") == "yes"
        store = _store(request)
        store.set_user_active(name, active=active, user=user.name)
        if not active:
            request.app.state.sessions.end_user_sessions(name)
        flash(request, "ok", f"user {name} {'activated' if active else 'deactivated'}")
        return _see_other("/users")

    @app.get("/account", include_in_schema=False)
    def account_page(request: Request, user: UserDep) -> Response:
        return html_response(request, "account.html", {})

    @app.post("/account/password", include_in_schema=False)
    def account_password(request: Request, user: UserDep) -> Response:
        form = _form(request)
        store = _store(request)
        if store.authenticate(user.name, form.get("current", "")) is None:
            flash(request, "error", "the current password is wrong")
            return _see_other("/account")
        if form.get("new") != form.get("confirm"):
            flash(request, "error", "the new passwords differ")
            return _see_other("/account")
        try:
            store.set_password(user.name, form.get("new", ""), user=user.name)
        except SsctrialError as exc:
            flash(request, "error", str(exc))
            return _see_other("/account")
        request.app.state.sessions.end_user_sessions(user.name)
        return _see_other("/login")


def _float_or_text(value: str | None) -> Any:
    if value is None or not str(value).strip():
        return None
    try:
        return float(value)
    except ValueError:
        return value


def _int_or_text(value: str | None) -> Any:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return value


def _ae_context(subject_id: str, values: dict[str, Any], error: str | None) -> dict[str, Any]:
    from ssctrial.store import AE_OUTCOMES, AE_RELATEDNESS

    return {
        "subject_id": subject_id,
        "v": values,
        "error": error,
        "relatedness": AE_RELATEDNESS,
        "outcomes": AE_OUTCOMES,
    }
