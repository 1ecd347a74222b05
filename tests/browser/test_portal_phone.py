"""Issue 21's walk on a 390×844 phone: a worker takes the code printed on his 受理通知书 to his own page,
confirms the notice with his consent to electronic delivery, signs the agreement with the code the file
sender wrote to its log, and, once the case is closed, rates the mediation. Staff act through the JSON
API of the same live server; the page never scrolls sideways."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import Session, select

from models.delivery import Delivery
from models.party import Party
from models.portal import PortalRating, RemoteSignature
from models.settings import get_settings
from tests.api.test_portal import (
    COMPANY,
    COMPANY_CODE,
    COMPANY_PHONE,
    WORKER,
    WORKER_ID,
    WORKER_PHONE,
    _body,
    png_b64,
)
from tests.browser.test_phone_and_history import PHONE, WIDE
from tests.factories import PASSWORD, add_user, expert_bank, wait_for_case_runs
from tests.support.pdf import archived_pdf_texts

pytestmark = pytest.mark.browser


def _until(check: Callable[[], object], what: str, timeout: float = 60) -> object:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if found := check():
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _sms_code(phone: str, after: int) -> str:
    """The newest signing code sent to `phone`, from the file sender's log (one JSON line a message)."""
    log = get_settings().data_dir / "messages" / "sms.log"

    def newest() -> str | None:
        if not log.exists():
            return None
        lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
        mine = [x for x in lines if x["to"] == phone and x["id"] > after and "验证码" in x["body"]]
        match = re.search(r"验证码(\d{6})", mine[-1]["body"]) if mine else None
        return match.group(1) if match else None

    return str(_until(newest, f"the signing code to {phone}"))


def _last_message_id() -> int:
    log = get_settings().data_dir / "messages" / "sms.log"
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return max((json.loads(x)["id"] for x in lines), default=0)


