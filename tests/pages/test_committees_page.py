"""The admin's committee page (调解组织字典): the same action as PUT /committees, a refused form shown
again with what was typed, and the case page naming the committee that mediates. SQLite and PostgreSQL."""

from __future__ import annotations

import html

import pytest
from sqlmodel import Session, select

from models.audit import AuditEvent
from models.committee import Committee
from tests.pages.conftest import csrf_of

pytestmark = pytest.mark.postgres

CENTER = "瑞安市人民调解委员会"
MEDICAL = "瑞安市医疗纠纷人民调解委员会"


def _form(page: str, center_id: int, **new: object) -> dict:
    form: dict = {
        "csrf_token": csrf_of(page),
        "rows": "2",
        "id_0": str(center_id),
        "center_0": "1",
        "name_0": CENTER,
        "kind_0": "people",
        "prefix_0": "",
        "id_1": "",
        "name_1": new.get("name", MEDICAL),
        "kind_1": "medical",
        "categories_1": new.get("categories", ["medical"]),
        "prefix_1": new.get("prefix", "瑞医调"),
        "active_1": "1",
    }
    return form


def test_admin_adds_the_medical_committee_and_the_case_page_names_it(engine, browser_for) -> None:
    admin = browser_for("admin")
    page = admin.get("/admin/committees")
    assert (
        page.status_code == 200
        and CENTER in page.text
        and "本中心人民调解委员会（默认，始终保留）" in page.text
    )
    assert browser_for("clerk").get("/admin/committees", follow_redirects=False).status_code == 403
    with Session(engine) as session:
        center_id = session.exec(select(Committee.id).where(Committee.is_center)).one()

    # A prefix taken by the case numbers: refused, the form back with everything typed.
    typed = "瑞安市医疗纠纷人民调解委员会<b>"
    r = admin.post("/admin/committees", data=_form(page.text, center_id, name=typed, prefix="瑞调"))
    assert r.status_code == 422
    assert "已用作案号前缀" in r.text
    assert f'value="{html.escape(typed)}"' in r.text and typed not in r.text  # kept, and escaped
    assert 'value="瑞调"' in r.text and 'value="medical" checked' in r.text
    with Session(engine) as session:
        assert len(session.exec(select(Committee)).all()) == 1  # nothing stored

    r = admin.post("/admin/committees", data=_form(page.text, center_id), follow_redirects=False)
    assert r.status_code == 303, r.text
    page = admin.get("/admin/committees")
    assert f'value="{MEDICAL}"' in page.text and 'value="瑞医调"' in page.text
    with Session(engine) as session:
        row = session.exec(select(Committee).where(Committee.name == MEDICAL)).one()
        assert row.categories == ["medical"] and row.kind == "medical" and row.active
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "committees.replace")).all()

    clerk = browser_for("clerk")
    from tests.api_clients import Api

    api = Api(clerk, "clerk")
    body = {
        "channel": "walk_in",
        "category": "medical",
        "town": "塘下镇",
        "summary": "患者术后出现并发症，家属要求医院赔偿。",
        "claims": "请求赔偿医疗费。",
        "parties": [
            {"role": "applicant", "kind": "person", "name": "吴海燕"},
            {"role": "respondent", "kind": "organization", "name": "瑞安市某医院"},
        ],
    }
    case = api.post("/cases", body).json()
    case_page = clerk.get(f"/cases/{case['id']}")
    assert case_page.status_code == 200
    assert f"承办调解组织：<strong>{MEDICAL}</strong>" in case_page.text
