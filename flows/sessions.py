"""Mediation sessions: scheduling, rescheduling and cancelling without double-booking, the record
(调解笔录) and its outcome.

Never dated before the case was registered; numbered 第N次 by date (models.mediation_session); a held
session cannot be moved or cancelled. Outcomes move the case: continue → 调解中; agreed → 达成协议;
failed / withdrawn → the session flow issues the 终止调解告知书 (人民调解法 第26条, telling the parties their
other routes) and files the 结案 decision of that kind (flows/closing.py: closed, or awaiting approval).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from flows import tasks
from flows.closing import DOSSIER_FLAG, file_close
from flows.court_loop import return_materials_to_court
from flows.messages import queue_message
from flows.notices import addressed_parties, issue_party_notices, open_deliveries_of
from flows.process import apply_transition, refresh_deadline
from flows.tasks import process_flow, step
from models import scheduling
from models.action_context import ActionContext
from models.agreement import OralAgreement, oral_term_problem
from models.audit import record
from models.case import Case, ClockEvent
from models.db import id_of, utcnow
from models.deadlines import china_date, is_overdue, work_calendar
from models.enums import CloseKind, ExpertKind, OralPerformance, PartyRole, SessionOutcome, Stage
from models.expert import Expert, PanelMember
from models.lifecycle import PANEL_STAGES, InvalidInput, NotFound, Problems, TransitionNotAllowed
from models.mediation_session import MediationSession, panel_capacity, session_numbers
from models.outbox import enqueue_after
from models.party import Party
from models.party_access import party_page_url
from models.scheduling import check_horizon
from models.schemas import CloseCase, SessionCancel, SessionCreate, SessionRecord, SessionReschedule
from models.settings import get_settings
from models.tz import CHINA
from models.user import User

CONSENT_EXTENSION_DAYS = 15


def booking_conflicts(
    session: Session,
    *,
    case_id: int,
    start: datetime,
    end: datetime,
    location: str,
    exclude_session_id: int | None = None,
) -> list[str]:
    """Why this slot can't be booked: an expert of the panel or the room is taken then."""
    # A cancelled session frees its room and its experts.
    overlapping = (
        (col(MediationSession.scheduled_at) < end)
        & (col(MediationSession.ends_at) > start)
        & col(MediationSession.cancelled_at).is_(None)
    )
    if exclude_session_id is not None:
        overlapping = overlapping & (col(MediationSession.id) != exclude_session_id)
    problems: list[str] = []
    room = session.exec(
        select(MediationSession).where(overlapping, MediationSession.location == location)
    ).first()
    if room is not None:
        problems.append(f"{location}在该时段已有调解安排")
    panel = select(PanelMember.expert_id).where(PanelMember.case_id == case_id, PanelMember.active)
    other = session.execute(
        sa_select(col(Expert.name), col(MediationSession.scheduled_at))
        .join(PanelMember, col(PanelMember.expert_id) == Expert.id)
        .join(MediationSession, col(MediationSession.case_id) == PanelMember.case_id)
        .where(col(PanelMember.active), col(Expert.id).in_(panel), overlapping)
    ).all()
    for name, _at in other:
        problems.append(f"{name}在该时段已有其他调解安排")
    return sorted(set(problems))


