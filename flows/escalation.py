"""Escalation (督办): past its stage's deadline a case climbs one level per further period.

    level 0 承办 → 1 中心主任督办 → 2 镇街领导督办 → 3 市领导包案

The sweep reads only cases whose `next_escalation_at` has passed (one indexed range scan), so its cost
follows the number of cases due, not the size of the table. Each (case, stage visit, period) escalates
at most once: the sweep computes which periods are new, and a unique key in the database refuses a
second row should two sweeps race.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from prefect import flow
from sqlalchemy import bindparam, insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from flows.tasks import issue_supervision_orders, process_flow, step, write_session
from models.audit import AuditEvent, record
from models.case import Case
from models.center_settings import escalation_period
from models.db import id_of, session_scope, table_of
from models.deadlines import china_date, is_open
from models.enums import EscalationLevel, Stage
from models.escalation import (
    TOP_LEVEL,
    Escalation,
    EscalationStatus,
    assignee_for,
    next_escalation_at,
    pick_leader,
    reply_overdue,
)
from models.outbox import enqueue_after
from models.user import User


def escalate_now(
    session: Session, case: Case, *, to_level: int, now: datetime, reason: str, period_index: int
) -> Escalation | None:
    """Escalate one case at once (intake risk); a repeat with the same key is a no-op."""
    if to_level <= case.escalation_level:
        return None
    exists = session.exec(
        select(Escalation.id).where(
            Escalation.case_id == case.id,
            Escalation.stage_seq == case.stage_seq,
            Escalation.period_index == period_index,
        )
    ).first()
    if exists is not None:
        return None
    leader = assignee_for(session, level=to_level, town=case.town)
    esc = Escalation(
        case_id=id_of(case),
        stage=case.stage,
        stage_seq=case.stage_seq,
        period_index=period_index,
        from_level=case.escalation_level,
        to_level=to_level,
        reason=reason,
        assignee_id=leader.id if leader else None,
        created_at=now,
    )
    session.add(esc)
    record(
        session,
        actor_id=None,
        actor_name="system",
        action="case.escalate",
        entity="case",
        entity_id=case.id,
        case_id=case.id,
        at=now,
        before={"escalation_level": case.escalation_level},
        after={"escalation_level": to_level, "reason": reason},
    )
    case.escalation_level = to_level
    session.add(case)
    return esc


def climb_overdue_replies(session: Session, *, now: datetime) -> list[dict]:
    """Part of the escalation sweep: a 批示 whose reply deadline passed without feedback makes the case
    climb one level, like a stalled stage, once per reply deadline."""
    today = china_date(now)
    query = (
        select(Escalation, Case)
        .join(Case, col(Case.id) == Escalation.case_id)
        .where(
            col(Escalation.resolved_at).is_(None),
            Escalation.status == EscalationStatus.instructed.value,
            col(Escalation.reply_by) < today,
        )
        .order_by(col(Escalation.id))
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Escalation)
    result: list[dict] = []
    for esc, case in session.exec(query).all():
        if not reply_overdue(esc, today):
            continue
        reply_by = esc.reply_by
        assert reply_by is not None
        esc.reply_climbed_on = reply_by
        session.add(esc)
        if not is_open(case) or case.escalation_level >= TOP_LEVEL:
            continue
        from_level = case.escalation_level
        reason = (
            f"{EscalationLevel(str(esc.to_level)).label}批示要求于{reply_by.year}年{reply_by.month}月"
            f"{reply_by.day}日前反馈，逾期未反馈，升级为{EscalationLevel(str(from_level + 1)).label}"
        )
        # One climb per reply deadline and stage visit: the deadline's day number keys the new row.
        climbed = escalate_now(
            session, case, to_level=from_level + 1, now=now, reason=reason, period_index=-reply_by.toordinal()
        )
        if climbed is not None:
            session.flush()
            result.append(
                dict(
                    case_id=case.id,
                    case_no=case.case_no,
                    from_level=from_level,
                    to_level=from_level + 1,
                    reason=reason,
                )
            )
    return result


def sweep(session: Session, *, now: datetime, period: timedelta) -> list[dict]:
    """Escalate every case whose next escalation moment has passed. Set-based: one read, bulk writes.
    First, a 批示 whose reply deadline passed without 承办反馈 climbs its case like a stalled stage."""
    replies = climb_overdue_replies(session, now=now)
    if replies:
        session.flush()  # the stage read below sees the levels and versions these climbs changed
    locking = session.get_bind().dialect.name == "postgresql"
    query = (
        sa_select(
            col(Case.id),
            col(Case.case_no),
            col(Case.stage),
            col(Case.stage_seq),
            col(Case.stage_due_at),
            col(Case.town),
            col(Case.escalation_level),
            col(Case.next_escalation_at),
            col(Case.version),
        )
        .where(col(Case.next_escalation_at) <= now)
        .order_by(col(Case.next_escalation_at))
    )
    if locking:
        query = query.with_for_update(skip_locked=True)
    due = session.execute(query).all()
    if not due:
        return replies
    leaders = session.exec(
        select(User).where(User.role == "leader", User.active).order_by(col(User.id))
    ).all()
    by_level: dict[int, list[User]] = {}
    for leader in leaders:
        by_level.setdefault(leader.level or 0, []).append(leader)

    escalations: list[dict] = []
    audits: list[dict] = []
    case_updates: list[dict] = []
    result: list[dict] = []
    for row in due:
        first_period = int((row.next_escalation_at - row.stage_due_at) / period)
        last_period = int((now - row.stage_due_at) / period)
        level = row.escalation_level
        start_level = level
        stage_label = Stage(row.stage).label
        for p in range(first_period, last_period + 1):
            if level >= TOP_LEVEL:
                break
            days = (p + 1) * period.days if period.days else None
            reason = (
                f"“{stage_label}”阶段超过期限"
                + (f"（逾期第{p + 1}个督办周期，约{days}日）" if p else "")
                + f"，升级为{EscalationLevel(str(level + 1)).label}"
            )
            assignee = pick_leader(by_level.get(level + 1, []), row.town)
            escalations.append(
                dict(
                    case_id=row.id,
                    stage=row.stage,
                    stage_seq=row.stage_seq,
                    period_index=p,
                    from_level=level,
                    to_level=level + 1,
                    reason=reason,
                    assignee_id=assignee.id if assignee else None,
                    created_at=now,
                )
            )
            result.append(
                dict(case_id=row.id, case_no=row.case_no, from_level=level, to_level=level + 1, reason=reason)
            )
            level += 1
        next_at = next_escalation_at(
            row.stage_due_at, level=level, period=period, periods_done=last_period + 1
        )
        # No version bump: the ladder is the system's field, and a user's open form must not go stale.
        case_updates.append(
            dict(b_id=row.id, b_version=row.version, escalation_level=level, next_escalation_at=next_at)
        )
        if level != start_level:
            audits.append(
                dict(
                    at=now,
                    actor_id=None,
                    actor_name="system",
                    action="case.escalate",
                    entity="case",
                    entity_id=row.id,
                    case_id=row.id,
                    before={"escalation_level": start_level},
                    after={"escalation_level": level},
                )
            )
    session.execute(
        update(table_of(Case))
        .where(table_of(Case).c.id == bindparam("b_id"), table_of(Case).c.version == bindparam("b_version"))
        .values(
            escalation_level=bindparam("escalation_level"), next_escalation_at=bindparam("next_escalation_at")
        ),
        case_updates,
        execution_options={"synchronize_session": False},
    )
    if escalations:
        session.execute(insert(table_of(Escalation)), escalations)
    if audits:
        session.execute(insert(table_of(AuditEvent)), audits)
    return replies + result


@step
def sweep_task(now_iso: str) -> list[dict]:
    now = datetime.fromisoformat(now_iso)
    with write_session() as session:
        result = sweep(session, now=now, period=escalation_period(session))
        if result:
            # 督办单 for the new escalations are rendered by their own flow, after this commit.
            enqueue_after(
                session,
                "sweep",
                key=f"supervision:sweep:{now_iso}",
                case_id=None,
                params={"now": now_iso},
            )
        return result


@flow(name="tiaojie-escalation-sweep")
async def escalation_sweep_flow(now_iso: str) -> list[dict]:
    return sweep_task(now_iso)


@process_flow("tiaojie-supervision")
async def supervision_flow(key: str) -> None:
    issue_supervision_orders()


def run_sweep(engine: Engine, *, now: datetime) -> list[dict]:
    """One sweep as of `now` (CLI, API, scheduler): the escalations in one transaction, then the
    督办单 flow is queued for the relay; the caller wakes it (`runtime.relay.after_commit`)."""
    with session_scope(engine, write=True) as session:
        result = sweep(session, now=now, period=escalation_period(session))
        if result:
            enqueue_after(
                session,
                "sweep",
                key=f"supervision:sweep:{now.isoformat()}",
                case_id=None,
                params={"now": now.isoformat()},
            )
    return result
