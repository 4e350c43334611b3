"""``ssctrial serve``: opens the store, builds the app and hands it to uvicorn."""

from __future__ import annotations

import uvicorn
from fastapi.testclient import TestClient

from ssctrial.cli.main import main
from ssctrial.store import init_store


def test_serve_builds_the_app_and_runs_uvicorn(tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'trial.db'}"
    store = init_store(url, "basics", user="alice")
    store.close()
    seen = {}

    def fake_run(app, **kwargs):
        seen["app"] = app
        seen.update(kwargs)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    code = main(["serve", "--db", url, "--port", "8123", "--reports", str(tmp_path / "reports")])
    out = capsys.readouterr().out
    assert code == 0
    assert (seen["host"], seen["port"], seen["proxy_headers"]) == ("127.0.0.1", 8123, False)
    assert "No user has a password yet" in out  # init makes the admin without one
    assert "ssctrial users passwd" in out
    client = TestClient(seen["app"])
    assert client.get("/login").status_code == 200
    assert seen["app"].state.settings.reports_dir == tmp_path / "reports"


def test_serve_refuses_a_missing_store(tmp_path, capsys):
    code = main(["serve", "--db", f"sqlite:///{tmp_path / 'none.db'}"])
    err = capsys.readouterr().err
    assert code == 1
    assert "no ssctrial store" in err
    assert "ssctrial init" in err


def test_users_add_creates_the_first_web_admin(tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'trial.db'}"
    monkeypatch.delenv("SSCTRIAL_USER", raising=False)
    assert main(["init", "--db", url, "--user", "root"]) == 0
    monkeypatch.setenv("SSCTRIAL_PASSWORD", "first-admin-pass")
    # no --user: allowed only while no account can log in, and only for an admin with a password
    assert main(["users", "add", "ivan", "--role", "investigator", "--password", "--db", url]) == 1
    assert "every write must name its user" in capsys.readouterr().err
    assert main(["users", "add", "ada", "--role", "admin", "--password", "--db", url]) == 0
    capsys.readouterr()
    from ssctrial.store import open_store

    store = open_store(url)
    assert store.authenticate("ada", "first-admin-pass")["role"] == "admin"
    audit = store.read_table("audit_log")
    assert audit.iloc[-1]["user_name"] == "root"  # the store's creator is recorded as adding her
    store.close()
    # once an account has a password, the bootstrap path is closed
    assert main(["users", "add", "eve", "--role", "admin", "--password", "--db", url]) == 1
    assert "every write must name its user" in capsys.readouterr().err


def test_serve_with_workers_hands_uvicorn_a_factory(tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'trial.db'}"
    init_store(url, "basics", user="alice").close()
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    for name in ("SSCTRIAL_WEB_DB", "SSCTRIAL_WEB_REPORTS", "SSCTRIAL_WEB_SECURE_COOKIES"):
        monkeypatch.setenv(name, "")  # recorded, so that the variables serve sets are undone
        monkeypatch.delenv(name)
    assert main(["serve", "--db", url, "--workers", "3", "--secure-cookies"]) == 0
    assert "(3 processes)" in capsys.readouterr().out
    assert (seen["app"], seen["factory"], seen["workers"]) == ("ssctrial.web._app:app_from_env", True, 3)
    # what each worker process runs
    from ssctrial.web._app import app_from_env

    app = app_from_env()
    assert app.state.settings.secure_cookies is True
    assert TestClient(app).get("/login").status_code == 200
