"""Tables → plain JSON-ready dicts (the JSON API and the pages share these). Personal data masked
wherever the reader is not working the case, and always in lists.

Each dict's shape is declared in `models/public.py` (case_public → CasePublic, case_detail →
CaseDetailPublic, expert_public → ExpertPublic, ...): a key added here needs its field there, or the
route answers 500 (the models forbid undeclared keys, so the published schema cannot fall behind)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, overload

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from models.access import case_filter, sees_personal_data
from models.agreement import (
    Agreement,
    AgreementTerm,
    FollowUp,
    OralAgreement,
    paid_so_far,
    performance_rows,
    standing_disapproval,
    still_due,
    unperformed_terms,
)
from models.case import Case, CaseLink, ClockEvent, LegalOpinion
from models.case_queries import CaseFilters, find_cases
from models.center_settings import TUNABLES, default_value
from models.clocks import due_date, get_rule
from models.closing import CaseClosing
from models.committee import case_committee_public, committee_for
from models.db import id_of
from models.deadlines import (
    china_date,
    clocks_for,
    is_overdue,
    last_day,
    legal_due,
    open_sql,
    work_calendar,
)
from models.document import Document
from models.enforcement import EnforcementRecord, jc_last_day, ledger, steps_of
from models.enums import (
    Category,
    Channel,
    ClockCode,
    CloseKind,
    DocumentKind,
    EnforcementStep,
    EscalationLevel,
    ExpertKind,
    FollowUpMethod,
    OralPerformance,
    PanelRole,
    PartyRole,
    RiskLevel,
    Satisfaction,
    Stage,
    TermState,
)
from models.escalation import Escalation, EscalationStatus
from models.escalation import histories as escalation_histories
from models.expert import Expert, PanelMember, Recusal
from models.history import case_history
from models.lifecycle import allowed_actions
from models.mediation_session import MediationSession, recusal_asked
from models.party import Party
from models.tz import CHINA
from models.user import User
from models.validation import mask_email, mask_id_number, mask_phone


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def case_public(case: Case, now: datetime) -> dict:
    return {
        "id": case.id,
        "case_no": case.case_no,
        "stage": case.stage,
        "stage_label": Stage(case.stage).label,
        "category": case.category,
        "category_label": Category(case.category).label,
        "channel": case.channel,
        "channel_label": Channel(case.channel).label,
        "town": case.town,
        "village": case.village,
        "summary": case.summary,
        "claims": case.claims,
        "amount_involved": str(case.amount_involved) if case.amount_involved is not None else None,
        "headcount": case.headcount,
        "is_mass": case.is_mass,
        "risk_level": case.risk_level,
        "risk_label": RiskLevel(case.risk_level).label,
        "risk_reasons": case.risk_reasons,
        "police_reported": case.police_reported,
        "escalation_level": case.escalation_level,
        "escalation_label": EscalationLevel(str(case.escalation_level)).label,
        "stage_due_at": _iso(case.stage_due_at),
        # The last allowed day (what people see and documents print), not the end-of-day instant.
        "stage_due_on": _day(last_day(case.stage_due_at)),
        "overdue": is_overdue(case, now),
        "clock": case.clock,
        "clock_label": ClockCode(case.clock).label,
        "clock_due_on": case.clock_due_on.isoformat() if case.clock_due_on else None,
        "clock_paused": case.clock_paused_since is not None,
        "referral": (
            {"kind": case.referral_kind, "reference": case.referral_reference} if case.referral_kind else None
        ),
        "outcome": case.outcome,
        "flagged": case.flagged,
        "flag_reason": case.flag_reason,
        "created_at": _iso(case.created_at),
        "updated_at": _iso(case.updated_at),
        "accepted_at": _iso(case.accepted_at),
        "closed_at": _iso(case.closed_at),
        "close_kind": case.close_kind,
        "close_kind_label": CloseKind(case.close_kind).label if case.close_kind else None,
        # Decided but not closed: waiting for the director's 结案审批.
        "close_pending": case.close_kind is not None and case.stage != Stage.closed,
        "version": case.version,
    }


def party_public(party: Party, *, full: bool) -> dict:
    return {
        "id": party.id,
        "role": party.role,
        "role_label": PartyRole(party.role).label,
        "kind": party.kind,
        "name": party.name,
        "id_number": party.id_number if full or not party.id_number else mask_id_number(party.id_number),
        "phone": party.phone if full or not party.phone else mask_phone(party.phone),
        "org_code": party.org_code,
        "address": party.address if full else None,
        "legal_representative": party.legal_representative,
        "legal_representative_title": party.legal_representative_title,
        "agent_name": party.agent_name,
        # The agent's numbers are masked like the party's own.
        "agent_phone": party.agent_phone if full or not party.agent_phone else mask_phone(party.agent_phone),
        "agent_id_number": (
            party.agent_id_number
            if full or not party.agent_id_number
            else mask_id_number(party.agent_id_number)
        ),
        "agent_special_authority": party.agent_special_authority,
        "agent_expert_id": party.agent_expert_id,
        "is_representative": party.is_representative,
        "represented_by": party.represented_by,
        "email": party.email if full or not party.email else mask_email(party.email),
        "consent_electronic": party.consent_electronic,
        "consent_at": party.consent_at.isoformat() if party.consent_at else None,
        "version": party.version,
    }


def list_party(party: Party) -> dict:
    return party_public(party, full=False)


def clocks_of(session: Session, case: Case, now: datetime) -> list[dict]:
    """Every legal clock the case runs, with its basis and the days left (a case may run several)."""
    calendar = work_calendar(session)
    today = china_date(now)
    stage = Stage(case.stage)
    # The mediation clock stops once mediation ends (agreement, failure, withdrawal); the petition
    # reply clock once the acceptance decision is made.
    mediation_over = stage in (
        Stage.agreed,
        Stage.follow_up,
        Stage.closed,
        Stage.failed,
        Stage.withdrawn,
        Stage.rejected,
    )
    out = []
    for clock in clocks_for(
        category=case.category,
        referral_kind=case.referral_kind,
        summary_procedure=case.clock == ClockCode.court_post_filing_summary,
    ):
        if clock.main:
            due = legal_due(case, calendar)
            start = case.clock_started_on
        else:
            start = case.created_at.astimezone(CHINA).date()
            due = due_date(clock.code, start, calendar)
        ended = mediation_over if clock.main else stage != Stage.registered
        out.append(
            {
                "clock": clock.code,
                "label": ClockCode(clock.code).label,
                "main": clock.main,
                "ended": ended,
                "ended_label": (Stage(case.stage).label if ended else None),
                "start": start.isoformat() if start else None,
                "due": due.due.isoformat() if due else None,
                "basis": due.basis if due else None,
                "days_left": (due.due - today).days if due and not ended else None,
                "estimated": due.calendar_is_estimated if due else False,
                "note": due.note if due else None,
                "paused": clock.main and case.clock_paused_since is not None,
                "extension_days": case.clock_extension_days if clock.main else 0,
                "paused_days": case.clock_paused_days if clock.main else 0,
                "paused_workdays": case.clock_paused_workdays if clock.main else 0,
            }
        )
    agreement = session.exec(select(Agreement).where(Agreement.case_id == case.id)).first()
    if agreement is not None and agreement.signed_at is not None:
        start = agreement.signed_at.astimezone(CHINA).date()
        due = due_date(ClockCode.judicial_confirmation, start, calendar)
        out.append(
            {
                "clock": ClockCode.judicial_confirmation.value,
                "label": ClockCode.judicial_confirmation.label,
                "main": False,
                "ended": False,
                "ended_label": None,
                "start": start.isoformat(),
                "due": due.due.isoformat(),
                "basis": due.basis,
                "days_left": (due.due - today).days,
                "estimated": due.calendar_is_estimated,
                "note": due.note,
                "paused": False,
                "extension_days": 0,
                "paused_days": 0,
            }
        )
    return out


def expert_public(expert: Expert, active_cases: int = 0) -> dict:
    return {
        "id": expert.id,
        "name": expert.name,
        "kind": expert.kind,
        "kind_label": ExpertKind(expert.kind).label,
        "organization": expert.organization,
        "towns": expert.towns,
        "village": expert.village,
        "specialties": expert.specialties,
        "max_active_cases": expert.max_active_cases,
        "id_number": mask_id_number(expert.id_number) if expert.id_number else None,
        "phone": mask_phone(expert.phone) if expert.phone else None,
        "room": expert.room,
        "appointed_mediator": expert.appointed_mediator,
        "declared_relations": [
            {**r, "id_number": mask_id_number(r["id_number"]) if r.get("id_number") else None}
            for r in expert.declared_relations
        ],
        "active": expert.active,
        "active_cases": active_cases,
        "version": expert.version,
    }


def active_case_counts(session: Session, expert_ids: list[int] | None = None) -> dict[int, int]:
    query = (
        sa_select(col(PanelMember.expert_id), func.count())
        .join(Case, col(Case.id) == col(PanelMember.case_id))
        .where(col(PanelMember.active), open_sql())
    )
    if expert_ids is not None:
        query = query.where(col(PanelMember.expert_id).in_(expert_ids))
    return dict(session.execute(query.group_by(col(PanelMember.expert_id))).all())


def document_public(doc: Document) -> dict:
    return {
        "id": doc.id,
        "kind": doc.kind,
        "kind_label": DocumentKind(doc.kind).label,
        "sha256": doc.sha256,
        "verify_code": doc.verify_code,
        "version_no": doc.version_no,
        "supersedes_id": doc.supersedes_id,
        "created_at": _iso(doc.created_at),
        "url": f"/api/v1/documents/{doc.id}/pdf",
        "case_id": doc.case_id,
    }


def escalation_public(
    esc: Escalation,
    case: Case | None = None,
    assignee: User | None = None,
    history: list[dict] | None = None,
) -> dict:
    """`history`: its steps from `models.escalation.histories` (签收, 批示, 催办, 反馈, 办结)."""
    events = history or []
    acks = [e for e in events if e["kind"] == "ack"]
    out = {
        "id": esc.id,
        "case_id": esc.case_id,
        "stage": esc.stage,
        "from_level": esc.from_level,
        "to_level": esc.to_level,
        "level_label": EscalationLevel(str(esc.to_level)).label,
        "reason": esc.reason,
        "assignee_id": esc.assignee_id,
        "assignee": assignee.display_name if assignee else None,
        "leader": assignee.display_name if assignee else None,
        "status": esc.status,
        "status_label": EscalationStatus(esc.status).label,
        "acknowledged_at": _iso(esc.acknowledged_at),
        "acknowledged_by": acks[-1]["actor"] if acks else None,
        "reply_by": esc.reply_by.isoformat() if esc.reply_by else None,
        "stage_left_at": _iso(esc.stage_left_at),
        "instructions": [
            {"text": e["text"] or "", "reply_by": e["reply_by"], "by": e["actor"], "at": e["at"]}
            for e in events
            if e["kind"] == "instruct"
        ],
        "feedback": [
            {"text": e["text"] or "", "by": e["actor"], "at": e["at"]}
            for e in events
            if e["kind"] == "feedback"
        ],
        "events": events,
        "created_at": _iso(esc.created_at),
        "resolved_at": _iso(esc.resolved_at),
        "resolved_reason": next((e["text"] for e in reversed(events) if e["kind"] == "resolve"), None),
        "open": esc.resolved_at is None,
        "document_id": esc.document_id,
    }
    if case is not None:
        out.update(
            case_no=case.case_no,
            town=case.town,
            case_stage=case.stage,
            case_stage_label=Stage(case.stage).label,
            summary=case.summary,
        )
    return out


SESSION_STATUS_LABELS = {"scheduled": "待召开", "held": "已召开", "cancelled": "已取消"}


def session_public(ms: MediationSession) -> dict:
    status = "cancelled" if ms.cancelled_at else "held" if ms.recorded_at else "scheduled"
    return {
        "id": ms.id,
        "seq": ms.seq,
        "scheduled_at": _iso(ms.scheduled_at),
        "ends_at": _iso(ms.ends_at),
        "location": ms.location,
        "held_at": _iso(ms.held_at),
        "attendees": ms.attendees,
        "notes": ms.notes,
        "outcome": ms.outcome,
        "recorded_at": _iso(ms.recorded_at),
        "status": status,
        "status_label": SESSION_STATUS_LABELS[status],
        "reschedules": list(ms.reschedules or []),
        "cancelled_at": _iso(ms.cancelled_at),
        "cancel_reason": ms.cancel_reason,
        "version": ms.version,
        "present": list(ms.present or []),
        "recorder_name": ms.recorder_name,
        "statements": list(ms.statements or []),
        "rights_told": ms.rights_told,
        "party_answers": list(ms.party_answers or []),
        "recusal_asked": recusal_asked(ms),
    }


def oral_agreement_public(oral: OralAgreement | None) -> dict | None:
    if oral is None:
        return None
    return {
        "id": oral.id,
        "session_id": oral.session_id,
        "terms": list(oral.terms),
        "consents": list(oral.consents),
        "performance": oral.performance,
        "performance_label": OralPerformance(oral.performance).label,
        "performed": oral.performed,
        "performed_at": _iso(oral.performed_at),
        "performance_note": oral.performance_note,
        "written_requested_at": _iso(oral.written_requested_at),
        "written_requested_by": oral.written_requested_by,
        "agreement_id": oral.agreement_id,
        "version": oral.version,
    }


def term_public(t: AgreementTerm) -> dict:
    return {
        "id": t.id,
        "seq": t.seq,
        "obligor": t.obligor,
        "obligee": t.obligee,
        "obligation": t.obligation,
        "method": t.method,
        "place": t.place,
        "amount": str(t.amount) if t.amount is not None else None,
        "due_date": t.due_date.isoformat() if t.due_date else None,
        "performed": t.performed,
        "performed_at": _iso(t.performed_at),
        "state": t.state,
        "state_label": TermState(t.state).label if t.state else None,
    }


def follow_up_public(visit: FollowUp, terms: dict[int, AgreementTerm], visitor: User | None = None) -> dict:
    return {
        "id": visit.id,
        "term_id": visit.term_id,
        "performed": visit.performed,
        "notes": visit.notes,
        "visited_at": _iso(visit.visited_at),
        "method": visit.method,
        "method_label": FollowUpMethod(visit.method).label if visit.method else None,
        "visited_person": visit.visited_person,
        "opinion": visit.opinion,
        "terms": [
            {
                "term_id": item["term_id"],
                "seq": terms[item["term_id"]].seq if item["term_id"] in terms else 0,
                "obligee": terms[item["term_id"]].obligee if item["term_id"] in terms else None,
                "state": item["state"],
                "state_label": TermState(item["state"]).label,
                "paid_amount": item.get("paid_amount"),
                "paid_on": item.get("paid_on"),
            }
            for item in visit.term_states or []
        ],
        "visitor": visitor.display_name if visitor else None,
        "satisfaction": visit.satisfaction,
        "satisfaction_label": Satisfaction(visit.satisfaction).label if visit.satisfaction else None,
    }


def closing_public(closing: CaseClosing | None, users: dict[int | None, User]) -> dict | None:
    if closing is None:
        return None

    def name(user_id: int | None) -> str | None:
        return users[user_id].display_name if user_id in users else None

    return {
        "kind": closing.kind,
        "kind_label": CloseKind(closing.kind).label,
        "note": closing.note,
        "requested_by": name(closing.requested_by) or "系统",
        "requested_at": _iso(closing.requested_at),
        "needs_approval": closing.needs_approval,
        "pending": closing.needs_approval and closing.approved_at is None,
        "approved_by": name(closing.approved_by) if closing.needs_approval else None,
        "approved_at": _iso(closing.approved_at),
        "approval_note": closing.approval_note,
    }


@overload
def agreement_public(session: Session, agreement: Agreement) -> dict: ...
@overload
def agreement_public(session: Session, agreement: None) -> None: ...
@overload
def agreement_public(session: Session, agreement: Agreement | None) -> dict | None: ...
def agreement_public(session: Session, agreement: Agreement | None) -> dict | None:
    if agreement is None:
        return None
    terms = session.exec(
        select(AgreementTerm)
        .where(AgreementTerm.agreement_id == agreement.id)
        .order_by(col(AgreementTerm.seq))
    ).all()
    doc = session.get(Document, agreement.document_id) if agreement.document_id else None
    jc = None
    if agreement.signed_at:
        from flows.agreement import judicial_confirmation_due

        due = judicial_confirmation_due(session, agreement)
        # None where 司法确认 is not open (委托, 确权, 身份关系): nothing to show.
        jc = {"due": due.due.isoformat(), "basis": due.basis} if due else None
    return {
        "id": agreement.id,
        "case_id": agreement.case_id,
        "facts": agreement.facts,
        "disputes": agreement.disputes,
        "responsibility": agreement.responsibility,
        "rights_confirmation": agreement.rights_confirmation,
        "status_relation": agreement.status_relation,
        "performance_method": agreement.performance_method,
        "performance_place": agreement.performance_place,
        "ink_only": agreement.ink_only,
        "issued_at": _iso(agreement.issued_at),
        "signed_at": _iso(agreement.signed_at),
        "terms": [term_public(t) for t in terms],
        "document": document_public(doc) if doc else None,
        "document_pending": doc is None,
        "judicial_confirmation": jc,
        "version": agreement.version,
        "revision": agreement.revision,
        "lawyer_disapproval": _disapproval_public(session, agreement),
        "sign_override": (
            {
                "reason": agreement.override_reason,
                "by": _display_name(session, agreement.override_by),
                "at": _iso(agreement.override_at),
                "opinion_id": agreement.override_opinion_id,
            }
            if agreement.override_reason
            else None
        ),
    }


def _display_name(session: Session, user_id: int | None) -> str | None:
    user = session.get(User, user_id) if user_id is not None else None
    return user.display_name if user else None


def _disapproval_public(session: Session, agreement: Agreement) -> dict | None:
    if agreement.signed_at is not None:
        return None
    opinion = standing_disapproval(session, agreement)
    if opinion is None:
        return None
    return {
        "opinion_id": opinion.id,
        "author": _display_name(session, opinion.author_id),
        "body": opinion.body,
        "created_at": _iso(opinion.created_at),
        "revision": opinion.agreement_revision,
    }


def panel_public(session: Session, case_id: int, *, include_removed: bool = False) -> list[dict]:
    query = (
        select(PanelMember, Expert)
        .join(Expert, col(Expert.id) == col(PanelMember.expert_id))
        .where(PanelMember.case_id == case_id)
    )
    if not include_removed:
        query = query.where(PanelMember.active)
    return [
        {
            "id": m.id,
            "expert_id": e.id,
            "name": e.name,
            "kind": e.kind,
            "kind_label": ExpertKind(e.kind).label,
            "organization": e.organization,
            "role": m.role,
            "role_label": PanelRole(m.role).label,
            "active": m.active,
            "seated_at": _iso(m.seated_at),
            "removed_reason": m.removed_reason,
        }
        for m, e in session.exec(query.order_by(col(PanelMember.id))).all()
    ]


def case_detail(session: Session, case: Case, user: User, now: datetime) -> dict:
    full = sees_personal_data(user)
    out = case_public(case, now)
    out["parties"] = [
        party_public(p, full=full)
        for p in session.exec(select(Party).where(Party.case_id == case.id).order_by(col(Party.id))).all()
    ]
    out["panel"] = panel_public(session, id_of(case))
    out["panel_history"] = panel_public(session, id_of(case), include_removed=True)
    out["recusals"] = [
        {
            "expert_id": r.expert_id,
            "reason": r.reason,
            "replaced_by_expert_id": r.replaced_by_expert_id,
            "created_at": _iso(r.created_at),
        }
        for r in session.exec(select(Recusal).where(Recusal.case_id == case.id)).all()
    ]
    # By date, the cancelled ones where they were planned (struck through on the page).
    out["sessions"] = [
        session_public(s)
        for s in session.exec(
            select(MediationSession)
            .where(MediationSession.case_id == case.id)
            .order_by(col(MediationSession.scheduled_at), col(MediationSession.id))
        ).all()
    ]
    agreement = session.exec(select(Agreement).where(Agreement.case_id == case.id)).first()
    out["agreement"] = agreement_public(session, agreement)
    users = {u.id: u for u in session.exec(select(User)).all()}
    terms = (
        {
            id_of(t): t
            for t in session.exec(
                select(AgreementTerm).where(AgreementTerm.agreement_id == agreement.id)
            ).all()
        }
        if agreement
        else {}
    )
    out["follow_ups"] = [
        follow_up_public(f, terms, users.get(f.actor_id))
        for f in session.exec(
            select(FollowUp).where(FollowUp.case_id == case.id).order_by(col(FollowUp.id))
        ).all()
    ]
    out["still_due"] = [term_public(t) for t in still_due(unperformed_terms(session, agreement))]
    out["performance"] = [
        {
            **row,
            "amount": str(row["amount"]),
            "paid": str(row["paid"]),
            "outstanding": str(row["outstanding"]),
        }
        for row in performance_rows(list(terms.values()), paid_so_far(session, list(terms)))
    ]
    out["committee"] = case_committee_public(committee_for(session, case))
    out["enforcement"] = enforcement_public(session, case, agreement)
    out["oral_agreement"] = oral_agreement_public(
        session.exec(select(OralAgreement).where(OralAgreement.case_id == case.id)).first()
    )
    out["closing"] = closing_public(
        session.exec(
            select(CaseClosing).where(CaseClosing.case_id == case.id).order_by(col(CaseClosing.id).desc())
        ).first(),
        users,
    )
    case_escalations = session.exec(
        select(Escalation).where(Escalation.case_id == case.id).order_by(col(Escalation.id))
    ).all()
    steps = escalation_histories(session, [id_of(e) for e in case_escalations])
    out["escalations"] = [
        escalation_public(e, assignee=users.get(e.assignee_id), history=steps[id_of(e)])
        for e in case_escalations
    ]
    out["documents"] = [
        document_public(d)
        for d in session.exec(
            select(Document).where(Document.case_id == case.id).order_by(col(Document.id))
        ).all()
    ]
    # Each event also as a Chinese sentence naming the person (models/history.py).
    out["timeline"] = case_history(session, id_of(case))
    out["clocks"] = clocks_of(session, case, now)
    working = get_rule(case.clock).counts_working_days_only
    out["clock_events"] = [
        {
            "kind": c.kind,
            "days": c.days,
            "note": c.note,
            "at": _iso(c.at),
            "unit": "working_day" if working and c.kind != "extend" and c.effective_on else "day",
            "effective_on": c.effective_on.isoformat() if c.effective_on else None,
            "due_on": c.due_on.isoformat() if c.due_on else None,
        }
        for c in session.exec(
            select(ClockEvent).where(ClockEvent.case_id == case.id).order_by(col(ClockEvent.id))
        ).all()
    ]
    # Only related cases the reader may see: another town's case number and stage are not a town
    # leader's to read, nor a lawyer's off that case.
    related = session.exec(
        select(CaseLink, Case)
        .join(Case, col(Case.id) == col(CaseLink.related_case_id))
        .where(CaseLink.case_id == case.id, case_filter(user))
    ).all()
    out["related_cases"] = [
        {"case_id": c.id, "case_no": c.case_no, "reason": link.reason, "stage": c.stage}
        for link, c in related
    ]
    out["opinions"] = [
        {
            "id": o.id,
            "kind": o.kind,
            "approved": o.approved,
            "body": o.body,
            "author": users[o.author_id].display_name if o.author_id in users else None,
            "created_at": _iso(o.created_at),
        }
        for o in session.exec(
            select(LegalOpinion).where(LegalOpinion.case_id == case.id).order_by(col(LegalOpinion.id))
        ).all()
    ]
    out["allowed_actions"] = allowed_actions(case.stage)
    return out


def cases_page(
    session: Session,
    user: User,
    filters: CaseFilters,
    *,
    now: datetime,
    limit: int,
    offset: int = 0,
    order: str = "newest",
    count_cap: int | None = None,
) -> dict[str, Any]:
    """One page of the case list as the JSON list and the pages show it (parties masked). The JSON
    list counts every match (`total` is exact, as the contract says); the pages cap their count."""
    page = find_cases(
        session, user, filters, now=now, limit=limit, offset=offset, order=order, count_cap=count_cap
    )
    parties: dict[int, list[dict[str, Any]]] = {}
    if page.rows:
        ids = [id_of(c) for c in page.rows]
        for p in session.exec(select(Party).where(col(Party.case_id).in_(ids)).order_by(col(Party.id))).all():
            parties.setdefault(p.case_id, []).append(list_party(p))
    items = [{**case_public(c, now), "parties": parties.get(id_of(c), [])} for c in page.rows]
    if page.match:
        for item in items:
            item["match"] = page.match
    out = {"items": items, "total": page.total, "limit": limit, "offset": offset}
    if page.more:
        out["more"] = True
    return out


def enforcement_step_public(step: EnforcementRecord) -> dict:
    return {
        "id": step.id,
        "step": step.step,
        "label": EnforcementStep(step.step).label,
        "on": step.on.isoformat(),
        "court": step.court,
        "note": step.note,
        "party_id": step.party_id,
        "term_ids": list(step.term_ids or []),
        "amount": str(step.amount) if step.amount is not None else None,
    }


def enforcement_public(session: Session, case: Case, agreement: Agreement | None) -> dict:
    """The 司法确认 last day and the performance ledger (models/enforcement.py), issue 20."""
    last = jc_last_day(session, case.referral_kind, agreement)
    steps = {id_of(s): s for s in steps_of(session, id_of(case))}
    return {
        "judicial_confirmation_last_day": last.isoformat() if last else None,
        "ledger": [
            {
                **row,
                "agreed": str(row["agreed"]),
                "paid": str(row["paid"]),
                "outstanding": str(row["outstanding"]),
                "last_paid_on": row["last_paid_on"].isoformat() if row["last_paid_on"] else None,
                "steps": [enforcement_step_public(steps[s["id"]]) for s in row["steps"]],
            }
            for row in ledger(session, id_of(case))
        ],
        "steps": [enforcement_step_public(s) for s in steps.values()],
    }


def tunables_public(values: dict) -> list[dict]:
    """The center's tunable settings with their basis, bounds and current values (`current_values`)."""
    return [
        {
            "key": t.key,
            "label": t.label,
            "basis": t.basis,
            "value": values[t.key],
            "default": default_value(t.key),
            "minimum": t.minimum,
            "maximum": t.maximum,
        }
        for t in TUNABLES.values()
    ]
