"""My work on the pages: “my cases” on the workbench with each one's deadline and next session, the
in-app reminders of sessions and deadlines; the admin's users page (edit, disable, enable, reset a
password shown once); and a reset user who must change the password before anything else."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, time, timedelta
from html.parser import HTMLParser

import pytest
from sqlmodel import Session, col, select

from flows.escalation import escalate_now
from flows.reminders import send_reminders
from flows.scheduled import send_due_term_reminders
from models.case import Case
from models.db import session_scope, utcnow
from models.my_work import case_carriers
from models.notification import Notification
from models.user import User
from tests.cli.test_cli import COMMAND, ROOT, _env
from tests.factories import PASSWORD, neighbor_case, register
from tests.pages.conftest import csrf_of, login
from tests.support.clock import CHINA, on
from tests.support.scenario import Scenario, people

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
    browser_for,
) -> None:
    mediator = people(engine, "wang", experts=experts)["wang"]
    now = utcnow()
    case = Scenario(engine, clerk=users["clerk"], experts=experts, start=now - timedelta(days=1)).registered()
    ours = case.case
    # Registered long ago: overdue, so no deadline reminder of its own below.
    theirs = register(
        engine, neighbor_case(summary="另一起"), actor_id=users["admin"], now=now - timedelta(days=10)
    )
    case.accepted(now=now - timedelta(hours=20)).panel(now=now - timedelta(hours=19))
    at = (now + timedelta(hours=20)).replace(second=0, microsecond=0)
    case.scheduled(at, location="第二调解室", duration_minutes=60, now=now - timedelta(hours=18))
    with Session(engine) as session:
        row = session.get(Case, ours)
        ours_no, theirs_no, due_at = row.case_no, session.get(Case, theirs).case_no, row.stage_due_at
    local = at.astimezone(CHINA)

    last_day = (due_at - timedelta(microseconds=1)).astimezone(CHINA).date()
    for who in ("wang", "clerk"):
        mine = _section(browser_for(who).get("/workbench").text, "mine")
        assert ours_no in mine and theirs_no not in mine, who
        assert local.strftime("%Y-%m-%d %H:%M") in mine and "第二调解室" in mine
        assert last_day.isoformat() in mine
    assert theirs_no in _section(browser_for("admin").get("/workbench").text, "mine")
    assert 'id="reminders"' not in browser_for("wang").get("/workbench").text

    # The daily reminders: the session within 24 h, to the presiding mediator, who carries the case
    # (the registrar only when the presiding mediator has no account).
    with session_scope(engine, write=True) as session:
        assert send_reminders(session, now) == 1
    with session_scope(engine, write=True) as session:
        # Later the same day in China (the dedup is per China calendar day; `now` is the real clock, so
        # an hour later may already be tomorrow there).
        end_of_day = datetime.combine(now.astimezone(CHINA).date(), time(23, 59, 59), tzinfo=CHINA)
        assert send_reminders(session, min(now + timedelta(hours=1), end_of_day)) == 0  # nothing twice
    with Session(engine) as session:
        notes = session.exec(select(Notification).where(col(Notification.key).startswith("my-work:"))).all()
    assert [n.user_id for n in notes] == [mediator]
    expected = f"{ours_no} 第1次调解将于 {local:%m月%d日 %H:%M} 在第二调解室举行"
    assert {n.text for n in notes} == {expected}

    # The stage deadline within 3 days: one reminder per person per day.
    two_days_before = on(last_day - timedelta(days=2), 12)
    with session_scope(engine, write=True) as session:
        assert send_reminders(session, two_days_before) == 1
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
def test_disabling_and_resetting_a_user_ask_to_confirm_first(engine, users, browser_for) -> None:
    """停用 and 重置密码 ask before they act: app.js asks in a dialog (data-confirm, no inline script under
    the CSP); without it the server answers a confirm page and changes nothing until it is confirmed."""
    admin = browser_for("admin")
    clerk = browser_for("clerk")
    page = admin.get("/admin/users").text
    clerk_id = users["clerk"]
    for action, words in (
        ("active", "确定停用用户“蔡受理”"),
        ("password-reset", "确定重置用户“蔡受理”的密码"),
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
        ("active", {"active": "0"}, "确定停用用户“蔡受理”？"),
        ("password-reset", {}, "确定重置用户“蔡受理”的密码？"),
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
    assert "已停用用户：蔡受理" in done.text
    with Session(engine) as session:
        assert not session.get(User, clerk_id).active
    # Enabling is harmless and undoes itself: it asks nothing.
    back = admin.post(f"/admin/users/{clerk_id}/active", data={"csrf_token": token, "active": "1"})
    assert "已启用用户：蔡受理" in back.text
    reset = admin.post(
        f"/admin/users/{clerk_id}/password-reset", data={"csrf_token": token, "confirmed": "1"}
    )
    assert "临时密码" in reset.text


def test_admin_edits_disables_enables_and_resets_on_the_page(engine, users, browser_for) -> None:
    admin = browser_for("admin")
    page = admin.get("/admin/users").text
    assert "蔡受理" in page and "编辑" in page and "停用" in page and "重置密码" in page
    assert not unlabelled(page)

    form = admin.get(f"/admin/users/{users['clerk']}").text
    assert 'value="蔡受理"' in form and not unlabelled(form)
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


def _cli_add(engine, tmp_path, username: str, *args: str):
    """`tiaojie user add` as an operator runs it, on the test's database."""
    env = {**_env(tmp_path), "TIAOJIE_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    return subprocess.run(
        [*COMMAND, "user", "add", username, "--role", "staff", "--password-stdin", *args],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )


