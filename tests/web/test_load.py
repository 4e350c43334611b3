"""A short load test against PostgreSQL: concurrent investigators enrol, randomise and enter visits.

The full run (50 users for 60 s, latency targets) is ``benchmarks/bench_web_load.py``; this one
runs 10 users for 8 s through the real server process and checks the database afterwards: no error
responses, every acknowledged write stored, no double allocation, slots used in list order, an
intact audit chain and a reproducible allocation list. Skipped only outside CI without
``SSCTRIAL_TEST_PG_URL`` (like the store's PostgreSQL tests).
"""

from __future__ import annotations

import pytest
from tests.store.conftest import IN_CI, PG_URL
from tests.web._load import (
    LoadConfig,
    build_load_store,
    format_summary,
    pg_schema,
    run_load,
    serving,
    summarise,
    verify_load,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url() -> str:
    if not PG_URL:
        if IN_CI:
            pytest.fail("CI is set but SSCTRIAL_TEST_PG_URL is not: PostgreSQL tests must run in CI")
        pytest.skip("PostgreSQL: SSCTRIAL_TEST_PG_URL is not set (allowed only outside CI)")
    return PG_URL


def test_concurrent_users_lose_no_writes_and_never_double_allocate(pg_url, capsys):
    config = LoadConfig(users=10, duration_s=8.0, max_requests=2_000, think_min_s=0.02, think_max_s=0.1)
    with pg_schema(pg_url) as url:
        store = build_load_store(url, n_users=config.users, slots_per_stratum=config.max_requests // 2)
        try:
            with serving(url) as server:
                result = run_load(server.base, config)
            summary = summarise(result)
            with capsys.disabled():
                print("\n" + format_summary(summary))
            checks = verify_load(store, result)
        finally:
            store.close()
    failed = {name: detail for name, (ok, detail) in checks.items() if not ok}
    assert not failed, f"load test failed: {failed}\nserver log: {server.log.read_text()[-2000:]}"
    # the run did real concurrent work (a run that did nothing would pass the checks above)
    assert summary["randomised"] >= config.users, summary
    assert summary["forms"] >= 2 * config.users, summary
    assert len(checks) == 8


def test_budget_bounds_the_request_count_and_verification_catches_lost_writes(pg_url):
    config = LoadConfig(users=4, duration_s=30.0, max_requests=24, think_min_s=0.0, think_max_s=0.0)
    with pg_schema(pg_url) as url:
        store = build_load_store(url, n_users=config.users, slots_per_stratum=20)
        try:
            with serving(url) as server:
                result = run_load(server.base, config)
            assert len(result.samples) == 24
            assert result.wall_s < 30.0
            checks = verify_load(store, result)
            assert all(ok for ok, _detail in checks.values()), checks
            # the checks can fail: a write the client saw acknowledged but the database lacks,
            # an arm that differs from what the client was shown, a phantom subject
            form = next(iter(result.forms))
            with store.engine.begin() as conn:
                conn.exec_driver_sql(
                    "DELETE FROM observation WHERE id = (SELECT min(id) FROM observation "
                    "WHERE subject_id = %(s)s AND visit_code = %(v)s AND instrument = %(i)s)",
                    {"s": form[0], "v": form[1], "i": form[2]},
                )
            sid, arm = next(iter(result.allocated.items()))
            result.allocated[sid] = "CTRL" if arm != "CTRL" else "BARI4"
            result.enrolled["PHANTOM-1"] = "inv000"
            result.samples.append(("form", 500, 0.01, 0.0))
            broken = verify_load(store, result)
        finally:
            store.close()
    failed = {name for name, (ok, _detail) in broken.items() if not ok}
    assert failed == {
        "no error responses",
        "every acknowledged enrolment stored (and nothing else)",
        "allocations == randomise 200s, with the arm the client was shown",
        "observations per form == items sent; visit dates stored",
    }, broken
