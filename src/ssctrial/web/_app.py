"""The FastAPI application: server-rendered pages and a JSON API on the same store functions.

``create_app(url)`` opens the store and returns the app; ``ssctrial serve`` runs it with uvicorn.
Every route is guarded by :data:`~ssctrial.web._access.ACCESS` (roles), CSRF tokens on every
unsafe request, and site scoping for users bound to a site.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from ssctrial.exceptions import InputError, NotFoundError, PermissionDeniedError, SsctrialError, StateError
from ssctrial.store import Store, open_store
from ssctrial.web._access import ACCESS
from ssctrial.web._security import LoginRateLimiter, SessionStore, WebSession
from ssctrial.web._service import CurrentUser

__all__ = ["WebSettings", "create_app"]

logger = logging.getLogger(__name__)

COOKIE = "ssctrial_session"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# the analysis report is a self-contained document with inline styles and no scripts
_REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)


@dataclass
class WebSettings:
    """Settings of the web app.

    Attributes
    ----------
    secure_cookies
        ``True``: cookies always carry ``Secure``; ``None`` (default): only when the request came
        over HTTPS (``X-Forwarded-Proto`` is honoured when uvicorn runs with ``--proxy-headers``).
    reports_dir
        Folder with analysis runs (``report.html`` in it or its sub-folders); the newest is shown.
    max_login_failures, login_window_s
        Login rate limit: this many failures per user name (and per client address) within the
        window block further attempts until the window passes.
    idle_timeout_s
        Idle time after which a session ends.
    max_concurrent_writes
        Unsafe requests (POST) handled at once by this process; the others wait their turn in
        the event loop. Every write serialises on the audit chain's head row, so more threads
        only compete for the interpreter lock while one of them holds the database lock.
    """

    secure_cookies: bool | None = None
    reports_dir: Path | None = None
    max_login_failures: int = 5
    login_window_s: float = 15 * 60
    idle_timeout_s: float = 30 * 60
    max_concurrent_writes: int = 1


class _Redirect(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, url: str) -> None:
        self.url = url


class _Denied(Exception):  # noqa: N818
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message


def _templates() -> Jinja2Templates:
    folder = resources.files("ssctrial.web") / "templates"
    templates = Jinja2Templates(directory=str(folder))
    templates.env.autoescape = True
    templates.env.globals["quote"] = lambda s: quote(str(s), safe="")
    templates.env.filters["dt"] = _format_time
    return templates


def _format_time(value: Any) -> str:
    """Show a timestamp to the minute (UTC), whatever type the database driver returned."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)[:16].replace("T", " ")