def test_a_worker_follows_his_case_on_the_phone(engine, chromium, live_server) -> None:
    experts = expert_bank(engine)
    add_user(engine, "clerk", "staff", display_name="陈晓")
    api = httpx.Client(base_url=f"{live_server}/api/v1", timeout=30)
    token = api.post("/auth/token", data={"username": "clerk", "password": PASSWORD}).json()["access_token"]
    api.headers["Authorization"] = f"Bearer {token}"

    r = api.post("/cases", json=_body())
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert api.post(f"/cases/{cid}/accept", json={}).status_code == 200
    # The notice and its delivery record (opened by the same flow, just after the PDF is archived).
    _until(lambda: api.get(f"/cases/{cid}/deliveries").json(), "the 受理通知书's delivery record")
    notice = archived_pdf_texts(engine, cid, "acceptance_notice")
    # The code in text beside its QR, for a worker without a scanner (pdftotext loses no character).
    (text,) = notice
    match = re.search(rf"{WORKER}服务码：([0-9A-Z]{{5}})-([0-9A-Z]{{5}})", text)
    assert match, text
    code = match.group(1) + match.group(2)
    assert f"/p/{code}" in text

    context = chromium.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.set_default_timeout(20000)
        page.goto(f"{live_server}/p/{code}")
        page.fill("#secret", "000000")
        page.click("button[type=submit]")
        assert "服务码或验证信息不正确" in page.inner_text("main")
        page.fill("#secret", WORKER_ID[-6:])
        page.click("button[type=submit]")
        page.wait_for_selector("#stage")
        assert "目前阶段：受理" in page.inner_text("#stage")
        assert page.evaluate(WIDE) == []
        main = page.inner_text("main")
        assert WORKER_ID in main and COMPANY in main
        assert COMPANY_CODE not in main and COMPANY_PHONE not in main

        # The notice: consent to electronic delivery, then confirmed; the 送达回证 follows.
        page.check("input[name=consent_electronic]")
        page.click("#documents button.primary")
        assert "已确认收到" in page.inner_text("#flash")
        with Session(engine) as session:
            delivery = session.exec(select(Delivery).where(Delivery.case_id == cid)).first()
            assert delivery is not None and delivery.status == "delivered" and delivery.method == "portal"

        # Staff take the case to an agreement; the worker signs it on his phone.
        members = [{"expert_id": experts["mediator_yuhai"], "role": "lead"}]
        assert api.put(f"/cases/{cid}/panel", json={"members": members}).status_code == 200
        at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        sid = api.post(f"/cases/{cid}/sessions", json={"scheduled_at": at, "location": "第一调解室"}).json()[
            "id"
        ]
        held = {
            "held_at": datetime.now(UTC).isoformat(),
            "attendees": [WORKER, "张经理"],
            "notes": "达成一致。",
        }
        assert (
            api.post(f"/cases/{cid}/sessions/{sid}/record", json={**held, "outcome": "agreed"}).status_code
            == 200
        )
        due = (datetime.now(UTC) + timedelta(days=20)).date().isoformat()
        terms = [
            {
                "obligor": COMPANY,
                "obligee": WORKER,
                "obligation": "支付拖欠工资",
                "amount": "8000",
                "due_date": due,
            }
        ]
        r = api.post(f"/cases/{cid}/agreement", json={"terms": terms, "performance_method": "银行转账"})
        assert r.status_code in (200, 201), r.text
        _until(lambda: archived_pdf_texts(engine, cid, "agreement"), "the agreement's PDF")

        page.reload()
        assert "支付拖欠工资（8,000.00元）" in page.inner_text("#agreement")
        before = _last_message_id()
        page.click("#otp-request")
        assert "验证码已发送" in page.inner_text("#flash")
        page.fill("#otp", _sms_code(WORKER_PHONE, before))
        pad = page.locator("#signature-pad").bounding_box()
        assert pad is not None and pad["width"] <= PHONE["width"]
        # A finger's stroke across the pad, as the touch screen reports it (pointer events).
        stroke = [(20 + step * 20, 30 + (step % 3) * 15) for step in range(12)]
        box = page.locator("#signature-pad")
        for n, (x, y) in enumerate(stroke):
            kind = "pointerdown" if n == 0 else "pointermove"
            event = {"clientX": pad["x"] + x, "clientY": pad["y"] + y, "pointerId": 1, "pointerType": "touch"}
            box.dispatch_event(kind, event)
        box.dispatch_event("pointerup", {"pointerId": 1, "pointerType": "touch"})
        page.click("#esign-form button[type=submit]")
        assert "签名已提交" in page.inner_text("#flash")
        assert page.evaluate(WIDE) == []

        # The company signs through the API, the presiding mediator on the case: signed and reissued.
        company = httpx.Client(base_url=f"{live_server}/api/v1", timeout=30)
        with Session(engine) as session:
            company_id = session.exec(
                select(Party.id).where(Party.case_id == cid, Party.name == COMPANY)
            ).one()
        company_code = api.get(f"/cases/{cid}/parties/{company_id}/access").json()["code"]
        r = company.post(f"/portal/{company_code}/login", json={"secret": COMPANY_CODE[-6:]})
        company.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        before = _last_message_id()
        assert company.post("/portal/signatures/request").status_code == 200
        otp = _sms_code(COMPANY_PHONE, before)
        r = company.post("/portal/signatures", json={"otp": otp, "image_png_base64": png_b64(62)})
        assert r.status_code == 200, r.text
        r = api.post(f"/cases/{cid}/agreement/presiding-signature", json={"image_png_base64": png_b64(63)})
        assert r.json()["stage"] == "follow_up", r.text
        with Session(engine) as session:
            drawn = session.exec(select(RemoteSignature).where(RemoteSignature.case_id == cid)).all()
            assert sorted(s.signer_name for s in drawn) == sorted([WORKER, COMPANY, "王调解"])

        # Performed and closed; the worker rates the mediation on his page.
        assert (
            api.post(f"/cases/{cid}/follow-ups", json={"performed": True, "notes": "已支付"}).status_code
            == 201
        )
        wait_for_case_runs(engine, cid)  # the 卷宗 holds what the relay issues (models/dossier.py)
        r = api.post(f"/cases/{cid}/close", json={"kind": "performed", "note": "协议已履行完毕"})
        assert r.status_code == 200, r.text
        page.reload()
        assert "协议已签署生效" in page.inner_text("#agreement")
        page.check("#rating input[value='3']")
        page.fill("#comment", "调解员很耐心")
        page.click("#rating button[type=submit]")
        assert "感谢您的评价" in page.inner_text("#flash")
        assert "您的评价：满意" in page.inner_text("#rating")
        assert page.evaluate(WIDE) == []
        with Session(engine) as session:
            rating = session.exec(select(PortalRating)).one()
            assert rating.rating == "3" and rating.comment == "调解员很耐心"
    finally:
        context.close()
