from __future__ import annotations

import pytest

from ssctrial.design import load_study
from ssctrial.exceptions import InputError, NotFoundError, PermissionDeniedError, StateError
from ssctrial.store import RandomizationSecret, init_store, open_store, verify_audit_chain
from ssctrial.store._audit import now_utc


def test_init_records_study_admin_and_sites(store, db_url):
    again = open_store(db_url)
    try:
        assert again.design.study_id == "BASICS"
        assert again.design.arm_codes == ["BARI4", "BARI2", "CTRL"]
        users = again.users().set_index("name")["role"].to_dict()
        assert users == {"alice": "admin", "ivan": "investigator", "mona": "monitor", "stan": "statistician"}
        assert again.read_table("site")["code"].tolist() == ["HUASHAN"]
        study = again.read_table("study")
        assert study["study_id"].tolist() == ["BASICS"] and len(study["design_hash"][0]) == 64
    finally:
        again.close()


def test_init_twice_is_refused(store, db_url):
    with pytest.raises(StateError, match="already holds study 'BASICS'"):
        init_store(db_url, "basics", user="alice")


def test_init_accepts_a_design_object(tmp_path):
    design = load_study("basics")
    st = init_store(f"sqlite:///{tmp_path / 'x.db'}", design, user="root")
    assert st.design == design
    st.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [("not a url", "not a valid SQLAlchemy URL"), ("nosuchdb://x", "not a valid SQLAlchemy URL|cannot use")],
)
def test_bad_url(url, message):
    with pytest.raises(InputError, match=message):
        init_store(url, "basics", user="root")


def test_bad_first_user_name(tmp_path):
    with pytest.raises(InputError, match="user name 'a b' is not allowed"):
        init_store(f"sqlite:///{tmp_path / 'x.db'}", "basics", user="a b")


def test_roles_are_checked_on_every_write(store):
    with pytest.raises(
        PermissionDeniedError, match="user 'ivan' has role 'investigator', which may not manage users"
    ):
        store.add_user("eve", "admin", user="ivan")
    with pytest.raises(PermissionDeniedError, match="unknown user 'nobody'"):
        store.enroll_subject(
            "S009",
            user="nobody",
            consent_date="2024-01-01",
            sex="F",
            strata={"SUBTYPE": "diffuse", "DURATION": "early"},
        )
    with pytest.raises(
        PermissionDeniedError,
        match="role 'monitor', which may not enroll; roles allowed: admin, investigator",
    ):
        store.enroll_subject(
            "S009",
            user="mona",
            consent_date="2024-01-01",
            sex="F",
            strata={"SUBTYPE": "diffuse", "DURATION": "early"},
        )
    with pytest.raises(PermissionDeniedError, match="must name its user"):
        store.enroll_subject(
            "S009",
            user="",
            consent_date="2024-01-01",
            sex="F",
            strata={"SUBTYPE": "diffuse", "DURATION": "early"},
        )


def test_add_user_validation(store):
    with pytest.raises(
        InputError,
        match="role 'boss' is not allowed; expected one of admin, investigator, monitor, statistician",
    ):
        store.add_user("eve", "boss", user="alice")
    with pytest.raises(StateError, match="user 'ivan' already exists"):
        store.add_user("ivan", "monitor", user="alice")


def test_secret_is_for_statisticians_only_and_audited(store):
    with pytest.raises(NotFoundError, match="no randomisation secret"):
        store.read_randomization_secret(user="stan")
    with store.session() as s:
        s.add(
            RandomizationSecret(
                seed="12345", method="permuted_blocks", created_at=now_utc(), created_by="alice"
            )
        )
    for who in ("alice", "ivan", "mona"):
        with pytest.raises(PermissionDeniedError, match="may not read secret; roles allowed: statistician"):
            store.read_randomization_secret(user=who)
    secret = store.read_randomization_secret(user="stan")
    assert secret["seed"] == "12345" and secret["method"] == "permuted_blocks"
    audit = store.read_table("audit_log")
    assert audit["action"].iloc[-1] == "read" and audit["user_name"].iloc[-1] == "stan"
    assert verify_audit_chain(store).ok


def test_concealed_tables_are_not_readable(store):
    with pytest.raises(PermissionDeniedError, match="concealed"):
        store.read_table("randomization_list")
    with pytest.raises(NotFoundError, match="unknown table 'nope'"):
        store.read_table("nope")


def test_sqlite_connection_settings(tmp_path):
    st = init_store(f"sqlite:///{tmp_path / 'p.db'}", "basics", user="root")
    with st.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 60000
    st.close()