def _linked(engine, username: str) -> int | None:
    with Session(engine) as session:
        return session.exec(select(User.expert_id).where(User.username == username)).one()


def test_one_expert_record_links_one_account_by_cli_api_and_page(
    engine, users, experts, browser_for, as_user, tmp_path
) -> None:
    tangxia, yuhai = experts["mediator_tangxia"], experts["mediator_yuhai"]
    r = _cli_add(engine, tmp_path, "wang", "--expert-id", str(tangxia))
    assert r.returncode == 0, r.stderr
    assert _linked(engine, "wang") == tangxia

    # The CLI: a second account on the same record is refused in one line, and none is made.
    r = _cli_add(engine, tmp_path, "li", "--expert-id", str(tangxia))
    assert r.returncode == 1
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "专家“李调解”已关联账号“wang”，一条专家记录只能关联一个账号" in lines[0], (
        r.stderr
    )
    with Session(engine) as session:
        assert session.exec(select(User).where(User.username == "li")).first() is None

    # PATCH /users/{id}: refused while wang holds it, accepted for a free record and for wang himself.
    admin = as_user("admin")
    r = admin.patch(f"/users/{users['clerk']}", {"expert_id": tangxia})
    assert r.status_code == 422 and "已关联账号“wang”" in str(r.json()["detail"]), r.text
    assert _linked(engine, "clerk") is None
    r = admin.patch(f"/users/{users['clerk']}", {"expert_id": yuhai})
    assert r.status_code == 200 and r.json()["expert_id"] == yuhai
    with Session(engine) as session:
        wang = session.exec(select(User).where(User.username == "wang")).one()
    r = admin.patch(f"/users/{wang.id}", {"expert_id": tangxia, "display_name": "李调解"})
    assert r.status_code == 200 and r.json()["expert_id"] == tangxia

    # The admin's page: the same refusal beside the field, nothing saved; a free record saves.
    page = browser_for("admin")
    form = page.get(f"/admin/users/{users['otherlawyer']}").text
    base = {"csrf_token": csrf_of(form), "display_name": "吴文斌", "role": "lawyer", "active": "1"}
    r = page.post(f"/admin/users/{users['otherlawyer']}", data={**base, "expert_id": str(experts["lawyer"])})
    assert r.status_code == 422 and "一条专家记录只能关联一个账号" in r.text
    assert _linked(engine, "otherlawyer") == experts["judge"]
    r = page.post(f"/admin/users/{users['clerk']}", data={**base, "role": "staff", "expert_id": ""})
    assert r.status_code == 200 and _linked(engine, "clerk") is None  # unlinked: the record is free
    r = page.post(f"/admin/users/{users['otherlawyer']}", data={**base, "expert_id": str(yuhai)})
    assert r.status_code == 200 and _linked(engine, "otherlawyer") == yuhai
    # A signer named by a post (issue 19): refused beside the field, what was typed shown again.
    r = page.post(
        f"/admin/users/{users['otherlawyer']}",
        data={**base, "display_name": "吴律师", "expert_id": str(yuhai)},
    )
    assert r.status_code == 422 and "真实姓名" in r.text and 'value="吴律师"' in r.text


def _case(engine, users, experts, lead: str, summary: str) -> tuple[Scenario, str]:
    """A neighbour case registered and given its panel (`lead` presiding, 陈乡贤) minutes ago."""
    s = Scenario.just_now(engine, clerk=users["clerk"], experts=experts)
    s.registered(neighbor_case(summary=summary)).accepted().panel(lead, "elder_tangxia")
    with Session(engine) as session:
        return s, session.get(Case, s.case).case_no


def _texts(api, case_id: int | None = None) -> list[str]:
    r = api.get("/notifications", params={"limit": 200})
    assert r.status_code == 200, r.text
    return sorted(n["text"] for n in r.json()["items"] if case_id is None or n["case_id"] == case_id)


def _escalate(engine, case_id: int) -> int:
    with session_scope(engine, write=True) as session:
        case = session.get(Case, case_id)
        esc = escalate_now(session, case, to_level=1, now=utcnow(), reason="超期未办结", period_index=1)
        assert esc is not None
        return esc.id


