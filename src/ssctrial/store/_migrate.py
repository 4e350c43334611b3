"""Run the shipped Alembic migrations programmatically."""

from __future__ import annotations

import logging

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

logger = logging.getLogger(__name__)


def alembic_config() -> Config:
    """Return an Alembic config pointing at the migrations shipped in the package."""
    cfg = Config()
    cfg.set_main_option("script_location", "ssctrial.store:migrations")
    return cfg


def head_revision() -> str:
    """Return the newest migration revision shipped with this version of ssctrial."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return str(head)


def current_revision(connection: Connection) -> str | None:
    """Return the revision the database is at (``None`` for an empty database)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(engine: Engine) -> None:
    """Bring the database schema to the newest revision (a no-op when already there)."""
    cfg = alembic_config()
    with engine.begin() as conn:
        before = current_revision(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    logger.info("store schema: %s -> %s", before, head_revision())
