"""The HTML pages: each workflow step through real HTTP requests, checked against the store."""

from __future__ import annotations

import re

import pytest
from tests.web.conftest import MRSS_SITES, csrf_of, enrol_form

from ssctrial.store import verify_audit_chain


def _enrol_and_randomise(client, csrf, subject_id="BASICS-001", **overrides):
    r = client.post("/subjects/new", data=enrol_form(subject_id, csrf, **overrides), follow_redirects=False)
    assert r.status_code == 303, r.text[:800]
    r = client.post(f"/subjects/{subject_id}/randomize", data={"csrf_token": csrf, "confirm": "yes"})
    assert r.status_code == 200, r.text[:800]
    return r


def _mrss_form(csrf, grade="1", **overrides):
    form = {"csrf_token": csrf, "visit_date": "2026-11-10"}
    form.update({f"item_{s}": grade for s in MRSS_SITES})
    form.update(overrides)
    return form


def test_anonymous_pages_redirect_to_login(client_for):
    client, _ = client_for(None)
    r = client.get("/subjects", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fsubjects"


def test_login_with_wrong_password_is_refused_and_audited(client_for, web_store):
    client, _ = client_for(None)
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"csrf_token": token, "username": "ivan", "password": "nope-nope-nope"})
    assert r.status_code == 401
    assert "user name or password is wrong" in r.text
    audit = web_store.read_table("audit_log")
    assert ((audit["action"] == "login_failed") & (audit["user_name"] == "ivan")).sum() == 1


