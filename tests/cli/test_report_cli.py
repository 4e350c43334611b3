"""`ssctrial demo` and `ssctrial analyze` from the command line: outputs, determinism, errors."""

from __future__ import annotations

import json

import pytest

from ssctrial.cli.main import main


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory):
    first = tmp_path_factory.mktemp("demo1")
    second = tmp_path_factory.mktemp("demo2")
    args = ["--n", "12", "--seed", "5", "--no-rnaseq", "--no-pdf"]
    assert main(["demo", "--out", str(first), *args]) == 0
    assert main(["demo", "--out", str(second), *args]) == 0
    return first, second


def test_demo_writes_store_report_and_exports(demo_runs):
    first, _ = demo_runs
    assert (first / "basics.db").exists()
    report = first / "report"
    assert (report / "report.html").exists()
    for name in ("adsl", "adeff", "adae"):
        assert (report / "adam" / f"{name}.xpt").exists()
        assert (report / "adam" / f"{name}.json").exists()
    assert (report / "tables" / "primary-descriptives.csv").exists()


def test_demo_same_seed_same_numbers(demo_runs):
    first, second = demo_runs
    a = json.loads((first / "report" / "results.json").read_text())
    b = json.loads((second / "report" / "results.json").read_text())
    assert a["primary"] == b["primary"]
    assert a["data_hash"] == b["data_hash"]
    assert (first / "report" / "tables" / "primary-descriptives.csv").read_text() == (
        second / "report" / "tables" / "primary-descriptives.csv"
    ).read_text()


def test_demo_prints_primary_table_and_report_path(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--n", "12", "--seed", "5", "--no-rnaseq", "--no-pdf"]) == 0
    out = capsys.readouterr().out
    assert "Primary endpoint" in out
    assert "Baricitinib" in out  # the arm column (rich may wrap the label)
    assert f"Report:   {tmp_path / 'report' / 'report.html'}" in out


def test_analyze_on_an_existing_store(demo_runs, tmp_path, capsys):
    first, _ = demo_runs
    code = main(
        ["analyze", "--db", f"sqlite:///{first / 'basics.db'}", "--out", str(tmp_path / "a"), "--no-pdf"]
    )
    assert code == 0
    assert (tmp_path / "a" / "report.html").exists()
    a = json.loads((first / "report" / "results.json").read_text())
    b = json.loads((tmp_path / "a" / "results.json").read_text())
    assert a["primary"] == b["primary"]


def test_analyze_errors_without_traceback(tmp_path, capsys):
    code = main(["analyze", "--db", f"sqlite:///{tmp_path / 'missing.db'}", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    assert "Error:" in err
