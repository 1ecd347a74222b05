"""The pages over HTTP: login, CSRF, role menus and checks, intake validation, lawyers' visibility."""

from __future__ import annotations

import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from api.html import TEMPLATES_DIR
from flows import intake
from models.case import Case
from models.db import session_scope, utcnow
from models.schemas import CaseCreate
from models.user import User
from runtime.relay import drain
from tests.factories import PASSWORD, neighbor_case, person_id, wage_case
from tests.pages.conftest import csrf_of, login
from tests.support.pdf import pdf_compact
from tests.support.scenario import Scenario


def _register(engine, body: dict) -> int:
    with session_scope(engine, write=True) as session:
        clerk = session.exec(select(User).where(User.username == "clerk")).scalar_one()
        case = intake.register_case(
            session=session, data=CaseCreate.model_validate(body), actor=clerk, now=utcnow()
        )
        session.flush()
        return case.id


def _case_no(engine, case_id: int) -> str:
    with Session(engine) as session:
        return session.get(Case, case_id).case_no


def _case_count(engine) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(Case)).scalar_one()


def test_pages_need_login(anonymous, users) -> None:
    for path in ("/workbench", "/cases", "/cases/new", "/dashboard", "/admin/users", "/cases/1"):
        r = anonymous.get(path, follow_redirects=False)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/login?next=")


