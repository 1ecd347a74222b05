"""The case page's 卷宗 section: the checklist, an upload through the form, the close form naming what
is missing and refusing the 结案 until it is filed (issue 22)."""

from __future__ import annotations

import pytest

from models.db import utcnow
from runtime.relay import drain
from tests.factories import png_bytes
from tests.pages.conftest import csrf_of
from tests.support.scenario import Scenario

pytestmark = pytest.mark.postgres


def test_close_form_names_the_missing_item_and_the_page_refuses(engine, browser_for, users, experts):
    cid = (
        Scenario(engine, clerk=users["clerk"], experts=experts, start=utcnow())
        .registered()
        .accepted(now=utcnow())
        .case
    )
    drain(engine)  # the 受理通知书 (the rights and duties told)
    page = browser_for("clerk")
    html = page.get(f"/cases/{cid}").text
    assert 'id="dossier-checklist"' in html and 'id="close-missing"' in html
    missing = html.split('id="close-missing"', 1)[1].split("</div>", 1)[0]
    assert "当事人身份证明" in missing and "陈阿大" in missing
    r = page.post(
        f"/cases/{cid}/close",
        data={"csrf_token": csrf_of(html), "kind": "withdrawn", "note": "申请人撤回申请"},
        follow_redirects=True,
    )
    assert "卷宗材料不全，不能结案" in r.text and "当事人身份证明" in r.text
    assert "已结案" not in r.text.split('id="closing"', 1)[1][:400]
    # The clerk files the ID copy through the page's form (a PNG named .pdf: judged by its content).
    party_id = html.split('name="party_id"', 1)[1].split('<option value="', 2)[2].split('"', 1)[0]
    r = page.post(
        f"/cases/{cid}/attachments",
        data={"csrf_token": csrf_of(html), "kind": "id_copy", "party_id": party_id},
        files={"file": ("身份证.pdf", png_bytes(), "application/pdf")},
        follow_redirects=True,
    )
    assert "材料已上传" in r.text and "身份证.png" in r.text
    assert 'id="close-missing"' not in r.text
    r = page.post(
        f"/cases/{cid}/close",
        data={"csrf_token": csrf_of(r.text), "kind": "withdrawn", "note": "申请人撤回申请"},
        follow_redirects=True,
    )
    assert "已作出结案决定" in r.text
    # The binder prints from the page too.
    binder = page.get(f"/cases/{cid}/dossier")
    assert binder.status_code == 200 and binder.content.startswith(b"%PDF")
    # The director sees the override form only while something is missing: here nothing is.
    assert 'id="close-override-form"' not in browser_for("director").get(f"/cases/{cid}").text
