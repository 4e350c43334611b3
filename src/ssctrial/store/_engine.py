"""Engines: SQLite (WAL, foreign keys, busy timeout, immediate write transactions) or any URL."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from ssctrial.exceptions import InputError

logger = logging.getLogger(__name__)

#: Default store URL (a SQLite file in the working directory).
DEFAULT_URL = "sqlite:///ssctrial.db"

_BUSY_TIMEOUT_MS = 60_000
#: connection pool of server databases (PostgreSQL): kept open, and extra under load
_POOL_SIZE = 20
_MAX_OVERFLOW = 20


def create_store_engine(url: str, *, immediate: bool = True) -> Engine:
    """Create a SQLAlchemy engine for ``url`` with the store's connection settings.

    SQLite connections use WAL journaling, enforce foreign keys, wait up to 60 s for a lock
    and (with ``immediate``, for writing) open every transaction with ``BEGIN IMMEDIATE`` so
    that concurrent writers queue on the database lock instead of failing when a read
    transaction upgrades to a write. Read-only engines (``immediate=False``) use plain
    deferred transactions, which in WAL mode never wait for writers.
    """
    try:
        parsed = make_url(url)
    except Exception as exc:  # noqa: BLE001 - sqlalchemy raises ArgumentError and others
        msg = f"database URL {url!r} is not a valid SQLAlchemy URL ({exc}); e.g. sqlite:///ssctrial.db"
        raise InputError(msg) from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, memory=parsed.database in (None, "", ":memory:"), immediate=immediate)
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("psycopg2", "psycopg2cffi"):
        logger.info("using %s; the tested driver is psycopg 3 (postgresql+psycopg://)", parsed.drivername)
    try:
        # a web server runs up to 40 requests at once (anyio's thread pool): keep 20 connections
        # open instead of SQLAlchemy's 5, so that busy periods do not open and close a new server
        # connection (process fork + password handshake) for nearly every request
        return create_engine(url, pool_pre_ping=True, pool_size=_POOL_SIZE, max_overflow=_MAX_OVERFLOW)
    except Exception as exc:  # noqa: BLE001 - e.g. missing driver module
        msg = f"cannot use database URL {parsed.render_as_string(hide_password=True)!r}: {exc}"
        raise InputError(msg) from None


def _sqlite_engine(url: str, *, memory: bool, immediate: bool) -> Engine:
    kwargs: dict[str, Any] = {
        "connect_args": {"timeout": _BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    }
    if memory:
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: bulk imports spill less
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def is_sqlite(engine: Engine) -> bool:
    """Whether ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"


def create_read_engine(url: str, engine: Engine) -> Engine:
    """Return an engine for read-only work: deferred transactions on a SQLite file, else ``engine``."""
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        return create_store_engine(url, immediate=False)
    return engine
