from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ssctrial.store import Base, open_store
from ssctrial.store._engine import create_store_engine
from ssctrial.store._migrate import current_revision, head_revision, upgrade_to_head


def test_models_equal_migrations(db_url):
    """Autogenerate against a migrated database finds nothing to change: models == migrations."""
    engine = create_store_engine(db_url)
    upgrade_to_head(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        diff = compare_metadata(ctx, Base.metadata)
        assert current_revision(conn) == head_revision()
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"


def test_upgrade_is_idempotent_and_creates_every_table(db_url):
    engine = create_store_engine(db_url)
    upgrade_to_head(engine)
    upgrade_to_head(engine)
    names = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    expected = {
        "study",
        "site",
        "app_user",
        "subject",
        "allocation",
        "randomization_list",
        "randomization_secret",
        "visit",
        "observation",
        "adverse_event",
        "sample",
        "audit_log",
        "audit_head",
        "alembic_version",
    }
    assert expected <= names


def test_open_store_reports_missing_store(tmp_path):
    import pytest

    from ssctrial.exceptions import NotFoundError

    with pytest.raises(NotFoundError, match="no ssctrial store at .*ssctrial init"):
        open_store(f"sqlite:///{tmp_path / 'empty.db'}")
