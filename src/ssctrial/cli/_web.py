"""``ssctrial serve``: the web interface for data capture, randomisation and monitoring."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ssctrial.cli._store import _DEFAULT_DB, DbOption

logger = logging.getLogger(__name__)
console = Console()


def serve(
    db: DbOption = _DEFAULT_DB,
    host: Annotated[
        str, typer.Option(help="Address to listen on (127.0.0.1: this computer only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    reports: Annotated[
        Path | None,
        typer.Option("--reports", help="Folder of analysis runs; the newest report.html is shown."),
    ] = None,
    secure_cookies: Annotated[
        bool,
        typer.Option(
            "--secure-cookies/--auto-cookies",
            help="Always mark cookies Secure (behind a TLS proxy); default: only over HTTPS.",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="Server processes (sessions live in the database, so any process serves any user)."
        ),
    ] = 1,
    proxy_headers: Annotated[
        bool, typer.Option(help="Trust X-Forwarded-For/Proto from a reverse proxy on this machine.")
    ] = False,
) -> None:
    """Serve the web interface (log in with a user that has a password: `ssctrial users passwd NAME`)."""
    import uvicorn

    from ssctrial.store import open_store
    from ssctrial.web import WebSettings, create_app

    store = open_store(db)
    users = store.users()
    if not bool(users.get("has_password", [False]).any()):
        console.print(
            "[yellow]No user has a password yet: set one with `ssctrial users passwd NAME --db ...` "
            "before logging in.[/]"
        )
    common = {
        "host": host,
        "port": port,
        "proxy_headers": proxy_headers,
        "log_level": "warning",
        "access_log": False,
    }
    console.print(
        f"ssctrial web for [bold]{store.design.study_id}[/] on http://{host}:{port}"
        + (f" ({workers} processes)" if workers > 1 else "")
        + "  (Ctrl+C stops)"
    )
    if workers > 1:
        # each worker process builds its own app from the environment (uvicorn's factory)
        store.close()
        os.environ["SSCTRIAL_WEB_DB"] = db
        if reports is not None:
            os.environ["SSCTRIAL_WEB_REPORTS"] = str(reports)
        if secure_cookies:
            os.environ["SSCTRIAL_WEB_SECURE_COOKIES"] = "1"
        uvicorn.run("ssctrial.web._app:app_from_env", factory=True, workers=workers, **common)
        return
    settings = WebSettings(secure_cookies=True if secure_cookies else None, reports_dir=reports)
    uvicorn.run(create_app(store, settings=settings), **common)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the CLI."""
    app.command("serve")(serve)
