"""“My work”: the next session of each of my cases; who carries a case (the one rule for whom its
reminders, 批示 and 催办 go to: the presiding mediator's linked account, else the registrar); and who is
to be reminded of a case's session or deadline (who carries it, who sits on its panel, who acts in it as
an agent — through the account linked to their expert record)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from models.case import Case
from models.deadlines import due_soon_sql, open_sql
from models.enums import PanelRole
from models.expert import PanelMember
from models.mediation_session import MediationSession
from models.party import Party
from models.user import User

SESSION_REMIND_HOURS = 24
DEADLINE_REMIND_DAYS = 3


def _pending_sessions() -> list:
    conditions = [col(MediationSession.held_at).is_(None)]
    # A cancelled session (issue 11 item 3, a column added alongside) is not a session to come.
    cancelled = getattr(MediationSession, "cancelled_at", None)
    if cancelled is not None:
        conditions.append(col(cancelled).is_(None))
    return conditions


def next_sessions(session: Session, case_ids: Iterable[int], now: datetime) -> dict[int, MediationSession]:
    """Per case, the earliest session scheduled from `now` on and not yet held."""
    ids = list(case_ids)
    if not ids:
        return {}
    rows = session.exec(
        select(MediationSession)
        .where(
            col(MediationSession.case_id).in_(ids),
            col(MediationSession.scheduled_at) >= now,
            *_pending_sessions(),
        )
        .order_by(col(MediationSession.scheduled_at))
    ).all()
    out: dict[int, MediationSession] = {}
    for row in rows:
        out.setdefault(row.case_id, row)
    return out


def case_carriers(session: Session, case_ids: Iterable[int]) -> dict[int, int]:
    """Per case, the active account that carries it: the one linked to the expert presiding over its
    panel (active seat), else the one who registered it. A case whose presiding mediator has no account
    and whose registrar is disabled has none (absent from the answer)."""
    ids = list(case_ids)
    if not ids:
        return {}
    carriers: dict[int, int] = {}
    for case_id, user_id in session.exec(
        select(PanelMember.case_id, User.id)
        .join(User, col(User.expert_id) == PanelMember.expert_id)
        .where(
            col(PanelMember.case_id).in_(ids),
            col(PanelMember.active),
            col(PanelMember.role) == PanelRole.lead.value,
            col(User.active),
        )
        .order_by(col(User.id))
    ).all():
        if user_id is not None:
            carriers.setdefault(case_id, user_id)
    rest = [i for i in ids if i not in carriers]
    if rest:
        for registered, registrar in session.exec(
            select(Case.id, Case.created_by)
            .join(User, col(User.id) == Case.created_by)
            .where(col(Case.id).in_(rest), col(User.active))
        ).all():
            if registered is not None and registrar is not None:
                carriers[registered] = registrar
    return carriers


def case_carrier(session: Session, case_id: int) -> int | None:
    """The account that carries one case (`case_carriers`)."""
    return case_carriers(session, [case_id]).get(case_id)


def case_people(session: Session, case_ids: Iterable[int]) -> dict[int, set[int]]:
    """Per case, the active accounts whose case it is: the one who carries it (`case_carriers`), and
    the accounts linked to the experts seated on its panel (active seats only) or acting as a party's
    agent."""
    ids = list(case_ids)
    people: dict[int, set[int]] = {cid: set() for cid in ids}
    if not ids:
        return people
    experts: dict[int, set[int]] = {cid: set() for cid in ids}
    for case_id, seated in session.exec(
        select(PanelMember.case_id, PanelMember.expert_id).where(
            col(PanelMember.case_id).in_(ids), col(PanelMember.active)
        )
    ).all():
        experts[case_id].add(seated)
    for case_id, agent in session.exec(
        select(Party.case_id, Party.agent_expert_id).where(
            col(Party.case_id).in_(ids), col(Party.agent_expert_id).is_not(None)
        )
    ).all():
        if agent is not None:
            experts[case_id].add(agent)
    all_experts = set().union(*experts.values())
    accounts: dict[int, set[int]] = {}
    if all_experts:
        for user_id, linked in session.exec(
            select(User.id, User.expert_id).where(col(User.expert_id).in_(all_experts), col(User.active))
        ).all():
            if user_id is not None and linked is not None:
                accounts.setdefault(linked, set()).add(user_id)
    carriers = case_carriers(session, ids)
    for cid in ids:
        if cid in carriers:
            people[cid].add(carriers[cid])
        for expert_id in experts[cid]:
            people[cid] |= accounts.get(expert_id, set())
    return people


def sessions_coming(session: Session, now: datetime) -> list[tuple[MediationSession, Case]]:
    """Sessions of open cases starting within SESSION_REMIND_HOURS of `now`."""
    return [
        (s, c)
        for s, c in session.exec(
            select(MediationSession, Case)
            .join(Case, col(Case.id) == MediationSession.case_id)
            .where(
                open_sql(),
                col(MediationSession.scheduled_at) >= now,
                col(MediationSession.scheduled_at) < now + timedelta(hours=SESSION_REMIND_HOURS),
                *_pending_sessions(),
            )
            .order_by(col(MediationSession.scheduled_at))
        ).all()
    ]


def deadlines_coming(session: Session, now: datetime) -> list[Case]:
    """Open, running cases whose stage deadline falls within DEADLINE_REMIND_DAYS of `now`."""
    return list(
        session.exec(
            select(Case).where(due_soon_sql(now, DEADLINE_REMIND_DAYS)).order_by(col(Case.stage_due_at))
        ).all()
    )