def test_the_linked_mediator_carries_the_case_and_its_reminders_end_with_it(
    engine, users, experts, browser_for, as_user
) -> None:
    """3 terms due on 2 dates: 2 回访 reminders, to the presiding mediator's account (not the clerk who
    registered the case), with the daily one, the 批示 and the 催办; a case whose presiding mediator has
    no account leaves them with its registrar; once the case is closed, none of its reminders is left."""
    wang = people(engine, "wang", experts=experts)["wang"]
    staff, mediator, director = as_user("clerk"), as_user("wang"), as_user("director")
    case, no = _case(engine, users, experts, "mediator_tangxia", "李调解主持的案件")
    other_case, other_no = _case(engine, users, experts, "mediator_yuhai", "王调解主持的案件")
    cid, other = case.case, other_case.case

    # 我的在办: the case wang presides over, not the other (the JSON list and the workbench).
    r = mediator.get("/cases", params={"mine": "true"})
    assert [c["id"] for c in r.json()["items"]] == [cid]
    mine = _section(browser_for("wang").get("/workbench").text, "mine")
    assert no in mine and other_no not in mine
    with Session(engine) as session:
        assert case_carriers(session, [cid, other]) == {cid: wang, other: users["clerk"]}

    # Agreed at a held session, 3 terms due on 2 dates, signed: one 回访 reminder per date.
    case.scheduled(utcnow() + timedelta(days=1), location="塘下镇调解室")
    case.agreed(utcnow(), attendees=["陈阿大", "林小二"], notes="达成一致。", now=utcnow())
    today = datetime.now(CHINA).date()
    near, far = today + timedelta(days=10), today + timedelta(days=40)
    term = {"obligor": "林小二", "obligee": "陈阿大"}
    terms = [
        {**term, "obligation": "拆除雨棚", "due_date": near.isoformat()},
        {**term, "obligation": "赔偿损失", "amount": "1000.00", "due_date": near.isoformat()},
        {**term, "obligation": "赔偿修缮费", "amount": "500.00", "due_date": far.isoformat()},
    ]
    case.issued(terms, now=utcnow(), method="当面履行", place="塘下镇罗凤村").signed(now=utcnow())
    visits = [t for t in _texts(mediator, cid) if "请届时回访" in t]
    assert visits == [f"{no} 第1、2项履行期限 {near}，请届时回访", f"{no} 第3项履行期限 {far}，请届时回访"]
    assert not [t for t in _texts(staff) if "回访" in t]

    # The daily reminder two days before the first date: one for the date, once a day.
    two_days_before = on(near - timedelta(days=2), 8)
    with session_scope(engine, write=True) as session:
        assert send_due_term_reminders(session, two_days_before) == 1
    with session_scope(engine, write=True) as session:
        assert send_due_term_reminders(session, two_days_before + timedelta(hours=3)) == 0
    assert f"{no} 第1、2项（林小二）即将到期：{near}，请回访" in _texts(mediator, cid)

    # 批示 and 催办: to wang on his case; to the registrar on the case whose mediator has no account.
    reply_by = (today + timedelta(days=3)).isoformat()
    for case_id in (cid, other):
        esc = _escalate(engine, case_id)
        r = director.post(f"/escalations/{esc}/instructions", {"text": "请尽快办结", "reply_by": reply_by})
        assert r.status_code == 200, r.text
        assert director.post(f"/escalations/{esc}/urge", {"note": "抓紧回访"}).status_code == 200
    for api, case_no, case_id in ((mediator, no, cid), (staff, other_no, other)):
        texts = _texts(api, case_id)
        assert f"中心主任批示（{case_no}）：请尽快办结；请于{reply_by}前反馈" in texts
        assert f"中心主任催办（{case_no}）：抓紧回访" in texts
    assert not [t for t in _texts(staff, cid) if "批示" in t or "催办" in t]
    assert not _texts(mediator, other)
    assert no in _section(browser_for("wang").get("/workbench").text, "reminders")

    # Closed: none of the case's reminders is left, on the JSON list or the page; the other case's stay.
    term_ids = [t["id"] for t in staff.get(f"/cases/{cid}").json()["agreement"]["terms"]]
    r = staff.post(
        f"/cases/{cid}/follow-ups",
        {
            "visited_at": datetime.now(UTC).isoformat(),
            "method": "visit",
            "visited_person": "陈阿大",
            "opinion": "均已履行",
            "terms": [{"term_id": t, "state": "performed"} for t in term_ids],
        },
    )
    assert r.status_code == 201, r.text
    assert _texts(mediator, cid)  # still open: still there
    r = staff.post(f"/cases/{cid}/close", {"kind": "performed", "note": "协议全部履行"})
    assert r.status_code == 200 and r.json()["stage"] == "closed", r.text
    assert mediator.get("/notifications").json()["total"] == 0
    assert _texts(staff, cid) == [] and len(_texts(staff, other)) == 2
    assert 'id="reminders"' not in browser_for("wang").get("/workbench").text
