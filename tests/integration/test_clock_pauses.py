"""Issue 19 point 1: a pause of the medical clock (医疗纠纷预防和处理条例 第38条 "需要鉴定的，鉴定时间不计入
调解期限") counts WORKING days, takes the day it took effect (`on`), and each pause and resume issues a
调解期限中止、恢复计算告知书 to the parties — driven through the JSON API and the page, read back with
pdftotext, on SQLite and PostgreSQL.

The issue's example, counted by hand on 2026's published schedule (元旦 1–3 Jan; 春节 15–23 Feb with
Sat 14 Feb and Sat 28 Feb working days): accepted Mon 5 Jan 2026, 30 working days: Jan 6–9 (4), 12–16 (9),
19–23 (14), 26–30 (19), Feb 2–6 (24), 9–13 (29), Sat 14 Feb (30) → 14 Feb. Appraisal commissioned Mon
12 Jan, opinion received Mon 26 Jan: the working days after 12 Jan up to 26 Jan do not count — 13–16 (4),
19–23 (5), 26 (1) = 10. 40 working days from 5 Jan: 14 Feb (30), 15–23 Feb 春节, 24–27 (34), Sat 28 Feb
(35), Mar 2–6 (40) → Fri 6 Mar 2026 (not 28 Feb, which adding 14 calendar days gave). When it stopped on
12 Jan, 25 working days were left (30 less Jan 6–9 and 12)."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.audit import AuditEvent
from models.case import Case, ClockEvent
from runtime.relay import drain
from tests.api_clients import Api
from tests.factories import load_case, person_id
from tests.pages.conftest import csrf_of, login
from tests.support.clock import at
from tests.support.pdf import archived_pdf_texts
from tests.support.scenario import Scenario, people

pytestmark = pytest.mark.postgres

MEDICAL_38_PAUSE = "需要鉴定的，鉴定时间不计入调解期限。"


def _medical_case(engine, name: str, seq: int) -> int:
    """Registered Mon 5 Jan 2026 09:00 by 蔡受理 (login "clerk"), accepted at 10:00, 李调解 presiding
    from 15:00."""
    body = {
        "channel": "walk_in",
        "category": "medical",
        "town": "塘下镇",
        "summary": "患者术后出现并发症，家属认为医院存在过错，要求赔偿。",
        "claims": "请求医院赔偿医疗费等共计50000元。",
        "parties": [
            {
                "role": "applicant",
                "kind": "person",
                "name": name,
                "id_number": person_id(seq),
                "phone": f"1380000{seq:04d}",
                "address": "瑞安市塘下镇",
            },
            {
                "role": "respondent",
                "kind": "organization",
                "name": "瑞安市某医院",
                "address": "瑞安市安阳街道",
            },
        ],
    }
    s = Scenario(engine, start=at(2026, 1, 5, 9)).registered(body).accepted().panel(now=at(2026, 1, 5, 15))
    cid = s.case
    case = load_case(engine, cid)
    assert case.clock_due_on == date(2026, 2, 14)  # counted in the module docstring
    return cid


def _changes(engine, cid: int) -> tuple:
    with Session(engine) as session:
        case = session.get(Case, cid)
        events = session.exec(select(ClockEvent).where(ClockEvent.case_id == cid)).all()
        audits = session.exec(select(AuditEvent).where(col(AuditEvent.action).like("clock.%"))).all()
        return (case.clock_paused_since, case.clock_due_on, case.stage_due_at, len(events), len(audits))


def _assert_moved_by_working_days(engine, cid: int) -> None:
    case = load_case(engine, cid)
    assert case.clock_paused_since is None
    assert case.clock_paused_workdays == 10 and case.clock_paused_days == 0
    assert case.clock_due_on == date(2026, 3, 6)
    assert case.stage_due_at == at(2026, 3, 7, 0)  # 24:00 of Fri 6 Mar, China time


def _assert_notices(engine, cid: int) -> None:
    drain(engine)
    pause, resume = archived_pdf_texts(engine, cid, "clock_notice")
    assert "调解期限中止、恢复计算告知书" in pause
    assert "自2026年1月12日起中止计算调解期限" in pause and "尚余25个工作日" in pause
    assert "《医疗纠纷预防和处理条例》第三十八条" in pause and MEDICAL_38_PAUSE in pause
    assert "瑞安市某医院" in pause  # every party is told
    assert "2026年1月26日恢复计算调解期限" in resume
    assert "中止期间的10个工作日不计入调解期限，调解期限的最后一日为2026年3月6日" in resume
    assert "推算" not in resume  # 2026's schedule is published


def test_pause_and_resume_through_the_api(engine, app) -> None:
    cid = _medical_case(engine, "吴海燕", 401)
    with TestClient(app) as client:
        api = Api(client, "clerk")
        # Refused, nothing changed: before acceptance, after today.
        before = _changes(engine, cid)
        for on, words in (("2026-01-04", "早于受理日期"), ("2099-01-01", "晚于今天")):
            r = api.post(f"/cases/{cid}/clock/pause", {"note": "委托医疗损害鉴定", "on": on})
            assert r.status_code == 422, r.text
            assert words in r.text and "on" in r.text
            assert _changes(engine, cid) == before
        r = api.post(f"/cases/{cid}/clock/pause", {"note": "委托医疗损害鉴定", "on": "2026-01-12"})
        assert r.status_code == 200, r.text
        paused = load_case(engine, cid)
        assert paused.clock_paused_since == at(2026, 1, 12, 0) and paused.stage_due_at is None
        # A resume before the pause day is refused and changes nothing.
        before = _changes(engine, cid)
        r = api.post(f"/cases/{cid}/clock/resume", {"note": "收到鉴定意见", "on": "2026-01-11"})
        assert r.status_code == 422 and "早于暂停日期" in r.text, r.text
        assert _changes(engine, cid) == before
        r = api.post(f"/cases/{cid}/clock/resume", {"note": "收到鉴定意见", "on": "2026-01-26"})
        assert r.status_code == 200, r.text
        body = api.get(f"/cases/{cid}").json()
        clock = next(k for k in body["clocks"] if k["main"])
        assert clock["due"] == "2026-03-06" and clock["paused_workdays"] == 10 and clock["paused_days"] == 0
        pause, resume = body["clock_events"]
        assert (pause["kind"], pause["effective_on"], pause["days"], pause["unit"]) == (
            "pause",
            "2026-01-12",
            25,
            "working_day",
        )
        assert (resume["effective_on"], resume["days"], resume["due_on"]) == ("2026-01-26", 10, "2026-03-06")
    _assert_moved_by_working_days(engine, cid)
    _assert_notices(engine, cid)


def test_pause_and_resume_through_the_page(engine, app) -> None:
    cid = _medical_case(engine, "林小红", 402)
    with TestClient(app) as browser:
        assert login(browser, "clerk").status_code == 303
        page = browser.get(f"/cases/{cid}")
        assert 'name="on"' in page.text and "委托鉴定之日" in page.text
        before = _changes(engine, cid)
        bad = browser.post(
            f"/cases/{cid}/clock/pause",
            data={"note": "委托医疗损害鉴定", "on": "2026-01-04", "csrf_token": csrf_of(page.text)},
        )
        assert bad.status_code == 200 and "早于受理日期" in bad.text
        assert _changes(engine, cid) == before
        page = browser.get(f"/cases/{cid}")
        done = browser.post(
            f"/cases/{cid}/clock/pause",
            data={"note": "委托医疗损害鉴定", "on": "2026-01-12", "csrf_token": csrf_of(page.text)},
        )
        assert done.status_code == 200 and "已暂停计算期限" in done.text
        assert "收到鉴定意见之日" in done.text
        done = browser.post(
            f"/cases/{cid}/clock/resume",
            data={"note": "收到鉴定意见", "on": "2026-01-26", "csrf_token": csrf_of(done.text)},
        )
        assert done.status_code == 200 and "已恢复计算期限" in done.text
        # The case's history says what stood still, in the clock's unit.
        assert "恢复计时（暂停10个工作日），届满日为2026-03-06" in done.text
        assert (
            "暂停 10 个工作日" in done.text
            and "自 2026-01-26 恢复（暂停 10个工作日），届满 2026-03-06" in done.text
        )
        assert "2026年3月6日" in done.text or "2026-03-06" in done.text
    _assert_moved_by_working_days(engine, cid)
    _assert_notices(engine, cid)


def test_clocks_due_counts_the_make_up_days_of_an_unpublished_year(engine, app) -> None:
    # CONTRACT v1.2: GET /clocks/due counts 全国年节及纪念日放假办法 第六条. Hand counts of
    # tests/unit/test_calendar_2027_2028.py: labor from 26 Jan 2027 → 10 Feb is a 补假 day (初二 fell
    # on Sun 7 Feb) → Thu 11 Feb; medical from 28 Apr 2027 → Mon 14 Jun (3–4 May are 补假).
    people(engine, "clerk")
    with TestClient(app) as client:
        api = Api(client, "clerk")
        labor = api.get("/clocks/due", params={"clock": "labor", "start": "2027-01-26"})
        assert labor.status_code == 200, labor.text
        body = labor.json()
        assert body["due"] == "2027-02-11" and body["estimated"] is True
        assert "第六条的补假" in body["note"]
        medical = api.get("/clocks/due", params={"clock": "medical", "start": "2027-04-28"}).json()
        assert medical["due"] == "2027-06-14" and medical["estimated"] is True
