"""Store fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL tests use ``SSCTRIAL_TEST_PG_URL`` and a fresh schema per test (dropped afterwards),
so several test runs can share one database. They skip only when ``CI`` is unset.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from ssctrial.store import Store, init_store

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_URL = os.environ.get("SSCTRIAL_TEST_PG_URL", "")


def _pg_schema_url() -> Iterator[str]:
    if not PG_URL:
        if IN_CI:
            pytest.fail("CI is set but SSCTRIAL_TEST_PG_URL is not: PostgreSQL tests must run in CI")
        pytest.skip("PostgreSQL: SSCTRIAL_TEST_PG_URL is not set (allowed only outside CI)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'trial.db'}"
    else:
        yield from _pg_schema_url()


@pytest.fixture
def store(db_url) -> Iterator[Store]:
    """An initialised BASICS store with users alice (admin), ivan (investigator), mona (monitor), stan
    (statistician) and two enrolled subjects S001 (diffuse/early) and S002 (limited/late)."""
    st = init_store(db_url, "basics", user="alice")
    st.add_user("ivan", "investigator", user="alice")
    st.add_user("mona", "monitor", user="alice")
    st.add_user("stan", "statistician", user="alice")
    st.enroll_subject(
        "S001",
        user="ivan",
        consent_date="2024-01-05",
        sex="F",
        strata={"SUBTYPE": "diffuse", "DURATION": "early"},
        birth_date="1970-03-01",
        height_cm=162,
    )
    st.enroll_subject(
        "S002",
        user="ivan",
        consent_date="2024-02-10",
        sex="M",
        strata={"SUBTYPE": "limited", "DURATION": "late"},
    )
    try:
        yield st
    finally:
        st.close()


def _allocate(store: Store, subject_id: str, arm: str = "BARI4") -> None:
    from ssctrial.store import Allocation, Subject
    from ssctrial.store._audit import now_utc

    with store.session() as s:
        subj = s.get(Subject, subject_id)
        s.add(
            Allocation(
                subject_id=subject_id,
                arm=arm,
                stratum=subj.stratum,
                list_id=None,
                randomized_at=now_utc(),
                randomized_by="ivan",
            )
        )
        subj.status = "randomised"
        store.audit(s, user="ivan", action="insert", table="allocation", record=subject_id, new={"arm": arm})


@pytest.fixture
def allocate():
    """Write an allocation row directly (``ssctrial.randomize`` fills it in real use; tested there)."""
    return _allocate
