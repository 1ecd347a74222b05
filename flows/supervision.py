"""The 督办 loop: what leaders and staff do with an escalation, and how it ends.

    assigned ─签收─► acknowledged ─批示(reply_by)─► instructed ─承办反馈─► answered ─(stage left)─► resolved
                 催办 at any point: recorded and notified; a new 批示 asks for a new 反馈.

One action function per human action, keyword-only like every action (`session, case, actor, now`),
called by the JSON routes (api/routes/escalations.py) and the pages (api/pages/leaders.py) alike.
The rules (who may act, when it is resolved, when a reply is overdue) are in `models.escalation`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from flows.tasks import notify
from models.audit import record
from models.case import Case
from models.db import id_of
from models.deadlines import china_date, is_open
from models.enums import CloseKind, EscalationLevel, Stage
from models.escalation import (
    Escalation,
    EscalationEvent,
    EscalationStatus,
    EventKind,
    may_acknowledge,
    may_give_feedback,
    may_instruct,
    may_urge,
    resolvable,
)
from models.lifecycle import Forbidden, InvalidInput, NotFound, TransitionNotAllowed
from models.my_work import case_carrier
from models.user import User
from models.validation import ValidationError, clean_text

MAX_TEXT = 2000
MAX_REPLY_DAYS = 366  # a reply deadline further than a year ahead is a typing error
DEFAULT_URGE = "请加快办理进度，并及时书面反馈办理情况"


# --- Helpers ------------------------------------------------------------------------------------


def _escalation_of(session: Session, case: Case, escalation_id: int) -> Escalation:
    esc = session.get(Escalation, escalation_id)
    if esc is None or esc.case_id != case.id:
        raise NotFound("督办记录不存在或不属于该案件")
    return esc


def _still_open(esc: Escalation) -> None:
    if esc.resolved_at is not None:
        raise TransitionNotAllowed("该督办已办结，不能再办理")


def _text(value: str | None, *, field: str, what: str) -> str:
    # The pages hand the form's text straight here: the text rule of every request body applies.
    try:
        text = clean_text(value or "")
    except ValidationError as exc:
        raise InvalidInput(f"{what}{exc.message}", field=field) from None
    if not text:
        raise InvalidInput(f"{what}不能为空", field=field)
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"{what}不能超过{MAX_TEXT}字", field=field)
    return text


def _event(
    session: Session,
    esc: Escalation,
    kind: EventKind,
    *,
    actor: User | None,
    now: datetime,
    text: str | None = None,
    reply_by: date | None = None,
    before: dict | None = None,
) -> EscalationEvent:
    """The history row and its audit entry (same transaction as the change)."""
    event = EscalationEvent(
        escalation_id=id_of(esc),
        kind=kind.value,
        text=text,
        reply_by=reply_by,
        actor_id=actor.id if actor else None,
        at=now,
    )
    session.add(event)
    session.flush()
    after: dict = {"status": esc.status}
    if text is not None:
        after["text"] = text
    if reply_by is not None:
        after["reply_by"] = reply_by.isoformat()
    record(
        session,
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else "system",
        action=f"escalation.{kind.value}",
        entity="escalation",
        entity_id=esc.id,
        case_id=esc.case_id,
        at=now,
        before=before,
        after=after,
    )
    return event


def _case_handlers(session: Session, case: Case) -> list[int]:
    """Who receives 批示 and 催办: the one who carries the case (models.my_work.case_carriers)."""
    carrier = case_carrier(session, id_of(case))
    return [carrier] if carrier is not None else []


def _resolve(
    session: Session, esc: Escalation, *, now: datetime, why: str, actor: User | None = None
) -> None:
    """办结; `actor` is whose action ended it (the staff who closed the case), None when the loop's own
    rule did (feedback in after the stage was left)."""
    before = {"status": esc.status}
    esc.status = EscalationStatus.resolved.value
    esc.resolved_at = now
    session.add(esc)
    _event(session, esc, EventKind.resolve, actor=actor, now=now, text=why, before=before)


def ended_because(case: Case) -> str:
    """Why an open 督办 ends with its case, as its history says it: the closing kind when closed."""
    if case.stage == Stage.closed:
        kind = f"（{CloseKind(case.close_kind).label}）" if case.close_kind else ""
        return f"案件已结案{kind}，督办自动结束"
    return f"案件已结束办理（{Stage(case.stage).label}），督办自动结束"


# --- The actions --------------------------------------------------------------------------------


def acknowledge(
    *, session: Session, case: Case, actor: User, now: datetime, escalation_id: int
) -> Escalation:
    """签收: only the leader the escalation is assigned to."""
    esc = _escalation_of(session, case, escalation_id)
    if not may_acknowledge(esc, user_id=actor.id, role=actor.role, level=actor.level):
        raise Forbidden("只有被指定的督办领导可以签收")
    _still_open(esc)
    if esc.acknowledged_at is not None:
        raise TransitionNotAllowed("该督办已签收")
    before = {"status": esc.status}
    esc.acknowledged_at = now
    esc.acknowledged_by = actor.id
    if esc.assignee_id is None:
        esc.assignee_id = actor.id  # nobody was assigned: the leader of the level who signs takes it
    if esc.status == EscalationStatus.assigned:
        esc.status = EscalationStatus.acknowledged.value
    session.add(esc)
    _event(session, esc, EventKind.ack, actor=actor, now=now, before=before)
    return esc


def instruct(
    *,
    session: Session,
    case: Case,
    actor: User,
    now: datetime,
    escalation_id: int,
    text: str,
    reply_by: date,
) -> Escalation:
    """批示 with a reply deadline: a leader of the escalation's level or above."""
    esc = _escalation_of(session, case, escalation_id)
    if not may_instruct(esc, role=actor.role, level=actor.level):
        raise Forbidden(f"只有{EscalationLevel(str(esc.to_level)).label}及以上层级的领导可以批示")
    _still_open(esc)
    body = _text(text, field="text", what="批示内容")
    today = china_date(now)
    if reply_by < today:
        raise InvalidInput(f"反馈期限不能早于今天（{today.isoformat()}）", field="reply_by")
    if reply_by > today + timedelta(days=MAX_REPLY_DAYS):
        raise InvalidInput("反馈期限不能超过一年", field="reply_by")
    before = {"status": esc.status, "reply_by": esc.reply_by.isoformat() if esc.reply_by else None}
    esc.status = EscalationStatus.instructed.value
    esc.reply_by = reply_by
    session.add(esc)
    event = _event(
        session, esc, EventKind.instruct, actor=actor, now=now, text=body, reply_by=reply_by, before=before
    )
    for user_id in _case_handlers(session, case):
        notify(
            session,
            key=f"escalation-event:{event.id}:{user_id}",
            user_id=user_id,
            case_id=case.id,
            text=f"{actor.display_name}批示（{case.case_no}）：{body}；请于{reply_by.isoformat()}前反馈",
        )
    return esc


