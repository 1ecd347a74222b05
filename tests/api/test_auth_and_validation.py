"""Authentication, roles, visibility, and bad input (422 in Chinese, nothing stored)."""

from __future__ import annotations

from sqlmodel import Session, func, select

from models.audit import AuditEvent
from models.case import Case
from models.party import Party
from tests.factories import PASSWORD, neighbor_case, wage_case


def test_health_and_openapi_are_public(client):
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/v1/cases",
        "/api/v1/cases/{case_id}/panel",
        "/api/v1/escalations/sweep",
        "/api/v1/clocks/due",
        "/api/v1/dashboard",
        "/verify/{value}",
    ):
        assert path in spec["paths"]
    assert all(op.get("summary") for item in spec["paths"].values() for op in item.values())


def test_login_and_401(client, users):
    assert client.get("/api/v1/cases").status_code == 401
    assert client.get("/api/v1/cases", headers={"Authorization": "Bearer forged"}).status_code == 401
    bad = client.post("/api/v1/auth/token", data={"username": "clerk", "password": "wrong-password"})
    assert bad.status_code == 401 and bad.json()["detail"] == "用户名或密码不正确"
    ok = client.post("/api/v1/auth/token", data={"username": "clerk", "password": PASSWORD})
    assert ok.status_code == 200 and ok.json()["token_type"] == "bearer"


def test_roles(as_user):
    leader = as_user("director")
    assert leader.post("/cases", neighbor_case()).status_code == 403
    assert leader.get("/dashboard").status_code == 200
    lawyer = as_user("zhoulawyer")
    assert lawyer.get("/dashboard").status_code == 403
    assert lawyer.post("/experts", {"name": "x", "kind": "lawyer"}).status_code == 403
    assert as_user("clerk").post("/escalations/sweep", {}).status_code == 403
    assert as_user("admin").post("/escalations/sweep", {}).status_code == 200
    enums = as_user("clerk").get("/meta/enums").json()
    assert {"code": "labor", "label": "劳动争议"} in enums["category"]
    assert {"code": "3", "label": "市领导包案"} in enums["escalation_level"]


def test_lawyer_sees_only_their_cases(as_user, experts):
    staff = as_user("clerk")
    mine = staff.post("/cases", wage_case()).json()["id"]
    other = staff.post("/cases", neighbor_case()).json()["id"]
    staff.post(f"/cases/{mine}/accept", {})
    staff.put(
        f"/cases/{mine}/panel",
        {
            "members": [
                {"expert_id": experts["mediator_yuhai"], "role": "lead"},
                {"expert_id": experts["lawyer"], "role": "legal_advisor"},
            ]
        },
    )
    lawyer = as_user("zhoulawyer")
    assert lawyer.get(f"/cases/{mine}").status_code == 200
    assert lawyer.get(f"/cases/{other}").status_code == 404
    assert lawyer.get(f"/cases/{other}/documents").status_code == 404
    assert [c["id"] for c in lawyer.get("/cases").json()["items"]] == [mine]
    assert as_user("otherlawyer").get(f"/cases/{mine}").status_code == 404
    r = lawyer.post(
        f"/cases/{mine}/opinions",
        {"body": "建议分期支付并约定违约责任。", "kind": "agreement_review", "approved": True},
    )
    assert r.status_code == 201
    assert lawyer.post(f"/cases/{other}/opinions", {"body": "x"}).status_code == 404
    assert staff.post(f"/cases/{mine}/opinions", {"body": "x"}).status_code == 403


def _count(engine, model) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def test_bad_input_is_422_in_chinese_and_stores_nothing(engine, as_user):
    staff = as_user("clerk")
    before = (_count(engine, Case), _count(engine, Party), _count(engine, AuditEvent))
    body = neighbor_case()
    body["parties"][0]["id_number"] = "330381198503120011"  # wrong check digit
    r = staff.post("/cases", body)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail[0]["loc"][-1] == "id_number" and "校验" in detail[0]["msg"]

    body = neighbor_case()
    body["parties"][1]["phone"] = "12345"
    r = staff.post("/cases", body)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "phone" and "手机" in r.json()["detail"][0]["msg"]

    body = neighbor_case()
    body["parties"][1]["role"] = "applicant"
    r = staff.post("/cases", body)
    assert r.status_code == 422 and "被申请人" in r.json()["detail"][0]["msg"]

    body = neighbor_case(category="weather")
    r = staff.post("/cases", body)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "category"
    r = staff.post("/cases", {**neighbor_case(), "summary": "   "})
    assert r.status_code == 422 and r.json()["detail"][0]["msg"] == "不能为空"
    assert (_count(engine, Case), _count(engine, Party), _count(engine, AuditEvent)) == before


def test_lists_mask_personal_data(as_user):
    staff = as_user("clerk")
    cid = staff.post("/cases", neighbor_case()).json()["id"]
    listed = staff.get("/cases").json()
    party = listed["items"][0]["parties"][0]
    assert "*" in party["id_number"] and "*" in party["phone"]
    assert listed["total"] == 1
    full = staff.get(f"/cases/{cid}").json()["parties"][0]
    assert "*" not in full["id_number"]
    leader_view = as_user("director").get(f"/cases/{cid}").json()["parties"][0]
    assert "*" in leader_view["id_number"]


def test_stale_version_is_409(as_user):
    staff = as_user("clerk")
    case = staff.post("/cases", neighbor_case()).json()
    r = staff.post(f"/cases/{case['id']}/accept", {"version": case["version"] + 5})
    assert r.status_code == 409 and "版本" in r.json()["detail"]
    assert staff.post(f"/cases/{case['id']}/accept", {"version": case["version"]}).status_code == 200


def test_clock_calculator(as_user):
    api = as_user("clerk")
    r = api.get("/clocks/due", params={"clock": "labor", "start": "2026-09-20"})
    assert r.status_code == 200
    body = r.json()
    assert body["due"] == "2026-10-08" and "第十四条" in body["basis"]
    assert api.get("/clocks/due", params={"clock": "nope", "start": "2026-09-20"}).status_code == 422
    assert api.get("/clocks/due", params={"clock": "labor", "start": "2026-13-01"}).status_code == 422


def test_repeated_wrong_passwords_lock_the_name_for_a_while(client, users):
    from api import security

    # The throttle belongs to the app (memory storage): a fresh app starts with no failures.
    for _ in range(security.MAX_FAILURES):
        r = client.post("/api/v1/auth/token", data={"username": "director", "password": "guess-guess"})
        assert r.status_code == 401
    r = client.post("/api/v1/auth/token", data={"username": "director", "password": PASSWORD})
    assert r.status_code == 429 and "分钟后再试" in r.json()["detail"]
    # Another name is not affected.
    assert (
        client.post("/api/v1/auth/token", data={"username": "clerk", "password": PASSWORD}).status_code == 200
    )
