"""Alembic environment of the ssctrial store (run programmatically by ``ssctrial.store``)."""

from __future__ import annotations

from alembic import context

from ssctrial.store._models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run migrations on the connection handed over in ``config.attributes["connection"]``."""
    connection = config.attributes.get("connection")
    if connection is None:
        from ssctrial.store._engine import create_store_engine

        engine = create_store_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as conn:
            context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():  # pragma: no cover - offline SQL generation is not used
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
