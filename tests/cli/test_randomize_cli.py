"""``ssctrial init`` and ``ssctrial randomize`` (including ``--reproduce``) as a user runs them."""

from __future__ import annotations

from importlib import resources

import pandas as pd
import pytest
from sqlalchemy import select, update

from ssctrial.cli.main import main
from ssctrial.design import load_study
from ssctrial.randomize import permuted_block_list
from ssctrial.store import RandomizationList, open_store


def _run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_line_error(err):
    assert err.startswith("Error: "), err
    assert err.strip().count("\n") == 0, err


@pytest.fixture
def trial(tmp_path, capsys):
    """A BASICS store made by `ssctrial init` with a seed file, plus an investigator and a statistician."""
    seed_file = tmp_path / "seed.txt"
    seed_file.write_text("123456789\n")
    url = f"sqlite:///{tmp_path / 'basics.db'}"
    code, out, err = _run(
        capsys, "init", "--db", url, "--study", "basics", "--user", "alice", "--seed-file", str(seed_file)
    )
    assert code == 0, err
    store = open_store(url)
    store.add_user("ivan", "investigator", user="alice")
    store.add_user("sara", "statistician", user="alice")
    for sid, subtype in (("BASICS-001", "diffuse"), ("BASICS-002", "limited")):
        store.enroll_subject(
            sid,
            user="ivan",
            consent_date="2024-03-01",
            sex="F",
            strata={"SUBTYPE": subtype, "DURATION": "early"},
        )
    yield url, store, out
    store.close()


def test_init_prints_the_study_and_stores_the_seeded_list(trial):
    url, store, out = trial
    assert "BASICS" in out and "Baricitinib 4 mg" in out and "BARI2" in out and "CTRL" in out
    assert "stratified permuted blocks (sizes 3, 6" in out
    assert "SUBTYPE (diffuse/limited), DURATION (early/late)" in out
    assert "from the seed file" in out and "Admin: alice" in out
    with store.engine.connect() as conn:
        arms = conn.execute(select(RandomizationList.arm).order_by(RandomizationList.id)).scalars().all()
    design = load_study("basics")
    expected = permuted_block_list(
        design.arm_codes, n_per_stratum=48, seed=123456789, block_sizes=[3, 6], strata=design.stratum_keys()
    )
    assert arms == expected["arm"].tolist()


def test_randomize_prints_the_arm_once(trial, capsys):
    url, store, _ = trial
    code, out, err = _run(capsys, "randomize", "BASICS-001", "--db", url, "--user", "ivan")
    assert code == 0, err
    arm = store.read_table("allocation").set_index("subject_id").loc["BASICS-001", "arm"]
    assert f"BASICS-001 randomised to {arm} (" in out
    assert "stratum SUBTYPE=diffuse|DURATION=early; by ivan" in out
    code, out, err = _run(capsys, "randomize", "BASICS-001", "--db", url, "--user", "ivan")
    assert code == 1
    _one_line_error(err)
    assert "subject BASICS-001 is already randomised" in err


def test_user_and_db_from_the_environment(trial, capsys, monkeypatch):
    url, _store, _ = trial
    monkeypatch.setenv("SSCTRIAL_DB", url)
    monkeypatch.setenv("SSCTRIAL_USER", "ivan")
    code, out, err = _run(capsys, "randomize", "BASICS-002")
    assert code == 0, err
    assert "BASICS-002 randomised to " in out


