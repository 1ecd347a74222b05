"""Committees (issue 19 point 2, CONTRACT v1.2): the dictionary through GET/PUT /committees, a case's
committee on the case, and its documents issued in that committee's name, seal and number series
(医疗纠纷预防和处理条例 第38、39条: the 医疗纠纷人民调解委员会 mediates, signs and seals itself), while a
neighbour case's stay with the center's 人民调解委员会. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, select

from models.audit import AuditEvent
from runtime.relay import drain
from tests.factories import medical_case, neighbor_case
from tests.support.pdf import archived_pdf_texts

pytestmark = pytest.mark.postgres

CENTER = "瑞安市人民调解委员会"  # models.settings.committee_name, seeded by migration 0025
MEDICAL = "瑞安市医疗纠纷人民调解委员会"
YITIAO = {"name": MEDICAL, "kind": "medical", "categories": ["medical"], "number_prefix": "瑞医调"}


def _messages(response) -> str:
    detail = response.json()["detail"]
    return "；".join(d["msg"] for d in detail) if isinstance(detail, list) else detail


def _center(api) -> dict:
    (center,) = [c for c in api.get("/committees").json()["items"] if c["is_center"]]
    return center


def test_the_center_committee_is_there_and_only_the_admin_edits(engine, as_user) -> None:
    admin, clerk = as_user("admin"), as_user("clerk")
    listed = clerk.get("/committees").json()
    assert listed["items"] == [
        {
            "id": listed["items"][0]["id"],
            "name": CENTER,
            "kind": "people",
            "categories": [],
            "number_prefix": None,
            "active": True,
            "is_center": True,
        }
    ]
    for who in ("clerk", "director", "yuhai", "zhoulawyer"):
        assert as_user(who).put("/committees", {"items": [YITIAO]}).status_code == 403, who

    r = admin.put("/committees", {"items": [YITIAO]})  # the center's row left out: kept, never dropped
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [c["name"] for c in items] == [CENTER, MEDICAL]
    yitiao = items[1]
    assert yitiao["kind"] == "medical" and yitiao["categories"] == ["medical"]
    assert yitiao["number_prefix"] == "瑞医调" and yitiao["active"] is True
    assert clerk.get("/committees").json() == r.json()

    # Round trip of what GET answers (ids kept) works; a rename keeps the id.
    body = r.json()
    body["items"][1]["name"] = "瑞安市医患纠纷人民调解委员会"
    r = admin.put("/committees", body)
    assert r.status_code == 200 and r.json()["items"][1]["id"] == yitiao["id"], r.text
    with Session(engine) as session:
        audit = session.exec(select(AuditEvent).where(AuditEvent.action == "committees.replace")).all()
    assert len(audit) == 2


def test_bad_dictionaries_are_refused_in_chinese_and_change_nothing(engine, as_user) -> None:
    admin = as_user("admin")
    assert admin.put("/committees", {"items": [YITIAO]}).status_code == 200
    before = admin.get("/committees").json()
    center = _center(admin)
    refusals = [
        (
            {"items": [YITIAO, {**YITIAO, "name": "另一医调委", "number_prefix": None}]},
            "纠纷类别“医疗纠纷”已由瑞安市医疗纠纷人民调解委员会受理",
        ),
        ({"items": [{**center, "active": False}]}, "不能停用"),
        ({"items": [{**center, "kind": "medical"}]}, "类型只能是人民调解委员会"),
        ({"items": [{**YITIAO, "id": 999}]}, "调解组织编号 999 不存在"),
        ({"items": [{**YITIAO, "number_prefix": "瑞调"}]}, "已用作案号前缀"),
        ({"items": [{**YITIAO, "kind": "court"}]}, ""),
        ({"items": [{**YITIAO, "categories": ["nope"]}]}, ""),
        ({"items": [{**YITIAO, "name": "  "}]}, "调解组织名称不能为空"),
        ({"items": [YITIAO, YITIAO]}, "重复"),
    ]
    for body, words in refusals:
        r = admin.put("/committees", body)
        assert r.status_code == 422, (body, r.text)
        assert words in _messages(r), (words, r.text)
    assert admin.get("/committees").json() == before


def _texts(engine, case_id: int, kind: str) -> list[str]:
    out = archived_pdf_texts(engine, case_id, kind)
    assert out, kind
    return out


def test_a_medical_case_is_issued_by_the_medical_committee_a_neighbour_case_by_the_center(
    engine, as_user, experts
) -> None:
    admin, clerk = as_user("admin"), as_user("clerk")
    yitiao_id = admin.put("/committees", {"items": [YITIAO]}).json()["items"][1]["id"]
    medical = medical_case()
    r = clerk.post("/cases", medical)
    assert r.status_code in (200, 201), r.text
    med = r.json()
    r = clerk.post("/cases", neighbor_case())
    assert r.status_code in (200, 201), r.text
    nb = r.json()
    for case in (med, nb):
        assert clerk.post(f"/cases/{case['id']}/accept", {}).status_code == 200
    drain(engine)

    # The case answers its committee (CONTRACT v1.2).
    assert clerk.get(f"/cases/{med['id']}").json()["committee"] == {
        "id": yitiao_id,
        "name": MEDICAL,
        "kind": "medical",
    }
    assert clerk.get(f"/cases/{nb['id']}").json()["committee"]["name"] == CENTER

    (med_notice,) = _texts(engine, med["id"], "acceptance_notice")
    # Issued in the 医调委's name, under its seal, numbered in its own series (its first case this year),
    # the case number beside it.
    registered_year = med["case_no"].split("〔")[1][:4]
    assert f"瑞医调〔{registered_year}〕00001号" in med_notice
    assert f"案号：{med['case_no']}" in med_notice
    assert f"（{MEDICAL}印章）" in med_notice
    assert f"（{CENTER}印章）" not in med_notice
    for text in _texts(engine, med["id"], "application"):
        assert MEDICAL in text and f"瑞医调〔{registered_year}〕00001号" in text  # one number per case

    (nb_notice,) = _texts(engine, nb["id"], "acceptance_notice")
    assert f"（{CENTER}印章）" in nb_notice and "瑞医调" not in nb_notice and MEDICAL not in nb_notice
    assert nb["case_no"] in nb_notice


def test_the_medical_agreement_is_the_medical_committees_own(engine, as_user, users, experts) -> None:
    """医疗纠纷预防和处理条例 第38、39条: the 医调委 mediates and the agreement is signed and sealed by it,
    not by the center's committee with the 医调委 as a signatory row; numbered in its series."""
    from decimal import Decimal

    from tests.support.clock import in_month
    from tests.support.scenario import Scenario

    at = in_month(2026, 11)

    assert as_user("admin").put("/committees", {"items": [YITIAO]}).status_code == 200
    clerk = users["clerk"]
    hospital = "瑞安市某医院"
    body = medical_case()
    # A neighbour case first: it takes the center's number 1 and none of the 医调委's series.
    nb = Scenario(engine, clerk=clerk, experts=experts, start=at(2, 9)).registered().accepted().case
    s = Scenario(engine, clerk=clerk, experts=experts, start=at(3, 8)).registered(body).accepted()
    s.panel("mediator_tangxia", ("lawyer", "legal_advisor"), now=at(3, 15))
    s.scheduled(at(5, 14), duration_minutes=90, now=at(5, 8))
    s.agreed(at(5, 14), attendees=["申请人", "被申请人"], now=at(5, 17))
    term = {
        "obligor": hospital,
        "obligee": "吴海燕",
        "obligation": "一次性赔偿医疗费、误工费等各项损失",
        "amount": Decimal("60000.00"),
        "due_date": date(2026, 12, 1),
        "method": "银行转账至吴海燕本人账户",
        "place": "瑞安市安阳街道",
    }
    cid = s.issued([term], now=at(5, 17), method="银行转账", place="瑞安市安阳街道").case

    (agreement,) = _texts(engine, cid, "agreement")
    assert "瑞医调〔2026〕00001号" in agreement
    assert f"（{MEDICAL}印章）" in agreement
    assert CENTER not in agreement  # not issued, sealed or signed by the center's committee
    for kind in ("application", "acceptance_notice", "session_record"):
        for text in _texts(engine, cid, kind):
            assert "瑞医调〔2026〕00001号" in text and MEDICAL in text, kind
    (nb_notice,) = _texts(engine, nb, "acceptance_notice")
    assert f"（{CENTER}印章）" in nb_notice and "瑞医调" not in nb_notice


def test_two_committees_may_swap_names_and_a_left_out_one_is_deactivated(engine, as_user) -> None:
    admin = as_user("admin")
    traffic = {"name": "瑞安市交通事故纠纷人民调解委员会", "kind": "traffic", "categories": ["traffic"]}
    items = admin.put("/committees", {"items": [YITIAO, traffic]}).json()["items"]
    med, tra = items[1], items[2]
    swapped = [{**med, "name": tra["name"]}, {**tra, "name": med["name"]}]
    r = admin.put("/committees", {"items": swapped})
    assert r.status_code == 200, r.text
    names = {c["id"]: c["name"] for c in r.json()["items"]}
    assert names[med["id"]] == tra["name"] and names[tra["id"]] == med["name"]

    # Left out: kept (its documents name it) but no longer takes cases.
    r = admin.put("/committees", {"items": [swapped[0]]})
    assert r.status_code == 200, r.text
    left_out = next(c for c in r.json()["items"] if c["id"] == tra["id"])
    assert left_out["active"] is False