def create_app(store: Store | str, *, settings: WebSettings | None = None) -> FastAPI:
    """Create the web application for a store.

    Parameters
    ----------
    store
        An open :class:`~ssctrial.store.Store` or its database URL.
    settings
        :class:`WebSettings` (cookies, report folder, rate limits).

    Returns
    -------
    fastapi.FastAPI
        The app; run it with ``uvicorn`` (``ssctrial serve`` does).
    """
    settings = settings or WebSettings()
    if isinstance(store, str):
        store = open_store(store)
    app = FastAPI(
        title=f"ssctrial — {store.design.study_id}",
        version=_version(),
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        description=(
            "Data capture, randomisation and monitoring for a trial store. Log in with "
            "POST /api/v1/login; send the returned csrf_token in the X-CSRF-Token header of every "
            "POST."
        ),
    )
    app.state.store = store
    app.state.settings = settings
    app.state.sessions = SessionStore(store, idle_timeout=settings.idle_timeout_s)
    app.state.limiter = LoginRateLimiter(
        store, max_failures=settings.max_login_failures, window=settings.login_window_s
    )
    app.state.templates = _templates()
    app.state.report_job = {"running": False, "message": None, "lock": threading.Lock()}

    static = resources.files("ssctrial.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    writes = asyncio.Semaphore(max(1, settings.max_concurrent_writes))

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        if request.method in _UNSAFE:
            async with writes:
                response = await call_next(request)
        else:
            response = await call_next(request)
        if "content-security-policy" not in response.headers:
            response.headers["Content-Security-Policy"] = _CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers.setdefault("X-Frame-Options", "DENY")
        if not request.url.path.startswith("/static"):
            response.headers["Cache-Control"] = "no-store"
        return response

    _install_error_handlers(app)
    from ssctrial.web._api import register_api
    from ssctrial.web._pages import register_pages

    register_pages(app)
    register_api(app)
    return app


def app_from_env() -> FastAPI:
    """Build the app from ``SSCTRIAL_WEB_*`` variables (uvicorn's factory for ``--workers N``).

    ``SSCTRIAL_WEB_DB`` (store URL), ``SSCTRIAL_WEB_REPORTS`` (reports folder, optional),
    ``SSCTRIAL_WEB_SECURE_COOKIES`` (``1``: always Secure). Each worker process opens the store;
    sessions and the log-in rate limit live in the database, so they are shared.
    """
    import os

    reports = os.environ.get("SSCTRIAL_WEB_REPORTS")
    settings = WebSettings(
        secure_cookies=True if os.environ.get("SSCTRIAL_WEB_SECURE_COOKIES") == "1" else None,
        reports_dir=Path(reports) if reports else None,
    )
    return create_app(os.environ["SSCTRIAL_WEB_DB"], settings=settings)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ssctrial")
    except PackageNotFoundError:  # pragma: no cover - source checkout without install
        return "0"


# ---------------------------------------------------------------------------------------- guard
def is_api(request: Request) -> bool:
    """Whether the request is for the JSON API."""
    return request.url.path.startswith("/api/")


def session_of(request: Request) -> tuple[str | None, WebSession | None]:
    """Return the request's session token and session (``None`` when absent or expired)."""
    token = request.cookies.get(COOKIE)
    return token, request.app.state.sessions.get(token)


async def guard(request: Request) -> CurrentUser | None:
    """FastAPI dependency on every route: authentication, role, CSRF.

    Reads the form of unsafe HTML requests once (kept in ``request.state.form``).
    """
    route = request.scope.get("route")
    key = (request.method, getattr(route, "path", request.url.path))
    if key not in ACCESS:  # a route added without an access rule is refused, never open
        raise _Denied(403, "this route has no access rule")
    roles = ACCESS[key]
    _token, sess = session_of(request)
    request.state.session = sess
    request.state.form = {}
    if request.method in _UNSAFE:
        supplied = request.headers.get("x-csrf-token")
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            request.state.form = {k: v for k, v in form.multi_items() if isinstance(v, str)}
            supplied = supplied or request.state.form.get("csrf_token")
        # the JSON log-in has no session yet: SameSite cookies and its JSON-only body stop cross-site posts
        if key != ("POST", "/api/v1/login") and (sess is None or not sess.check_csrf(supplied)):
            if key == ("POST", "/login"):
                raise _Denied(403, "the login form expired or was not sent by this site; reload the page")
            raise _Denied(403, "CSRF check failed: the form was not sent by this site or has expired; reload")
    if roles is None:
        return None
    if sess is None or sess.user is None:
        if is_api(request):
            raise _Denied(401, "not logged in")
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        url = f"/login?next={quote(target, safe='')}"
        raise _Redirect(url)
    if sess.role not in roles:
        raise _Denied(
            403,
            f"user {sess.user!r} has role {sess.role!r}, which may not use this page; "
            f"roles allowed: {', '.join(sorted(roles))}",
        )
    user = CurrentUser(name=sess.user, role=str(sess.role), site=sess.site)
    request.state.user = user
    return user


#: The logged-in user of a guarded route.
UserDep = Annotated[CurrentUser, Depends(guard)]
#: A public route (still CSRF-checked when unsafe).
PublicDep = Annotated[CurrentUser | None, Depends(guard)]


def login_user(request: Request, name: str, password: str) -> tuple[dict[str, Any] | None, str | None]:
    """Check the rate limit and the password; audit the attempt. Return (user, error message)."""
    store: Store = request.app.state.store
    limiter = request.app.state.limiter
    name = (name or "").strip()[:64]
    addr = client_address(request)
    wait = limiter.retry_after(f"user:{name}", f"addr:{addr}")
    if wait:
        store.log_event(user=name or "(blank)", action="login_blocked", record=addr, reason="rate limit")
        minutes = max(1, round(wait / 60))
        return None, f"too many failed logins; try again in about {minutes} minute(s)"
    info = store.authenticate(name, password or "") if name else None
    if info is None:
        limiter.failed(f"user:{name}", f"addr:{addr}")
        store.log_event(user=name or "(blank)", action="login_failed", record=addr)
        return None, "user name or password is wrong"
    limiter.succeeded(f"user:{name}")
    store.log_event(user=info["name"], action="login", record=addr)
    return info, None


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """Set the session cookie: HttpOnly, SameSite=Lax, Secure over HTTPS."""
    settings: WebSettings = request.app.state.settings
    secure = settings.secure_cookies if settings.secure_cookies is not None else request.url.scheme == "https"
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", secure=secure, path="/")


def client_address(request: Request) -> str:
    """Return the client's address (for the login rate limit)."""
    return request.client.host if request.client else "unknown"


# ---------------------------------------------------------------------------------------- errors
_STATUS = {InputError: 400, PermissionDeniedError: 403, NotFoundError: 404, StateError: 409}


def status_of(exc: BaseException) -> int:
    """HTTP status of a library error."""
    for cls, code in _STATUS.items():
        if isinstance(exc, cls):
            return code
    return 400


def render_error(request: Request, status: int, message: str) -> Response:
    """Render an error as JSON (API) or as an error page."""
    if is_api(request):
        return JSONResponse({"detail": message}, status_code=status)
    return html_response(request, "error.html", {"status": status, "message": message}, status=status)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(_Redirect)
    async def _redirect(request: Request, exc: _Redirect) -> Response:
        return RedirectResponse(exc.url, status_code=303)

    @app.exception_handler(_Denied)
    async def _denied(request: Request, exc: _Denied) -> Response:
        return render_error(request, exc.status, exc.message)

    @app.exception_handler(SsctrialError)
    async def _library(request: Request, exc: SsctrialError) -> Response:
        return render_error(request, status_of(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path"))
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return render_error(request, 422, "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {404: "page not found", 405: "method not allowed"}
        return render_error(request, exc.status_code, messages.get(exc.status_code, str(exc.detail)))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return render_error(request, 500, "internal error; the server log has the details")


# ---------------------------------------------------------------------------------------- report
def latest_report(settings: WebSettings) -> Path | None:
    """Return the newest ``report.html`` under the reports folder, or ``None``."""
    if settings.reports_dir is None or not settings.reports_dir.is_dir():
        return None
    found = sorted(settings.reports_dir.rglob("report.html"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def report_file(settings: WebSettings, path: str) -> Response:
    """Serve a file of the newest report's folder (figures), refusing paths outside it."""
    report = latest_report(settings)
    if report is None:
        msg = "no analysis report yet"
        raise NotFoundError(msg)
    base = report.parent.resolve()
    target = (base / path).resolve()
    if not target.is_relative_to(base) or not target.is_file():
        msg = f"no file {path!r} in the latest report"
        raise NotFoundError(msg)
    response = FileResponse(target)
    response.headers["Content-Security-Policy"] = _REPORT_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def run_report_job(app: FastAPI, *, user: str) -> str:
    """Start the analysis of the store in a background thread (statistician); return a message."""
    job = app.state.report_job
    settings: WebSettings = app.state.settings
    if settings.reports_dir is None:
        msg = "the server was started without --reports DIR; no place to write a report"
        raise StateError(msg)
    with job["lock"]:
        if job["running"]:
            return "an analysis is already running"
        job["running"] = True
        job["message"] = f"analysis started at {datetime.now():%H:%M:%S} by {user}"
    store: Store = app.state.store

    def work() -> None:
        from ssctrial.report import analyze_store

        out = settings.reports_dir / f"run-{datetime.now():%Y%m%d-%H%M%S}"
        start = time.perf_counter()
        try:
            analyze_store(store, store.design, out, omics=False, pdf=False)
            job["message"] = f"analysis finished in {time.perf_counter() - start:.0f} s ({out.name})"
        except Exception as exc:  # noqa: BLE001 - reported on the page
            logger.exception("analysis failed")
            job["message"] = f"analysis failed: {exc}"
        finally:
            job["running"] = False

    threading.Thread(target=work, name="ssctrial-report", daemon=True).start()
    return str(job["message"])


def html_response(
    request: Request, template: str, context: dict[str, Any], *, status: int = 200
) -> HTMLResponse:
    """Render a page with the common context (user, CSRF token, flash messages, lock state)."""
    sess: WebSession | None = getattr(request.state, "session", None)
    flash = request.app.state.sessions.pop_flash(sess) if sess else []
    try:
        locked = bool(request.app.state.store.lock_state()["locked"])
    except SsctrialError:  # pragma: no cover - database unreachable: still render the page
        locked = False
    base = {
        "user": getattr(request.state, "user", None),
        "csrf": sess.csrf if sess else "",
        "flash": flash,
        "study": request.app.state.store.design,
        "locked": locked,
    }
    return request.app.state.templates.TemplateResponse(request, template, base | context, status_code=status)


def flash(request: Request, kind: str, message: str) -> None:
    """Queue a message for the next page of this session."""
    sess: WebSession | None = getattr(request.state, "session", None)
    if sess is not None:
        request.app.state.sessions.add_flash(sess, kind, message)
