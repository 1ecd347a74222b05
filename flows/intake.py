"""Intake (登记): validate → number → assess risk and 群体性 → pick the clock → escalate if needed.

The request does what the clerk needs at the window (the case number, the risk, the deadline) in one
transaction; the intake flow then links related and repeat cases, issues the 受理登记表, and the
督办单 of a case escalated at intake."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, col, select

from flows import tasks
from flows.escalation import escalate_now
from flows.notices import open_deliveries_of
from flows.process import apply_transition
from flows.tasks import process_flow, step
from models.action_context import ActionContext
from models.audit import record
from models.case import Case, CaseLink, next_seq
from models.center_settings import current_values, effective_settings
from models.db import table_of
from models.deadlines import china_date, clocks_for, stage_due, work_calendar
from models.delivery import NOTICE_ADDRESSEES
from models.enums import PartyRole, RejectionReason, RiskLevel, Stage
from models.escalation import next_escalation_at
from models.law import infer_rejection_reason
from models.lifecycle import InvalidInput, TransitionNotAllowed
from models.outbox import enqueue_after
from models.party import Party
from models.risk import assess_risk, intake_escalation_level
from models.schemas import CaseAction, CaseCreate, RejectCase, RespondentAnswer
from models.town import check_place
from models.user import User


def format_case_no(prefix: str, year: int, seq: int) -> str:
    return f"{prefix}〔{year}〕{seq:05d}号"


def next_case_seq(session: Session, *, center_code: str, year: int) -> int:
    """Take the next case number (models.case.next_seq: gap-free, locked until the intake commits)."""
    return next_seq(session, key=center_code, year=year)


def register_case(*, session: Session, data: CaseCreate, actor: User, now: datetime) -> Case:
    # The town and village from the admin's dictionary (422 with the closest names otherwise).
    town, village = check_place(session, data.town, data.village)
    tunables = current_values(session)
    settings = effective_settings(session, tunables)
    applicants = [p for p in data.parties if p.role == PartyRole.applicant]
    claimants = len(applicants)
    headcount = data.headcount or max(claimants, 1)
    risk = assess_risk(
        category=data.category,
        summary=data.summary,
        claims=data.claims,
        amount=data.amount_involved,
        headcount=headcount,
        claimants=claimants,
        settings=settings,
    )
    referral = data.referral
    clocks = clocks_for(
        category=data.category,
        referral_kind=referral.kind if referral else None,
        summary_procedure=bool(referral and referral.summary_procedure),
    )
    main = next(c for c in clocks if c.main)
    today = china_date(now)
    year = today.year
    case = Case(
        center_code=settings.center_code,
        case_year=year,
        case_seq=0,
        stage=Stage.registered,
        stage_entered_at=now,
        category=data.category,
        channel=data.channel,
        town=town,
        village=village,
        summary=data.summary,
        claims=data.claims,
        facts=data.facts,
        amount_involved=data.amount_involved,
        headcount=headcount,
        is_mass=risk.is_mass,
        risk_level=risk.level,
        risk_reasons=risk.reasons,
        police_reported=False,
        referral_kind=referral.kind if referral else None,
        referral_reference=referral.reference if referral else None,
        clock=main.code,
        clock_started_on=today if main.starts == "intake" else None,
        created_by=actor.id,
        created_at=now,
        updated_at=now,
    )
    case.stage_due_at = stage_due(case, Stage.registered, now, work_calendar(session), working_days=tunables)
    case.next_escalation_at = next_escalation_at(case.stage_due_at, level=case.escalation_level)
    # The number last: the counter row stays locked from here to the commit, so keep that short.
    case.case_seq = next_case_seq(session, center_code=settings.center_code, year=year)
    case.case_no = format_case_no(settings.case_no_prefix, year, case.case_seq)
    # Plain INSERTs (intake is the hottest write path); the case is then attached as persistent.
    # (Case, parties, audit and outbox rows in one statement of data-modifying CTEs on PostgreSQL was
    # measured slower than these: bench/README.md, intake.)
    cases = table_of(Case)
    row = {c.name: getattr(case, c.name) for c in cases.columns if c.name != "id"}
    case.id = session.execute(insert(cases).returning(cases.c.id), row).scalar_one()
    make_transient_to_detached(case)
    session.add(case)
    session.execute(
        insert(table_of(Party)), [{"case_id": case.id, "version": 1, **p.model_dump()} for p in data.parties]
    )
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="case.register",
        entity="case",
        entity_id=case.id,
        case_id=case.id,
        at=now,
        after={
            "case_no": case.case_no,
            "category": case.category,
            "channel": case.channel,
            "town": case.town,
            "risk_level": case.risk_level,
            "is_mass": case.is_mass,
            "clock": case.clock,
            "parties": len(data.parties),
        },
    )
    level = intake_escalation_level(risk)
    if level:
        escalate_now(
            session,
            case,
            to_level=level,
            now=now,
            reason="；".join(risk.reasons) or "高风险纠纷",
            period_index=-1,
        )
    enqueue_after(session, "intake", key=f"intake:{case.id}", case_id=case.id)
    return case


# --- What the intake flow does after the commit ------------------------------------------------


def find_related_cases(session: Session, case_id: int, *, window_days: int) -> list[tuple[int, str]]:
    """Earlier cases within the window sharing an ID number, phone or org code with this one."""
    case = session.get(Case, case_id)
    assert case is not None, case_id  # asked by the intake flow of a registered case
    parties = session.exec(select(Party).where(Party.case_id == case_id)).all()
    since = case.created_at - timedelta(days=window_days)
    found: dict[int, str] = {}
    # ID numbers and phones by their keyed hashes (indexed; the numbers themselves are not).
    for attr, label in (
        ("id_number_hash", "同一身份证号"),
        ("phone_hash", "同一联系电话"),
        ("org_code", "同一统一社会信用代码"),
    ):
        values = {getattr(p, attr) for p in parties if getattr(p, attr)}
        if not values:
            continue
        rows = session.execute(
            sa_select(col(Party.case_id))
            .join(Case, col(Case.id) == Party.case_id)
            .where(
                getattr(Party, attr).in_(values),
                col(Party.case_id) != case_id,
                col(Case.created_at) >= since,
                col(Case.created_at) <= case.created_at,
            )
            .distinct()
        ).all()
        for (related_id,) in rows:
            found.setdefault(related_id, label)
    return sorted(found.items())


@step
def link_related_cases(case_id: int) -> int:
    with tasks.write_session() as session:
        settings = effective_settings(session)
        related = find_related_cases(session, case_id, window_days=settings.related_case_window_days)
        case = session.get(Case, case_id)
        assert case is not None, case_id  # the outbox run belongs to an existing case
        added = 0
        for related_id, reason in related:
            exists = session.exec(
                select(CaseLink.id).where(CaseLink.case_id == case_id, CaseLink.related_case_id == related_id)
            ).first()
            if exists is None:
                session.add(CaseLink(case_id=case_id, related_case_id=related_id, reason=reason))
                added += 1
        # Coming back again and again is itself a risk sign (重复来访).
        if len(related) >= 2 and case.risk_level == RiskLevel.low:
            # System fields: no version bump, so a form the clerk has open stays valid.
            session.execute(
                update(table_of(Case))
                .where(table_of(Case).c.id == case_id)
                .values(
                    risk_level=RiskLevel.medium,
                    risk_reasons=[*case.risk_reasons, f"{len(related)}件关联或重复纠纷（180日内）"],
                )
            )
        if added:
            record(
                session,
                actor_id=None,
                actor_name="system",
                action="case.link_related",
                entity="case",
                entity_id=case_id,
                case_id=case_id,
                after={"related": [r for r, _ in related]},
            )
        return added


@step
def report_to_police(case_id: int) -> bool:
    with tasks.write_session() as session:
        case = session.get(Case, case_id)
        assert case is not None, case_id  # the outbox run belongs to an existing case
        if case.police_reported or case.risk_level != RiskLevel.critical:
            return False
        session.execute(
            update(table_of(Case)).where(table_of(Case).c.id == case_id).values(police_reported=True)
        )
        tasks.notify(
            session,
            key=f"police:{case_id}",
            case_id=case_id,
            role_level=2,
            town=case.town,
            text=f"{case.case_no} 可能激化为治安或刑事案件，已按人民调解法第25条报告公安机关",
        )
        record(
            session,
            actor_id=None,
            actor_name="system",
            action="case.police_report",
            entity="case",
            entity_id=case_id,
            case_id=case_id,
            after={"police_reported": True},
        )
        return True


@process_flow("tiaojie-intake")
async def intake_flow(key: str) -> None:
    case_id = tasks.case_id_of(key)
    link_related_cases(case_id)
    tasks.issue_document(case_id, "application", f"application:{case_id}")
    report_to_police(case_id)
    tasks.issue_supervision_orders(case_id)


# --- The acceptance decision (受理 / 不予受理) and the respondent's answer -------------------------


def accept_case(cmd: CaseAction, ctx: ActionContext) -> Case:
    """受理 (2002 规定 第20条): the applicant's 受理通知书, and the respondent's notice asking whether it
    agrees to mediation (人民调解法 第17条: a party that clearly refuses cannot be mediated)."""
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    apply_transition(session, case, "accept", actor=actor, now=now)
    enqueue_after(
        session,
        "accept",
        key=f"decision:{case.id}",
        case_id=case.id,
        params={"kinds": ["acceptance_notice", "respondent_notice"]},
    )
    return case


def reject_case(cmd: RejectCase, ctx: ActionContext) -> Case:
    """不予受理 for a reason of 2002 规定 第22条 (`reason_code`) and the clerk's words (`reason`).

    A client that sends only the words (CONTRACT v1) gets the reason they name (法院 → 人民法院已受理 …);
    words that name none of the 第22条 reasons are refused: 人民调解法 第17、18条 are not grounds."""
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    reason, reason_code = cmd.reason, cmd.reason_code
    if reason_code:
        try:
            code = RejectionReason(reason_code)
        except ValueError as exc:
            raise InvalidInput(
                "不予受理理由应为《人民调解工作若干规定》第二十二条所列情形之一："
                + "、".join(r.label for r in RejectionReason),
                field="reason_code",
            ) from exc
    else:
        inferred = infer_rejection_reason(reason)
        if inferred is None:
            raise InvalidInput(
                "请选择不予受理的理由（《人民调解工作若干规定》第二十二条所列情形）", field="reason_code"
            )
        code = inferred
    case.rejection_reason = reason
    case.rejection_reason_code = code.value
    apply_transition(session, case, "reject", actor=actor, now=now, note=f"{code.label}：{reason}")
    enqueue_after(
        session,
        "reject",
        key=f"decision:{case.id}",
        case_id=case.id,
        params={"kinds": ["rejection_notice"]},
    )
    return case


def record_respondent_answer(cmd: RespondentAnswer, ctx: ActionContext) -> Case:
    """The respondent's answer to the 征询 (人民调解法 第17条). Agreement is recorded; a clear refusal ends
    the case (stage closed) with a 终止调解告知书 to every party."""
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    agrees, note = cmd.agrees, cmd.note
    if case.stage not in (Stage.accepted, Stage.panel_formed):
        raise TransitionNotAllowed(
            f"案件当前阶段为“{Stage(case.stage).label}”，只能在受理后、调解开始前记录被申请人是否同意调解"
        )
    if not agrees and not (note or "").strip():
        raise InvalidInput("被申请人拒绝调解的，请在说明中记录其表示拒绝的方式和内容", field="note")
    before = {"respondent_agrees": case.respondent_agrees}
    case.respondent_agrees = agrees
    case.respondent_answered_at = now
    case.respondent_note = (note or "").strip() or None
    case.updated_at = now
    session.add(case)
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="case.respondent_answer",
        entity="case",
        entity_id=case.id,
        case_id=case.id,
        at=now,
        before=before,
        after={"respondent_agrees": agrees},
    )
    if not agrees:
        apply_transition(
            session, case, "respondent_refuses", actor=actor, now=now, note=f"被申请人拒绝调解：{note}"
        )
        case.outcome = "refused"
        session.add(case)
        enqueue_after(
            session,
            "respondent_refuses",
            key=f"refusal:{case.id}",
            case_id=case.id,
            # The subject key of every 终止调解告知书 of the case: it is issued once whichever way it ends.
            params={"kinds": ["termination_notice"], "subjects": [f"termination:{case.id}"]},
        )
    return case


@process_flow("tiaojie-decision")
async def decision_flow(key: str) -> None:
    params = tasks.params_of(key)
    case_id = tasks.case_id_of(key)
    # `kind` (one document) is what runs enqueued before issue 10 carry.
    kinds = params.get("kinds") or [params["kind"]]
    subjects = params.get("subjects") or [f"{kind}:{case_id}" for kind in kinds]
    for kind, subject in zip(kinds, subjects, strict=True):
        doc_id = tasks.issue_document(case_id, kind, subject)
        if kind in NOTICE_ADDRESSEES:  # 受理通知书, 征询意见: a delivery record per party addressed
            open_deliveries_of(case_id, doc_id)