def test_login_redirects_to_next_but_never_off_site(client_for):
    client, _ = client_for(None)
    token = csrf_of(client.get("/login").text)
    data = {
        "csrf_token": token,
        "username": "ivan",
        "password": "ivan-password-1",
        "next": "//evil.example/x",
    }
    r = client.post("/login", data=data, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/"


def test_enrolment_needs_every_eligibility_criterion(client_for, web_store):
    client, csrf = client_for("ivan")
    form = enrol_form("BASICS-009", csrf)
    del form["elig_E2"]
    r = client.post("/subjects/new", data=form)
    assert r.status_code == 400
    assert "E2 (exclusion)" in r.text
    assert "Record as screen failure" in r.text
    assert web_store.read_table("subject").empty
    # the coordinator records the screen failure instead
    form["action"] = "screen_fail"
    r = client.post("/subjects/new", data=form, follow_redirects=False)
    assert r.status_code == 303
    subject = web_store.read_table("subject").set_index("subject_id").loc["BASICS-009"]
    assert subject["status"] == "screen_failed"
    assert subject["status_reason"] == "not eligible: E2"


def test_enrolment_errors_name_the_field(client_for, web_store):
    client, csrf = client_for("ivan")
    r = client.post("/subjects/new", data=enrol_form("BASICS-002", csrf, sex="X"))
    assert r.status_code == 400
    assert "sex" in r.text and "X" in r.text
    assert web_store.read_table("subject").empty


def test_randomisation_shows_the_arm_only_after_assignment(client_for, web_store):
    client, csrf = client_for("ivan")
    r = client.post("/subjects/new", data=enrol_form("BASICS-001", csrf), follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/subjects/BASICS-001/randomize").text
    labels = [a.label for a in web_store.design.arms]
    assert not any(label in page for label in labels)
    r = client.post("/subjects/BASICS-001/randomize", data={"csrf_token": csrf})
    assert r.status_code == 400
    assert "tick the box" in r.text
    assert web_store.read_table("allocation").empty
    r = client.post("/subjects/BASICS-001/randomize", data={"csrf_token": csrf, "confirm": "yes"})
    arm = web_store.read_table("allocation").set_index("subject_id").loc["BASICS-001", "arm"]
    label = {a.code: a.label for a in web_store.design.arms}[arm]
    assert re.search(rf'class="arm">{re.escape(label)}<', r.text)
    # a second attempt is refused and names when it happened
    r = client.post("/subjects/BASICS-001/randomize", data={"csrf_token": csrf, "confirm": "yes"})
    assert r.status_code == 409
    assert "already randomised" in r.text


def test_visit_form_is_generated_from_the_registry(client_for):
    client, csrf = client_for("ivan")
    _enrol_and_randomise(client, csrf)
    page = client.get("/subjects/BASICS-001/visits/BL/MRSS").text
    for site in MRSS_SITES:
        assert f'id="item_{site}"' in page
        assert f'data-site="{site}"' in page  # the body map has every area
    assert page.count("an integer from 0 to 3") == 17  # each area's allowed values, from Item.allowed_text
    haq = client.get("/subjects/BASICS-001/visits/BL/HAQ_DI").text
    from ssctrial.instruments import get_instrument

    for item in get_instrument("HAQ_DI").items:
        assert f'id="item_{item.code}"' in haq
    assert 'id="bodymap"' not in haq
    r = client.get("/subjects/BASICS-001/visits/BL/NOPE")
    assert r.status_code == 404
    assert "not scheduled at BL" in r.text


def test_invalid_value_is_refused_then_corrected_and_scored(client_for, web_store):
    client, csrf = client_for("ivan")
    _enrol_and_randomise(client, csrf)
    r = client.post("/subjects/BASICS-001/visits/BL/MRSS", data=_mrss_form(csrf, item_face="5"))
    assert r.status_code == 400
    assert "value &#39;5&#39; is not allowed; expected an integer from 0 to 3" in r.text
    assert 'aria-invalid="true"' in r.text
    assert web_store.observations().empty  # nothing saved
    r = client.post("/subjects/BASICS-001/visits/BL/MRSS", data=_mrss_form(csrf, item_face="2"))
    assert r.status_code == 200
    total = re.search(r'data-param="MRSS">([^<]+)<', r.text)
    assert total and total.group(1) == "18"  # 16 x 1 + 2: the registry's scorer on the saved items
    obs = web_store.observations()
    assert len(obs) == 17
    # changing a saved value needs a reason; with one it is corrected and audited
    r = client.post("/subjects/BASICS-001/visits/BL/MRSS", data=_mrss_form(csrf, item_face="3"))
    assert r.status_code == 400
    assert "reason" in r.text
    r = client.post(
        "/subjects/BASICS-001/visits/BL/MRSS", data=_mrss_form(csrf, item_face="3", reason="typo")
    )
    assert r.status_code == 200
    assert re.search(r'data-param="MRSS">19<', r.text)
    history = client.get("/audit", params={"table": "observation", "record": "BASICS-001/BL/MRSS/face"}).text
    assert "typo" in history
    assert verify_audit_chain(web_store).ok


def test_adverse_event_form(client_for, web_store):
    client, csrf = client_for("ivan")
    _enrol_and_randomise(client, csrf)
    form = {
        "csrf_token": csrf,
        "term": "Herpes zoster",
        "body_system": "Infections and infestations",
        "start_date": "2026-11-12",
        "grade": "2",
        "serious": "no",
        "relatedness": "possible",
        "outcome": "recovering",
    }
    r = client.post("/subjects/BASICS-001/ae/new", data=form | {"grade": "7"})
    assert r.status_code == 400
    assert "grade" in r.text
    r = client.post("/subjects/BASICS-001/ae/new", data=form, follow_redirects=False)
    assert r.status_code == 303
    ae = web_store.read_table("adverse_event")
    assert ae[["term", "grade", "relatedness"]].values.tolist() == [["Herpes zoster", 2, "possible"]]
    assert "Herpes zoster" in client.get("/subjects/BASICS-001").text


def test_query_cycle_updates_the_dashboard(client_for, web_store):
    ivan, icsrf = client_for("ivan")
    _enrol_and_randomise(ivan, icsrf)
    ivan.post("/subjects/BASICS-001/visits/BL/MRSS", data=_mrss_form(icsrf))
    mona, mcsrf = client_for("mona")

    def tiles(client):
        page = client.get("/").text
        return {
            k: int(re.search(rf'id="n-{k}">(\d+)<', page).group(1))
            for k in ("open-queries", "answered-queries")
        }

    assert tiles(mona) == {"open-queries": 0, "answered-queries": 0}
    r = mona.post(
        "/queries",
        data={
            "csrf_token": mcsrf,
            "subject_id": "BASICS-001",
            "visit": "BL",
            "instrument": "MRSS",
            "item": "face",
            "text": "Face 1 but 3 at screening?",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    qid = int(web_store.queries()["id"].iloc[0])
    assert tiles(mona) == {"open-queries": 1, "answered-queries": 0}
    # the investigator cannot close, the monitor cannot answer
    assert mona.post(f"/queries/{qid}/answer", data={"csrf_token": mcsrf, "answer": "x"}).status_code == 403
    assert ivan.post(f"/queries/{qid}/close", data={"csrf_token": icsrf}).status_code == 403
    r = ivan.post(f"/queries/{qid}/answer", data={"csrf_token": icsrf, "answer": "Confirmed in source"})
    assert r.status_code == 200
    assert tiles(ivan) == {"open-queries": 0, "answered-queries": 1}
    r = mona.post(f"/queries/{qid}/close", data={"csrf_token": mcsrf, "note": "ok"})
    assert r.status_code == 200
    assert tiles(mona) == {"open-queries": 0, "answered-queries": 0}
    q = web_store.queries().iloc[0]
    assert (q["status"], q["answer"], q["closed_by"]) == ("closed", "Confirmed in source", "mona")


def test_dashboard_counts_enrolment_by_arm_and_missing_forms(client_for, web_store):
    client, csrf = client_for("ivan")
    _enrol_and_randomise(client, csrf, "BASICS-001")
    _enrol_and_randomise(client, csrf, "BASICS-002", stratum_SUBTYPE="limited")
    client.post("/subjects/new", data=enrol_form("BASICS-003", csrf), follow_redirects=False)
    client.post("/subjects/BASICS-001/visits/BL/MRSS", data=_mrss_form(csrf))
    page = client.get("/").text
    assert re.search(r'id="n-screened">3<', page)
    assert re.search(r'id="n-randomised">2<', page)
    arms = web_store.read_table("allocation")["arm"].value_counts()
    row = re.search(r"<td>HUASHAN</td>(.*?)</tr>", page, re.S).group(1)
    cells = [int(x) for x in re.findall(r"<td[^>]*>(\d+)</td>", row)]
    assert cells == [3, 0] + [int(arms.get(a.code, 0)) for a in web_store.design.arms]
    # BL was entered with MRSS only: its other scheduled forms are missing
    bl = next(v for v in web_store.design.visits if v.code == "BL")
    assert re.search(rf'id="n-missing">{len(bl.instruments) - 1}<', page)


def test_lock_refuses_edits_until_an_audited_unlock(client_for, web_store):
    ivan, icsrf = client_for("ivan")
    _enrol_and_randomise(ivan, icsrf)
    stan, scsrf = client_for("stan")
    assert stan.post("/lock", data={"csrf_token": scsrf, "reason": ""}).status_code == 400
    r = stan.post("/lock", data={"csrf_token": scsrf, "reason": "final analysis"}, follow_redirects=False)
    assert r.status_code == 303
    r = ivan.post("/subjects/BASICS-001/visits/BL/MRSS", data=_mrss_form(icsrf))
    assert r.status_code == 400
    assert "locked" in r.text
    assert web_store.observations().empty
    assert "The database is locked" in ivan.get("/").text
    assert ivan.post("/unlock", data={"csrf_token": icsrf, "reason": "x"}).status_code == 403
    stan.post("/unlock", data={"csrf_token": scsrf, "reason": "late data from site"})
    r = ivan.post("/subjects/BASICS-001/visits/BL/MRSS", data=_mrss_form(icsrf))
    assert r.status_code == 200
    audit = web_store.read_table("audit_log")
    assert "late data from site" in audit["reason"].fillna("").tolist()


def test_users_page_adds_a_site_bound_user_who_can_log_in(client_for, web_store):
    admin, acsrf = client_for("alice")
    r = admin.post(
        "/users",
        data={
            "csrf_token": acsrf,
            "name": "carl",
            "role": "investigator",
            "site": "HUASHAN",
            "password": "carl-pass-123",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    users = web_store.users().set_index("name")
    assert users.loc["carl", "role"] == "investigator"
    assert users.loc["carl", "site_code"] == "HUASHAN"
    carl, _ = client_for(None)
    token = csrf_of(carl.get("/login").text)
    r = carl.post("/login", data={"csrf_token": token, "username": "carl", "password": "carl-pass-123"})
    assert "carl" in r.text and "HUASHAN" in r.text
    # deactivation ends carl's sessions at once
    admin.post("/users/carl/active", data={"csrf_token": acsrf, "active": "no"})
    assert carl.get("/subjects", follow_redirects=False).status_code == 303


def test_password_change_ends_the_session(client_for, web_store):
    client, csrf = client_for("mona")
    r = client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current": "mona-password-1",
            "new": "a-new-password-2",
            "confirm": "a-new-password-2",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/login"
    assert web_store.authenticate("mona", "a-new-password-2") is not None
    assert web_store.authenticate("mona", "mona-password-1") is None


def test_report_page_shows_the_latest_report(client_for, tmp_path):
    stan, _ = client_for("stan")
    assert "No report yet" in stan.get("/report").text
    old = tmp_path / "reports" / "run-1"
    new = tmp_path / "reports" / "run-2"
    for folder, title in ((old, "old"), (new, "new")):
        folder.mkdir(parents=True)
        (folder / "report.html").write_text(f"<html><body><h1>{title} report</h1></body></html>")
    import os

    os.utime(old / "report.html", (1, 1))
    page = stan.get("/report").text
    assert "run-2" in page
    r = stan.get("/report/files/report.html")
    assert "new report" in r.text
    assert "script-src" not in r.headers["content-security-policy"]  # the report runs no scripts
    assert stan.get("/report/files/../../web.db").status_code == 404


@pytest.mark.parametrize("path", ["/", "/subjects", "/queries", "/audit", "/lock", "/account"])
def test_pages_send_security_headers(client_for, path):
    client, _ = client_for("ivan")
    r = client.get(path)
    assert r.status_code == 200
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"


def test_subjects_list_shows_status_and_next_visit(client_for):
    client, csrf = client_for("ivan")
    _enrol_and_randomise(client, csrf)
    client.post("/subjects/BASICS-001/visits/SCR/MRSS", data=_mrss_form(csrf, visit_date="2026-11-02"))
    page = client.get("/subjects").text
    row = re.search(r"BASICS-001</a></td>(.*?)</tr>", page, re.S).group(1)
    assert "randomised" in row
    assert "BL due" in row