def _local(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def _check_slot(
    session: Session,
    case: Case,
    *,
    start: datetime,
    end: datetime,
    location: str,
    now: datetime,
    exclude_session_id: int | None = None,
) -> None:
    problems = Problems()
    # The case file starts at registration: a session before it would be a record of nothing.
    if start < case.created_at:
        problems.add(f"调解时间不能早于案件登记时间（{_local(case.created_at)}）", field="scheduled_at")
    with problems.gather():
        check_horizon(start, now)
    problems.check()
    taken = booking_conflicts(
        session,
        case_id=id_of(case),
        start=start,
        end=end,
        location=location,
        exclude_session_id=exclude_session_id,
    )
    if taken:
        raise InvalidInput("；".join(taken), field="scheduled_at")


def schedule_warnings(session: Session, case: Case, scheduled_at: datetime) -> list[str]:
    """What the scheduler should know before fixing this time (models.scheduling): past the stage's
    last allowed day, a weekend, a public holiday. Warnings only: nothing is refused."""
    return scheduling.schedule_warnings(
        start=scheduled_at, stage_due_at=case.stage_due_at, calendar=work_calendar(session)
    )


def renumber_sessions(session: Session, case_id: int) -> None:
    """第N次 by date (models.mediation_session.session_numbers), written in two steps so that the unique
    (case_id, seq) never sees two sessions with one number mid-way."""
    session.flush()
    rows = session.exec(select(MediationSession).where(MediationSession.case_id == case_id)).all()
    numbers = session_numbers(rows)
    changed = [ms for ms in rows if ms.seq != numbers[id_of(ms)]]
    for ms in changed:
        ms.seq = None
        session.add(ms)
    session.flush()
    for ms in changed:
        ms.seq = numbers[id_of(ms)]
        session.add(ms)
    session.flush()


def _open_session(session: Session, case: Case, session_id: int, doing: str) -> MediationSession:
    ms = session.get(MediationSession, session_id)
    if ms is None or ms.case_id != case.id:
        raise NotFound("调解会不存在")
    if ms.cancelled_at is not None:
        raise TransitionNotAllowed(f"该次调解已于{_local(ms.cancelled_at)}取消，不能{doing}")
    if ms.recorded_at is not None:
        raise TransitionNotAllowed(f"第{ms.seq}次调解已召开并记录笔录，不能{doing}")
    return ms


def schedule_session(cmd: SessionCreate, ctx: ActionContext) -> MediationSession:
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    scheduled_at, location, duration_minutes = cmd.scheduled_at, cmd.location, cmd.duration_minutes
    if case.stage not in PANEL_STAGES:
        raise TransitionNotAllowed(f"案件当前阶段为“{Stage(case.stage).label}”，不能安排调解")
    end = scheduled_at + timedelta(minutes=duration_minutes)
    _check_slot(session, case, start=scheduled_at, end=end, location=location, now=now)
    ms = MediationSession(
        case_id=id_of(case),
        scheduled_at=scheduled_at,
        ends_at=end,
        location=location,
        created_at=now,
    )
    session.add(ms)
    case.updated_at = now
    session.add(case)
    renumber_sessions(session, id_of(case))
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="session.schedule",
        entity="session",
        entity_id=ms.id,
        case_id=case.id,
        at=now,
        after={"seq": ms.seq, "scheduled_at": scheduled_at.isoformat(), "location": location},
    )
    enqueue_after(
        session,
        "schedule_session",
        key=f"session_notice:{ms.id}",
        case_id=case.id,
        params={"session_id": ms.id},
    )
    return ms


def reschedule_session(cmd: SessionReschedule, ctx: ActionContext) -> MediationSession:
    """改期: the old time and place stay in the session's history with the reason."""
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    session_id, scheduled_at, location, reason = cmd.session_id, cmd.scheduled_at, cmd.location, cmd.reason
    ms = _open_session(session, case, session_id, "改期")
    if case.stage not in PANEL_STAGES:
        raise TransitionNotAllowed(f"案件当前阶段为“{Stage(case.stage).label}”，不能调整调解安排")
    location = location or ms.location
    end = scheduled_at + (ms.ends_at - ms.scheduled_at)
    _check_slot(
        session, case, start=scheduled_at, end=end, location=location, now=now, exclude_session_id=ms.id
    )
    before = {"seq": ms.seq, "scheduled_at": ms.scheduled_at.isoformat(), "location": ms.location}
    # A new list, not an in-place append: the JSON column is saved only when reassigned.
    ms.reschedules = [
        *ms.reschedules,
        {
            "scheduled_at": ms.scheduled_at.isoformat(),
            "ends_at": ms.ends_at.isoformat(),
            "location": ms.location,
            "reason": reason,
            "at": now.isoformat(),
            "by": actor.display_name,
        },
    ]
    ms.scheduled_at, ms.ends_at, ms.location = scheduled_at, end, location
    session.add(ms)
    case.updated_at = now
    session.add(case)
    renumber_sessions(session, id_of(case))
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="session.reschedule",
        entity="session",
        entity_id=ms.id,
        case_id=case.id,
        at=now,
        before=before,
        after={
            "seq": ms.seq,
            "scheduled_at": scheduled_at.isoformat(),
            "location": location,
            "reason": reason,
        },
    )
    # The panel hears of the new time (a new key: the first notice was for the old one).
    enqueue_after(
        session,
        "reschedule_session",
        key=f"session_notice:{ms.id}:{len(ms.reschedules)}",
        case_id=case.id,
        params={"session_id": ms.id},
    )
    return ms


