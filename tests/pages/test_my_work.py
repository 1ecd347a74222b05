"""My work on the pages: “my cases” on the workbench with each one's deadline and next session, the
in-app reminders of sessions and deadlines; the admin's users page (edit, disable, enable, reset a
password shown once); and a reset user who must change the password before anything else."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from html.parser import HTMLParser

import pytest
from sqlmodel import Session, col, select

from flows import intake, panel_selection, sessions
from flows.reminders import send_reminders
from models.case import Case
from models.db import session_scope, utcnow
from models.deadlines import CHINA
from models.notification import Notification
from models.user import User
from tests.factories import act, add_user, neighbor_case, register
from tests.pages.conftest import csrf_of, login

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases


class _Labels(HTMLParser):
    """Inputs, selects and textareas (not hidden) that are not inside a <label>."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.unlabelled: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "label":
            self.depth += 1
        elif (
            tag in ("input", "select", "textarea")
            and a.get("type") not in ("hidden", "submit")
            and self.depth == 0
            and "aria-label" not in a
        ):
            self.unlabelled.append(a.get("name") or tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.depth -= 1


def unlabelled(html: str) -> list[str]:
    parser = _Labels()
    parser.feed(html)
    return parser.unlabelled


def _section(html: str, anchor: str) -> str:
    start = html.index(f'id="{anchor}"')
    return html[start : html.index("</section>", start)]


def test_my_cases_on_the_workbench_with_deadline_next_session_and_reminders(
    engine,
    users,
    experts,
    browser_for,  # noqa: ANN001
) -> None:
    mediator = add_user(engine, "wang", "staff", expert_id=experts["mediator_tangxia"], display_name="李调解")
    now = utcnow()
    ours = register(engine, neighbor_case(), actor_id=users["clerk"], now=now - timedelta(days=1))
    # Registered long ago: overdue, so no deadline reminder of its own below.
    theirs = register(
        engine, neighbor_case(summary="另一起"), actor_id=users["admin"], now=now - timedelta(days=10)
    )
    act(engine, intake.accept_case, ours, actor_id=users["clerk"], now=now - timedelta(hours=20))
    act(
        engine,
        panel_selection.confirm_panel,
        ours,
        actor_id=users["clerk"],
        now=now - timedelta(hours=19),
        members=[{"expert_id": experts["mediator_tangxia"], "role": "lead"}],
    )
    at = (now + timedelta(hours=20)).replace(second=0, microsecond=0)
    act(
        engine,
        sessions.schedule_session,
        ours,
        actor_id=users["clerk"],
        now=now - timedelta(hours=18),
        scheduled_at=at,
        location="第二调解室",
        duration_minutes=60,
    )
    with Session(engine) as session:
        case = session.get(Case, ours)
        ours_no, theirs_no, due_at = case.case_no, session.get(Case, theirs).case_no, case.stage_due_at
    local = at.astimezone(CHINA)

    last_day = (due_at - timedelta(microseconds=1)).astimezone(CHINA).date()
    for who in ("wang", "clerk"):
        mine = _section(browser_for(who).get("/workbench").text, "mine")
        assert ours_no in mine and theirs_no not in mine, who
        assert local.strftime("%Y-%m-%d %H:%M") in mine and "第二调解室" in mine
        assert last_day.isoformat() in mine
    assert theirs_no in _section(browser_for("admin").get("/workbench").text, "mine")
    assert 'id="reminders"' not in browser_for("wang").get("/workbench").text

    # The daily reminders: the session within 24 h, to the registrar and to the presiding mediator.
    with session_scope(engine, write=True) as session:
        assert send_reminders(session, now) == 2
    with session_scope(engine, write=True) as session:
        assert send_reminders(session, now + timedelta(hours=1)) == 0  # same day: nothing twice
    with Session(engine) as session:
        notes = session.exec(select(Notification).where(col(Notification.key).startswith("my-work:"))).all()
    assert sorted(n.user_id for n in notes) == sorted([users["clerk"], mediator])
    expected = f"{ours_no} 第1次调解将于 {local:%m月%d日 %H:%M} 在第二调解室举行"
    assert {n.text for n in notes} == {expected}

    # The stage deadline within 3 days: one reminder per person per day.
    two_days_before = datetime.combine(last_day - timedelta(days=2), time(12), tzinfo=CHINA)
    with session_scope(engine, write=True) as session:
        assert send_reminders(session, two_days_before) == 2
    with Session(engine) as session:
        due_texts = session.exec(
            select(Notification.text).where(col(Notification.key).startswith("my-work:due:"))
        ).all()
    assert set(due_texts) == {f"{ours_no} 本阶段期限至 {last_day}（还剩2天），请及时办理"}

    page = browser_for("wang")
    html = page.get("/workbench").text
    reminders = _section(html, "reminders")
    assert expected in reminders and f"本阶段期限至 {last_day}" in reminders
    r = page.post(
        "/workbench/reminders/read", data={"csrf_token": csrf_of(html), "id": [str(n.id) for n in notes]}
    )
    assert r.status_code == 200  # followed back to the workbench
    assert expected not in r.text and f"本阶段期限至 {last_day}" in r.text  # only those marked are gone


@pytest.mark.postgres
def test_disabling_and_resetting_a_user_ask_to_confirm_first(engine, users, browser_for) -> None:  # noqa: ANN001
    """停用 and 重置密码 ask before they act: app.js asks in a dialog (data-confirm, no inline script under
    the CSP); without it the server answers a confirm page and changes nothing until it is confirmed."""
    admin = browser_for("admin")
    clerk = browser_for("clerk")
    page = admin.get("/admin/users").text
    clerk_id = users["clerk"]
    for action, words in (
        ("active", "确定停用用户“窗口受理员”"),
        ("password-reset", "确定重置用户“窗口受理员”的密码"),
    ):
        form = re.search(rf'<form method="post" action="/admin/users/{clerk_id}/{action}"[^>]*>', page)
        assert form and f'data-confirm="{words}' in form.group(0), action
        assert "onsubmit" not in form.group(0) and "<script>" not in page
    script = admin.get("/static/app.js").text
    assert "form[data-confirm]" in script and "window.confirm" in script
    token = csrf_of(page)

    def still_as_before() -> None:
        with Session(engine) as session:
            row = session.get(User, clerk_id)
            assert row.active and not row.must_change_password
        assert clerk.get("/workbench", follow_redirects=False).status_code == 200  # session not ended

    for action, data, words in (
        ("active", {"active": "0"}, "确定停用用户“窗口受理员”？"),
        ("password-reset", {}, "确定重置用户“窗口受理员”的密码？"),
    ):
        asked = admin.post(f"/admin/users/{clerk_id}/{action}", data={"csrf_token": token, **data})
        assert asked.status_code == 200 and words in asked.text, asked.text
        assert 'id="temporary-password"' not in asked.text and "已停用用户" not in asked.text
        still_as_before()
        confirm = re.search(
            r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>',
            asked.text.split('id="confirm"')[1],
            re.S,
        )
        assert confirm and confirm.group(1) == f"/admin/users/{clerk_id}/{action}"
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', confirm.group(2)))
        assert fields.pop("confirmed") == "1" and fields.pop("csrf_token") and fields == data
        assert 'href="/admin/users"' in confirm.group(2)  # 取消: back, nothing done

    done = admin.post(
        f"/admin/users/{clerk_id}/active", data={"csrf_token": token, "active": "0", "confirmed": "1"}
    )
    assert "已停用用户：窗口受理员" in done.text
    with Session(engine) as session:
        assert not session.get(User, clerk_id).active
    # Enabling is harmless and undoes itself: it asks nothing.
    back = admin.post(f"/admin/users/{clerk_id}/active", data={"csrf_token": token, "active": "1"})
    assert "已启用用户：窗口受理员" in back.text
    reset = admin.post(
        f"/admin/users/{clerk_id}/password-reset", data={"csrf_token": token, "confirmed": "1"}
    )
    assert "临时密码" in reset.text


def test_admin_edits_disables_enables_and_resets_on_the_page(engine, users, browser_for) -> None:  # noqa: ANN001
    admin = browser_for("admin")
    page = admin.get("/admin/users").text
    assert "窗口受理员" in page and "编辑" in page and "停用" in page and "重置密码" in page
    assert not unlabelled(page)

    form = admin.get(f"/admin/users/{users['clerk']}").text
    assert 'value="窗口受理员"' in form and not unlabelled(form)
    base = {"csrf_token": csrf_of(form), "display_name": "小陈", "role": "staff", "active": "1"}
    r = admin.post(f"/admin/users/{users['clerk']}", data={**base, "role": "leader", "level": "2"})
    assert r.status_code == 422 and "镇街领导" in r.text and 'value="小陈"' in r.text  # typed values kept
    r = admin.post(f"/admin/users/{users['clerk']}", data=base)
    assert r.status_code == 200 and "已保存用户：小陈" in r.text
    r = admin.post(
        f"/admin/users/{users['admin']}/active",
        data={"csrf_token": base["csrf_token"], "active": "0", "confirmed": "1"},
    )
    assert r.status_code == 409 and "不能停用自己的账号" in r.text

    # Disable: the user's open session ends and the login is refused; enable: back.
    clerk = browser_for("clerk")
    assert clerk.get("/workbench").status_code == 200
    r = admin.post(
        f"/admin/users/{users['clerk']}/active",
        data={"csrf_token": base["csrf_token"], "active": "0", "confirmed": "1"},
    )
    assert r.status_code == 200 and "已停用用户：小陈" in r.text
    assert clerk.get("/workbench", follow_redirects=False).headers["location"].startswith("/login")
    from fastapi.testclient import TestClient

    with TestClient(admin.app) as fresh:
        assert login(fresh, "clerk").status_code == 401
    admin.post(
        f"/admin/users/{users['clerk']}/active", data={"csrf_token": base["csrf_token"], "active": "1"}
    )

    # Reset: the temporary password is shown once, on that answer only.
    confirmed = {"csrf_token": base["csrf_token"], "confirmed": "1"}
    r = admin.post(f"/admin/users/{users['clerk']}/password-reset", data=confirmed)
    assert r.status_code == 200 and "临时密码" in r.text
    temporary = r.text.split('<b class="mono">', 1)[1].split("</b>", 1)[0]
    assert len(temporary) >= 8
    assert temporary not in admin.get("/admin/users").text
    with Session(engine) as session:
        assert session.get(User, users["clerk"]).must_change_password

    # The user: after login only the password page; every other page leads back to it.
    with TestClient(admin.app) as user:
        assert login(user, "clerk").status_code == 401  # the old password no longer works
        r = login(user, "clerk", temporary)
        assert r.status_code == 303 and r.headers["location"] == "/password"
        for path in ("/workbench", "/cases", "/cases/new", "/"):
            r = user.get(path, follow_redirects=False)
            if path == "/":
                r = user.get(r.headers["location"], follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == "/password", path
        form = user.get("/password").text
        assert "管理员已重置您的密码" in form and not unlabelled(form)
        assert "案件台账" not in form  # no menu to go elsewhere
        change = {"csrf_token": csrf_of(form), "password": temporary, "new_password": "my-own-secret-9"}
        r = user.post("/password", data={**change, "new_password2": "something-else"})
        assert r.status_code == 422 and "两次输入的新密码不一致" in r.text
        r = user.post("/password", data={**change, "password": "wrong", "new_password2": "my-own-secret-9"})
        assert r.status_code == 422 and "当前密码不正确" in r.text
        r = user.post(
            "/password", data={**change, "new_password2": "my-own-secret-9"}, follow_redirects=False
        )
        assert r.status_code == 303 and r.headers["location"] == "/workbench"
        assert user.get("/workbench").status_code == 200
    with TestClient(admin.app) as again:
        assert login(again, "clerk", "my-own-secret-9").headers["location"] == "/workbench"