def test_reproduce_for_a_statistician_only(trial, capsys):
    url, store, _ = trial
    assert _run(capsys, "randomize", "BASICS-001", "--db", url, "--user", "ivan")[0] == 0
    code, out, err = _run(capsys, "randomize", "--reproduce", "--db", url, "--user", "sara", "--show", "4")
    assert code == 0, err
    assert "allocation sequence reproduced from the seed" in out and "identical" in out
    assert "first 4 rows" in out and "BASICS-001" in out
    for who in ("ivan", "alice"):
        code, out, err = _run(capsys, "randomize", "--reproduce", "--db", url, "--user", who)
        assert code == 1
        _one_line_error(err)
        assert "may not read secret; roles allowed: statistician" in err
    # edit the list behind the application's back: the check fails, naming the slot
    with store.engine.begin() as conn:
        first = conn.execute(
            select(RandomizationList.id, RandomizationList.arm).order_by(RandomizationList.id)
        ).first()
        conn.execute(
            update(RandomizationList)
            .where(RandomizationList.id == first.id)
            .values(arm="CTRL" if first.arm != "CTRL" else "BARI4")
        )
    code, out, err = _run(capsys, "randomize", "--reproduce", "--db", url, "--user", "sara")
    assert code == 1
    _one_line_error(err)
    assert "allocation sequence DIFFERS from the seed: 1 problem(s)" in err
    assert "#1: stored" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["randomize", "--user", "ivan"], "SUBJECT is missing"),
        (
            ["randomize", "BASICS-001", "--reproduce", "--user", "sara"],
            "give either a SUBJECT to randomise or",
        ),
        (["randomize", "--reproduce", "--user", "sara", "--show", "-1"], "--show: -1 is not allowed"),
        (["randomize", "NOPE", "--user", "ivan"], "unknown subject 'NOPE'"),
        (["randomize", "BASICS-001", "--user", "nobody"], "unknown user 'nobody'"),
    ],
    ids=["no-subject", "both", "show", "unknown-subject", "unknown-user"],
)
def test_randomize_errors_are_one_line(trial, capsys, args, message):
    url, _store, _ = trial
    code, _out, err = _run(capsys, *args, "--db", url)
    assert code == 1
    _one_line_error(err)
    assert message in err


def test_init_refusals(tmp_path, capsys, trial):
    url, _store, _ = trial
    code, _out, err = _run(capsys, "init", "--db", url, "--study", "basics", "--user", "alice")
    assert code == 1
    _one_line_error(err)
    assert "already holds study 'BASICS'" in err
    fresh = tmp_path / "fresh.db"
    bad_seed = tmp_path / "bad.txt"
    bad_seed.write_text("not a number")
    code, _out, err = _run(
        capsys, "init", "--db", f"sqlite:///{fresh}", "--user", "alice", "--seed-file", str(bad_seed)
    )
    assert code == 1
    _one_line_error(err)
    assert "must hold one non-negative decimal integer" in err
    assert not fresh.exists()  # refused before anything was written
    code, _out, err = _run(
        capsys,
        "init",
        "--db",
        f"sqlite:///{fresh}",
        "--user",
        "alice",
        "--seed-file",
        str(tmp_path / "missing.txt"),
    )
    assert code == 1
    assert "cannot be read" in err
    code, _out, err = _run(capsys, "init", "--db", f"sqlite:///{fresh}", "--user", " ")
    assert code == 1
    assert "--user: every write must name its user" in err
    code, _out, err = _run(capsys, "init", "--db", f"sqlite:///{fresh}", "--user", "alice", "--study", "nope")
    assert code == 1
    _one_line_error(err)
    assert "unknown study 'nope'" in err
    assert not fresh.exists()


def test_init_with_minimisation_study_file(tmp_path, capsys):
    text = (resources.files("ssctrial.design.studies") / "basics.yaml").read_text(encoding="utf-8")
    text = text.replace("  method: permuted_blocks\n", "  method: minimisation\n  minimisation_p: 0.85\n")
    study = tmp_path / "mini.yaml"
    study.write_text(text)
    url = f"sqlite:///{tmp_path / 'mini.db'}"
    code, out, err = _run(capsys, "init", "--db", url, "--study", str(study), "--user", "alice")
    assert code == 0, err
    assert "minimisation (Pocock-Simon, p = 0.85)" in out
    store = open_store(url)
    assert store.design.randomization.method == "minimisation"
    assert pd.DataFrame(store.read_table("allocation")).empty
    store.close()
