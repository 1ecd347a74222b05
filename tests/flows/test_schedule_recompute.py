"""Loading a year's holiday schedule moves the stored deadlines of open cases; the 医疗纠纷 clock; the
estimate note on a printed 受理通知书. Real database (SQLite and PostgreSQL), real flows, PDFs read back."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import chinese_calendar
import pytest
from sqlmodel import Session, select

from flows.process import load_holiday_schedule
from models.audit import AuditEvent
from models.db import session_scope
from models.document import Document
from models.user import User
from runtime.relay import drain
from tests.factories import add_user, load_case, neighbor_case
from tests.support.clock import at
from tests.support.pdf import archived_path, pdf_compact
from tests.support.scenario import Scenario

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases

FIRST_UNPUBLISHED_YEAR = max(d.year for d in (*chinese_calendar.holidays, *chinese_calendar.workdays)) + 1


def first_weekday(d: date, weekday: int) -> date:
    while d.weekday() != weekday:
        d += timedelta(days=1)
    return d


def accepted_case(engine, clerk: int, accepted: datetime, **overrides) -> int:
    """A neighbour case (with `overrides`) registered an hour before `accepted`, accepted then."""
    s = Scenario(engine, clerk=clerk, experts={}, start=accepted - timedelta(hours=1))
    return s.registered(neighbor_case(**overrides)).accepted(now=accepted).case


def test_loading_a_schedule_moves_stored_due_dates(engine) -> None:
    y = FIRST_UNPUBLISHED_YEAR
    clerk = add_user(engine, "clerk", "staff")
    admin = add_user(engine, "admin", "admin")
    # 人民调解期限 is one month from acceptance (民法典 第202条). Late April has no statutory holiday
    # (清明 is at the start of April, 劳动节 on 1 May), nor does late March: the last day is D itself.
    d = first_weekday(date(y, 4, 20), 1)  # a Tuesday
    moved = accepted_case(engine, clerk, at(y, 3, d.day, 10))
    untouched = accepted_case(engine, clerk, at(y, 3, d.day - 7, 10))  # due a week earlier
    stage_due_before = load_case(engine, moved).stage_due_at
    assert load_case(engine, moved).clock_due_on == d
    assert load_case(engine, untouched).clock_due_on == d - timedelta(days=7)

    # The State Council makes D a holiday: the period ends on the next working day, Wednesday D+1.
    with session_scope(engine, write=True) as session:
        loaded = load_holiday_schedule(
            session,
            year=y,
            text=f"{d.isoformat()} holiday 示例假日\n",
            actor=session.get(User, admin),
            now=at(y, 4, 1, 9),
        )
    assert loaded.moved == 1
    assert loaded.message == "1 件案件的期限已重新计算"
    assert load_case(engine, moved).clock_due_on == d + timedelta(days=1)
    # The accepted stage's own limit (3 working days in March) is unchanged by a holiday in April.
    assert load_case(engine, moved).stage_due_at == stage_due_before
    assert load_case(engine, untouched).clock_due_on == d - timedelta(days=7)
    with Session(engine) as session:
        log = session.exec(select(AuditEvent).where(AuditEvent.action == "holidays.load")).one()
    assert log.after["moved"] == 1 and log.after["moved_case_ids"] == [moved]

    # Loading the same schedule again moves nothing.
    with session_scope(engine, write=True) as session:
        again = load_holiday_schedule(
            session,
            year=y,
            text=f"{d.isoformat()} holiday\n",
            actor=session.get(User, admin),
            now=at(y, 4, 2),
        )
    assert again.moved == 0


def test_medical_case_runs_the_working_day_clock(engine) -> None:
    clerk = add_user(engine, "clerk", "staff")
    cid = accepted_case(engine, clerk, at(2026, 3, 2, 10), category="medical")
    case = load_case(engine, cid)
    assert case.clock == "medical" and case.clock_started_on == date(2026, 3, 2)
    # 30 working days after Mon 2 Mar 2026 (the day itself not counted): 3–6 Mar 4, 9–13 Mar 9,
    # 16–20 Mar 14, 23–27 Mar 19, 30 Mar–3 Apr 24, 6 Apr is 清明 (4–6 Apr off), 7–10 Apr 28,
    # 13 Apr 29, 14 Apr 30.
    assert case.clock_due_on == date(2026, 4, 14)


def _issued_text(engine, case_id: int, kind: str) -> str:
    with Session(engine) as session:
        docs = session.exec(select(Document).where(Document.case_id == case_id, Document.kind == kind)).all()
    assert len(docs) == 1, [doc.kind for doc in docs]
    return pdf_compact(archived_path(docs[0]))


def test_acceptance_notice_prints_the_estimate_note(engine) -> None:
    clerk = add_user(engine, "clerk", "staff")
    y = FIRST_UNPUBLISHED_YEAR
    estimated = accepted_case(engine, clerk, at(y, 3, 2, 10), category="medical")
    known = accepted_case(engine, clerk, at(2026, 3, 2, 10), category="medical")
    drain(engine)
    text = _issued_text(engine, estimated, "acceptance_notice")
    due = load_case(engine, estimated).clock_due_on
    assert due is not None
    assert f"{due.year}年{due.month}月{due.day}日届满" in text
    assert "上述期限为推算日期" in text and f"{y}年节假日安排尚未公布" in text
    # The note says the estimate includes the make-up days of 全国年节及纪念日放假办法 第六条 (issue 19).
    assert "《全国年节及纪念日放假办法》第二条" in text and "及其第六条的补假" in text
    known_text = _issued_text(engine, known, "acceptance_notice")
    assert "2026年4月14日届满" in known_text
    assert "推算" not in known_text


def test_clock_due_api_medical_and_estimate(as_user) -> None:
    api = as_user("admin")
    r = api.get("/clocks/due", params={"clock": "medical", "start": "2026-03-02"})
    assert r.status_code == 200, r.text
    body = r.json()
    # Counted by hand in test_medical_case_runs_the_working_day_clock: 30 working days skipping 清明.
    assert body["due"] == "2026-04-14" and body["estimated"] is False and body["note"] is None
    assert body["label"] == "医疗纠纷调解" and "视为调解不成" in body["basis"]
    y = FIRST_UNPUBLISHED_YEAR
    later = api.get("/clocks/due", params={"clock": "medical", "start": f"{y}-03-02"}).json()
    assert later["estimated"] is True and f"{y}年节假日安排尚未公布" in later["note"]
    rules = {c["clock"]: c for c in api.get("/settings").json()["clocks"]}
    assert rules["medical"]["amount"] == 30 and rules["medical"]["unit"] == "working_day"


def test_admin_route_says_how_many_cases_moved(engine, as_user) -> None:
    y = FIRST_UNPUBLISHED_YEAR
    clerk = add_user(engine, "window", "staff")
    d = first_weekday(date(y, 4, 20), 1)
    cid = accepted_case(engine, clerk, at(y, 3, d.day, 10))
    r = as_user("admin").put(f"/holidays/{y}", {"text": f"{d.isoformat()} holiday"})
    assert r.status_code == 200, r.text
    assert r.json()["moved"] == 1 and r.json()["message"] == "1 件案件的期限已重新计算"
    assert load_case(engine, cid).clock_due_on == d + timedelta(days=1)
