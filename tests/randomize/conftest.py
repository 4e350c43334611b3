"""Fixtures of the randomisation tests: stores on SQLite and on PostgreSQL (own database)."""

from __future__ import annotations

import os
import re

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ssctrial.design import load_study

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ENV = "SSCTRIAL_TEST_PG_URL"


def basics_design(*, list_length=None, method=None, stratify_by=None, unstratified=False):
    """The packaged BASICS design, optionally with another list length, method or strata."""
    design = load_study("basics", check_instruments=False)
    changes = {}
    if list_length is not None:
        changes["list_length_per_stratum"] = list_length
    if method is not None:
        changes["method"] = method
    if stratify_by is not None:
        changes["stratify_by"] = tuple(stratify_by)
    if unstratified:
        changes["stratify_by"] = ()
    if not changes:
        return design
    spec = design.randomization.model_copy(update=changes)
    update = {"randomization": spec}
    if unstratified:
        update["strata"] = ()
    # re-validate so that the design is exactly what a study file with these values would give
    return type(design).model_validate(
        design.model_copy(update=update).model_dump(), context={"check_instruments": False}
    )


def _pg_admin_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        if IN_CI:
            pytest.fail(f"{PG_ENV} is not set, but PostgreSQL tests must run in CI")
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (they are skipped only outside CI)")
    return url


@pytest.fixture
def pg_url():
    """URL of a fresh, empty PostgreSQL database of our own (dropped and re-created per test).

    Each xdist worker gets its own database, so these tests never meet the store tests' tables.
    """
    admin = make_url(_pg_admin_url())
    worker = re.sub(r"\W", "", os.environ.get("PYTEST_XDIST_WORKER", "main"))
    name = f"ssctrial_test_rand_{worker}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    yield admin.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'trial.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    """Run a test on both backends."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")
