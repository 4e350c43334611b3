"""``ssctrial simulate`` end to end on a small trial."""

from __future__ import annotations

from ssctrial.cli.main import main
from ssctrial.store import open_store


def test_simulate_cli_writes_a_store(tmp_path, capsys):
    db = tmp_path / "basics.db"
    code = main(
        ["simulate", "--study", "basics", "--n", "6", "--seed", "2021", "--db", f"sqlite:///{db}", "--quiet"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Simulated BASICS: n=6, seed=2021" in captured.out
    assert "randomised" in captured.out
    assert (tmp_path / "basics_rnaseq.h5ad").is_file()
    store = open_store(f"sqlite:///{db}")
    subjects = store.read_table("subject")
    assert (subjects["status"] != "screen_failed").sum() == 6
    assert len(store.read_table("sample")) >= 6


def test_simulate_cli_without_rnaseq_shows_progress(tmp_path, capsys):
    db = tmp_path / "trial.db"
    code = main(["simulate", "--n", "3", "--seed", "1", "--db", f"sqlite:///{db}", "--no-rnaseq"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Recording observations" in captured.out  # the rich progress bar's stage
    assert not (tmp_path / "trial_rnaseq.h5ad").exists()


def test_simulate_cli_refuses_an_existing_database(tmp_path, capsys):
    db = tmp_path / "old.db"
    db.write_text("")
    code = main(["simulate", "--n", "3", "--db", f"sqlite:///{db}"])
    captured = capsys.readouterr()
    assert code == 1
    assert "already exists; simulate into a new database" in captured.err


def test_simulate_cli_refuses_a_bad_n(tmp_path, capsys):
    code = main(["simulate", "--n", "0", "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    captured = capsys.readouterr()
    assert code == 1
    assert "n=0 is not allowed; expected the number of randomised patients" in captured.err
