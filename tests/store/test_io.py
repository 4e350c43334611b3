from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssctrial.exceptions import InputError, PermissionDeniedError
from ssctrial.store import ObservationError, export_tables, import_csv, open_store, verify_audit_chain

LONG = """subject,visit,instrument,item,value,unit
S001,BL,MRSS,face,1,
S001,BL,MRSS,abdomen,2,
S001,BL,PFT,fvc_l,2.75,L
S002,BL,MRSS,face,0,
"""


def test_import_long_csv(store, tmp_path):
    path = tmp_path / "obs.csv"
    path.write_text(LONG)
    report = import_csv(store, path, user="ivan")
    assert (report.format, report.n_rows, report.n_imported) == ("long", 4, 4)
    back = store.observations()
    assert back["value"].tolist() == ["1", "2", "2.75", "0"]
    assert verify_audit_chain(store).ok


def test_bad_row_refuses_whole_file_with_row_by_row_report(store, tmp_path):
    path = tmp_path / "obs.csv"
    path.write_text(LONG + "S001,BL,MRSS,anterior_chest,7,\nS404,BL,MRSS,face,1,\n")
    with pytest.raises(ObservationError) as info:
        import_csv(store, path, user="ivan")
    text = str(info.value)
    assert "2 of 6 rows refused; nothing was written" in text
    assert "row 6: subject S001, visit BL, MRSS item 'anterior_chest', value '7'" in text
    assert "expected an integer from 0 to 3" in text
    assert "row 7: subject S404" in text
    assert info.value.errors["row"].tolist() == [6, 7]  # file line numbers (header = line 1)
    assert len(store.read_table("observation")) == 0


def test_reject_file_imports_the_rest(store, tmp_path):
    path = tmp_path / "obs.csv"
    path.write_text(LONG + "S001,BL,MRSS,anterior_chest,7,\n")
    rejects = tmp_path / "rejects.csv"
    report = import_csv(store, path, user="ivan", rejects=rejects)
    assert (report.n_imported, report.n_rejected_rows) == (4, 1)
    bad = pd.read_csv(rejects, dtype=str)
    assert bad["line"].tolist() == ["6"] and bad["item"].tolist() == ["anterior_chest"]
    assert "expected an integer from 0 to 3" in bad["error"].iloc[0]
    assert len(store.read_table("observation")) == 4


def test_malformed_lines(store, tmp_path):
    path = tmp_path / "obs.csv"
    path.write_text(LONG + "S001,BL,MRSS,face\n" + "S001,BL,MRSS,forearm_left,1,,extra\n")
    with pytest.raises(ObservationError, match="row 6: .*line has 4 fields; the header has 6"):
        import_csv(store, path, user="ivan")
    report = import_csv(store, path, user="ivan", rejects=tmp_path / "r.csv")
    assert (report.n_imported, report.n_rejected_rows) == (4, 2)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("subject,visit,instrument,item\nS001,BL,MRSS,face\n", "needs a subject column|long format needs"),
        ("subject,visit,instrument,item,value,colour\n", "unknown column\\(s\\) colour"),
        (
            "record_id,redcap_event_name,mrss_face,shoe_size\nS001,BL,1,44\n",
            "column\\(s\\) shoe_size are not <instrument>_<item>",
        ),
        ("a,b\n1,2\n", "needs a subject column"),
    ],
    ids=["empty", "no-value", "extra-column", "unknown-wide-column", "neither"],
)
def test_unreadable_files(store, tmp_path, content, message):
    path = tmp_path / "x.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        import_csv(store, path, user="ivan")


