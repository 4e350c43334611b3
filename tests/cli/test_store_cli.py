"""The data capture commands as a user runs them: one-line errors and exit code 1 on bad input."""

from __future__ import annotations

import pandas as pd
import pytest

from ssctrial.cli.main import main
from ssctrial.store import open_store


def _run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _fails(capsys, *args, match):
    code, out, err = _run(capsys, *args)
    assert code == 1, (out, err)
    assert err.startswith("Error: "), err
    assert err.strip().count("\n") == 0, err  # one line
    import re

    assert re.search(match, err), err
    return err


@pytest.fixture
def db(tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'trial.db'}"
    monkeypatch.setenv("SSCTRIAL_DB", url)
    monkeypatch.delenv("SSCTRIAL_USER", raising=False)
    assert _run(capsys, "init", "--user", "alice")[0] == 0
    assert _run(capsys, "users", "add", "ivan", "--role", "investigator", "--user", "alice")[0] == 0
    assert _run(capsys, "users", "add", "stan", "--role", "statistician", "--user", "alice")[0] == 0
    return url


def _enroll(capsys, sid, subtype="diffuse"):
    return _run(
        capsys,
        "enroll",
        sid,
        "--consent-date",
        "2024-01-05",
        "--sex",
        "F",
        "--stratum",
        f"SUBTYPE={subtype}",
        "--stratum",
        "DURATION=early",
        "--user",
        "ivan",
    )


def test_workflow(db, capsys, tmp_path, monkeypatch):
    code, out, err = _enroll(capsys, "S001")
    assert code == 0 and "S001 enrolled" in out, err
    assert _enroll(capsys, "S002", "limited")[0] == 0
    monkeypatch.setenv("SSCTRIAL_USER", "ivan")  # the env var names the user
    code, out, err = _run(capsys, "randomize", "S001")
    assert code == 0, err
    code, out, err = _run(
        capsys,
        "record",
        "S001",
        "BL",
        "-i",
        "MRSS",
        "--item",
        "face=2",
        "--item",
        "abdomen=1",
        "--visit-date",
        "2024-01-20",
    )
    assert code == 0 and "2 new" in out, err
    csv = tmp_path / "wide.csv"
    csv.write_text(
        "record_id,redcap_event_name,mrss_face,mrss_abdomen,haq_di_eating_1\nS001,W4,1,1,0\nS002,BL,0,0,1\n"
    )
    code, out, err = _run(capsys, "import", str(csv))
    assert code == 0 and "6 new" in out, err
    code, out, err = _run(
        capsys,
        "ae",
        "S001",
        "--term",
        "Nausea",
        "--body-system",
        "Gastrointestinal disorders",
        "--start",
        "2024-02-01",
        "--grade",
        "1",
        "--relatedness",
        "possible",
    )
    assert code == 0 and "adverse event 1 recorded" in out, err
    code, out, err = _run(capsys, "status")
    assert code == 0, err
    assert (
        "Subjects by status and arm" in out
        and "Subjects by stratum and arm" in out
        and "Visits with data" in out
    )
    assert "BL (Baseline)" in out and "BARI4" in out
    code, out, err = _run(capsys, "audit", "verify")
    assert code == 0 and "audit chain intact" in out, err
    code, out, err = _run(capsys, "export", str(tmp_path / "out"), "--format", "csv")
    assert code == 0, err
    obs = pd.read_csv(tmp_path / "out" / "observation.csv")
    assert len(obs) == 8
    assert not (tmp_path / "out" / "randomization_list.csv").exists()
    store = open_store(db)
    assert store.read_table("adverse_event")["term"].tolist() == ["Nausea"]
    store.close()


def test_audit_verify_fails_after_tampering(db, capsys):
    assert _enroll(capsys, "S001")[0] == 0
    store = open_store(db)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_log SET user_name = 'mallory' WHERE id = 3")
    store.close()
    _fails(capsys, "audit", "verify", match="audit chain BROKEN: .*row 3")


