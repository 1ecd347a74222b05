"""Escalations (督办 / 包案): a stalled case climbing the leadership ladder, and the loop each one runs.

The loop (督办闭环): the escalation is assigned to a leader, who 签收s it (acknowledge), may write a
批示 with a reply deadline (instruct) and 催办 (urge); the case's staff write the 承办反馈 (feedback).
It is resolved when the case has left the stage that stalled AND the feedback is in; a case that ends
(failed, withdrawn, closed, rejected) leaves nothing to supervise and resolves it too. Every step is
an `EscalationEvent`, which is the history the pages and the 督办单 show.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from models.access import scope_town
from models.db import UTCDateTime, utcnow
from models.enums import EscalationLevel, Role
from models.roles import STAFF
from models.user import User


class EscalationStatus(StrEnum):
    assigned = "assigned"
    acknowledged = "acknowledged"
    instructed = "instructed"
    answered = "answered"
    resolved = "resolved"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.value]


STATUS_LABELS = {
    "assigned": "待签收",
    "acknowledged": "已签收",
    "instructed": "已批示，待反馈",
    "answered": "已反馈",
    "resolved": "已办结",
}


class EventKind(StrEnum):
    ack = "ack"
    instruct = "instruct"
    urge = "urge"
    feedback = "feedback"
    resolve = "resolve"

    @property
    def label(self) -> str:
        return EVENT_LABELS[self.value]


EVENT_LABELS = {"ack": "签收", "instruct": "批示", "urge": "催办", "feedback": "承办反馈", "resolve": "办结"}


# --- The ladder ----------------------------------------------------------------------------------

# The last rung (the county's leader): a case there climbs no further.
TOP_LEVEL = max(int(level) for level in EscalationLevel)


def next_escalation_at(
    stage_due_at: datetime | None,
    *,
    level: int,
    period: timedelta = timedelta(0),
    periods_done: int = 0,
) -> datetime | None:
    """When a stalled stage next climbs a rung: at its deadline, then once per escalation period after
    each period already escalated in this stage visit; never from the top rung or without a deadline."""
    if stage_due_at is None or level >= TOP_LEVEL:
        return None
    return stage_due_at + period * periods_done


class Escalation(SQLModel, table=True):
    __tablename__ = "escalations"
    # One escalation per case, per stage visit, per overdue period: a rerun sweep inserts nothing.
    __table_args__ = (UniqueConstraint("case_id", "stage_seq", "period_index", name="uq_escalation_period"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    stage: str = Field(max_length=20)
    stage_seq: int
    period_index: int = Field(
        description="-1 at intake (mass / high risk), 0 for the first overdue period, …; "
        "a climb for an overdue reply uses minus the reply deadline's date ordinal"
    )
    from_level: int
    to_level: int = Field(index=True)
    reason: str = Field(sa_type=Text)
    assignee_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Resolved = the loop is over (stage left and feedback in, or the case ended).
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    document_id: int | None = Field(default=None, foreign_key="documents.id")
    status: str = Field(default=EscalationStatus.assigned.value, max_length=16)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by: int | None = Field(default=None, foreign_key="users.id")
    # The reply deadline of the latest 批示 (a China date: the whole day is allowed).
    reply_by: date | None = None
    # The reply deadline that has already made the case climb (one climb per deadline).
    reply_climbed_on: date | None = None
    # When the case left the stage that stalled (the stage's part of the 督办 is fulfilled).
    stage_left_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class EscalationEvent(SQLModel, table=True):
    """One step of the loop: 签收, 批示 (with its reply deadline), 催办, 承办反馈, 办结."""

    __tablename__ = "escalation_events"

    id: int | None = Field(default=None, primary_key=True)
    escalation_id: int = Field(foreign_key="escalations.id", index=True)
    kind: str = Field(max_length=16)
    text: str | None = Field(default=None, sa_type=Text)
    reply_by: date | None = None
    actor_id: int | None = Field(default=None, foreign_key="users.id")
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --- The rules of the loop (plain functions: the flows enforce them, the pages offer what they allow) ---


class EscalationState(Protocol):
    """What the rules read: an `Escalation`, or anything with these attributes (a page's row)."""

    @property
    def status(self) -> str: ...
    @property
    def to_level(self) -> int: ...
    @property
    def assignee_id(self) -> int | None: ...
    @property
    def resolved_at(self) -> object | None: ...
    @property
    def acknowledged_at(self) -> object | None: ...


def is_open(esc: EscalationState) -> bool:
    return esc.resolved_at is None


def feedback_in(esc: EscalationState) -> bool:
    """The staff answered after the latest 批示 (a new 批示 asks for a new answer)."""
    return esc.status == EscalationStatus.answered


def resolvable(esc: Escalation) -> bool:
    return is_open(esc) and esc.stage_left_at is not None and feedback_in(esc)


def reply_overdue(esc: Escalation, today: date) -> bool:
    """A 批示's reply deadline passed (the whole day allowed) with no feedback, not yet climbed for."""
    return (
        is_open(esc)
        and esc.status == EscalationStatus.instructed
        and esc.reply_by is not None
        and esc.reply_by < today
        and esc.reply_climbed_on != esc.reply_by
    )


def may_acknowledge(esc: EscalationState, *, user_id: int | None, role: str, level: int | None) -> bool:
    """Only the assigned leader; an escalation nobody was assigned to (no leader of that level then)
    may be taken by a leader of its level."""
    if role != Role.leader:
        return False
    if esc.assignee_id is not None:
        return esc.assignee_id == user_id
    return level == esc.to_level


def may_instruct(esc: EscalationState, *, role: str, level: int | None) -> bool:
    """A leader of the escalation's level or above."""
    return role == Role.leader and (level or 0) >= esc.to_level


def may_urge(*, role: str) -> bool:
    return role == Role.leader


def may_give_feedback(*, role: str) -> bool:
    """承办反馈 comes from the center's staff who handle the case."""
    return role in STAFF


def allowed_actions(esc: EscalationState, *, user_id: int | None, role: str, level: int | None) -> list[str]:
    """What this user may do now on this escalation (the pages show only these forms)."""
    if not is_open(esc):
        return []
    actions = []
    if esc.acknowledged_at is None and may_acknowledge(esc, user_id=user_id, role=role, level=level):
        actions.append("acknowledge")
    if may_instruct(esc, role=role, level=level):
        actions.append("instruct")
    if may_urge(role=role):
        actions.append("urge")
    if may_give_feedback(role=role):
        actions.append("feedback")
    return actions


def awaits_leader(esc: EscalationState, user_id: int | None) -> bool:
    """“Mine to act on”: assigned to this leader and not yet acknowledged, or awaiting their 批示
    (acknowledged without one, or answered while the case is still in the stalled stage)."""
    return (
        is_open(esc)
        and esc.assignee_id == user_id
        and esc.status
        in (EscalationStatus.assigned, EscalationStatus.acknowledged, EscalationStatus.answered)
    )


def histories(session: Session, escalation_ids: Iterable[int]) -> dict[int, list[dict]]:
    """Each escalation's steps, oldest first, with people's display names (the system when nobody)."""
    ids = sorted(set(escalation_ids))
    out: dict[int, list[dict]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = session.exec(
        select(EscalationEvent, User.display_name)
        .join(User, col(User.id) == EscalationEvent.actor_id, isouter=True)
        .where(col(EscalationEvent.escalation_id).in_(ids))
        .order_by(col(EscalationEvent.id))
    ).all()
    for event, name in rows:
        out[event.escalation_id].append(
            {
                "kind": event.kind,
                "kind_label": EventKind(event.kind).label,
                "text": event.text,
                "reply_by": event.reply_by.isoformat() if event.reply_by else None,
                "actor": name or "系统",
                "at": event.at.isoformat(),
            }
        )
    return out


def assignee_for(session: Session, *, level: int, town: str | None) -> User | None:
    """The leader of that level: the town's own leader where one is set, else the level's leader."""
    leaders = session.exec(
        select(User).where(User.role == "leader", User.level == level, User.active).order_by(col(User.id))
    ).all()
    return pick_leader(leaders, town)


def pick_leader(leaders: Sequence[User], town: str | None) -> User | None:
    for leader in leaders:
        if town and leader.town == town:
            return leader
    # Else a leader who sees every town, never another town's leader: they may not see the case
    # (models.access.scope_town), so its number must not reach them in a 督办单 or a notice.
    visible = [leader for leader in leaders if scope_town(leader) is None]
    return next((leader for leader in visible if not leader.town), visible[0] if visible else None)