def test_missing_file(store, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        import_csv(store, tmp_path / "nope.csv", user="ivan")


def test_import_wide_redcap(store, tmp_path, allocate):
    allocate(store, "S001")
    path = tmp_path / "redcap.csv"
    path.write_text(
        "record_id,redcap_event_name,visit_date,mrss_face,mrss_abdomen,haq_di_eating_1,eq5d_5l_mobility\n"
        "S001,BL,2024-01-20,1,2,0,2\n"
        "S001,W4,2024-02-17,1,1,,\n"
        "S002,BL,2024-02-15,0,,1,1\n"
    )
    report = import_csv(store, path, user="ivan")
    assert (report.format, report.n_rows, report.n_observations, report.n_imported) == ("redcap", 3, 9, 9)
    back = store.observations()
    got = back.set_index(["subject", "visit", "instrument", "item"])["value"].to_dict()
    assert got[("S001", "BL", "HAQ_DI", "eating_1")] == "0"
    assert got[("S001", "W4", "MRSS", "abdomen")] == "1"
    assert ("S001", "W4", "HAQ_DI", "eating_1") not in got  # empty cell: not recorded
    visits = store.read_table("visit").set_index(["subject_id", "visit_code"])["visit_date"]
    assert str(visits[("S001", "W4")]) == "2024-02-17"


def test_wide_errors_name_the_line_and_reject_whole_lines(store, tmp_path):
    path = tmp_path / "redcap.csv"
    path.write_text("record_id,redcap_event_name,mrss_face,mrss_abdomen\nS001,BL,1,2\nS002,BL,5,1\n")
    with pytest.raises(ObservationError, match="row 3: subject S002, visit BL, MRSS item 'face', value '5'"):
        import_csv(store, path, user="ivan")
    report = import_csv(store, path, user="ivan", rejects=tmp_path / "rej.csv")
    assert (report.n_imported, report.n_rejected_rows) == (2, 1)
    assert set(store.observations()["subject"]) == {
        "S001"
    }  # S002's valid abdomen cell is rejected with its line


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_every_table(store, tmp_path, fmt):
    store.record_observations(
        pd.DataFrame(
            {"subject": ["S001"], "visit": ["BL"], "instrument": ["MRSS"], "item": ["face"], "value": [2]}
        ),
        user="ivan",
    )
    files = export_tables(store, tmp_path / "out", user="mona", format=fmt)
    names = {f.stem for f in files}
    assert {"subject", "observation", "audit_log", "allocation", "visit", "adverse_event"} <= names
    assert "randomization_list" not in names and "randomization_secret" not in names  # concealed
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    obs = read(tmp_path / "out" / f"observation.{fmt}")
    assert obs["value"].astype(str).tolist() == ["2"]
    subj = read(tmp_path / "out" / f"subject.{fmt}")
    assert subj["subject_id"].tolist() == ["S001", "S002"]
    stat_files = export_tables(store, tmp_path / "stat", user="stan", format=fmt)
    assert {"randomization_list", "randomization_secret"} <= {f.stem for f in stat_files}
    with pytest.raises(PermissionDeniedError, match="concealed; only a statistician"):
        export_tables(store, tmp_path / "x", user="ivan", tables=["randomization_list"])
    with pytest.raises(InputError, match="format 'xlsx' is not allowed"):
        export_tables(store, tmp_path / "x", user="ivan", format="xlsx")


_CRASH_SCRIPT = textwrap.dedent(
    """
    import sys, time, pathlib
    import ssctrial.store._observations as obs
    from ssctrial.store import open_store, import_csv
    obs._CHUNK = 500  # report progress after every 500 rows
    marker = pathlib.Path(sys.argv[3])
    def progress(stage, done, total):
        if stage == "write" and done > 0 and not marker.exists():
            marker.write_text(str(done))
            time.sleep(60)  # killed here, mid-transaction
    store = open_store(sys.argv[1])
    import_csv(store, sys.argv[2], user="ivan", progress=progress)
    """
)


def test_import_killed_midway_leaves_database_intact(store, db_url, tmp_path):
    from ssctrial.store import Subject
    from ssctrial.store._audit import now_utc

    with store.session() as s:
        for i in range(100):
            s.add(
                Subject(
                    subject_id=f"K{i:03d}",
                    site_code="HUASHAN",
                    consent_date=pd.Timestamp("2024-01-01").date(),
                    sex="M",
                    strata="{}",
                    stratum="SUBTYPE=diffuse|DURATION=early",
                    status="screened",
                    enrolled_at=now_utc(),
                    enrolled_by="ivan",
                )
            )
    from ssctrial.instruments import get_instrument

    sites = [i.code for i in get_instrument("MRSS").items if i.type == "integer"]
    rows = [
        (f"K{i:03d}", "BL", "MRSS", site, (i + j) % 4) for i in range(100) for j, site in enumerate(sites)
    ]
    path = tmp_path / "big.csv"
    pd.DataFrame(rows, columns=["subject", "visit", "instrument", "item", "value"]).to_csv(path, index=False)
    before = (len(store.read_table("observation")), len(store.read_table("audit_log")))
    marker = tmp_path / "writing"
    script = tmp_path / "crash.py"
    script.write_text(_CRASH_SCRIPT)
    log = tmp_path / "stderr.txt"
    with (
        log.open("wb") as err,
        subprocess.Popen(
            [sys.executable, str(script), db_url, str(path), str(marker)],
            stdout=subprocess.DEVNULL,
            stderr=err,
        ) as proc,
    ):
        deadline = time.monotonic() + 60
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if not marker.exists():
            proc.kill()
        assert marker.exists(), log.read_text()[-2000:]
        assert int(marker.read_text()) >= 500  # rows were written inside the open transaction
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # the database is intact and holds none of the file
    again = open_store(db_url)
    try:
        if db_url.startswith("sqlite"):
            with again.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert (len(again.read_table("observation")), len(again.read_table("audit_log"))) == before
        assert verify_audit_chain(again).ok
        # and the same file then imports fully
        report = import_csv(again, path, user="ivan")
        assert report.n_imported == len(rows) == len(again.read_table("observation"))
        assert verify_audit_chain(again).ok
    finally:
        again.close()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.dictionaries(
        st.sampled_from(["face", "abdomen", "fingers_right", "thigh_left", "lower_leg_right"]),
        st.integers(0, 3),
        min_size=1,
    ),
    fvc=st.floats(0.3, 8.0, allow_nan=False),
    wide=st.booleans(),
)
def test_csv_import_roundtrip(tmp_path_factory, values, fvc, wide):
    """Property: a file written from values and imported reads back as the same values."""
    from ssctrial.store import init_store

    folder = tmp_path_factory.mktemp("csv")
    store = init_store(f"sqlite:///{folder / 'rt.db'}", "basics", user="a")
    store.add_user("i", "investigator", user="a")
    store.enroll_subject(
        "R1", user="i", consent_date="2024-01-01", sex="M", strata={"SUBTYPE": "limited", "DURATION": "early"}
    )
    expected = {("MRSS", k): str(v) for k, v in values.items()} | {("PFT", "fvc_l"): repr(fvc)}
    path = folder / "in.csv"
    if wide:
        row = {"record_id": "R1", "redcap_event_name": "BL"}
        row |= {f"{inst.lower()}_{item}": val for (inst, item), val in expected.items()}
        pd.DataFrame([row]).to_csv(path, index=False)
    else:
        pd.DataFrame(
            [("R1", "BL", inst, item, val) for (inst, item), val in expected.items()],
            columns=["subject", "visit", "instrument", "item", "value"],
        ).to_csv(path, index=False)
    report = import_csv(store, path, user="i")
    assert report.n_imported == len(expected)
    back = store.observations()
    got = {(r.instrument, r.item): r.value for r in back.itertuples()}
    assert got == expected
    assert back.loc[back["item"] == "fvc_l", "value_num"].item() == fvc  # exact float round trip
    store.close()
