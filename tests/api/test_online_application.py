"""Issue 21 point 2: an online application without an account (API and page), registered in channel
`online` for staff review, answering the case number and the applicant's own code; staff are told and
accept it like any case. Size- and rate-limited, with Chinese answers."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from flows.towns import replace_towns
from models.audit import AuditEvent
from models.case import Case
from models.db import session_scope, utcnow
from models.party_access import party_for_code
from models.town import TownsIn
from tests.factories import neighbor_case, person_id

pytestmark = pytest.mark.postgres


def _application(**overrides) -> dict:
    body = neighbor_case(channel="online")
    body["parties"][0]["email"] = "chenada@example.test"
    body.update(overrides)
    return body


def test_apply_online_then_staff_see_and_accept_it(engine, client: TestClient, as_user, users) -> None:
    r = client.post("/api/v1/public/applications", json=_application())
    assert r.status_code == 201, r.text
    answer = r.json()
    assert set(answer) == {"case_no", "code"}
    assert re.fullmatch(r"瑞调〔\d{4}〕\d{5}号", answer["case_no"])
    with Session(engine) as session:
        case = session.exec(select(Case).where(Case.case_no == answer["case_no"])).one()
        # For staff review: registered, in channel online, with nobody at the center as its registrar.
        assert (case.stage, case.channel, case.created_by) == ("registered", "online", None)
        applicant = party_for_code(session, answer["code"])
        assert applicant is not None and (applicant.case_id, applicant.name) == (case.id, "陈阿大")
        assert applicant.email == "chenada@example.test"
        register = session.exec(
            select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.action == "case.register")
        ).one()
        assert register.actor_name == "online" and register.actor_id is None
        case_id = case.id

    staff = as_user("clerk")
    notes = staff.get("/notifications").json()["items"]
    assert any(n["case_id"] == case_id and "网上申请" in n["text"] for n in notes), notes
    listed = staff.get("/cases", params={"q": answer["case_no"]}).json()["items"]
    assert [c["id"] for c in listed] == [case_id]
    accepted = staff.post(f"/cases/{case_id}/accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["stage"] == "accepted"


def test_the_application_is_validated_like_intake(engine, client: TestClient) -> None:
    walk_in = client.post("/api/v1/public/applications", json=_application(channel="walk_in"))
    assert walk_in.status_code == 422 and "网上申请" in walk_in.text
    referral = {"kind": "court_pre_filing", "reference": "(2026)浙0381民诉前调1号"}
    assert client.post("/api/v1/public/applications", json=_application(referral=referral)).status_code == 422
    no_id = _application()
    del no_id["parties"][0]["id_number"]
    r = client.post("/api/v1/public/applications", json=no_id)
    assert r.status_code == 422 and "身份号码" in r.text
    bad_id = _application()
    bad_id["parties"][0]["id_number"] = person_id(201)[:-1] + "0"
    if bad_id["parties"][0]["id_number"] == person_id(201):
        bad_id["parties"][0]["id_number"] = person_id(201)[:-1] + "1"
    assert client.post("/api/v1/public/applications", json=bad_id).status_code == 422
    with Session(engine) as session:
        assert session.exec(select(Case)).all() == []


def test_an_oversize_application_is_refused_with_413(engine, client: TestClient) -> None:
    body = _application(facts="很" * 30_000)  # 90 KB of UTF-8: over the public 64 KB
    r = client.post("/api/v1/public/applications", json=body)
    assert r.status_code == 413
    assert "64 KB" in r.json()["detail"]
    with Session(engine) as session:
        assert session.exec(select(Case)).all() == []


def test_the_sixth_application_from_one_address_is_refused_in_chinese(engine, client: TestClient) -> None:
    for n in range(5):
        body = _application()
        body["parties"][0]["id_number"] = person_id(300 + n)
        assert client.post("/api/v1/public/applications", json=body).status_code == 201
    r = client.post("/api/v1/public/applications", json=_application())
    assert r.status_code == 429
    assert "频繁" in r.json()["detail"] and int(r.headers["Retry-After"]) > 0
    with Session(engine) as session:
        assert len(session.exec(select(Case)).all()) == 5
    # The page shares the allowance of the address.
    page = client.post("/apply", data={"applicant_name": "x"})
    assert page.status_code in (422, 429)


def test_apply_on_the_page(engine, client: TestClient) -> None:
    with session_scope(engine, write=True) as session:
        items = [{"name": "塘下镇", "villages": ["罗凤村"]}]
        replace_towns(
            session=session, data=TownsIn.model_validate({"items": items}), actor=None, now=utcnow()
        )
    form = client.get("/apply", headers={"Accept": "text/html"})
    assert form.status_code == 200 and "网上申请调解" in form.text and "塘下镇" in form.text
    fields = {
        "applicant_name": "陈阿大",
        "applicant_id_number": person_id(201),
        "applicant_phone": "13905771234",
        "respondent_kind": "person",
        "respondent_name": "林小二",
        "respondent_phone": "13905775678",
        "category": "neighbor",
        "town": "塘下镇",
        "village": "罗凤村",
        "summary": "两户因屋檐滴水和通道使用发生争执。<script>alert(1)</script>",
    }
    missing = client.post("/apply", data={**fields, "applicant_phone": ""})
    assert missing.status_code == 422 and "手机号码" in missing.text
    assert "<script>alert(1)</script>" not in missing.text  # typed text comes back escaped
    done = client.post("/apply", data=fields)
    assert done.status_code == 201, done.text
    m = re.search(r"案号：<b class=\"mono\">(瑞调〔\d{4}〕\d{5}号)</b>", done.text)
    code = re.search(r"查询码：<b class=\"mono\">([0-9A-Z]{5}-[0-9A-Z]{5})</b>", done.text)
    assert m and code
    with Session(engine) as session:
        case = session.exec(select(Case).where(Case.case_no == m.group(1))).one()
        assert case.channel == "online"
        party = party_for_code(session, code.group(1))
        assert party is not None and party.case_id == case.id and party.role == "applicant"
