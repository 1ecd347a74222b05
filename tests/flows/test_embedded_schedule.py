"""The embedded scheduler runs each periodic job at the cron times of its deployment (China time).

Times are picked by hand: China is UTC+8 all year, so 08:00 China is 00:00 UTC and 07:00 China on a
Monday is 23:00 UTC on the Sunday before.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlmodel import Session, select

from flows.registry import SCHEDULED
from models.agreement import Agreement, AgreementTerm
from models.case import Case
from models.db import session_scope
from models.document import Document
from models.enums import Stage
from models.escalation import Escalation
from models.notification import Notification
from runtime.serve import CronSchedule, EmbeddedScheduler, Fire
from tests.factories import add_user, neighbor_case, register
from tests.support.clock import CHINA, at

SWEEP, REMIND, REPORT, ANCHOR = "escalation-sweep", "follow-up-reminders", "backlog-report", "audit-anchor"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def crons() -> dict[str, str]:
    return {name: cron for name, (_flow, cron) in SCHEDULED.items()}


def test_the_table_both_modes_read() -> None:
    assert crons() == {SWEEP: "0 * * * *", REMIND: "0 8 * * *", REPORT: "0 7 * * 1", ANCHOR: "30 2 * * *"}


def test_start_makes_up_once_for_the_latest_fire_of_each_job() -> None:
    start = utc(2026, 11, 25, 10, 30)  # Wednesday 18:30 China
    schedule = CronSchedule(crons(), start=start)
    assert schedule.due_jobs(start) == [
        Fire(SWEEP, utc(2026, 11, 25, 10)),
        Fire(REMIND, utc(2026, 11, 25, 0)),  # 08:00 China today
        Fire(REPORT, utc(2026, 11, 22, 23)),  # Monday 23 Nov 07:00 China
        Fire(ANCHOR, utc(2026, 11, 24, 18, 30)),  # 02:30 China today
    ]
    assert schedule.due_jobs(start) == []  # never twice for the same time
    assert schedule.next_fire(REMIND) == utc(2026, 11, 26, 0)
    assert schedule.next_fire(REPORT) == utc(2026, 11, 29, 23)


def test_reminders_at_eight_china_time_not_at_midnight() -> None:
    schedule = CronSchedule({REMIND: "0 8 * * *"}, start=utc(2026, 11, 25, 1))
    assert [f.name for f in schedule.due_jobs(utc(2026, 11, 25, 1))] == [REMIND]  # start: 25 Nov 08:00
    assert schedule.due_jobs(utc(2026, 11, 25, 16)) == []  # midnight China
    assert schedule.due_jobs(utc(2026, 11, 25, 23, 59, 59)) == []  # 07:59:59 China
    assert schedule.due_jobs(utc(2026, 11, 26, 0, 0, 2)) == [Fire(REMIND, utc(2026, 11, 26, 0))]
    assert schedule.due_jobs(utc(2026, 11, 26, 0, 0, 7)) == []


def test_weekly_report_on_monday_seven_china_time() -> None:
    schedule = CronSchedule({REPORT: "0 7 * * 1"}, start=utc(2026, 11, 29, 12))  # Sunday 20:00 China
    assert schedule.due_jobs(utc(2026, 11, 29, 12)) == [Fire(REPORT, utc(2026, 11, 22, 23))]
    assert schedule.due_jobs(utc(2026, 11, 29, 16)) == []  # Monday 00:00 China
    assert schedule.due_jobs(utc(2026, 11, 29, 22, 59)) == []  # Monday 06:59 China
    assert schedule.due_jobs(utc(2026, 11, 29, 23)) == [Fire(REPORT, utc(2026, 11, 29, 23))]
    assert schedule.due_jobs(utc(2026, 11, 30, 7)) == []  # Monday 07:00 UTC is 15:00 China
    assert schedule.next_fire(REPORT) == utc(2026, 12, 6, 23)


def test_sweep_hourly_on_the_hour() -> None:
    schedule = CronSchedule({SWEEP: "0 * * * *"}, start=utc(2026, 11, 25, 10, 0, 0))
    assert schedule.due_jobs(utc(2026, 11, 25, 10, 0, 0)) == [Fire(SWEEP, utc(2026, 11, 25, 10))]
    assert schedule.due_jobs(utc(2026, 11, 25, 10, 59, 59)) == []
    assert schedule.due_jobs(utc(2026, 11, 25, 11, 0, 4)) == [Fire(SWEEP, utc(2026, 11, 25, 11))]


def test_missed_fires_are_made_up_once_not_replayed() -> None:
    schedule = CronSchedule(crons(), start=utc(2026, 11, 25, 10, 30))
    schedule.due_jobs(utc(2026, 11, 25, 10, 30))
    # Asleep from Wednesday evening to Tuesday 10:20 China: 136 sweeps, 6 reminder runs and a report missed.
    woke = at(2026, 12, 1, 10, 20)
    assert schedule.due_jobs(woke) == [
        Fire(SWEEP, utc(2026, 12, 1, 2)),
        Fire(REMIND, utc(2026, 12, 1, 0)),
        Fire(REPORT, utc(2026, 11, 29, 23)),
        Fire(ANCHOR, utc(2026, 11, 30, 18, 30)),
    ]
    assert schedule.due_jobs(woke) == []
    assert schedule.next_fire(SWEEP) == utc(2026, 12, 1, 3)
    assert schedule.next_fire(REMIND) == utc(2026, 12, 2, 0)


# --- the real loop, with a scripted clock, running the real flows on the test database ---


def _follow_up_case(engine, clerk: int, term_due: date) -> int:
    """A case in follow-up with one unperformed term (set up directly: the path there is tested elsewhere)."""
    cid = register(engine, neighbor_case(), actor_id=clerk, now=at(2026, 10, 1, 9))
    with session_scope(engine, write=True) as s:
        case = s.get(Case, cid)
        case.stage, case.stage_due_at, case.next_escalation_at = Stage.follow_up, None, None
        agreement = Agreement(case_id=cid, performance_method="一次性支付")
        s.add(agreement)
        s.flush()
        term = AgreementTerm(
            agreement_id=agreement.id, seq=1, obligor="王某", obligation="赔偿", due_date=term_due
        )
        s.add(term)
        s.flush()
        return term.id


def _observe(engine) -> dict:
    with Session(engine) as s:
        reminders = s.exec(select(Notification.key).where(Notification.key.startswith("remind:"))).all()
        reports = s.exec(select(Document.subject_key).where(Document.kind == "backlog_report")).all()
        escalations = s.exec(select(Escalation.case_id, Escalation.created_at)).all()
    return {
        "remind": sorted(k.rsplit(":", 1)[1] for k in reminders),
        "report": sorted(reports),
        "escalated": [(cid, when.astimezone(CHINA)) for cid, when in escalations],
    }


@pytest.mark.slow
def test_loop_runs_the_flows_at_their_cron_times(engine) -> None:
    clerk = add_user(engine, "clerk", "staff")
    add_user(engine, "director", "leader", level=1)
    late = register(engine, neighbor_case(), actor_id=clerk, now=at(2026, 11, 2, 9))  # due Fri 6 Nov 00:00
    _follow_up_case(engine, clerk, term_due=date(2026, 11, 8))

    passes = [
        at(2026, 11, 5, 23, 30),  # start (Thursday): each job makes up for its latest fire once
        at(2026, 11, 5, 23, 30, 5),
        at(2026, 11, 6, 0, 0, 4),  # midnight: the sweep only
        at(2026, 11, 6, 7, 59, 59),
        at(2026, 11, 6, 8, 0, 2),  # the reminders' 08:00
        at(2026, 11, 9, 6, 59),  # down over the weekend: reminders once, for Sunday
        at(2026, 11, 9, 7, 0, 1),  # Monday 07:00: the weekly report
    ]
    after: list[dict] = []  # the database after each pass

    def clock() -> datetime:
        if scheduler.schedule is not None:  # not the first pass: observe what the last pass did
            after.append(_observe(engine))
        now = passes[len(after)]
        if len(after) == len(passes) - 1:
            scheduler.stopping.set()  # the loop ends after this pass
        return now

    scheduler = EmbeddedScheduler(engine, clock=clock, poll_seconds=0)
    scheduler.relay.ready.set()  # the relay itself is not under test: flows run in this thread
    scheduler._loop()
    after.append(_observe(engine))

    assert [a["remind"] for a in after] == [
        ["2026-11-05"],
        ["2026-11-05"],
        ["2026-11-05"],  # not at midnight
        ["2026-11-05"],
        ["2026-11-05", "2026-11-06"],
        ["2026-11-05", "2026-11-06", "2026-11-08"],  # not 7 Nov too
        ["2026-11-05", "2026-11-06", "2026-11-08"],
    ]
    assert [a["report"] for a in after] == [["backlog:2026-W45"]] * 6 + [
        ["backlog:2026-W45", "backlog:2026-W46"]
    ]
    # Escalated by the midnight sweep, as of its cron time; no later sweep escalates it again this period.
    assert [a["escalated"] for a in after] == [[]] * 2 + [[(late, at(2026, 11, 6, 0))]] * 5
