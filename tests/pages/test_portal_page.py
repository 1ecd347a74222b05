"""The party's page `/p/{code}` through its forms (TestClient, real database): the secret form, the
throttle on wrong answers, a page opened for one party that opens no other, the 服务码 on the staff's
case page, and the 主持人签名 form there."""

from __future__ import annotations

import html
import re

from sqlmodel import Session, select

from models.party import Party
from runtime.relay import drain
from tests.api.test_portal import COMPANY, COMPANY_CODE, WORKER, WORKER_ID, _body
from tests.pages.conftest import csrf_of, login


def _open(client, code: str, secret: str):
    form = client.get(f"/p/{code}")
    assert form.status_code == 200 and "证件号码后六位" in form.text
    return client.post(
        f"/p/{code}", data={"secret": secret, "csrf_token": csrf_of(form.text)}, follow_redirects=False
    )


def test_the_page_opens_for_its_party_only(engine, app, client, as_user) -> None:
    from fastapi.testclient import TestClient

    staff = as_user("clerk")
    r = staff.post("/cases", _body())
    cid = r.json()["id"]
    assert staff.post(f"/cases/{cid}/accept", {}).status_code == 200
    drain(engine)
    with Session(engine) as session:
        ids = {p.name: p.id for p in session.exec(select(Party).where(Party.case_id == cid)).all()}
    worker = staff.get(f"/cases/{cid}/parties/{ids[WORKER]}/access").json()["code"]
    company = staff.get(f"/cases/{cid}/parties/{ids[COMPANY]}/access").json()["code"]

    phone = TestClient(app)
    assert "服务码或验证信息不正确" in _open(phone, worker, COMPANY_CODE[-6:]).text
    opened = _open(phone, worker, WORKER_ID[-6:])
    assert opened.status_code == 303 and opened.headers["location"] == f"/p/{worker}"
    page = html.unescape(phone.get(f"/p/{worker}").text)
    assert "目前阶段：<strong>受理</strong>" in page and WORKER_ID in page and "受理通知书" in page
    assert COMPANY_CODE not in page
    # The worker's cookie is his page's alone: the company's page still asks for its secret.
    assert "证件号码后六位" in phone.get(f"/p/{company}").text
    # A form posted without the page's token changes nothing.
    (delivery,) = re.findall(r"/p/\w+/deliveries/(\d+)/confirm", page)
    r = phone.post(f"/p/{worker}/deliveries/{delivery}/confirm", data={"consent_electronic": "1"})
    assert r.status_code == 403

    # Wrong answers for the company's code from one address: locked after 5, the right one too.
    other = TestClient(app)
    for _ in range(5):
        assert _open(other, company, "000000").status_code == 401
    locked = _open(other, company, COMPANY_CODE[-6:])
    assert locked.status_code == 429 and "验证信息错误次数过多" in locked.text

    # Staff see each party's code on the case page.
    desk = TestClient(app)
    assert login(desk, "clerk").status_code == 303
    case_page = desk.get(f"/cases/{cid}").text
    assert f"{worker[:5]}-{worker[5:]}" in case_page and f"{company[:5]}-{company[5:]}" in case_page
