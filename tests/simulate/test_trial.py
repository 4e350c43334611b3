"""simulate_trial: everything enters the store through its validated API, reproducibly."""

from __future__ import annotations

import os
import sqlite3
import uuid
from urllib.parse import quote

import anndata
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from ssctrial.design import load_study
from ssctrial.exceptions import InputError
from ssctrial.simulate import simulate_trial
from ssctrial.store import open_store

# Columns that record when the simulation ran (wall-clock), not what it simulated.
_CLOCK_COLUMNS = {
    "at",
    "created_at",
    "enrolled_at",
    "entered_at",
    "randomized_at",
    "used_at",
    "hash",
    "prev_hash",
}


def _dump(path) -> dict[str, pd.DataFrame]:
    """Every table of a SQLite database, without wall-clock columns, in a canonical row order."""
    with sqlite3.connect(path) as con:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        out = {}
        for name in names:
            df = pd.read_sql_query(f'SELECT * FROM "{name}"', con)  # noqa: S608 - table names from the catalogue
            df = df.drop(columns=[c for c in df.columns if c in _CLOCK_COLUMNS])
            if name == "audit_log":
                # the JSON of an audited row may carry its own entry time; keep the rest of it
                for col in ("old", "new"):
                    df[col] = df[col].str.replace(
                        r'"(entered|enrolled|randomized|created|used)_at": "[^"]*"', "", regex=True
                    )
            out[name] = df.sort_values(list(df.columns)).reset_index(drop=True) if len(df) else df
        return out


@pytest.fixture(scope="module")
def design():
    return load_study("basics")


@pytest.fixture(scope="module")
def written(design, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sim")
    stages = []
    result = simulate_trial(
        design,
        n=12,
        seed=2021,
        store=f"sqlite:///{folder / 'trial.db'}",
        progress=lambda stage, done, total: stages.append((stage, done, total)),
    )
    return result, folder, stages


def test_everything_is_in_the_store(written):
    result, folder, stages = written
    trial, store = result.trial, result.store
    subjects = store.read_table("subject").set_index("subject_id")
    assert len(subjects) == len(trial.subjects)
    expected_status = trial.subjects.set_index("subject")["status"]
    pd.testing.assert_series_equal(
        subjects["status"].sort_index(), expected_status.sort_index(), check_names=False
    )
    obs = store.observations()
    assert len(obs) == len(trial.observations)
    ae = store.read_table("adverse_event")
    assert len(ae) == len(trial.adverse_events)
    samples = store.read_table("sample")
    attended_w12 = ((trial.visits["visit"] == "W12") & (trial.visits["status"] == "completed")).sum()
    assert len(samples) == 12 + attended_w12
    assert (samples["assay"] == "rnaseq").all()
    assert result.counts_path == folder / "trial_rnaseq.h5ad" and result.counts_path.is_file()
    assert set(samples["counts_path"]) == {str(result.counts_path)}
    adata = anndata.read_h5ad(result.counts_path)
    assert sorted(adata.obs_names) == sorted(samples["biospecimen_id"])
    assert result.truth_path.is_file()
    assert {s for s, _, _ in stages} >= {"enrol", "observations", "adverse_events", "rnaseq", "samples"}
    assert stages[-1][1] == stages[-1][2]


def test_allocation_comes_from_the_concealed_list(written):
    result, _, _ = written
    store = result.store
    with store.session() as s:
        alloc = pd.read_sql_query("SELECT subject_id, arm, list_id FROM allocation", s.connection())
    assert alloc["list_id"].notna().all()  # permuted blocks: every allocation used a list slot
    arms = result.trial.subjects.dropna(subset=["arm"]).set_index("subject")["arm"]
    pd.testing.assert_series_equal(
        alloc.set_index("subject_id")["arm"].sort_index(), arms.sort_index(), check_names=False
    )


def test_same_seed_gives_identical_databases(design, tmp_path):
    paths = []
    for k in range(2):
        db = tmp_path / f"run{k}.db"
        simulate_trial(design, n=9, seed=77, store=f"sqlite:///{db}", rnaseq=False)
        paths.append(db)
    a, b = _dump(paths[0]), _dump(paths[1])
    assert a.keys() == b.keys()
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)
    assert len(a["observation"]) > 1000
    c = tmp_path / "other.db"
    simulate_trial(design, n=9, seed=78, store=f"sqlite:///{c}", rnaseq=False)
    assert not _dump(c)["observation"].equals(a["observation"])


def test_reopened_store_round_trips_every_value(written):
    result, folder, _ = written
    stored = open_store(f"sqlite:///{folder / 'trial.db'}").observations()
    keys = ["subject", "visit", "instrument", "item"]
    sim = result.trial.observations.astype({k: str for k in keys}).set_index(keys)["value"]
    assert len(stored) == len(sim)
    text = sim.map(lambda v: isinstance(v, str))
    # booleans are stored as 0/1 and integers exactly; numbers keep their 1-2 decimals
    numbers = sim[~text]
    got = stored.set_index(keys)["value_num"].reindex(numbers.index)
    np.testing.assert_allclose(got.to_numpy(dtype=float), numbers.to_numpy(dtype=float), rtol=0, atol=1e-9)
    # categorical answers (DEMOG subtype, autoantibody, ethnicity) are stored as their text
    words = sim[text]
    assert len(words) > 0
    assert (stored.set_index(keys)["value"].reindex(words.index) == words).all()


def test_store_keeps_the_study_file_text(tmp_path):
    import hashlib
    from importlib import resources

    text = (resources.files("ssctrial.design.studies") / "basics.yaml").read_text("utf-8")
    result = simulate_trial("basics", n=4, seed=3, store=f"sqlite:///{tmp_path / 'b.db'}", rnaseq=False)
    study = result.store.read_table("study")
    assert study["design_hash"].iloc[0] == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_rnaseq_needs_a_place_for_the_counts(design):
    with pytest.raises(InputError, match=r"rnaseq_path is required"):
        simulate_trial(design, n=3, seed=1)
    result = simulate_trial(design, n=3, seed=1, rnaseq=False)
    assert len(result.store.read_table("sample")) == 0
    assert np.isfinite(result.timings["total"])


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL schema (skipped only outside CI when SSCTRIAL_TEST_PG_URL is unset)."""
    url = os.environ.get("SSCTRIAL_TEST_PG_URL", "")
    if not url:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI is set but SSCTRIAL_TEST_PG_URL is not: PostgreSQL tests must run in CI")
        pytest.skip("PostgreSQL: SSCTRIAL_TEST_PG_URL is not set (allowed only outside CI)")
    schema = f"sim_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.mark.postgres
def test_postgres_store_holds_the_same_trial_as_sqlite(design, pg_url, tmp_path):
    pg = simulate_trial(design, n=6, seed=31, store=pg_url, rnaseq_path=tmp_path / "pg.h5ad")
    lite = simulate_trial(design, n=6, seed=31, store=f"sqlite:///{tmp_path / 'lite.db'}", rnaseq=False)
    keys = ["subject", "visit", "instrument", "item"]
    a = pg.store.observations().sort_values(keys).reset_index(drop=True)
    b = lite.store.observations().sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(a[[*keys, "value_num"]], b[[*keys, "value_num"]])
    assert len(pg.store.read_table("sample")) >= 6
    pg.store.close()