def cancel_session(cmd: SessionCancel, ctx: ActionContext) -> MediationSession:
    """取消: the session stays in the file (struck through, with the reason) and loses its number."""
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    session_id, reason = cmd.session_id, cmd.reason
    ms = _open_session(session, case, session_id, "取消")
    requested_by: int | None = None
    if cmd.requested_by:
        # Cancelled at a party's request: the record says whose, beside the reason.
        requested_by = session.exec(
            select(Party.id).where(Party.case_id == case.id, Party.name == cmd.requested_by)
        ).first()
        if requested_by is None:
            raise InvalidInput("申请取消的一方应为本案当事人", field="requested_by")
        reason = f"{reason}（应{cmd.requested_by}申请）"
    seq = ms.seq
    ms.cancelled_at = now
    ms.cancelled_by = actor.id
    ms.cancel_reason = reason
    session.add(ms)
    case.updated_at = now
    session.add(case)
    renumber_sessions(session, id_of(case))
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="session.cancel",
        entity="session",
        entity_id=ms.id,
        case_id=case.id,
        at=now,
        before={"seq": seq, "scheduled_at": ms.scheduled_at.isoformat(), "location": ms.location},
        after={"reason": cmd.reason, "requested_by_party_id": requested_by},
    )
    # The parties hear that it is off (调解通知书, 取消), as they heard when it was set.
    enqueue_after(
        session,
        "cancel_session",
        key=f"session_cancel:{ms.id}",
        case_id=case.id,
        params={"session_id": ms.id, "seq": seq},
    )
    return ms


def _party_capacities(parties: list[Party]) -> dict[str, tuple[str, str, str]]:
    """Name → (kind, capacity, the party) for the parties and those who act for them (an organisation
    attends through its legal representative or an agent)."""
    out: dict[str, tuple[str, str, str]] = {}
    for p in parties:
        role = PartyRole(p.role).label
        if p.legal_representative:
            title = f"（{p.legal_representative_title}）" if p.legal_representative_title else ""
            out.setdefault(
                p.legal_representative, ("party_agent", f"{role}{p.name}的法定代表人{title}", p.name)
            )
        if p.agent_name:
            authority = "特别授权" if p.agent_special_authority else "一般授权"
            out.setdefault(
                p.agent_name, ("party_agent", f"{role}{p.name}的委托代理人（{authority}）", p.name)
            )
    for p in parties:
        out[p.name] = ("party", role_label(p.role), p.name)  # a party's own name wins over an agent's
    return out


def role_label(role: str) -> str:
    return PartyRole(role).label


def present_of(
    session: Session, case: Case, attendees: list[str], participants: list[dict[str, Any]] | None
) -> list[dict[str, str]]:
    """Everyone present by real name and capacity: parties (and who acts for them), the panel members as
    the law lets them take part, and others with the capacity entered (else 参加人)."""
    parties = list(session.exec(select(Party).where(Party.case_id == case.id).order_by(col(Party.id))).all())
    capacities = _party_capacities(parties)
    panel = session.exec(
        select(PanelMember, Expert)
        .join(Expert, col(Expert.id) == PanelMember.expert_id)
        .where(PanelMember.case_id == case.id, col(PanelMember.active))
    ).all()
    for m, e in panel:
        capacity = panel_capacity(
            role=m.role,
            appointed=e.appointed_mediator,
            kind_label=ExpertKind(e.kind).label,
            presiding=m.role == "lead",
        )
        capacities.setdefault(e.name, ("panel", capacity, ""))
    given = {p["name"].strip(): (p.get("capacity") or "").strip() for p in participants or []}
    names = [a.strip() for a in attendees if a.strip()]
    names += [n for n in given if n not in names]
    present: list[dict[str, str]] = []
    for name in dict.fromkeys(names):
        kind, capacity, party = capacities.get(name) or ("other", given.get(name) or "参加人", "")
        entry = {"name": name, "kind": kind, "capacity": capacity}
        if kind == "party_agent":
            entry["on_behalf_of"] = party  # the party answers through them (_check_answers)
        present.append(entry)
    return present