def test_login_sets_httponly_lax_cookie_and_logout(anonymous, users) -> None:
    bad = login(anonymous, "clerk", "wrong-password")
    assert bad.status_code == 401 and "用户名或密码不正确" in bad.text
    r = login(anonymous, "clerk")
    assert r.status_code == 303 and r.headers["location"] == "/workbench"
    cookie = r.headers["set-cookie"]
    assert "tiaojie_session=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    page = anonymous.get("/workbench")
    assert page.status_code == 200 and "工作台" in page.text
    out = anonymous.post("/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    anonymous.cookies.clear()
    assert anonymous.get("/workbench", follow_redirects=False).status_code == 303


def test_login_form_needs_its_csrf_token(anonymous, users) -> None:
    anonymous.get("/login")
    r = anonymous.post(
        "/login", data={"username": "clerk", "password": "correct-horse-battery"}, follow_redirects=False
    )
    assert r.status_code == 403 and "CSRF" in r.text


def test_open_redirect_after_login_is_refused(anonymous, users) -> None:
    page = anonymous.get("/login?next=//evil.example/x")
    r = anonymous.post(
        "/login",
        data={
            "username": "clerk",
            "password": "correct-horse-battery",
            "csrf_token": csrf_of(page.text),
            "next": "//evil.example/x",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/workbench"


def test_post_without_or_with_wrong_csrf_is_rejected(engine, browser_for) -> None:
    clerk = browser_for("clerk")
    case_id = _register(engine, neighbor_case())
    for data in ({}, {"csrf_token": "forged"}):
        r = clerk.post(f"/cases/{case_id}/accept", data=data, follow_redirects=False)
        assert r.status_code == 403 and "CSRF" in r.text
    with Session(engine) as session:
        assert session.get(Case, case_id).stage == "registered"
    page = clerk.get(f"/cases/{case_id}")
    r = clerk.post(
        f"/cases/{case_id}/accept", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303
    with Session(engine) as session:
        assert session.get(Case, case_id).stage == "accepted"


def test_menus_follow_the_role(browser_for) -> None:
    staff = browser_for("clerk").get("/workbench").text
    assert "纠纷登记" in staff and "案件台账" in staff and "用户管理" not in staff and "积案看板" not in staff
    leader = browser_for("director").get("/dashboard").text
    assert "积案看板" in leader and "督办包案" in leader and "纠纷登记" not in leader
    lawyer = browser_for("zhoulawyer").get("/cases").text
    assert "我的案件" in lawyer and "纠纷登记" not in lawyer and "积案看板" not in lawyer
    admin = browser_for("admin").get("/admin/users").text
    assert "用户管理" in admin and "专家库" in admin and "期限与设置" in admin


def test_wrong_role_gets_a_chinese_403_page(browser_for) -> None:
    clerk = browser_for("clerk")
    for path in ("/admin/users", "/admin/experts", "/admin/settings", "/dashboard"):
        r = clerk.get(path)
        assert r.status_code == 403 and "无权访问" in r.text, path
    lawyer = browser_for("zhoulawyer")
    assert lawyer.get("/cases/new").status_code == 403
    assert lawyer.get("/workbench").status_code == 403


def test_intake_error_keeps_everything_typed_and_stores_nothing(engine, browser_for) -> None:
    clerk = browser_for("clerk")
    page = clerk.get("/cases/new")
    assert page.status_code == 200
    bad_id = person_id(1)[:-1] + ("0" if person_id(1)[-1] != "0" else "1")
    form = {
        "csrf_token": csrf_of(page.text),
        "channel": "walk_in",
        "category": "labor",
        "town": "玉海街道",
        "village": "滨江社区",
        "summary": "工人反映公司拖欠工资<script>alert(1)</script>",
        "headcount": "17",
        "amount_involved": "320000",
        "parties-0-role": "applicant",
        "parties-0-kind": "person",
        "parties-0-name": "张三",
        "parties-0-id_number": bad_id,
        "parties-0-phone": "12345",
        "parties-1-role": "respondent",
        "parties-1-kind": "organization",
        "parties-1-name": "瑞安市某建设有限公司",
        "parties-1-org_code": "91330381MA2XXXXXXX",
    }
    r = clerk.post("/cases/new", data=form)
    assert r.status_code == 422
    html = r.text
    assert "登记未保存" in html
    assert f'value="{bad_id}"' in html and 'value="12345"' in html and 'value="张三"' in html
    assert 'value="91330381MA2XXXXXXX"' in html and 'value="17"' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    # Each wrong field gets its own message, next to the field (the form's order).
    assert re.findall(r'<span class="field-error" role="alert">([^<]*)</span>', html) == [
        "身份证号校验位不正确",
        "手机号码应为11位，当前为5位",
        "统一社会信用代码校验位不正确",
    ]
    assert _case_count(engine) == 0


@pytest.mark.postgres  # issue 24: on both databases
def test_forms_refuse_what_xml_forbids_naming_the_field(engine, browser_for) -> None:
    """Issue 24: the pages take the one text rule of the request bodies; NUL too, on PostgreSQL a 422
    before the driver would refuse it."""
    clerk = browser_for("clerk")
    page = clerk.get("/cases/new")
    base = {
        "csrf_token": csrf_of(page.text),
        "channel": "walk_in",
        "category": "neighbor",
        "town": "玉海街道",
        "summary": "两户因屋檐滴水发生争执",
        "parties-0-role": "applicant",
        "parties-0-name": "陈阿大",
        "parties-1-role": "respondent",
        "parties-1-name": "林小二",
    }
    field_error = '<span class="field-error" role="alert">([^<]*)</span>'
    for char in ("\x00", "\x0b", "\x1f", "\x85", "\ufffe", "\uffff", "\ufdd0", "\U0001fffe", "\U0010ffff"):
        code = f"U+{ord(char):04X}"
        r = clerk.post("/cases/new", data={**base, "summary": f"两户{char}争执"})
        assert r.status_code == 422, (code, r.status_code)
        found = re.search(r'<textarea name="summary"[^>]*>[^<]*</textarea>' + field_error, r.text)
        assert found and code in found.group(1), code
        r = clerk.post("/cases/new", data={**base, "parties-1-name": f"林{char}小二"})
        assert r.status_code == 422, (code, r.status_code)
        found = re.search(r'<input name="parties-1-name"[^>]*>' + field_error, r.text)
        assert found and code in found.group(1), code
    assert _case_count(engine) == 0

    admin = browser_for("admin")
    token = csrf_of(admin.get("/admin/users").text)
    for name in ("新\ufffe同事", "新\x00同事"):
        r = admin.post(
            "/admin/users",
            data={
                "csrf_token": token,
                "username": "newclerk",
                "display_name": name,
                "role": "staff",
                "password": "long-enough-pw",
            },
        )
        assert r.status_code == 422
        found = re.search(r'<input name="display_name"[^>]*>' + field_error, r.text)
        assert found and f"U+{ord(name[1]):04X}" in found.group(1)
    with Session(engine) as session:
        assert session.execute(select(User).where(User.username == "newclerk")).first() is None
    for text in (
        "2031-01-01 holiday 元旦\n2031-01-02 holiday 调\ufffe休",
        "2031-01-01 holiday\n2031-01-02\x00 holiday",
    ):
        r = admin.post("/admin/settings/holidays", data={"csrf_token": token, "year": "2031", "text": text})
        assert r.status_code == 422 and "第2行" in r.text, r.text[-500:]
    assert "2031" not in admin.get("/admin/settings").text


def test_intake_success_registers_and_shows_the_case(engine, browser_for) -> None:
    clerk = browser_for("clerk")
    page = clerk.get("/cases/new")
    body = wage_case(claimants=2)
    form = {
        "csrf_token": csrf_of(page.text),
        "channel": "walk_in",
        "category": "labor",
        "town": "玉海街道",
        "summary": body["summary"],
        "headcount": "17",
    }
    for i, p in enumerate(body["parties"]):
        for key, value in p.items():
            if key == "is_representative":
                if value:
                    form[f"parties-{i}-{key}"] = "1"
            else:
                form[f"parties-{i}-{key}"] = str(value)
    # One cent past the bound of models.money: said next to the field, nothing stored.
    r = clerk.post("/cases/new", data={**form, "amount_involved": "100000000000000.00"})
    assert r.status_code == 422
    assert re.findall(r'<span class="field-error" role="alert">([^<]*)</span>', r.text) == [
        "金额不能超过 99,999,999,999,999.99 元"
    ]
    assert _case_count(engine) == 0
    r = clerk.post(
        "/cases/new", data={**form, "amount_involved": "99999999999999.99"}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    case_page = clerk.get(r.headers["location"])
    assert "已登记，案号 瑞调〔" in case_page.text and "群体性纠纷" in case_page.text
    assert "劳动争议调解" in case_page.text and "劳动争议调解仲裁法" in case_page.text  # clock with its basis
    assert "涉案金额 99,999,999,999,999.99 元" in case_page.text
    with Session(engine) as session:
        case = session.exec(select(Case)).scalar_one()
        assert case.headcount == 17 and case.is_mass
        assert case.amount_involved == Decimal("99999999999999.99")


def test_lawyer_sees_only_their_cases(engine, browser_for, users, experts) -> None:
    s = Scenario.just_now(engine, clerk=users["clerk"], experts=experts).registered(wage_case(claimants=3))
    mine = s.case
    other = _register(engine, neighbor_case())
    s.accepted().panel("mediator_yuhai", ("lawyer", "legal_advisor"))
    lawyer = browser_for("zhoulawyer")
    assert lawyer.get(f"/cases/{other}").status_code == 404
    assert lawyer.get("/cases/999999").status_code == 404
    mine_no, other_no = _case_no(engine, mine), _case_no(engine, other)
    page = lawyer.get(f"/cases/{mine}")
    # Their own case, with the opinion form only a lawyer on the panel (or an admin) gets.
    assert page.status_code == 200 and mine_no in page.text and 'id="opinion-form"' in page.text
    listing = lawyer.get("/cases").text
    assert mine_no in listing and other_no not in listing
    assert f'href="/cases/{mine}"' in listing and f'href="/cases/{other}"' not in listing
    # The clerk's list holds both: the lawyer's is narrower because of who sits on the panel.
    clerk_listing = browser_for("clerk").get("/cases").text
    assert mine_no in clerk_listing and other_no in clerk_listing
    r = lawyer.post(
        f"/cases/{mine}/opinions",
        data={
            "csrf_token": csrf_of(page.text),
            "kind": "opinion",
            "body": "依据劳动合同法第三十条，应足额支付。",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "依据劳动合同法第三十条" in lawyer.get(f"/cases/{mine}").text
    r = lawyer.post(
        f"/cases/{other}/opinions",
        data={"csrf_token": csrf_of(page.text), "body": "x"},
        follow_redirects=False,
    )
    assert r.status_code == 404
    assert browser_for("otherlawyer").get(f"/cases/{mine}").status_code == 404


def test_domain_error_becomes_a_flash_message(engine, browser_for) -> None:
    clerk = browser_for("clerk")
    case_id = _register(engine, neighbor_case())
    page = clerk.get(f"/cases/{case_id}")
    r = clerk.post(
        f"/cases/{case_id}/sessions",
        data={"csrf_token": csrf_of(page.text), "scheduled_at": "2030-01-02T09:30", "location": "第一调解室"},
    )
    assert r.status_code == 200 and "不能安排调解" in r.text and "flash-error" in r.text


def test_ledger_filters_and_paging(engine, browser_for) -> None:
    for i in range(3):
        _register(engine, neighbor_case(summary=f"邻里纠纷第{i}号"))
    _register(engine, wage_case(claimants=2))
    clerk = browser_for("clerk")
    assert "共 <b>4</b> 件" in clerk.get("/cases").text
    assert "共 <b>1</b> 件" in clerk.get("/cases?category=labor").text
    assert "共 <b>3</b> 件" in clerk.get("/cases?town=塘下镇").text
    assert "共 <b>1</b> 件" in clerk.get("/cases", params={"q": "第1号"}).text
    assert "共 <b>0</b> 件" in clerk.get("/cases?overdue=1").text


def test_admin_creates_user_and_expert_and_loads_holidays(engine, browser_for) -> None:
    admin = browser_for("admin")
    page = admin.get("/admin/users")
    token = csrf_of(page.text)
    r = admin.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "newclerk",
            "display_name": "新同事",
            "role": "staff",
            "password": "short",
        },
    )
    assert r.status_code == 422 and "密码至少" in r.text
    r = admin.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "newclerk",
            "display_name": "新同事",
            "role": "staff",
            "password": "long-enough-pw",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "newclerk" in admin.get("/admin/users").text
    r = admin.post(
        "/admin/experts/new",
        data={
            "csrf_token": token,
            "name": "新调解员",
            "kind": "mediator",
            "towns": "玉海街道、锦湖街道",
            "specialties": ["labor", "neighbor"],
            "max_active_cases": "6",
            "phone": "123",
            "active": "1",
        },
    )
    assert r.status_code == 422 and 'value="123"' in r.text
    r = admin.post(
        "/admin/experts/new",
        data={
            "csrf_token": token,
            "name": "新调解员",
            "kind": "mediator",
            "towns": "玉海街道、锦湖街道",
            "specialties": ["labor", "neighbor"],
            "max_active_cases": "6",
            "active": "1",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    listing = admin.get("/admin/experts").text
    assert "新调解员" in listing and "玉海街道、锦湖街道" in listing
    settings = admin.get("/admin/settings").text
    assert "劳动争议调解仲裁法" in settings and "人民调解工作若干规定" in settings
    r = admin.post(
        "/admin/settings/holidays",
        data={"csrf_token": token, "year": "2031", "text": "2031-01-01 holiday 元旦\n2031-13-01 holiday"},
    )
    assert r.status_code == 422 and "第2行" in r.text
    r = admin.post(
        "/admin/settings/holidays",
        data={"csrf_token": token, "year": "2031", "text": "2031-01-01 holiday 元旦\n2031-01-02 holiday"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "2031" in admin.get("/admin/settings").text


def test_document_download_needs_visibility(engine, browser_for) -> None:
    case_id = _register(engine, neighbor_case())
    drain(engine)
    clerk = browser_for("clerk")
    page = clerk.get(f"/cases/{case_id}").text
    import re

    doc_id = re.search(r"/documents/(\d+)/pdf", page).group(1)
    pdf = clerk.get(f"/documents/{doc_id}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert browser_for("zhoulawyer").get(f"/documents/{doc_id}/pdf").status_code == 404


def test_long_jobs_run_through_the_outbox_and_offer_the_download(engine, browser_for) -> None:
    _register(engine, wage_case(claimants=2))
    clerk = browser_for("clerk")
    token = csrf_of(clerk.get("/cases").text)
    r = clerk.post("/jobs/ledger-export", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    job = r.headers["location"]
    assert "案件台账导出" in clerk.get(job).text
    assert clerk.get(f"{job}/status").json()["state"] == "queued"  # the relay has not run it yet
    drain(engine)
    status = clerk.get(f"{job}/status").json()
    assert status["state"] == "done", status
    xlsx = clerk.get(status["download"])
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    # Someone else's job is not theirs to read.
    assert browser_for("director").get(f"{job}/status").status_code == 404


def test_admin_changes_a_threshold_on_the_settings_page(engine, browser_for) -> None:
    admin = browser_for("admin")
    token = csrf_of(admin.get("/admin/settings").text)
    r = admin.post(
        "/admin/settings/tunables",
        data={"csrf_token": token, "key": "escalation_period_days", "value": "500"},
    )
    assert r.status_code == 422 and "1–90" in r.text
    r = admin.post(
        "/admin/settings/tunables",
        data={"csrf_token": token, "key": "escalation_period_days", "value": "10"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert 'value="10"' in admin.get("/admin/settings").text
    clerk = browser_for("clerk")
    r = clerk.post(
        "/admin/settings/tunables", data={"csrf_token": token, "key": "escalation_period_days", "value": "3"}
    )
    assert r.status_code == 403


class _ScriptAudit(HTMLParser):
    """What a `script-src 'self'` policy would block, or could not tell from our own: an inline
    <script>, an on*= handler, a javascript: address."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            src = dict(attrs).get("src")
            self.scripts.append(src or "")
            if not src:
                self.problems.append("<script> without src")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            if (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}=javascript:…>")


def _audit(html: str) -> _ScriptAudit:
    audit = _ScriptAudit()
    audit.feed(html)
    return audit


def test_no_template_holds_an_inline_script() -> None:
    for template in sorted(TEMPLATES_DIR.rglob("*.html")):
        audit = _audit(template.read_text(encoding="utf-8"))
        assert not audit.problems, (template.name, audit.problems)


@pytest.mark.postgres  # issue 24: on both databases
def test_every_page_runs_only_our_own_scripts(engine, browser_for, anonymous, users) -> None:
    """Each page reached here (as the admin, who reaches the most, and anonymously) carries a CSP with
    `script-src 'self'`, and its HTML has no inline script or handler that the policy would block."""
    case_id = _register(engine, neighbor_case())
    drain(engine)
    admin = browser_for("admin")
    job = admin.post(
        "/jobs/ledger-export", data={"csrf_token": csrf_of(admin.get("/cases").text)}, follow_redirects=False
    ).headers["location"]
    expert_id = re.search(r'href="/admin/experts/(\d+)"', admin.get("/admin/experts").text).group(1)
    html = {"accept": "text/html"}
    pages = [
        (anonymous, "/login"),
        (anonymous, "/verify/0123456789abcdef"),
        (anonymous, "/no-such-page"),
        (admin, "/password"),
        (admin, "/workbench"),
        (admin, "/cases"),
        (admin, "/cases/new"),
        (admin, f"/cases/{case_id}"),
        (admin, f"/cases/{case_id}/panel"),
        (admin, f"/cases/{case_id}/agreement"),
        (admin, "/dashboard"),
        (admin, "/holding"),
        (admin, job),
        (admin, "/admin/users"),
        (admin, f"/admin/users/{users['clerk']}"),
        (admin, "/admin/experts"),
        (admin, "/admin/experts/new"),
        (admin, f"/admin/experts/{expert_id}"),
        (admin, "/admin/settings"),
        (admin, "/admin/towns"),
        (admin, "/admin/committees"),
        (admin, "/cases/999999"),
    ]
    for client, path in pages:
        r = client.get(path, headers=html)
        assert r.status_code in (200, 404) and r.headers["content-type"].startswith("text/html"), (path, r)
        policy = {d.strip().split(" ")[0]: d.strip() for d in r.headers["content-security-policy"].split(";")}
        assert policy["script-src"] == "script-src 'self'", (path, policy)
        audit = _audit(r.text)
        assert not audit.problems, (path, audit.problems)
        if client is admin and r.status_code == 200:
            assert audit.scripts == ["/static/app.js"], (path, audit.scripts)


@pytest.mark.postgres  # issue 24: on both databases
def test_the_api_viewers_are_for_signed_in_admins(browser_for, anonymous, users) -> None:
    """/docs and /redoc: anonymous → the login page (then back), another role → the 403 page, the admin
    → the viewer, whose own CSP lets only its CDN and, for Swagger UI, its one inline script (by a
    nonce new on every answer) run. /openapi.json stays public (CONTRACT.md names it)."""
    admin = browser_for("admin")
    others = [browser_for(name) for name in ("clerk", "director", "zhoulawyer")]
    for path in ("/docs", "/redoc"):
        r = anonymous.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}", path
        for other in others:
            r = other.get(path)
            assert r.status_code == 403 and "无权访问" in r.text and "openapi.json" not in r.text, path
        r = admin.get(path)
        assert r.status_code == 200 and "/openapi.json" in r.text, path
        policy = r.headers["content-security-policy"]
        assert "script-src 'self' https://cdn.jsdelivr.net" in policy and "frame-ancestors 'none'" in policy
        assert not [p for p in _audit(r.text).problems if p != "<script> without src"], path
    first, second = admin.get("/docs"), admin.get("/docs")
    nonces = [
        re.search(r"'nonce-([^']+)'", r.headers["content-security-policy"]).group(1) for r in (first, second)
    ]
    assert nonces[0] != nonces[1]
    inline = re.findall(r"<script( nonce=\"[^\"]*\")?>", first.text)
    assert inline == [f' nonce="{nonces[0]}"'], inline
    assert "'nonce-" not in admin.get("/redoc").headers["content-security-policy"]
    assert anonymous.get("/openapi.json").status_code == 200


# --- Issue 18, the small things: 不予受理's notice, closed cases, an expired session ------------------


@pytest.mark.postgres
def test_rejection_on_the_page_issues_the_written_notice(engine, browser_for) -> None:
    """不予受理 decided on the case page issues the 不予受理通知书 (intake.reject_case, as the JSON route),
    listed on the case page and downloadable, naming the case, the reason and the clerk's words."""
    case_id = _register(engine, neighbor_case())
    clerk = browser_for("clerk")
    page = clerk.get(f"/cases/{case_id}").text
    form = {
        "csrf_token": csrf_of(page),
        "reason_code": "court_accepted",
        "reason": "已由瑞安市人民法院立案受理",
    }
    r = clerk.post(f"/cases/{case_id}/reject", data=form)
    assert r.status_code == 200 and "已作出不予受理决定" in r.text
    drain(engine)
    page = clerk.get(f"/cases/{case_id}").text
    link = re.search(r'<a href="/documents/(\d+)/pdf" target="_blank" data-kind="rejection_notice">', page)
    assert link, page
    pdf = clerk.get(f"/documents/{link.group(1)}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    text = pdf_compact(pdf.content)
    assert "不予受理通知书" in text and _case_no(engine, case_id) in text
    assert "已由瑞安市人民法院立案受理" in text and "第二十二条" in text


@pytest.mark.postgres
def test_a_finished_case_offers_no_form_and_refuses_an_opinion(engine, browser_for, as_user) -> None:
    """A closed or rejected case page offers no action form (staff or admin), and an opinion posted
    anyway is a Chinese 409 on the API and an error on the page, adding nothing."""
    from models.case import LegalOpinion

    rejected = _register(engine, neighbor_case())
    closed = _register(engine, neighbor_case())
    staff = as_user("clerk")
    assert (
        staff.post(f"/cases/{rejected}/reject", {"reason": "x", "reason_code": "court_accepted"}).status_code
        == 200
    )
    assert staff.post(f"/cases/{closed}/accept").status_code == 200
    refused = staff.post(f"/cases/{closed}/respondent-answer", {"agrees": False, "note": "明确拒绝调解"})
    assert refused.status_code == 200 and refused.json()["stage"] == "closed", refused.text
    drain(engine)

    admin = browser_for("admin")
    for who in (browser_for("clerk"), admin):
        for case_id in (rejected, closed):
            page = who.get(f"/cases/{case_id}").text
            actions = re.findall(r'<form method="post" action="([^"]+)"', page)
            # Only the 送达 forms stay (issue 19): the notices issued before the end, the 不予受理 and
            # 终止调解 notices among them, are delivered after it, and the proof is recorded then.
            acts = [a for a in actions if a.startswith("/cases/") and "/deliveries/" not in a]
            assert acts == [], (case_id, actions)
            assert 'name="body"' not in page  # the opinion form

    api_admin = as_user("admin")
    for case_id, words in (
        (closed, "案件已结案，不能再添加律师意见"),
        (rejected, "案件已不予受理，不能再添加律师意见"),
    ):
        r = api_admin.post(f"/cases/{case_id}/opinions", {"body": "补充意见", "kind": "opinion"})
        assert r.status_code == 409 and r.json()["detail"] == words
        token = csrf_of(admin.get(f"/cases/{case_id}").text)
        r = admin.post(
            f"/cases/{case_id}/opinions", data={"csrf_token": token, "body": "补充意见", "kind": "opinion"}
        )
        assert words in r.text
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(LegalOpinion)).scalar_one() == 0


def _expire_sessions(engine, user_id: int) -> None:
    """The user's page sessions run out (as after the session lifetime), noticed at once by this process."""
    from datetime import timedelta

    from api.deps import forget_user
    from models.auth_session import AuthSession

    with session_scope(engine, write=True) as session:
        for row in session.exec(select(AuthSession).where(AuthSession.user_id == user_id)).scalars():
            row.expires_at = utcnow() - timedelta(minutes=1)
            session.add(row)
    forget_user(user_id)


@pytest.mark.postgres
def test_a_form_posted_after_the_session_expired_returns_to_its_page(engine, users, browser_for) -> None:
    """No 405 after logging in again: the login leads back to the page the form was on, which says
    登录已过期，请重新提交; nothing of the post was done. A wrong password on the way keeps both."""
    case_id = _register(engine, neighbor_case())
    clerk = browser_for("clerk")
    page_url = f"/cases/{case_id}?tab=1"
    token = csrf_of(clerk.get(page_url).text)
    _expire_sessions(engine, users["clerk"])

    r = clerk.post(
        f"/cases/{case_id}/accept",
        data={"csrf_token": token},
        headers={"Referer": f"http://testserver{page_url}"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?expired=1&next=/cases/{case_id}%3Ftab%3D1"
    with Session(engine) as session:
        assert session.get(Case, case_id).stage == "registered"  # not accepted
    login_page = clerk.get(r.headers["location"])
    assert "登录已过期" in login_page.text
    assert f'name="next" value="/cases/{case_id}?tab=1"' in login_page.text
    form = {
        "csrf_token": csrf_of(login_page.text),
        "username": "clerk",
        "next": f"/cases/{case_id}?tab=1",
        "expired": "1",
    }
    wrong = clerk.post("/login", data={**form, "password": "wrong-password"})
    assert wrong.status_code == 401 and 'name="expired" value="1"' in wrong.text
    assert f'name="next" value="/cases/{case_id}?tab=1"' in wrong.text
    back = clerk.post("/login", data={**form, "password": PASSWORD}, follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == f"/cases/{case_id}?tab=1"
    page = clerk.get(back.headers["location"])
    assert page.status_code == 200 and "登录已过期，请重新提交" in page.text
    # Submitted again: done.
    r = clerk.post(f"/cases/{case_id}/accept", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 200 and "已受理" in r.text
    with Session(engine) as session:
        assert session.get(Case, case_id).stage == "accepted"

    # Another site's Referer, or none: the login leads home, still saying so.
    _expire_sessions(engine, users["clerk"])
    for headers in ({"Referer": "https://evil.example/cases/1"}, {}):
        r = clerk.post(
            f"/cases/{case_id}/accept", data={"csrf_token": "x"}, headers=headers, follow_redirects=False
        )
        assert r.status_code == 303 and r.headers["location"] == "/login?expired=1"
    # A GET keeps going where it was going.
    r = clerk.get(f"/cases/{case_id}", follow_redirects=False)
    assert r.headers["location"] == f"/login?next=/cases/{case_id}"