def urge(
    *, session: Session, case: Case, actor: User, now: datetime, escalation_id: int, note: str | None = None
) -> Escalation:
    """催办: recorded in the history and notified to the case's handlers and the assigned leader."""
    esc = _escalation_of(session, case, escalation_id)
    if not may_urge(role=actor.role):
        raise Forbidden("只有领导可以催办")
    _still_open(esc)
    body = _text(note or DEFAULT_URGE, field="note", what="催办说明")
    event = _event(session, esc, EventKind.urge, actor=actor, now=now, text=body)
    recipients = _case_handlers(session, case)
    if esc.assignee_id and esc.assignee_id != actor.id and esc.assignee_id not in recipients:
        recipients.append(esc.assignee_id)
    for user_id in recipients:
        notify(
            session,
            key=f"escalation-event:{event.id}:{user_id}",
            user_id=user_id,
            case_id=case.id,
            text=f"{actor.display_name}催办（{case.case_no}）：{body}",
        )
    return esc


def feedback(
    *, session: Session, case: Case, actor: User, now: datetime, escalation_id: int, text: str
) -> Escalation:
    """承办反馈 by the center's staff; resolves the escalation if the case has left the stalled stage."""
    esc = _escalation_of(session, case, escalation_id)
    if not may_give_feedback(role=actor.role):
        raise Forbidden("只有中心承办人员可以提交承办反馈")
    _still_open(esc)
    body = _text(text, field="text", what="反馈内容")
    before = {"status": esc.status}
    esc.status = EscalationStatus.answered.value
    session.add(esc)
    event = _event(session, esc, EventKind.feedback, actor=actor, now=now, text=body, before=before)
    if esc.assignee_id:
        notify(
            session,
            key=f"escalation-event:{event.id}:{esc.assignee_id}",
            user_id=esc.assignee_id,
            case_id=case.id,
            text=f"{actor.display_name}提交承办反馈（{case.case_no}）：{body}",
        )
    if resolvable(esc):
        _resolve(session, esc, now=now, why="案件已离开超期阶段，承办反馈已提交，督办办结")
    return esc


# --- What the process does ------------------------------------------------------------------------


def stage_left(session: Session, case: Case, *, now: datetime, actor: User | None = None) -> None:
    """Called by `apply_transition` after the case changed stage: the stage's part of every open 督办 is
    fulfilled; one whose feedback is in is resolved; a case that ended resolves them all, saying why and
    by whose action (the leader keeps seeing it as ended: api/pages/leaders.holding)."""
    ended = not is_open(case)
    for esc in session.exec(
        select(Escalation).where(Escalation.case_id == case.id, col(Escalation.resolved_at).is_(None))
    ).all():
        if esc.stage_left_at is None:
            esc.stage_left_at = now
            session.add(esc)
        if ended:
            _resolve(session, esc, now=now, why=ended_because(case), actor=actor)
        elif resolvable(esc):
            _resolve(session, esc, now=now, why="案件已离开超期阶段，承办反馈已提交，督办办结")