def _check_statements(statements: list[dict[str, Any]], present: list[dict], recorder: str) -> list[dict]:
    """Each statement names who said it: someone present (or the recorder), in the order entered.
    Raises one InvalidInputs naming every bad statement."""
    names = {p["name"] for p in present} | {recorder}
    problems = Problems()
    out = []
    for i, item in enumerate(statements):
        speaker, text = (item.get("speaker") or "").strip(), (item.get("text") or "").strip()
        if not speaker or not text:
            problems.add(f"第{i + 1}条发言：请填写发言人和发言内容", field=f"statements.{i}")
        elif speaker not in names:
            problems.add(
                f"第{i + 1}条发言：发言人“{speaker}”不在本次参加人员中", field=f"statements.{i}.speaker"
            )
        else:
            out.append({"speaker": speaker, "text": text})
    problems.check()
    return out


def _check_answers(
    answers: list[dict[str, Any]], present: list[dict], panel_names: set[str], rights_told: bool
) -> list[dict]:
    """Each party's answer to the rights and duties told, and whether it asks a mediator's recusal.
    Raises one InvalidInputs naming every bad answer."""
    problems = Problems()
    if answers and not rights_told:
        problems.add("当事人答复须在告知权利义务之后记录：请勾选已告知当事人权利义务", field="rights_told")
    parties = {p["name"] for p in present if p["kind"] in ("party", "party_agent")}
    # An organisation (or any party) present through its 法定代表人 or agent answers under its own name.
    parties |= {p["on_behalf_of"] for p in present if p.get("on_behalf_of")}
    out = []
    for i, item in enumerate(answers):
        party = (item.get("party") or "").strip()
        if party not in parties:
            problems.add(f"“{party}”不是到场的当事人（或其代理人）", field=f"party_answers.{i}.party")
        answer = (item.get("answer") or "").strip()
        if not answer:
            problems.add(f"请记录{party}对权利义务告知的答复", field=f"party_answers.{i}.answer")
        recusal = bool(item.get("recusal"))
        against = (item.get("recusal_against") or "").strip() or None
        reason = (item.get("recusal_reason") or "").strip() or None
        if recusal and against not in panel_names:
            problems.add(
                f"{party}申请回避：请填写申请回避的调解人员（本案调解专班成员）",
                field=f"party_answers.{i}.recusal_against",
            )
        out.append(
            {
                "party": party,
                "answer": answer,
                "recusal": recusal,
                "recusal_against": against if recusal else None,
                "recusal_reason": reason if recusal else None,
            }
        )
    problems.check()
    return out


def _check_oral_agreement(
    session: Session, case: Case, data: dict[str, Any], *, outcome: SessionOutcome, held_at: datetime
) -> dict[str, Any]:
    """人民调解法 第28条: the oral agreement's content, each party's consent and its performance, checked
    whole (one InvalidInputs with every problem); the stored form of its parts."""
    if session.exec(select(OralAgreement.id).where(OralAgreement.case_id == case.id)).first() is not None:
        raise TransitionNotAllowed("本案已记录口头协议")
    problems = Problems()
    if outcome != SessionOutcome.agreed:
        problems.add("口头协议只能在调解结果为“达成协议”时记录", field="oral_agreement")
    performance: OralPerformance | None = None
    try:
        performance = OralPerformance(str(data.get("performance")))
    except ValueError:
        problems.add(
            "履行情况应为：当场履行（on_the_spot）或约定日后履行（later）", field="oral_agreement.performance"
        )
    terms = data.get("terms") or []
    if not terms:
        problems.add("请记录口头协议的内容（各项义务）", field="oral_agreement.terms")
    held_on = china_date(held_at)
    stored = []
    for i, term in enumerate(terms):
        problem = oral_term_problem(term, performance=performance or OralPerformance.on_the_spot)
        if problem:
            field, reason = problem
            problems.add(f"口头协议第{i + 1}项：{reason}", field=f"oral_agreement.terms.{i}.{field}")
            continue
        due = term.get("due_date")
        if due is not None and due < held_on:
            problems.add(
                f"口头协议第{i + 1}项：履行期限不能早于调解日期", field=f"oral_agreement.terms.{i}.due_date"
            )
            continue
        amount = term.get("amount")
        stored.append(
            {
                "obligor": term["obligor"].strip(),
                "obligee": term["obligee"].strip(),
                "obligation": term["obligation"].strip(),
                "amount": str(Decimal(amount).quantize(Decimal("0.01"))) if amount is not None else None,
                # Performed on the spot: the session's day is the term's date.
                "due_date": (due or held_on).isoformat(),
                "method": (term.get("method") or "").strip() or None,
                "place": (term.get("place") or "").strip() or None,
            }
        )
    # Every party agrees, each in its own words: an agreement one party did not accept binds no one.
    parties = session.exec(select(Party).where(Party.case_id == case.id).order_by(col(Party.id))).all()
    consents = {(c.get("party") or "").strip(): c for c in data.get("consents") or []}
    names = {p.name for p in parties}
    for name in consents:
        if name not in names:
            problems.add(f"“{name}”不是本案当事人", field="oral_agreement.consents")
    recorded = []
    for p in parties:
        c = consents.get(p.name)
        if c is None:
            problems.add(f"口头协议须经各方当事人同意：请记录{p.name}的意见", field="oral_agreement.consents")
        elif not c.get("agrees"):
            problems.add(f"{p.name}不同意该协议内容，不能记录为口头协议", field="oral_agreement.consents")
        else:
            recorded.append(
                {"party": p.name, "agrees": True, "words": (c.get("words") or "").strip() or "同意"}
            )
    problems.check()
    assert performance is not None  # a bad one is a problem above
    return {"terms": stored, "consents": recorded, "performance": performance}


