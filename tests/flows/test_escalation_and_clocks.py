"""Deadlines on China's calendar and the escalation ladder, with an explicit clock."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, select

from flows import intake
from flows.escalation import run_sweep
from models.escalation import Escalation
from tests.factories import act, expert_bank, load_case, neighbor_case, register, wage_case
from tests.support.clock import at
from tests.support.scenario import Scenario, people

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases


@pytest.fixture
def world(engine):
    return {
        "experts": expert_bank(engine),
        **people(engine, "clerk", "director", "yuhai", "tangxia", "city", clerk={"display_name": None}),
    }


def scenario(engine, world, start) -> Scenario:
    return Scenario(engine, clerk=world["clerk"], experts=world["experts"], start=start)


def escalations(engine, case_id: int) -> list[Escalation]:
    with Session(engine) as s:
        return list(
            s.exec(select(Escalation).where(Escalation.case_id == case_id).order_by(Escalation.id)).all()
        )


def test_ladder_one_level_per_period_never_twice(engine, world):
    cid = register(engine, neighbor_case(), actor_id=world["clerk"], now=at(2026, 11, 2, 9))  # a Monday
    case = load_case(engine, cid)
    # Registration must be decided within 3 working days: Thu 5 Nov, ending at 24:00 China time.
    assert case.stage_due_at == at(2026, 11, 6, 0)
    assert run_sweep(engine, now=at(2026, 11, 5, 23, 59)) == []
    first = run_sweep(engine, now=at(2026, 11, 6, 1))
    assert [(e["case_id"], e["from_level"], e["to_level"]) for e in first] == [(cid, 0, 1)]
    assert run_sweep(engine, now=at(2026, 11, 6, 2)) == []  # same period: nothing new
    assert run_sweep(engine, now=at(2026, 11, 12, 23)) == []
    second = run_sweep(engine, now=at(2026, 11, 13, 1))
    assert [(e["from_level"], e["to_level"]) for e in second] == [(1, 2)]
    third = run_sweep(engine, now=at(2026, 11, 20, 1))
    assert [(e["from_level"], e["to_level"]) for e in third] == [(2, 3)]
    assert run_sweep(engine, now=at(2027, 3, 1)) == []  # 市领导包案 is the top
    rows = escalations(engine, cid)
    # Level 2 goes to the case's own town leader (塘下镇), not to 玉海街道's.
    assert [r.assignee_id for r in rows] == [world["director"], world["tangxia"], world["city"]]
    assert load_case(engine, cid).escalation_level == 3


def test_catch_up_and_closed_cases_untouched(engine, world):
    cid = register(engine, neighbor_case(), actor_id=world["clerk"], now=at(2026, 11, 2, 9))
    rejected = register(engine, neighbor_case(), actor_id=world["clerk"], now=at(2026, 11, 2, 9))
    act(
        engine, intake.reject_case, rejected, actor_id=world["clerk"], now=at(2026, 11, 3, 9), reason="已起诉"
    )
    result = run_sweep(engine, now=at(2026, 11, 21, 1))  # three periods late at the first sweep
    assert [(e["case_id"], e["to_level"]) for e in result] == [(cid, 1), (cid, 2), (cid, 3)]
    assert escalations(engine, rejected) == []


def test_town_leader_gets_their_town_and_moving_on_resolves(engine, world):
    cid = register(engine, neighbor_case(town="玉海街道"), actor_id=world["clerk"], now=at(2026, 11, 2, 9))
    run_sweep(engine, now=at(2026, 11, 6, 1))
    run_sweep(engine, now=at(2026, 11, 13, 1))
    rows = escalations(engine, cid)
    assert rows[-1].assignee_id == world["yuhai"] and rows[-1].resolved_at is None
    act(engine, intake.accept_case, cid, actor_id=world["clerk"], now=at(2026, 11, 14, 9))
    # Leaving the stage fulfils the stage's part; each stays open until its 承办反馈 (test_supervision_loop).
    assert all(r.stage_left_at is not None and r.resolved_at is None for r in escalations(engine, cid))
    case = load_case(engine, cid)
    assert case.escalation_level == 2 and case.stage == "accepted"


def test_mass_labor_dispute_escalates_at_intake(engine, world):
    cid = register(engine, wage_case(), actor_id=world["clerk"], now=at(2026, 11, 2, 9))
    case = load_case(engine, cid)
    assert case.is_mass and case.risk_level == "high" and case.escalation_level == 1
    rows = escalations(engine, cid)
    assert len(rows) == 1 and rows[0].period_index == -1 and rows[0].assignee_id == world["director"]
    assert "群体性" in rows[0].reason
    # Overdue later, it climbs from level 1, not 0.
    assert [(e["from_level"], e["to_level"]) for e in run_sweep(engine, now=at(2026, 11, 6, 1))] == [(1, 2)]


def test_labor_clock_across_national_day(engine, world):
    case = scenario(engine, world, at(2026, 9, 20, 10)).registered(wage_case(claimants=3, headcount=3))
    cid = case.accepted(now=at(2026, 9, 21, 9)).case
    loaded = load_case(engine, cid)
    # 15 days from 20 Sep is 5 Oct, inside the National Day holiday: the period ends on 8 Oct.
    assert loaded.clock == "labor" and loaded.clock_due_on == date(2026, 10, 8)
    case.panel("mediator_yuhai", now=at(2026, 9, 22, 9))
    assert load_case(engine, cid).stage_due_at == at(2026, 10, 9, 0)
    assert run_sweep(engine, now=at(2026, 10, 8, 23)) == []
    assert [e["to_level"] for e in run_sweep(engine, now=at(2026, 10, 9, 0, 30))] == [1]


def test_people_mediation_month_and_consent_extension(engine, world):
    from flows import deadlines

    case = scenario(engine, world, at(2026, 8, 31, 10)).registered().accepted(now=at(2026, 9, 1, 9))
    cid = case.case
    # One month from 1 Sep is 1 Oct (holiday until 7 Oct): the period ends on 8 Oct.
    assert load_case(engine, cid).clock_due_on == date(2026, 10, 8)
    case.act(
        deadlines.extend_clock, now=at(2026, 9, 30, 9), days=15, consent_note="双方当事人书面同意继续调解"
    )
    # 1 Oct + 15 days = 16 Oct (a Friday).
    assert load_case(engine, cid).clock_due_on == date(2026, 10, 16)


def test_pause_for_appraisal_stops_escalation(engine, world):
    from flows import deadlines

    case = scenario(engine, world, at(2026, 11, 2, 9)).registered().accepted().panel(now=at(2026, 11, 3, 9))
    cid = case.case
    # 人民调解 clock from acceptance on Mon 2 Nov: one month → Wed 2 Dec, a working day; the
    # mediation stage must end by then (24:00 China time).
    loaded = load_case(engine, cid)
    assert loaded.clock_due_on == date(2026, 12, 2) and loaded.stage_due_at == at(2026, 12, 3, 0)
    case.act(deadlines.pause_clock, now=at(2026, 11, 10, 9), note="等待房屋质量鉴定")
    paused = load_case(engine, cid)
    assert paused.stage_due_at is None and paused.next_escalation_at is None
    assert run_sweep(engine, now=at(2027, 1, 5)) == []  # paused: never overdue
    assert escalations(engine, cid) == []
    case.act(deadlines.resume_clock, now=at(2026, 11, 30, 9), note="鉴定意见已出")
    loaded = load_case(engine, cid)
    # 10 Nov → 30 Nov: 20 days stood still, added to the period: 2 Dec + 20 = Tue 22 Dec, a working day.
    assert loaded.clock_paused_days == 20
    assert loaded.clock_due_on == date(2026, 12, 22) and loaded.stage_due_at == at(2026, 12, 23, 0)
    assert run_sweep(engine, now=at(2026, 12, 22, 23, 59)) == []
    late = run_sweep(engine, now=at(2026, 12, 23, 0, 30))
    assert [(e["case_id"], e["from_level"], e["to_level"]) for e in late] == [(cid, 0, 1)]