def test_errors_are_one_line(db, capsys, tmp_path):
    assert _enroll(capsys, "S001")[0] == 0
    _fails(
        capsys,
        "enroll",
        "S009",
        "--consent-date",
        "2024-01-05",
        "--sex",
        "F",
        "--stratum",
        "SUBTYPE=diffuse",
        "--stratum",
        "DURATION=early",
        match="every write must name its user",
    )
    _fails(
        capsys,
        "enroll",
        "S009",
        "--consent-date",
        "2024-01-05",
        "--sex",
        "F",
        "--stratum",
        "SUBTYPE",
        "--user",
        "ivan",
        match="expected NAME=VALUE",
    )
    _fails(
        capsys,
        "enroll",
        "S009",
        "--consent-date",
        "2024-01-05",
        "--sex",
        "F",
        "--stratum",
        "SUBTYPE=mixed",
        "--stratum",
        "DURATION=early",
        "--user",
        "ivan",
        match="SUBTYPE = 'mixed' is not allowed",
    )
    _fails(
        capsys,
        "record",
        "S001",
        "BL",
        "-i",
        "MRSS",
        "--item",
        "face=4",
        "--user",
        "ivan",
        match="row 0: subject S001, visit BL, MRSS item 'face', value '4'.*expected an integer from 0 to 3",
    )
    _fails(
        capsys,
        "record",
        "S001",
        "W4",
        "-i",
        "MRSS",
        "--item",
        "face=1",
        "--user",
        "ivan",
        match="not randomised",
    )
    _fails(capsys, "users", "add", "eve", "--role", "admin", "--user", "ivan", match="may not manage users")
    _fails(
        capsys,
        "ae",
        "S001",
        "--term",
        "x",
        "--body-system",
        "y",
        "--start",
        "2024-02-01",
        "--grade",
        "7",
        "--relatedness",
        "possible",
        "--user",
        "ivan",
        match="grade 7 is not allowed",
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("subject,visit,instrument,item,value\nS001,BL,MRSS,face,9\n")
    err = _fails(capsys, "import", str(bad), "--user", "ivan", match="1 of 1 rows refused.*full report: ")
    report = pd.read_csv(err.rsplit("full report: ", 1)[1].strip())
    assert report["row"].tolist() == [2] and "expected an integer from 0 to 3" in report["error"].iloc[0]
    _fails(capsys, "status", "--db", f"sqlite:///{tmp_path / 'none.db'}", match="no ssctrial store at")
    _fails(
        capsys,
        "export",
        str(tmp_path / "x"),
        "--table",
        "randomization_list",
        "--user",
        "ivan",
        match="concealed",
    )


def test_import_with_rejects(db, capsys, tmp_path):
    assert _enroll(capsys, "S001")[0] == 0
    path = tmp_path / "obs.csv"
    path.write_text("subject,visit,instrument,item,value\nS001,BL,MRSS,face,1\nS001,BL,MRSS,abdomen,9\n")
    code, out, err = _run(
        capsys, "import", str(path), "--rejects", str(tmp_path / "rej.csv"), "--user", "ivan"
    )
    assert code == 0 and "1 new" in out and "1 rows rejected" in out, err
    assert pd.read_csv(tmp_path / "rej.csv")["item"].tolist() == ["abdomen"]


# ------------------------------------------------------------------------------------------ accounts, lock
def test_users_passwords_sites_and_list(db, capsys, monkeypatch):
    monkeypatch.setenv("SSCTRIAL_PASSWORD", "a long admin secret")
    code, out, err = _run(capsys, "users", "passwd", "alice")  # the admin created by `ssctrial init`
    assert code == 0 and "password of alice changed; by alice" in out, err
    code, out, err = _run(
        capsys,
        "users",
        "add",
        "mona",
        "--role",
        "monitor",
        "--site",
        "HUASHAN",
        "--password",
        "--user",
        "alice",
    )
    assert code == 0 and "user mona added with role monitor at site HUASHAN with a password" in out, err
    code, out, err = _run(capsys, "users", "list")
    assert code == 0, err
    lines = {ln.split()[1]: ln for ln in out.splitlines() if ln.startswith("│") and "name" not in ln}
    assert "HUASHAN" in lines["mona"] and "set" in lines["mona"]
    assert "all" in lines["ivan"] and "none" in lines["ivan"]
    assert "$argon2" not in out
    store = open_store(db)
    try:
        assert store.authenticate("alice", "a long admin secret")["role"] == "admin"
        assert store.authenticate("mona", "a long admin secret")["site"] == "HUASHAN"
    finally:
        store.close()
    monkeypatch.setenv("SSCTRIAL_PASSWORD", "short")
    _fails(
        capsys,
        "users",
        "passwd",
        "ivan",
        "--user",
        "alice",
        match="password of user 'ivan': must be 10 to 128",
    )
    _fails(
        capsys,
        "users",
        "add",
        "pia",
        "--role",
        "monitor",
        "--site",
        "MAYO",
        "--user",
        "alice",
        match="site: unknown site 'MAYO'; sites are: HUASHAN",
    )
    monkeypatch.setenv("SSCTRIAL_PASSWORD", "a valid long secret")
    _fails(capsys, "users", "passwd", "ivan", "--user", "stan", match="may not manage users")


def test_password_prompt_is_hidden_and_confirmed(db, capsys, monkeypatch):
    import typer

    monkeypatch.delenv("SSCTRIAL_PASSWORD", raising=False)
    asked = []

    def fake_prompt(text, **kwargs):
        asked.append((text, kwargs))
        return "prompted long secret"

    monkeypatch.setattr(typer, "prompt", fake_prompt)
    code, out, err = _run(capsys, "users", "passwd", "ivan", "--user", "alice")
    assert code == 0, err
    assert asked == [("Password for ivan", {"hide_input": True, "confirmation_prompt": True})]
    store = open_store(db)
    try:
        assert store.authenticate("ivan", "prompted long secret")["name"] == "ivan"
    finally:
        store.close()


def test_lock_and_unlock(db, capsys):
    assert _enroll(capsys, "S001")[0] == 0
    _fails(
        capsys,
        "lock",
        "--reason",
        "final",
        "--user",
        "ivan",
        match="may not lock; roles allowed: statistician",
    )
    code, out, err = _run(capsys, "lock", "--reason", "final analysis", "--user", "stan")
    assert code == 0 and "database locked at" in out and "by stan: final analysis" in out, err
    _fails(
        capsys,
        "record",
        "S001",
        "BL",
        "-i",
        "MRSS",
        "--item",
        "face=1",
        "--visit-date",
        "2024-01-20",
        "--user",
        "ivan",
        match=r"the database is locked \(since .* by stan: final analysis\); a statistician must unlock it",
    )
    _fails(capsys, "lock", "--reason", "again", "--user", "stan", match="already locked")
    _fails(
        capsys,
        "unlock",
        "--reason",
        " ",
        "--user",
        "stan",
        match="reason: unlocking the database needs a reason",
    )
    code, out, err = _run(capsys, "unlock", "--reason", "late data", "--user", "stan")
    assert code == 0 and "database unlocked by stan: late data" in out, err
    _fails(capsys, "unlock", "--reason", "again", "--user", "stan", match="the database is not locked")
    assert _enroll(capsys, "S002")[0] == 0
    assert _run(capsys, "audit", "verify")[0] == 0
