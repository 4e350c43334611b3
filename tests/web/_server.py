"""Run the web app with uvicorn in a background thread on a free localhost port (for browser tests).

``running_server(store)`` is a context manager yielding the base URL (``http://127.0.0.1:PORT``);
the server stops (and the thread is joined) when the block ends.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from ssctrial.store import Store
from ssctrial.web import WebSettings, create_app

__all__ = ["free_port", "running_server"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _ThreadServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the main thread (pytest's)."""

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29 calls this
        return

    def capture_signals(self):  # type: ignore[override]  # uvicorn >= 0.29
        from contextlib import nullcontext

        return nullcontext()


@contextmanager
def running_server(
    store: Store, *, reports_dir: Path | None = None, startup_timeout: float = 15.0
) -> Iterator[str]:
    """Serve ``create_app(store)`` on a free port of 127.0.0.1 while the block runs.

    Parameters
    ----------
    store
        The open store the app serves.
    reports_dir
        Passed to :class:`~ssctrial.web.WebSettings`.
    startup_timeout
        Seconds to wait for the server to accept connections before failing.

    Yields
    ------
    str
        The base URL, e.g. ``http://127.0.0.1:38211``.
    """
    app = create_app(store, settings=WebSettings(reports_dir=reports_dir))
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off"
    )
    server = _ThreadServer(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            msg = f"the test web server on port {port} stopped while starting (see the log above)"
            raise RuntimeError(msg)
        if time.monotonic() > deadline:
            server.should_exit = True
            msg = f"the test web server on port {port} did not start within {startup_timeout} s"
            raise RuntimeError(msg)
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