def _oral_agreement(
    session: Session,
    case: Case,
    ms: MediationSession,
    data: dict[str, Any],
    checked: dict[str, Any],
    *,
    held_at: datetime,
    actor: User,
    now: datetime,
) -> OralAgreement:
    performance: OralPerformance = checked["performance"]
    oral = OralAgreement(
        case_id=id_of(case),
        session_id=id_of(ms),
        terms=checked["terms"],
        consents=checked["consents"],
        performance=performance.value,
        performed_at=held_at if performance == OralPerformance.on_the_spot else None,
        performance_note=(data.get("performance_note") or "").strip() or None,
        recorded_by=actor.id,
        created_at=now,
    )
    session.add(oral)
    return oral


def record_session(cmd: SessionRecord, ctx: ActionContext) -> MediationSession:
    """The 人民调解记录 of a held session (v1.1 adds who was present in what capacity, the recorder by
    real name, the statements, the rights and duties told with each party's answer, and an oral
    agreement); v1.0 callers give attendees and notes only."""
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    session_id, held_at, attendees, notes = cmd.session_id, cmd.held_at, cmd.attendees, cmd.notes
    outcome, consent_to_continue, recorder = cmd.outcome, cmd.consent_to_continue, cmd.recorder
    rights_told = cmd.rights_told
    participants = [p.model_dump() for p in cmd.participants]
    statements = [st.model_dump() for st in cmd.statements]
    party_answers = [a.model_dump() for a in cmd.party_answers]
    oral_agreement = cmd.oral_agreement.model_dump() if cmd.oral_agreement else None
    ms = session.get(MediationSession, session_id)
    if ms is None or ms.case_id != case.id:
        raise NotFound("调解会不存在")
    if ms.recorded_at is not None:
        raise TransitionNotAllowed(f"第{ms.seq}次调解的笔录已记录，不能重复记录")
    if ms.cancelled_at is not None:
        raise TransitionNotAllowed("该次调解已取消，不能记录笔录")
    if case.stage not in PANEL_STAGES:
        raise TransitionNotAllowed(f"案件当前阶段为“{Stage(case.stage).label}”，不能记录调解")
    outcome = SessionOutcome(outcome)
    recorder = (recorder or "").strip() or actor.display_name
    present = present_of(session, case, attendees, participants)
    # Every input problem at once (the page shows each beside its field); nothing changes before.
    problems = Problems()
    # A record is of a session that took place: not in the future, not before the case file began.
    if held_at > now:
        problems.add("召开时间不能晚于当前时间", field="held_at")
    # By minute: the form gives minutes, and a session held in the minute the case was registered is real.
    elif held_at.replace(second=0, microsecond=0) < case.created_at.replace(second=0, microsecond=0):
        problems.add(f"召开时间不能早于案件登记时间（{_local(case.created_at)}）", field="held_at")
    entered: list[dict] = []
    with problems.gather():
        entered = _check_statements(statements or [], present, recorder)
    if not (statements or []) and not (notes or "").strip():
        problems.add("请记录调解经过（各方发言）", field="statements")
    panel_names = set(
        session.exec(
            select(Expert.name)
            .join(PanelMember, col(PanelMember.expert_id) == Expert.id)
            .where(PanelMember.case_id == case.id, col(PanelMember.active))
        ).all()
    )
    answers: list[dict] = []
    with problems.gather():
        answers = _check_answers(party_answers or [], present, panel_names, rights_told)
    extend = (
        outcome == SessionOutcome.continue_ and is_overdue(case, now) and case.stage == Stage.in_mediation
    )
    # 人民调解工作若干规定 第33条: past the month, mediation goes on only if both parties agree.
    if extend and not consent_to_continue:
        problems.add(
            "调解期限已届满，继续调解须记录双方当事人同意（consent_to_continue）", field="consent_to_continue"
        )
    oral_checked: dict[str, Any] | None = None
    if oral_agreement:
        with problems.gather():
            oral_checked = _check_oral_agreement(
                session, case, oral_agreement, outcome=outcome, held_at=held_at
            )
    problems.check()
    if extend:
        session.add(
            ClockEvent(
                case_id=case.id,
                kind="extend",
                days=CONSENT_EXTENSION_DAYS,
                at=now,
                note=f"第{ms.seq}次调解：双方当事人同意继续调解",
                actor_id=actor.id,
            )
        )
        case.clock_extension_days += CONSENT_EXTENSION_DAYS
        refresh_deadline(session, case, now=now)
    ms.held_at = held_at
    ms.attendees = [p["name"] for p in present]
    ms.present = present
    ms.recorder_name = recorder
    ms.statements = entered
    ms.rights_told = rights_told
    ms.party_answers = answers
    ms.notes = notes or None
    ms.outcome = outcome.value
    ms.recorded_at = now
    ms.recorded_by = actor.id
    session.add(ms)
    oral = None
    if oral_agreement and oral_checked is not None:
        oral = _oral_agreement(
            session, case, ms, oral_agreement, oral_checked, held_at=held_at, actor=actor, now=now
        )
    if case.stage == Stage.panel_formed:
        apply_transition(session, case, "start_mediation", actor=actor, now=now)
    if outcome == SessionOutcome.agreed:
        apply_transition(session, case, "agree", actor=actor, now=now)
    elif outcome == SessionOutcome.failed:
        apply_transition(session, case, "fail", actor=actor, now=now)
    elif outcome == SessionOutcome.withdrawn:
        apply_transition(session, case, "withdraw", actor=actor, now=now)
    else:
        case.updated_at = now
        session.add(case)
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="session.record",
        entity="session",
        entity_id=ms.id,
        case_id=case.id,
        at=now,
        after={
            "seq": ms.seq,
            "outcome": ms.outcome,
            "attendees": len(present),
            "statements": len(entered),
            "rights_told": rights_told,
            "recusal_asked": any(a["recusal"] for a in answers) if answers else None,
            "oral_agreement": oral.performance if oral else None,
        },
    )
    enqueue_after(
        session,
        "record_session",
        key=f"session:{ms.id}",
        case_id=case.id,
        params={"session_id": ms.id, "outcome": ms.outcome},
    )
    return ms


