"""The session record page (人民调解记录) for 2 or 40 parties, every error at once with nothing typed
lost, and the scheduling warnings shown before saving (issue 18 point 5)."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, select

from models.case import Case
from models.db import utcnow
from models.mediation_session import MediationSession
from tests.factories import neighbor_case, wage_case
from tests.pages.conftest import csrf_of
from tests.support.clock import CHINA
from tests.support.scenario import Scenario

pytestmark = pytest.mark.postgres


def _case_with_panel(engine, users, experts, body: dict, *, lead: str, member: str, at: datetime) -> int:
    """Registered at `at`, accepted an hour later, `lead` presiding and `member` seated an hour after that."""
    s = Scenario(engine, clerk=users["clerk"], experts=experts, start=at)
    return s.registered(body).accepted().panel(lead, member).case


def _today_case(engine, users, experts, body: dict | None = None, **panel: str) -> int:
    """Registered an hour ago (whatever the time of day: the record's held time is now)."""
    at = utcnow() - timedelta(hours=3)
    panel = panel or {"lead": "mediator_tangxia", "member": "elder_tangxia"}
    return _case_with_panel(engine, users, experts, body or neighbor_case(), at=at, **panel)  # type: ignore[arg-type]


def _session(as_user, cid: int) -> int:
    when = (
        (utcnow() + timedelta(days=2)).astimezone(CHINA).replace(hour=9, minute=30, second=0, microsecond=0)
    )
    r = as_user("clerk").post(
        f"/cases/{cid}/sessions", {"scheduled_at": when.isoformat(), "location": "第一调解室"}
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _form(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """A form with repeated names (the present checkboxes), as the browser posts it."""
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


def _recorded(engine, sid: int) -> bool:
    with Session(engine) as session:
        ms = session.get(MediationSession, sid)
        assert ms is not None
        return ms.recorded_at is not None


# --- 40 parties: one compact row each -------------------------------------------------------------


def test_forty_parties_one_row_each(engine, users, experts, browser_for, as_user) -> None:
    body = wage_case(claimants=39)
    company = body["parties"][-1]
    company.update(legal_representative="郑法人", agent_name="孙代理")
    cid = _today_case(engine, users, experts, body, lead="mediator_yuhai", member="lawyer")
    sid = _session(as_user, cid)
    page = browser_for("clerk").get(f"/cases/{cid}/sessions/{sid}/record")
    assert page.status_code == 200, page.text
    text = page.text
    rows = re.findall(r'<tr class="party-row"[^>]*>(.*?)</tr>', text, re.S)
    assert len(rows) == 40  # 39 workers and the company, one row each
    names = [f"工人{i:02d}" for i in range(39)] + ["瑞安市某建设有限公司"]
    for row, name in zip(rows, names, strict=True):
        # name, present, answer, recusal, against whom (the panel), reason: all in the one row
        assert f"<b>{name}</b>" in row
        assert f'name="present" value="{name}"' in row
        assert re.search(r'name="answer-\d+-text"', row) and re.search(r'name="answer-\d+-recusal"', row)
        assert "<option>王调解</option>" in row and "<option>周律师</option>" in row
    # The company's legal representative and agent sit under it and can be marked present.
    assert re.search(
        r"法定代表人 郑法人</td>\s*<td><input type=\"checkbox\" name=\"present\" value=\"郑法人\"", text
    )
    assert re.search(
        r"委托代理人 孙代理</td>\s*<td><input type=\"checkbox\" name=\"present\" value=\"孙代理\"", text
    )
    # No block per party any more: one answer field per party, one table, the rest a fixed size.
    assert len(re.findall(r'name="answer-\d+-text"', text)) == 40
    assert 'class="answer"' not in text
    # Per party: 6 controls in its row and 3 in the (folded) oral-agreement consents; the rest is fixed.
    assert len(re.findall(r"<(?:input|select|textarea)\b", text)) < 40 * 9 + 60
    # The speaker list: parties and their representatives, the panel, the recorder.
    speaker = re.search(r'<select name="statement-0-speaker".*?</select>', text, re.S)
    assert speaker is not None
    options = re.findall(r'<option value="([^"]*)"', speaker.group(0))
    assert options[1:] == [
        *names[:39],
        "瑞安市某建设有限公司",
        "郑法人",
        "孙代理",
        "王调解",
        "周律师",
        "蔡受理",
    ]


def test_forty_parties_recorded_from_the_page(engine, users, experts, browser_for, as_user) -> None:
    body = wage_case(claimants=39)
    body["parties"][-1].update(legal_representative="郑法人")
    cid = _today_case(engine, users, experts, body, lead="mediator_yuhai", member="lawyer")
    sid = _session(as_user, cid)
    client = browser_for("clerk")
    page = client.get(f"/cases/{cid}/sessions/{sid}/record")
    held = utcnow().astimezone(CHINA).strftime("%Y-%m-%dT%H:%M")
    form: list[tuple[str, str]] = [
        ("csrf_token", csrf_of(page.text)),
        ("held_at", held),
        ("recorder", "蔡受理"),
        ("rights_told", "1"),
        ("outcome", "continue"),
        ("present", "工人00"),
        ("present", "工人01"),
        ("present", "郑法人"),
        ("present", "王调解"),
        ("answer-0-party", "工人00"),
        ("answer-0-text", "清楚，无异议"),
        ("answer-1-party", "工人01"),
        ("answer-1-text", "清楚，无异议"),
        ("statement-0-speaker", "王调解"),
        ("statement-0-text", "请申请人陈述。"),
        ("statement-1-speaker", "郑法人"),
        ("statement-1-text", "公司同意分期支付。"),
        ("statement-2-speaker", ""),
        ("statement-2-text", ""),
    ]
    r = client.post(f"/cases/{cid}/sessions/{sid}/record", data=_form(form), follow_redirects=False)
    assert r.status_code == 303, r.text
    got = as_user("clerk").get(f"/cases/{cid}").json()
    ms = next(s for s in got["sessions"] if s["id"] == sid)
    assert [p["name"] for p in ms["present"]] == ["工人00", "工人01", "郑法人", "王调解"]
    assert [(s["speaker"], s["text"]) for s in ms["statements"]] == [
        ("王调解", "请申请人陈述。"),
        ("郑法人", "公司同意分期支付。"),
    ]
    assert [a["party"] for a in ms["party_answers"]] == ["工人00", "工人01"]


# --- Every error at once, nothing typed lost ------------------------------------------------------

RIGHTS = "当事人答复须在告知权利义务之后记录：请勾选已告知当事人权利义务"
RECUSAL = "林小二申请回避：请填写申请回避的调解人员（本案调解专班成员）"
SPEAKER = "第2条发言：发言人“王某某”不在本次参加人员中"


def test_three_errors_at_once_and_everything_kept(engine, users, experts, browser_for, as_user) -> None:
    cid = _today_case(engine, users, experts)
    sid = _session(as_user, cid)
    client = browser_for("clerk")
    page = client.get(f"/cases/{cid}/sessions/{sid}/record")
    assert page.status_code == 200
    held = utcnow().astimezone(CHINA).strftime("%Y-%m-%dT%H:%M")
    form = [
        ("csrf_token", csrf_of(page.text)),
        ("held_at", held),
        ("recorder", "蔡受理"),
        # rights_told left unticked although answers are recorded: error 1
        ("outcome", "agreed"),
        ("present", "陈阿大"),
        ("present", "林小二"),
        ("present", "李调解"),
        ("present", "陈乡贤"),
        ("answer-0-party", "陈阿大"),
        ("answer-0-text", "听清楚了，同意调解"),
        ("answer-1-party", "林小二"),
        ("answer-1-text", "申请李调解回避"),
        ("answer-1-recusal", "1"),  # against whom left empty: error 2
        ("answer-1-against", ""),
        ("answer-1-reason", "李调解与陈阿大是亲戚"),
        ("other-0-name", "罗建民"),
        ("other-0-capacity", "村民委员会主任"),
        ("statement-0-speaker", "李调解"),
        ("statement-0-text", "请申请人陈述。"),
        ("statement-1-speaker", "王某某"),  # not present: error 3
        ("statement-1-text", "我是路过的。"),
        ("statement-2-speaker", "林小二"),
        ("statement-2-text", "雨棚是我家的。"),
        ("notes", "双方情绪平稳。"),
    ]
    r = client.post(f"/cases/{cid}/sessions/{sid}/record", data=_form(form), follow_redirects=False)
    assert r.status_code == 422, r.text[:500]
    text = html.unescape(r.text)
    assert "共 3 处需修改" in text
    # Each message beside its own field.
    assert re.search(
        r'name="rights_told" value="1" >.*?</label><span class="field-error"[^>]*>' + RIGHTS, text, re.S
    )
    assert re.search(
        r'name="answer-1-against".*?</select><span class="field-error"[^>]*>' + RECUSAL, text, re.S
    )
    assert re.search(
        r'name="statement-1-text"[^>]*>我是路过的。</textarea><span class="field-error"[^>]*>' + SPEAKER,
        text,
        re.S,
    )
    # Everything typed is still there.
    assert f'name="held_at" value="{held}"' in text
    assert 'value="陈阿大" aria-label="陈阿大到场" checked' in text
    assert 'value="林小二" aria-label="林小二到场" checked' in text
    assert 'name="answer-0-text" value="听清楚了，同意调解"' in text
    assert 'name="answer-1-text" value="申请李调解回避"' in text
    assert re.search(r'name="answer-1-recusal" value="1" aria-label="[^"]+" checked', text)
    assert 'name="answer-1-reason" value="李调解与陈阿大是亲戚"' in text
    assert (
        'name="other-0-name" value="罗建民"' in text
        and 'name="other-0-capacity" value="村民委员会主任"' in text
    )
    for i, (speaker, said) in enumerate(
        [("李调解", "请申请人陈述。"), ("王某某", "我是路过的。"), ("林小二", "雨棚是我家的。")]
    ):
        select_ = re.search(rf'<select name="statement-{i}-speaker".*?</select>', text, re.S)
        assert select_ and re.search(rf'<option value="{speaker}"[^>]*selected', select_.group(0)), i
        assert f">{said}</textarea>" in text
    assert ">双方情绪平稳。</textarea>" in text
    assert re.search(r'<option value="agreed" selected>', text)
    # The other participant named is offered as a speaker.
    assert 'value="罗建民"' in re.search(r'<select name="statement-0-speaker".*?</select>', text, re.S).group(
        0
    )  # type: ignore[union-attr]
    assert not _recorded(engine, sid)  # nothing saved


def test_more_rows_without_javascript_keeps_what_was_typed(
    engine, users, experts, browser_for, as_user
) -> None:
    cid = _today_case(engine, users, experts)
    sid = _session(as_user, cid)
    client = browser_for("clerk")
    page = client.get(f"/cases/{cid}/sessions/{sid}/record")
    assert len(re.findall(r'name="statement-\d+-speaker"', page.text)) == 6
    form = [
        ("csrf_token", csrf_of(page.text)),
        ("present", "陈阿大"),
        ("statement-0-speaker", "李调解"),
        ("statement-0-text", "请申请人陈述。"),
        ("more_rows", "1"),
    ]
    r = client.post(f"/cases/{cid}/sessions/{sid}/record", data=_form(form), follow_redirects=False)
    assert r.status_code == 200
    assert len(re.findall(r'name="statement-\d+-speaker"', r.text)) == 1 + 6  # the typed row and 6 blank
    assert ">请申请人陈述。</textarea>" in r.text
    assert 'value="陈阿大" aria-label="陈阿大到场" checked' in r.text
    assert not _recorded(engine, sid)


def test_api_422_lists_every_error(engine, users, experts, as_user) -> None:
    cid = _today_case(engine, users, experts)
    sid = _session(as_user, cid)
    body = {
        "held_at": utcnow().isoformat(),
        "attendees": ["陈阿大", "林小二", "李调解"],
        "outcome": "continue",
        "rights_told": False,
        "party_answers": [
            {"party": "陈阿大", "answer": "听清楚了"},
            {"party": "林小二", "answer": "申请回避", "recusal": True},
        ],
        "statements": [
            {"speaker": "李调解", "text": "请申请人陈述。"},
            {"speaker": "王某某", "text": "我是路过的。"},
        ],
    }
    r = as_user("clerk").post(f"/cases/{cid}/sessions/{sid}/record", body)
    assert r.status_code == 422, r.text
    answer = r.json()
    assert [(e["field"], e["message"]) for e in answer["errors"]] == [
        ("statements.1.speaker", SPEAKER),
        ("rights_told", RIGHTS),
        ("party_answers.1.recusal_against", RECUSAL),
    ]
    # The v1.0 shape: detail lists each field with its place and Chinese reason.
    assert [(d["loc"], d["msg"]) for d in answer["detail"]] == [
        (["body", "statements", "1", "speaker"], SPEAKER),
        (["body", "rights_told"], RIGHTS),
        (["body", "party_answers", "1", "recusal_against"], RECUSAL),
    ]
    assert not _recorded(engine, sid)


# --- Scheduling warnings ---------------------------------------------------------------------------


def _september_case(engine, users, experts) -> int:
    """Registered Tue 1 Sep 2026, panel formed the same day; its stage deadline set by hand below."""
    at = datetime(2026, 9, 1, 9, tzinfo=CHINA)
    return _case_with_panel(
        engine, users, experts, neighbor_case(), lead="mediator_tangxia", member="elder_tangxia", at=at
    )


def _deadline(engine, cid: int, last_day: str) -> None:
    # A stage deadline is stored as 24:00 China time of its last allowed day.
    y, m, d = map(int, last_day.split("-"))
    with Session(engine) as session:
        case = session.get(Case, cid)
        assert case is not None
        case.stage_due_at = datetime(y, m, d, tzinfo=CHINA) + timedelta(days=1)
        session.add(case)
        session.commit()


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2026-10-17", ["所选日期2026-10-17为周末（星期六）"]),  # a plain Saturday
        ("2026-10-01", ["所选日期2026-10-01（星期四）为法定节假日（国庆节）"]),  # 国庆
        ("2026-10-10", []),  # Saturday, a 调休 make-up working day of the 2026 National Day schedule
        ("2026-10-15", []),  # an ordinary Thursday
    ],
)
def test_api_warns_of_weekends_and_holidays(engine, users, experts, as_user, day, expected) -> None:
    cid = _september_case(engine, users, experts)
    _deadline(engine, cid, "2026-12-21")
    r = as_user("clerk").post(
        f"/cases/{cid}/sessions", {"scheduled_at": f"{day}T09:30:00+08:00", "location": "第一调解室"}
    )
    assert r.status_code == 201, r.text  # warnings never refuse
    assert r.json()["warnings"] == expected


def test_api_warns_past_the_stage_deadline_and_on_reschedule(engine, users, experts, as_user) -> None:
    cid = _september_case(engine, users, experts)
    _deadline(engine, cid, "2026-10-14")
    api = as_user("clerk")
    r = api.post(
        f"/cases/{cid}/sessions", {"scheduled_at": "2026-10-14T16:00:00+08:00", "location": "第一调解室"}
    )
    assert r.status_code == 201 and r.json()["warnings"] == []  # the last day itself is allowed
    sid = r.json()["id"]
    r = api.patch(
        f"/cases/{cid}/sessions/{sid}", {"scheduled_at": "2026-10-15T09:00:00+08:00", "reason": "改期"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["warnings"] == ["所选时间晚于本阶段期限（最后一日：2026-10-14）"]
    r = api.patch(
        f"/cases/{cid}/sessions/{sid}", {"scheduled_at": "2026-10-18T09:00:00+08:00", "reason": "再改期"}
    )
    assert r.json()["warnings"] == [
        "所选时间晚于本阶段期限（最后一日：2026-10-14）",
        "所选日期2026-10-18为周末（星期日）",
    ]


def test_more_than_a_year_ahead_is_refused(engine, users, experts, as_user) -> None:
    cid = _today_case(engine, users, experts)
    api = as_user("clerk")
    today = utcnow().astimezone(CHINA).date()
    far = datetime.combine(today + timedelta(days=370), datetime.min.time(), CHINA).replace(hour=10)
    r = api.post(f"/cases/{cid}/sessions", {"scheduled_at": far.isoformat(), "location": "第一调解室"})
    assert r.status_code == 422, r.text
    assert "调解时间不能晚于一年后" in r.json()["detail"][0]["msg"]
    assert r.json()["errors"][0]["field"] == "scheduled_at"
    near = far - timedelta(days=70)
    r = api.post(f"/cases/{cid}/sessions", {"scheduled_at": near.isoformat(), "location": "第一调解室"})
    assert r.status_code == 201, r.text


def test_page_shows_warnings_and_saves_only_once_confirmed(engine, users, experts, browser_for) -> None:
    cid = _september_case(engine, users, experts)
    _deadline(engine, cid, "2026-12-21")
    client = browser_for("clerk")
    page = client.get(f"/cases/{cid}")
    assert page.status_code == 200
    form = {
        "csrf_token": csrf_of(page.text),
        "scheduled_at": "2026-10-01T09:30",
        "location": "第二调解室",
        "duration_minutes": "90",
    }
    r = client.post(f"/cases/{cid}/sessions", data=form, follow_redirects=False)
    assert r.status_code == 200, r.text[:300]
    text = html.unescape(r.text)
    assert "所选日期2026-10-01（星期四）为法定节假日（国庆节）" in text
    assert "仍然安排" in text and 'name="confirm_warnings" value="1"' in text
    # What was typed is on the confirmation form.
    assert 'value="2026-10-01T09:30"' in text and 'value="第二调解室"' in text and 'value="90"' in text

    def count() -> int:
        with Session(engine) as session:
            return len(session.exec(select(MediationSession).where(MediationSession.case_id == cid)).all())

    assert count() == 0  # nothing saved before confirming
    # Confirmed for another time than the one warned about: asked again.
    r = client.post(
        f"/cases/{cid}/sessions",
        data={
            **form,
            "scheduled_at": "2026-10-17T09:30",
            "confirm_warnings": "1",
            "warned_for": "2026-10-01T09:30",
        },
        follow_redirects=False,
    )
    assert r.status_code == 200 and "所选日期2026-10-17为周末（星期六）" in html.unescape(r.text)
    assert count() == 0
    r = client.post(
        f"/cases/{cid}/sessions",
        data={**form, "confirm_warnings": "1", "warned_for": "2026-10-01T09:30"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]
    assert count() == 1
    # A working day without warnings is saved at once.
    r = client.post(
        f"/cases/{cid}/sessions", data={**form, "scheduled_at": "2026-10-10T09:30"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert count() == 2


def test_page_schedule_error_keeps_what_was_typed(engine, users, experts, browser_for) -> None:
    cid = _today_case(engine, users, experts)
    client = browser_for("clerk")
    page = client.get(f"/cases/{cid}")
    far = (utcnow().astimezone(CHINA).date() + timedelta(days=370)).isoformat() + "T10:00"
    form = {
        "csrf_token": csrf_of(page.text),
        "scheduled_at": far,
        "location": "第三调解室",
        "duration_minutes": "60",
    }
    r = client.post(f"/cases/{cid}/sessions", data=form, follow_redirects=False)
    assert r.status_code == 422
    text = html.unescape(r.text)
    assert re.search(
        r'name="scheduled_at" value="'
        + far
        + r'" required><span class="field-error"[^>]*>调解时间不能晚于一年后',
        text,
    )
    assert 'value="第三调解室"' in text and 'value="60"' in text
