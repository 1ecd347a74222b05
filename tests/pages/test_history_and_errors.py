"""The 办理记录 in Chinese sentences with people's names; /verify as a page for browsers and JSON for
programs; 404 and 403 as Chinese pages with a way back (JSON under /api/ and for API clients)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from models.db import utcnow
from models.history import Event, sentence
from runtime.relay import drain
from tests.factories import neighbor_case
from tests.support.clock import CHINA
from tests.support.scenario import Scenario

# What Chromium sends when a person opens a link or scans a QR code.
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def _timeline_section(html: str) -> str:
    match = re.search(r'<section class="panel" id="timeline">(.*?)</section>', html, re.S)
    assert match, "no 办理记录 on the case page"
    return match.group(1)


def _history_rows(html: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", row).strip()
        for row in re.findall(r'<td class="history-text">(.*?)</td>', _timeline_section(html), re.S)
    ]


# --- Sentences (pure: no database) ---------------------------------------------------------------


def test_each_action_reads_as_a_sentence_with_labels_not_codes() -> None:
    experts = {7: "王调解", 9: "周律师"}
    cases = [
        (Event("case.accept", "小陈"), "小陈 受理了案件"),
        (
            Event("session.record", "老王", after={"seq": 2, "outcome": "agreed"}),
            "老王 记录第2次调解：达成协议",
        ),
        (
            Event(
                "case.register",
                "小陈",
                after={
                    "case_no": "瑞调〔2026〕00001号",
                    "category": "labor",
                    "channel": "walk_in",
                    "town": "玉海街道",
                    "is_mass": False,
                    "risk_level": "low",
                },
            ),
            "小陈 登记了案件 瑞调〔2026〕00001号（劳动争议，来访，玉海街道）",
        ),
        (
            Event(
                "panel.confirm",
                "小陈",
                after={
                    "members": [{"expert_id": 7, "role": "lead"}, {"expert_id": 9, "role": "legal_advisor"}]
                },
                experts=experts,
            ),
            "小陈 确定专班成员：王调解（调解主持人）、周律师（法律顾问）",
        ),
        (
            Event(
                "panel.recusal",
                "小陈",
                before={"expert_id": 7},
                after={"reason": "系申请人亲属", "replaced_by": 9},
                experts=experts,
            ),
            "小陈 办理回避：王调解回避，由周律师接替（理由：系申请人亲属）",
        ),
        (
            Event(
                "session.schedule",
                "小陈",
                after={"seq": 1, "scheduled_at": "2026-11-25T01:30:00+00:00", "location": "第一调解室"},
            ),
            "小陈 安排第1次调解：2026-11-25 09:30，地点：第一调解室",
        ),
        (
            Event(
                "session.cancel",
                "小陈",
                before={"seq": 3, "scheduled_at": "2026-11-25T01:30:00+00:00"},
                after={"reason": "双方已自行和解"},
            ),
            "小陈 取消第3次调解（原因：双方已自行和解）",
        ),
        (
            Event("document.issue", "系统", after={"kind": "acceptance_notice", "sha256": "ab" * 32}),
            "系统 生成文书《受理通知书》",
        ),
        (Event("case.escalate", "系统", after={"escalation_level": 2}), "系统 将案件升级为“镇街领导督办”"),
        (
            Event(
                "escalation.instruct",
                "中心主任",
                after={"status": "instructed", "text": "三日内约谈双方", "reply_by": "2026-12-01"},
            ),
            "中心主任 作出批示：三日内约谈双方（请于2026-12-01前反馈）",
        ),
        (
            Event(
                "follow_up.record",
                "小陈",
                after={"method": "phone", "terms": {"2": "not_due", "1": "performed"}},
            ),
            "小陈 记录回访（电话回访）：第1项已履行、第2项未到履行期",
        ),
        (
            Event("case.close_decision", "小陈", after={"kind": "oral_performed", "note": None}),
            "小陈 作出结案决定（口头协议履行）",
        ),
    ]
    for event, expected in cases:
        assert sentence(event) == expected, event.action


def test_an_action_without_its_own_sentence_never_shows_its_code_or_values() -> None:
    text = sentence(Event("session.relocate", "老王", entity="session", after={"room_code": "R-07", "x": 1}))
    assert text == "老王 更新了调解安排"
    text = sentence(Event("mystery.thing", "老王", entity="gizmo", after={"members": [{"expert_id": 1}]}))
    assert text == "老王 办理了一项事务"
    # An unknown code inside a known action is left out, not printed.
    assert (
        sentence(Event("session.record", "老王", after={"seq": 1, "outcome": "postponed"}))
        == "老王 记录第1次调解"
    )


# --- The case page and the JSON timeline -------------------------------------------------------


def test_case_history_names_people_and_shows_no_codes(engine, browser_for, as_user, users, experts) -> None:
    staff = as_user("clerk")  # display name 蔡受理 (tests.support.scenario.PEOPLE)
    s = Scenario.just_now(engine, clerk=users["clerk"], experts=experts)
    cid = s.registered().accepted().panel("mediator_tangxia", "elder_tangxia").case
    when = (
        (utcnow() + timedelta(days=2)).astimezone(CHINA).replace(hour=9, minute=30, second=0, microsecond=0)
    )
    s.scheduled(when)
    s.held(utcnow(), outcome="continue", attendees=["陈阿大", "林小二"], notes="双方陈述。", now=utcnow())
    drain(engine)

    expected = [
        "蔡受理 登记了案件",
        "蔡受理 受理了案件",
        "蔡受理 组建了调解专班",
        "蔡受理 确定专班成员：李调解（调解主持人）、陈乡贤（专班成员）",
        f"蔡受理 安排第1次调解：{when:%Y-%m-%d %H:%M}，地点：第一调解室",
        "蔡受理 开始调解",
        "蔡受理 记录第1次调解：继续调解",
        "系统 生成文书《受理通知书》",
    ]
    timeline = staff.get(f"/cases/{cid}").json()["timeline"]
    texts = [t["text"] for t in timeline]
    for sentence_start in expected:
        assert any(t.startswith(sentence_start) for t in texts), (sentence_start, texts)
    # The stored keys stay for programs; the actor is the person's name, never the login.
    assert {"at", "actor", "action", "before", "after", "text"} <= set(timeline[0])
    assert timeline[0]["action"] == "case.register" and timeline[0]["actor"] == "蔡受理"
    assert "clerk" not in {t["actor"] for t in timeline}

    page = browser_for("clerk").get(f"/cases/{cid}")
    assert page.status_code == 200
    rows = _history_rows(page.text)
    assert len(rows) == len(timeline)
    assert rows[-1].startswith("蔡受理 登记了案件")  # newest first
    section = _timeline_section(page.text)
    assert "蔡受理 记录第1次调解：继续调解" in section
    for row in rows:
        assert row.startswith(("蔡受理 ", "系统 ")), row
        assert "=" not in row and "expert_id" not in row and not re.search(r"[A-Za-z]{3,}", row), row
    assert "clerk" not in section


# --- /verify: a page for people, JSON for programs ---------------------------------------------


def test_verify_answers_a_browser_with_a_chinese_page_and_a_program_with_json(
    engine, anonymous, as_user
) -> None:
    staff = as_user("clerk")
    cid = staff.post("/cases", neighbor_case()).json()["id"]
    drain(engine)
    doc = next(d for d in staff.get(f"/cases/{cid}/documents").json() if d["kind"] == "application")
    case_no = staff.get(f"/cases/{cid}").json()["case_no"]
    issued_on = doc["created_at"]

    page = anonymous.get(f"/verify/{doc['verify_code']}", headers={"Accept": BROWSER})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = re.sub(r"<[^>]+>", " ", page.text)
    assert "文书真实有效" in text and "调解申请书/受理登记表" in text and case_no in text
    from datetime import datetime

    assert datetime.fromisoformat(issued_on).astimezone(CHINA).date().isoformat() in text
    assert 'name="viewport"' in page.text  # a phone scanning the QR code gets a phone-sized page
    for personal in ("陈阿大", "林小二", "330381", "1390577"):
        assert personal not in page.text

    for accept in ("application/json", "*/*", None):
        headers = {"Accept": accept} if accept else {}
        r = anonymous.get(f"/verify/{doc['sha256']}", headers=headers)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json", accept
        assert r.json()["valid"] is True and r.json()["case_no"] == case_no

    missing = anonymous.get("/verify/" + "0" * 64, headers={"Accept": BROWSER})
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "未找到该文书" in missing.text
    missing = anonymous.get("/verify/" + "0" * 64, headers={"Accept": "application/json"})
    assert missing.status_code == 404 and missing.json() == {"valid": False, "detail": "未查到该文书，请核实"}


@pytest.mark.postgres
def test_verify_without_a_code_is_a_page_with_a_field_for_it(engine, anonymous, as_user) -> None:
    """Every PDF says to type its code on the 核验页面: /verify is that page, and its form's answer is the
    code's own page (the one the QR code opens)."""
    staff = as_user("clerk")
    cid = staff.post("/cases", neighbor_case()).json()["id"]
    drain(engine)
    doc = next(d for d in staff.get(f"/cases/{cid}/documents").json() if d["kind"] == "application")

    page = anonymous.get("/verify", headers={"Accept": BROWSER})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    form = re.search(r'<form method="get" action="/verify"[^>]*>(.*?)</form>', page.text, re.S)
    assert form and re.search(r'<input name="code"[^>]*required', form.group(1)), page.text
    assert "输入文书上印制的核验码" in page.text

    typed = f"  {doc['verify_code']} "  # as typed from paper, spaces and all
    answer = anonymous.get(
        "/verify", params={"code": typed}, headers={"Accept": BROWSER}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"/verify/{doc['verify_code']}"
    found = anonymous.get(answer.headers["location"], headers={"Accept": BROWSER})
    assert found.status_code == 200 and "文书真实有效" in found.text
    assert staff.get(f"/cases/{cid}").json()["case_no"] in found.text

    miss = anonymous.get("/verify", params={"code": "0000-0000-0000-0000"}, headers={"Accept": BROWSER})
    assert miss.status_code == 404 and "未找到该文书" in miss.text
    assert 'value="0000-0000-0000-0000"' in miss.text  # the field again, with what was typed


# --- 404 and 403 ----------------------------------------------------------------------------------


def test_unknown_page_is_a_chinese_page_with_a_way_back(anonymous, browser_for) -> None:
    r = anonymous.get("/no-such-page", headers={"Accept": BROWSER})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "请求的地址不存在" in r.text and 'href="/login"' in r.text and "前往登录" in r.text
    assert "Not Found" not in r.text

    clerk = browser_for("clerk")
    r = clerk.get("/no-such-page", headers={"Accept": BROWSER})
    assert r.status_code == 404 and 'href="/workbench"' in r.text and "返回工作台" in r.text
    director = browser_for("director")
    r = director.get("/cases/999999", headers={"Accept": BROWSER})
    assert r.status_code == 404 and "案件不存在或您无权查看" in r.text and 'href="/dashboard"' in r.text


def test_api_paths_and_api_clients_keep_the_json_error(anonymous) -> None:
    for headers in ({"Accept": BROWSER}, {"Accept": "application/json"}, {}):
        r = anonymous.get("/api/v1/no-such-thing", headers=headers)
        assert r.status_code == 404 and r.json() == {"detail": "请求的地址不存在"}, headers
    for headers in ({"Accept": "application/json"}, {"Accept": "*/*"}):
        r = anonymous.get("/no-such-page", headers=headers)
        assert r.status_code == 404 and r.json() == {"detail": "请求的地址不存在"}, headers


def test_forbidden_page_is_chinese_with_the_readers_home(browser_for) -> None:
    clerk = browser_for("clerk")
    r = clerk.get("/dashboard", headers={"Accept": BROWSER})
    assert r.status_code == 403 and "无权访问" in r.text
    assert 'href="/workbench"' in r.text and "返回工作台" in r.text
    lawyer = browser_for("zhoulawyer")
    r = lawyer.get("/cases/new", headers={"Accept": BROWSER})
    assert r.status_code == 403 and 'href="/cases"' in r.text and "返回案件台账" in r.text


def test_every_page_starts_with_a_skip_link(anonymous, browser_for) -> None:
    for client, path in ((anonymous, "/login"), (browser_for("clerk"), "/workbench")):
        html = client.get(path).text
        body = html[html.index("<body>") :]
        first = re.search(r"<(a|button|input|select|textarea)\b[^>]*>", body)
        assert first and 'class="skip-link"' in first.group(0) and 'href="#main"' in first.group(0), path
        assert "跳至正文" in body and 'id="main"' in body