@step
def close_after_termination(case_id: int) -> bool:
    """failed / withdrawn: once the 终止调解告知书 is issued the case file is complete, and the 结案 of
    that kind is filed (closed at once, or awaiting the director where the center requires approval)."""
    with tasks.write_session() as session:
        case = session.get(Case, case_id)
        assert case is not None, case_id  # the outbox run belongs to an existing case
        if case.stage not in (Stage.failed, Stage.withdrawn) or case.close_kind is not None:
            return False
        try:
            with session.begin_nested():
                file_close(
                    CloseCase(kind=CloseKind(case.stage), note="终止调解告知书已送达，结案归档"),
                    session=session,
                    case=case,
                    actor=None,
                    now=utcnow(),
                )
        except TransitionNotAllowed as refusal:
            # The 卷宗 lacks a 必须 item (models/dossier.py): the case waits for staff to complete it
            # and close it, flagged so that it is not forgotten.
            case.flagged = True
            case.flag_reason = f"{DOSSIER_FLAG}：{refusal.message}"[:500]
            session.add(case)
            return False
        return True


@step
def notify_session(key: str, case_id: int, session_id: int) -> int:
    with tasks.write_session() as session:
        ms = session.get(MediationSession, session_id)
        case = session.get(Case, case_id)
        assert ms is not None and case is not None, (case_id, session_id)  # recorded before enqueueing
        if ms.cancelled_at is not None:
            return 0
        experts = session.exec(
            select(PanelMember.expert_id).where(PanelMember.case_id == case_id, PanelMember.active)
        ).all()
        when = ms.scheduled_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
        return sum(
            tasks.notify(
                session,
                key=f"{key}:expert:{e}",
                expert_id=e,
                case_id=case_id,
                text=f"{case.case_no} 第{ms.seq}次调解：{when}，{ms.location}",
            )
            for e in experts
        )


