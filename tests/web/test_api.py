"""The JSON API: same store functions as the pages, described by OpenAPI."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.web.conftest import MRSS_SITES, USERS


def _api_login(app, name):
    client = TestClient(app)
    r = client.post("/api/v1/login", json={"username": name, "password": USERS[name][1]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"] == name and body["role"] == USERS[name][0]
    client.headers["X-CSRF-Token"] = body["csrf_token"]
    return client


def _enrol(client, subject_id, **extra):
    body = {
        "subject_id": subject_id,
        "consent_date": "2026-11-01",
        "sex": "M",
        "birth_date": "1970-02-02",
        "height_cm": 175,
        "strata": {"SUBTYPE": "diffuse", "DURATION": "late"},
        "eligibility": {c: True for c in ("I1", "I2", "I3", "E1", "E2", "E3")},
    }
    body.update(extra)
    return client.post("/api/v1/subjects", json=body)


def test_api_login_errors(app):
    client = TestClient(app)
    r = client.post("/api/v1/login", json={"username": "ivan", "password": "wrong-password"})
    assert r.status_code == 401
    assert r.json() == {"detail": "user name or password is wrong"}
    assert client.get("/api/v1/me").status_code == 401


def test_api_workflow(app, web_store):
    ivan = _api_login(app, "ivan")
    r = _enrol(ivan, "BASICS-100")
    assert r.status_code == 201, r.text
    assert r.json()["stratum"] == "SUBTYPE=diffuse|DURATION=late"
    r = _enrol(ivan, "BASICS-101", eligibility={"I1": True})
    assert r.status_code == 400
    assert "I2" in r.json()["detail"]
    r = ivan.post("/api/v1/subjects/BASICS-100/randomize")
    assert r.status_code == 200
    arm = r.json()["arm"]
    assert web_store.read_table("allocation").set_index("subject_id").loc["BASICS-100", "arm"] == arm
    url = "/api/v1/subjects/BASICS-100/visits/BL/MRSS"
    values = dict.fromkeys(MRSS_SITES, 2)
    values["face"] = 9
    r = ivan.post(url, json={"values": values, "visit_date": "2026-11-10"})
    assert r.status_code == 400
    errors = r.json()["errors"]
    assert [e["item"] for e in errors] == ["face"]
    assert "expected an integer from 0 to 3" in errors[0]["error"]
    values["face"] = 0
    r = ivan.post(url, json={"values": values, "visit_date": "2026-11-10"})
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 17
    assert r.json()["scores"] == {"MRSS": 32}  # 16 areas x 2 + 0
    form = ivan.get("/api/v1/subjects/BASICS-100/visits/BL/MRSS").json()
    assert {i["code"]: i["value"] for i in form["items"]}["face"] == "0"
    r = ivan.post(
        "/api/v1/subjects/BASICS-100/adverse-events",
        json={
            "term": "Nasopharyngitis",
            "body_system": "Infections and infestations",
            "start_date": "2026-11-11",
            "grade": 1,
            "serious": False,
            "relatedness": "unlikely",
        },
    )
    assert r.status_code == 201
    mona = _api_login(app, "mona")
    r = mona.post(
        "/api/v1/queries",
        json={"subject_id": "BASICS-100", "visit": "BL", "instrument": "MRSS", "item": "face", "text": "0?"},
    )
    assert r.status_code == 201
    qid = r.json()["id"]
    assert (
        ivan.post(f"/api/v1/queries/{qid}/answer", json={"answer": "yes, 0"}).json()["status"] == "answered"
    )
    assert mona.post(f"/api/v1/queries/{qid}/close", json={}).json()["status"] == "closed"
    dash = mona.get("/api/v1/dashboard").json()
    assert dash["totals"]["randomised"] == 1
    assert dash["totals"][arm] == 1
    assert dash["queries"] == {"open": 0, "answered": 0}
    subject = ivan.get("/api/v1/subjects/BASICS-100").json()
    assert subject["allocation"]["arm"] == arm
    assert [a["term"] for a in subject["adverse_events"]] == ["Nasopharyngitis"]


def test_api_validate_uses_the_registry_messages(app):
    client = _api_login(app, "mona")
    ok = client.post("/api/v1/validate", json={"instrument": "PFT", "item": "fvc_l", "value": "3.1"}).json()
    assert ok == {"ok": True, "message": None}
    bad = client.post("/api/v1/validate", json={"instrument": "PFT", "item": "fvc_l", "value": "31"}).json()
    assert bad["ok"] is False
    assert bad["message"] == (
        "PFT item 'fvc_l' (Forced vital capacity (FVC)): value '31' is not allowed; "
        "expected a number from 0.3 to 8 L"
    )
    unknown = client.post("/api/v1/validate", json={"instrument": "PFT", "item": "nope", "value": 1}).json()
    assert "PFT has no item 'nope'" in unknown["message"]


def test_api_lock(app):
    stan = _api_login(app, "stan")
    assert stan.get("/api/v1/lock").json()["locked"] is False
    state = stan.post("/api/v1/lock", json={"reason": "final"}).json()
    assert state["locked"] is True and state["locked_by"] == "stan"
    ivan = _api_login(app, "ivan")
    r = _enrol(ivan, "BASICS-200")
    assert r.status_code == 409
    assert "locked" in r.json()["detail"]
    assert stan.post("/api/v1/unlock", json={"reason": "reopen"}).json()["locked"] is False
    assert _enrol(ivan, "BASICS-200").status_code == 201


def test_openapi_schema_describes_the_api(app):
    schema = TestClient(app).get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    assert "/api/v1/subjects/{subject_id}/randomize" in paths
    assert "/api/v1/validate" in paths
    assert not any(p.startswith("/subjects") for p in paths)  # pages are not part of the API schema
    enrol = paths["/api/v1/subjects"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert enrol["$ref"].endswith("/EnrolIn")
    # nothing in the API reads the allocation sequence
    assert not any("randomization" in p or "sequence" in p for p in paths)


def test_api_validation_errors_name_the_field(app):
    ivan = _api_login(app, "ivan")
    r = ivan.post("/api/v1/subjects", json={"subject_id": "X"})
    assert r.status_code == 422
    assert "consent_date" in r.json()["detail"]
