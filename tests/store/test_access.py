"""Accounts: argon2id passwords, site scope, activation, log-in checks, events, hidden hashes, upgrade."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from alembic import command
from argon2 import PasswordHasher

from ssctrial.design import Site, load_study
from ssctrial.exceptions import InputError, NotFoundError, PermissionDeniedError, StateError
from ssctrial.store import (
    AppUser,
    _access,
    check_site_access,
    export_tables,
    init_store,
    open_store,
    verify_audit_chain,
)
from ssctrial.store._engine import create_store_engine
from ssctrial.store._migrate import alembic_config, current_revision, head_revision

PW = "correct horse battery"


def _hash_of(store, name):
    with store.engine.connect() as conn:
        return conn.execute(sa.select(AppUser.password_hash).where(AppUser.name == name)).scalar()


def _audit(store):
    return store.read_table("audit_log")


class _CountingHasher(PasswordHasher):
    """The default hasher, counting verifications."""

    calls = 0

    def verify(self, hash, password):  # noqa: A002 - argon2's parameter name
        type(self).calls += 1
        return super().verify(hash, password)


@pytest.fixture
def counting(monkeypatch):
    _CountingHasher.calls = 0
    monkeypatch.setattr(_access, "_HASHER", _CountingHasher())
    return _CountingHasher


# ---------------------------------------------------------------------------------------------- passwords
def test_add_user_with_password_stores_only_an_argon2id_hash(store):
    store.add_user("ines", "investigator", user="alice", password=PW)
    stored = _hash_of(store, "ines")
    assert stored.startswith("$argon2id$")
    assert PW not in stored
    assert store.get_user("ines") == {
        "name": "ines",
        "role": "investigator",
        "site": None,
        "active": True,
        "has_password": True,
    }
    assert store.get_user("ivan")["has_password"] is False
    assert store.get_user("nobody") is None
    last = _audit(store).iloc[-1]
    assert json.loads(last["new"]) == {"role": "investigator", "password": "set"}
    assert verify_audit_chain(store).ok


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short", "must be 10 to 128 characters, got 5"),
        ("x" * 129, "must be 10 to 128 characters, got 129"),
        ("ines.smith", "must not be the user name"),
        ("INES.SMITH", "must not be the user name"),
        (1234567890123, "must be text, got int"),
    ],
)
def test_password_rules_name_the_rule_and_never_echo_the_password(store, password, rule):
    before = len(_audit(store))
    with pytest.raises(InputError, match=f"password of user 'ines.smith': {rule}") as info:
        store.add_user("ines.smith", "investigator", user="alice", password=password)
    if "user name" not in rule:
        assert str(password) not in str(info.value)
    assert store.get_user("ines.smith") is None
    who = "ivan"
    if "user name" in rule:
        store.add_user("ines.smith", "investigator", user="alice")
        before += 1
        who = "ines.smith"
    with pytest.raises(InputError, match=f"password of user '{who}': {rule}"):
        store.set_password(who, password, user="alice")
    assert len(_audit(store)) == before


def test_set_password_by_admin_or_self_is_audited_without_the_hash(store):
    store.set_password("ivan", PW, user="alice")
    first = _hash_of(store, "ivan")
    store.set_password("ivan", "another long secret", user="ivan")
    second = _hash_of(store, "ivan")
    assert first != second and second.startswith("$argon2id$")
    log = _audit(store)
    rows = log.loc[
        (log["table_name"] == "app_user") & (log["record_key"] == "ivan") & (log["action"] == "update")
    ]
    assert [json.loads(n) for n in rows["new"]] == [{"password": "changed"}, {"password": "changed"}]
    assert [json.loads(o) for o in rows["old"]] == [{"password": "none"}, {"password": "set"}]
    assert rows["user_name"].tolist() == ["alice", "ivan"]
    text = log.to_csv()
    assert "$argon2" not in text and PW not in text
    with pytest.raises(
        PermissionDeniedError, match="user 'mona' has role 'monitor', which may not manage users"
    ):
        store.set_password("ivan", PW, user="mona")
    with pytest.raises(NotFoundError, match="unknown user 'nobody'"):
        store.set_password("nobody", PW, user="alice")
    store.set_user_active("ivan", active=False, user="alice")
    with pytest.raises(PermissionDeniedError, match="unknown or deactivated user 'ivan'"):
        store.set_password("ivan", "a third long secret", user="ivan")
    assert _hash_of(store, "ivan") == second
    assert verify_audit_chain(store).ok


# ---------------------------------------------------------------------------------------------- log-in
def test_authenticate(store, counting):
    store.set_password("ivan", PW, user="alice")
    assert store.authenticate("ivan", PW) == {
        "name": "ivan",
        "role": "investigator",
        "site": None,
        "active": True,
    }
    assert store.authenticate("ivan", PW + "!") is None
    assert store.authenticate("ivan", "") is None
    assert store.authenticate("ivan", None) is None
    store.set_user_active("ivan", active=False, user="alice")
    assert store.authenticate("ivan", PW) is None
    assert counting.calls == 5  # one verification per attempt


@pytest.mark.parametrize("name", ["nobody", "mona", "", "x" * 200, None])
def test_authenticate_does_the_same_work_for_unknown_users_and_users_without_password(store, counting, name):
    """Unknown user, a user with no password, or garbage: None, after exactly one argon2 verification."""
    n_audit = len(_audit(store))
    assert store.authenticate(name, PW) is None
    assert counting.calls == 1
    assert len(_audit(store)) == n_audit  # authenticate does not audit


def test_authenticate_rehashes_an_outdated_hash(store):
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    with store.engine.begin() as conn:
        conn.execute(sa.update(AppUser).where(AppUser.name == "ivan").values(password_hash=old.hash(PW)))
    before = _hash_of(store, "ivan")
    assert "m=8192,t=1,p=1" in before
    assert store.authenticate("ivan", PW)["name"] == "ivan"
    after = _hash_of(store, "ivan")
    assert after != before and after.startswith("$argon2id$") and "m=8192" not in after
    assert store.authenticate("ivan", PW)["name"] == "ivan"


def test_log_event(store):
    n = len(_audit(store))
    store.log_event(user="ivan", action="login", record="web")
    store.log_event(
        user="'; DROP TABLE app_user; --" + "x" * 100,
        action="login_failed",
        record="web",
        reason="bad password",
    )
    store.log_event(user="mona", action="read", record="S001", table="subject")
    log = _audit(store).iloc[n:]
    assert log["action"].tolist() == ["login", "login_failed", "read"]
    assert log["user_name"].iloc[1] == ("'; DROP TABLE app_user; --" + "x" * 100)[:64]
    assert log["table_name"].tolist() == ["web", "web", "subject"]
    assert log["reason"].iloc[1] == "bad password"
    with pytest.raises(
        InputError, match="action: 'a_much_too_long_action' is not allowed; expected text of 1 to 16"
    ):
        store.log_event(user="ivan", action="a_much_too_long_action", record="web")
    assert len(_audit(store)) == n + 3
    assert len(store.users()) == 4
    assert verify_audit_chain(store).ok


# ---------------------------------------------------------------------------------------------- users
def test_set_user_active(store):
    store.set_user_active("mona", active=False, user="alice")
    assert store.get_user("mona")["active"] is False
    with pytest.raises(PermissionDeniedError, match="user 'mona' is deactivated"):
        store.open_query("S001", user="mona", text="x")
    store.set_user_active("mona", active=True, user="alice")
    store.open_query("S001", user="mona", text="x")
    with pytest.raises(StateError, match="user 'alice' cannot deactivate themself; another admin must do it"):
        store.set_user_active("alice", active=False, user="alice")
    with pytest.raises(PermissionDeniedError, match="may not manage users"):
        store.set_user_active("mona", active=False, user="ivan")
    with pytest.raises(InputError, match="active: 'no' is not allowed; expected True or False"):
        store.set_user_active("mona", active="no", user="alice")
    with pytest.raises(NotFoundError, match="unknown user 'zed'"):
        store.set_user_active("zed", active=False, user="alice")
    log = _audit(store)
    rows = log.loc[(log["record_key"] == "mona") & (log["action"] == "update")]
    assert [json.loads(n) for n in rows["new"]] == [{"active": False}, {"active": True}]
    assert verify_audit_chain(store).ok


def test_users_and_tables_never_show_the_hash(store, tmp_path):
    store.add_user("ines", "investigator", user="alice", password=PW)
    users = store.users()
    assert list(users.columns) == [
        "name",
        "role",
        "active",
        "created_at",
        "created_by",
        "site_code",
        "has_password",
    ]
    assert dict(zip(users["name"], users["has_password"], strict=True)) == {
        "alice": False,
        "ines": True,
        "ivan": False,
        "mona": False,
        "stan": False,
    }
    assert "password_hash" not in store.read_table("app_user").columns
    stored = _hash_of(store, "ines")
    for who, fmt in (("stan", "csv"), ("alice", "parquet")):
        files = export_tables(store, tmp_path / who, user=who, format=fmt)
        app = next(f for f in files if f.stem == "app_user")
        assert stored.encode() not in app.read_bytes()
        for f in files:
            assert b"$argon2id$" not in f.read_bytes(), f
    import pandas as pd

    assert "password_hash" not in pd.read_csv(tmp_path / "stan" / "app_user.csv").columns
    assert "has_password" not in store.read_table("app_user").columns


# ---------------------------------------------------------------------------------------------- sites
def _two_site_design():
    base = load_study("basics")
    return base.model_copy(
        update={"sites": (*base.sites, Site(code="PUMCH", name="Peking Union Medical College Hospital"))}
    )


@pytest.fixture
def two_sites(db_url):
    st = init_store(db_url, _two_site_design(), user="alice")
    st.add_user("ivan", "investigator", user="alice", site="HUASHAN")
    strata = {"SUBTYPE": "diffuse", "DURATION": "early"}
    st.enroll_subject("S001", user="alice", consent_date="2024-01-05", sex="F", strata=strata, site="HUASHAN")
    st.enroll_subject("S101", user="alice", consent_date="2024-01-06", sex="M", strata=strata, site="PUMCH")
    try:
        yield st
    finally:
        st.close()


def test_site_scope(two_sites):
    st = two_sites
    assert st.get_user("ivan")["site"] == "HUASHAN"
    assert st.subject_site("S001") == "HUASHAN" and st.subject_site("S101") == "PUMCH"
    with pytest.raises(NotFoundError, match="subject_id: unknown subject 'S999'"):
        st.subject_site("S999")
    ivan = st.get_user("ivan")
    check_site_access(ivan, "HUASHAN", subject="S001")
    with pytest.raises(
        PermissionDeniedError,
        match="user 'ivan' is restricted to site 'HUASHAN'; subject S101 is at site 'PUMCH'",
    ):
        check_site_access(ivan, st.subject_site("S101"), subject="S101")
    with pytest.raises(
        PermissionDeniedError, match="restricted to site 'HUASHAN'; the record is at site None"
    ):
        check_site_access(ivan, None)
    check_site_access(st.get_user("alice"), "PUMCH", subject="S101")  # all sites
    st.set_user_site("ivan", "PUMCH", user="alice")
    check_site_access(st.get_user("ivan"), "PUMCH")
    st.set_user_site("ivan", None, user="alice")
    check_site_access(st.get_user("ivan"), "HUASHAN")
    with pytest.raises(InputError, match="site: unknown site 'MAYO'; sites are: HUASHAN, PUMCH"):
        st.set_user_site("ivan", "MAYO", user="alice")
    with pytest.raises(InputError, match="site: unknown site 'MAYO'; sites are: HUASHAN, PUMCH"):
        st.add_user("pia", "investigator", user="alice", site="MAYO")
    with pytest.raises(PermissionDeniedError, match="may not manage users"):
        st.set_user_site("ivan", "PUMCH", user="ivan")
    log = st.read_table("audit_log")
    rows = log.loc[(log["record_key"] == "ivan") & (log["action"] == "update")]
    assert [json.loads(n) for n in rows["new"]] == [{"site": "PUMCH"}, {"site": None}]
    assert json.loads(log.loc[log["record_key"] == "ivan", "new"].iloc[0]) == {
        "role": "investigator",
        "site": "HUASHAN",
    }
    users = st.users().set_index("name")
    assert users.loc["ivan", "site_code"] is None
    assert verify_audit_chain(st).ok


# ---------------------------------------------------------------------------------------------- upgrade
def test_store_created_at_0001_upgrades_to_head(db_url):
    """A store of the first schema version opens: new columns empty, queries and lock usable."""
    engine = create_store_engine(db_url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    with engine.begin() as conn:
        assert current_revision(conn) == "0001"
        assert "data_query" not in sa.inspect(conn).get_table_names()
    engine.dispose()
    # the rows init_store of version 0001 wrote (today's init_store writes the new columns too)
    from ssctrial.store._store import _design_and_text

    _, text = _design_and_text("basics")
    engine = create_store_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '" + "0" * 64 + "')")
        conn.execute(
            sa.text(
                "INSERT INTO app_user (name, role, active, created_at, created_by) "
                "VALUES ('alice', 'admin', :t, '2024-01-01 00:00:00', 'alice')"
            ),
            {"t": True},
        )
        conn.execute(
            sa.text(
                "INSERT INTO study (id, study_id, title, design_yaml, design_hash, created_at, created_by) "
                "VALUES (1, 'BASICS', 'BASICS', :y, :h, '2024-01-01 00:00:00', 'alice')"
            ),
            {"y": text, "h": "0" * 64},
        )
        conn.exec_driver_sql("INSERT INTO site (code, name) VALUES ('HUASHAN', 'Huashan')")
    engine.dispose()
    st = open_store(db_url)
    try:
        with st.engine.connect() as conn:
            assert current_revision(conn) == head_revision()
            columns = {c["name"] for c in sa.inspect(conn).get_columns("app_user")}
        assert {"password_hash", "site_code"} <= columns
        assert st.get_user("alice") == {
            "name": "alice",
            "role": "admin",
            "site": None,
            "active": True,
            "has_password": False,
        }
        assert st.lock_state()["locked"] is False
        assert len(st.queries()) == 0
        st.set_password("alice", PW, user="alice")
        assert st.authenticate("alice", PW)["role"] == "admin"
        st.add_user("stan", "statistician", user="alice", site="HUASHAN")
        st.lock(user="stan", reason="final analysis")
        assert st.lock_state()["locked_by"] == "stan"
        assert verify_audit_chain(st).ok
    finally:
        st.close()


def test_hash_parameters_follow_owasp(store):
    """argon2id with m=19 MiB, t=2, p=1: OWASP Password Storage Cheat Sheet, first recommended setting."""
    store.set_password("ivan", "correct horse battery", user="alice")
    from sqlalchemy import select

    from ssctrial.store import AppUser

    with store.engine.connect() as conn:
        stored = conn.execute(select(AppUser.password_hash).where(AppUser.name == "ivan")).scalar()
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