def session_message(case: Case, ms: MediationSession, *, party_name: str, key: str, seq: int) -> str:
    """The SMS / e-mail text announcing a session, its new time or its cancellation: the case number,
    time and place; never an ID number (it leaves our hands)."""
    when = ms.scheduled_at.astimezone(CHINA).strftime("%Y年%m月%d日 %H:%M")
    center = get_settings().center_name
    if key.startswith("session_cancel:"):
        return (
            f"{party_name}：您的纠纷（{case.case_no}）原定{when}的第{seq}次调解已取消，另行通知。【{center}】"
        )
    if key.count(":") > 1:  # session_notice:{id}:{n}: the n-th reschedule
        return (
            f"{party_name}：您的纠纷（{case.case_no}）第{seq}次调解改期至{when}，地点：{ms.location}。"
            f"【{center}】"
        )
    return (
        f"{party_name}：您的纠纷（{case.case_no}）定于{when}在{ms.location}进行第{seq}次调解，"
        f"请准时参加。【{center}】"
    )


@step
def announce_session(key: str, case_id: int, session_id: int, seq: int | None = None) -> int:
    """Tell the parties who consented to electronic delivery (民诉法 第90条 by analogy) by SMS and e-mail,
    beside the printed 调解通知书 (issued to every party): once per party and channel, however often the
    flow runs."""
    with tasks.write_session() as session:
        ms = session.get(MediationSession, session_id)
        case = session.get(Case, case_id)
        assert ms is not None and case is not None, (case_id, session_id)
        if ms.cancelled_at is not None and not key.startswith("session_cancel:"):
            return 0  # cancelled since: its cancellation is the news, not an older time
        number = seq if seq is not None else ms.seq  # a cancelled session's number came with the key
        assert number is not None, session_id
        queued = 0
        for party in addressed_parties(session, case_id, "session_notice", per_party=True):
            if not party.consent_electronic:
                continue
            text = session_message(case, ms, party_name=party.name, key=key, seq=number)
            text += f"通知书见您的当事人页面：{party_page_url(session, party)}"
            for channel, to in (("sms", party.phone), ("email", party.email)):
                if to:
                    queue_message(
                        session,
                        channel=channel,
                        to=to,
                        body=text,
                        subject=f"调解通知（{case.case_no}）",
                        purpose="session_notice",
                        now=utcnow(),
                        case_id=case_id,
                        party_id=party.id,
                        key=f"{key}:party:{party.id}:{channel}",
                    )
                    queued += 1
        return queued


@process_flow("tiaojie-session-notice")
async def session_notice_flow(key: str) -> None:
    params = tasks.params_of(key)
    case_id = tasks.case_id_of(key)
    if not key.startswith("session_cancel:"):
        notify_session(key, case_id, params["session_id"])
    issue_party_notices(case_id, "session_notice", key)
    announce_session(key, case_id, params["session_id"], params.get("seq"))


@process_flow("tiaojie-session")
async def session_flow(key: str) -> None:
    params = tasks.params_of(key)
    case_id = tasks.case_id_of(key)
    tasks.issue_document(case_id, "session_record", f"session:{params['session_id']}")
    if params["outcome"] in (SessionOutcome.failed, SessionOutcome.withdrawn):
        doc_id = tasks.issue_document(case_id, "termination_notice", f"termination:{case_id}")
        open_deliveries_of(case_id, doc_id)
        return_materials_to_court(case_id)  # 委派/委托: the court's materials go back (特邀调解规定 第21条)
        close_after_termination(case_id)
