"""The agreement (人民调解协议书): terms → document → signing → follow-up (结案: flows/closing.py).

人民调解法 第28–33条: a written agreement with the parties' information, facts, matters in dispute and
responsibility, the agreed obligations, the way, place and deadline of performance; it takes effect when
signed; the parties may apply for judicial confirmation within 30 days; the committee supervises its
performance (回访). Marriage, adoption and inheritance agreements are signed in ink, never electronically.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlmodel import Session, col, select

from flows import tasks
from flows.court_loop import file_agreement_with_court
from flows.process import apply_transition
from flows.tasks import notify, process_flow, step
from models.action_context import ActionContext
from models.agreement import (
    Agreement,
    AgreementTerm,
    FollowUp,
    OralAgreement,
    TermPayment,
    by_due_date,
    paid_so_far,
    payment_problem,
    standing_disapproval,
    state_after_payment,
    term_name,
    term_numbers,
    term_problem,
)
from models.audit import record, without_personal_data
from models.binding import (
    present_names,
    resolve_term_party,
    term_party_problem,
    unbound_message,
    unbound_parties,
)
from models.case import Case
from models.db import id_of
from models.deadlines import china_date
from models.enforcement import judicial_confirmation_due
from models.enums import (
    Category,
    OralPerformance,
    PanelRole,
    Role,
    Satisfaction,
    SessionOutcome,
    Stage,
    TermState,
)
from models.expert import Expert, PanelMember
from models.lifecycle import InvalidInput, TransitionNotAllowed
from models.mediation_session import MediationSession
from models.my_work import case_carrier
from models.outbox import enqueue_after
from models.party import Party
from models.schemas import (
    AgreementCreate,
    AgreementSigned,
    FollowUpCreate,
    OralPerformed,
    WrittenAgreementRequest,
)
from models.tz import CHINA
from models.user import User

INK_ONLY_KEYWORDS = ("离婚", "婚姻", "收养", "继承", "遗产")


def is_ink_only(case: Case) -> bool:
    """婚姻、收养、继承 agreements are signed in ink (电子签名法 第3条 excludes them)."""
    text = f"{case.summary}{case.claims or ''}"
    return case.category == Category.marriage_family or any(w in text for w in INK_ONLY_KEYWORDS)


def presiding_expert(session: Session, case_id: int) -> Expert | None:
    """The panel's lead: who presides over the mediation and signs the agreement."""
    return session.exec(
        select(Expert)
        .join(PanelMember, col(PanelMember.expert_id) == Expert.id)
        .where(PanelMember.case_id == case_id, col(PanelMember.active), PanelMember.role == PanelRole.lead)
    ).first()


def issue_agreement(cmd: AgreementCreate, ctx: ActionContext) -> Agreement:
    """The agreement as the clerk drafted it (the form or the API's body)."""
    return draft_agreement(
        session=ctx.session, case=ctx.case, data=cmd.model_dump(), actor=ctx.actor, now=ctx.now
    )


def draft_agreement(
    *,
    session: Session,
    case: Case,
    data: dict,
    actor: User,
    now: datetime,
    earliest_due: date | None = None,
) -> Agreement:
    """Record (or correct, before signing) the agreement; the flow issues the document.
    `earliest_due`: an oral agreement put in writing keeps the dates agreed at its session."""
    if case.stage == Stage.in_mediation:
        apply_transition(session, case, "agree", actor=actor, now=now)
    elif case.stage != Stage.agreed:
        raise TransitionNotAllowed(f"案件当前阶段为“{Stage(case.stage).label}”，不能制作调解协议书")
    method, place = data.get("performance_method"), data.get("performance_place")
    parties = list(session.exec(select(Party).where(Party.case_id == case.id).order_by(col(Party.id))).all())
    for i, term in enumerate(data["terms"]):
        # The term's own parts first (a missing part, several obligees in one money term), then who
        # owes and who is owed: parties of the case, never free text (issue 18 point 2), then the
        # parts again with agents' names resolved (an agent owing the party it acts for is one person).
        problem = term_problem(term, method=method, place=place)
        if problem is None and (named := term_party_problem(term, parties, seq=i + 1)):
            raise InvalidInput(named[1], field=f"terms.{i}.{named[0]}")
        problem = problem or term_problem(_as_parties(term, parties), method=method, place=place)
        if problem:
            field, reason = problem
            # A place or method missing everywhere belongs to the agreement's own field.
            if field in ("method", "place") and not term.get(field):
                field = {"method": "performance_method", "place": "performance_place"}[field]
                raise InvalidInput(f"第{i + 1}项：{reason}", field=field)
            raise InvalidInput(f"第{i + 1}项：{reason}", field=f"terms.{i}.{field}")
        if term["due_date"] < (earliest_due or china_date(now)):
            raise InvalidInput(
                "履行期限不能早于调解日期" if earliest_due else "履行期限不能早于今天",
                field=f"terms.{i}.due_date",
            )
    presiding = presiding_expert(session, id_of(case))
    if presiding is None or not presiding.appointed_mediator:
        who = f"{presiding.name}不是本委员会聘任的人民调解员，" if presiding else ""
        raise TransitionNotAllowed(
            f"{who}调解协议书须由主持调解的人民调解员签名（人民调解法第十三条、第二十九条）："
            "请先在专班中指定一名本委员会人民调解员主持调解"
        )
    agreement = session.exec(select(Agreement).where(Agreement.case_id == case.id)).first()
    if agreement is None:
        agreement = Agreement(
            case_id=id_of(case), performance_method=data["performance_method"], created_at=now
        )
    else:
        if agreement.signed_at is not None:
            raise TransitionNotAllowed("协议书已签署，不能修改")
        for old in session.exec(
            select(AgreementTerm).where(AgreementTerm.agreement_id == agreement.id)
        ).all():
            session.delete(old)
        session.flush()
        agreement.revision += 1
        agreement.document_id = None
    revision = agreement.revision
    agreement.performance_method = data["performance_method"]
    agreement.performance_place = data.get("performance_place")
    agreement.facts = data.get("facts") or case.facts or case.summary
    agreement.disputes = data.get("disputes") or case.claims
    agreement.responsibility = data.get("responsibility")
    agreement.rights_confirmation = bool(data.get("rights_confirmation"))
    agreement.status_relation = bool(data.get("status_relation"))
    agreement.drafted_by = actor.id
    agreement.ink_only = is_ink_only(case)
    agreement.issued_at = now
    session.add(agreement)
    session.flush()
    for seq, term in enumerate(data["terms"], start=1):
        term = _as_parties(term, parties)
        session.add(
            AgreementTerm(
                agreement_id=id_of(agreement),
                seq=seq,
                obligor=term["obligor"],
                obligee=term["obligee"],
                obligation=term["obligation"],
                amount=term.get("amount"),
                due_date=term["due_date"],
                method=term.get("method") or None,
                place=term.get("place") or None,
            )
        )
    case.updated_at = now
    session.add(case)
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="agreement.issue",
        entity="agreement",
        entity_id=agreement.id,
        case_id=case.id,
        at=now,
        after={"terms": len(data["terms"]), "revision": revision, "ink_only": agreement.ink_only},
    )
    enqueue_after(
        session,
        "issue_agreement",
        key=agreement_flow_key(id_of(case), revision),
        case_id=case.id,
        params={"agreement_id": agreement.id, "revision": revision},
    )
    return agreement


def _as_parties(term: dict, parties: list[Party]) -> dict:
    """The term with an agent's or 法定代表人's name replaced by the party's own: the party is bound."""
    out = dict(term)
    for field in ("obligor", "obligee"):
        party = resolve_term_party(term.get(field), parties)
        if party is not None:
            out[field] = party.name
    return out


def binding_problem(session: Session, case: Case) -> str | None:
    """Why the current agreement cannot bind every party its terms name (models.binding), or None.
    Checked when signing; the agreement page shows it as a warning before."""
    agreement = session.exec(select(Agreement).where(Agreement.case_id == case.id)).first()
    if agreement is None:
        return None
    terms = session.exec(select(AgreementTerm).where(AgreementTerm.agreement_id == agreement.id)).all()
    parties = list(session.exec(select(Party).where(Party.case_id == case.id).order_by(col(Party.id))).all())
    held = session.exec(
        select(MediationSession).where(
            MediationSession.case_id == case.id,
            col(MediationSession.held_at).is_not(None),
            col(MediationSession.cancelled_at).is_(None),
        )
    ).all()
    # v1.0 records carry attendees only: their names stand for who was present.
    present = present_names(ms.present or [{"name": a} for a in ms.attendees or []] for ms in held)
    named = [name for t in terms for name in (t.obligor, t.obligee)]
    unbound = unbound_parties(parties, named, present)
    return unbound_message(unbound, present) if unbound else None


def oral_agreement_of(session: Session, case: Case) -> OralAgreement:
    oral = session.exec(select(OralAgreement).where(OralAgreement.case_id == case.id)).first()
    if oral is None:
        raise TransitionNotAllowed("本案未记录口头协议")
    return oral


def oral_terms_as_written(oral: OralAgreement) -> list[dict]:
    """The oral terms in the shape of the written agreement's terms (人民调解法 第28条 → 第29条)."""
    return [
        {
            "obligor": t["obligor"],
            "obligee": t["obligee"],
            "obligation": t["obligation"],
            "amount": Decimal(t["amount"]) if t.get("amount") is not None else None,
            "due_date": date.fromisoformat(t["due_date"]) if t.get("due_date") else None,
            "method": t.get("method"),
            "place": t.get("place"),
        }
        for t in oral.terms
    ]


def record_oral_performance(cmd: OralPerformed, ctx: ActionContext) -> OralAgreement:
    """An oral agreement performed after its session: the performance is recorded before the 结案."""
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    performed_at, note = cmd.performed_at, cmd.note
    oral = oral_agreement_of(session, case)
    if case.stage not in (Stage.agreed, Stage.in_mediation):
        raise TransitionNotAllowed(f"案件当前阶段为“{Stage(case.stage).label}”，不能登记口头协议履行")
    if oral.agreement_id is not None:
        raise TransitionNotAllowed("已按当事人要求制作书面调解协议书：履行情况请在履行回访中登记")
    if oral.performed:
        raise TransitionNotAllowed("口头协议已登记履行")
    if performed_at > now:
        raise InvalidInput("履行时间不能晚于当前时间", field="performed_at")
    ms = session.get(MediationSession, oral.session_id)
    held = ms.held_at if ms and ms.held_at else oral.created_at
    if china_date(performed_at) < china_date(held):
        raise InvalidInput("履行时间不能早于达成口头协议的调解日期", field="performed_at")
    oral.performed_at = performed_at
    oral.performance_note = note or oral.performance_note
    session.add(oral)
    case.updated_at = now
    session.add(case)
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="oral_agreement.performed",
        entity="oral_agreement",
        entity_id=oral.id,
        case_id=case.id,
        at=now,
        after={"performed_at": performed_at.isoformat()},
    )
    return oral


def request_written_agreement(cmd: WrittenAgreementRequest, ctx: ActionContext) -> Agreement:
    """人民调解法 第28条: a party asks for a written agreement → the normal 人民调解协议书, made from the
    oral terms (the parts an oral term leaves open, e.g. how and where, are asked for as for any term)."""
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    requested_by, performance_method, performance_place = (
        cmd.requested_by,
        cmd.performance_method,
        cmd.performance_place,
    )
    oral = oral_agreement_of(session, case)
    names = set(session.exec(select(Party.name).where(Party.case_id == case.id)).all())
    if requested_by not in names:
        raise InvalidInput(f"“{requested_by}”不是本案当事人", field="requested_by")
    if oral.agreement_id is not None:
        raise TransitionNotAllowed("已按当事人要求制作书面调解协议书")
    ms = session.get(MediationSession, oral.session_id)
    held_on = china_date(ms.held_at) if ms and ms.held_at else china_date(oral.created_at)
    spot = oral.performance == OralPerformance.on_the_spot
    method = performance_method or ("当场履行" if spot else None)
    place = performance_place or (ms.location if spot and ms else None)
    data = {
        "terms": oral_terms_as_written(oral),
        "performance_method": method,
        "performance_place": place,
    }
    if not method:
        raise InvalidInput("请填写履行方式", field="performance_method")
    agreement = draft_agreement(
        session=session, case=case, data=data, actor=actor, now=now, earliest_due=held_on
    )
    oral.written_requested_at = now
    oral.written_requested_by = requested_by
    oral.agreement_id = agreement.id
    session.add(oral)
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="oral_agreement.written",
        entity="oral_agreement",
        entity_id=oral.id,
        case_id=case.id,
        at=now,
        after={"agreement_id": agreement.id},
    )
    return agreement


def agreed_session(session: Session, case_id: int) -> MediationSession | None:
    """The held session at which the parties agreed (the latest, if a case came back to it)."""
    return session.exec(
        select(MediationSession)
        .where(
            MediationSession.case_id == case_id,
            MediationSession.outcome == SessionOutcome.agreed.value,
            col(MediationSession.held_at).is_not(None),
        )
        .order_by(col(MediationSession.held_at).desc(), col(MediationSession.id).desc())
    ).first()


def sign_agreement(cmd: AgreementSigned, ctx: ActionContext) -> Case:
    """协议签署 (人民调解法 第29条: it takes effect when signed). Refused before the agreement's
    document exists, in the future, before the session at which the parties agreed, and over the
    lawyer's standing disapproval of this draft unless the staff give a reason (recorded, audited,
    notified to the center's director)."""
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    signed_at, override_reason = cmd.signed_at, cmd.override_reason
    agreement = session.exec(select(Agreement).where(Agreement.case_id == case.id)).first()
    if case.stage == Stage.agreed and (agreement is None or agreement.document_id is None):
        raise TransitionNotAllowed("调解协议书尚未制作完成，不能登记签署")
    if signed_at > now:
        raise InvalidInput("签署时间不能晚于当前时间", field="signed_at")
    agreed = agreed_session(session, id_of(case))
    # By minute: the forms give minutes, and signing in the minute the session was recorded is real.
    if (
        agreed is not None
        and agreed.held_at is not None
        and signed_at.replace(second=0, microsecond=0) < agreed.held_at.replace(second=0, microsecond=0)
    ):
        held = agreed.held_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
        raise InvalidInput(
            f"签署时间不能早于当事人达成协议的第{agreed.seq}次调解（{held}）", field="signed_at"
        )
    terms = (
        session.exec(select(AgreementTerm).where(AgreementTerm.agreement_id == agreement.id)).all()
        if agreement
        else []
    )
    if case.stage == Stage.agreed and (unbound := binding_problem(session, case)):
        raise TransitionNotAllowed(unbound)
    reason = (override_reason or "").strip()
    disapproval = standing_disapproval(session, agreement) if case.stage == Stage.agreed else None
    if disapproval is not None and not reason:
        lawyer = session.get(User, disapproval.author_id)
        said = disapproval.body if len(disapproval.body) <= 60 else disapproval.body[:60] + "…"
        raise TransitionNotAllowed(
            f"律师{lawyer.display_name if lawyer else ''}对本稿协议（第{disapproval.agreement_revision}稿）"
            f"的最新意见为不同意：{said}。请先修改协议请律师重新审查；确需签署的，须填写坚持签署的理由"
            "（override_reason），该理由将记录在案并报中心主任"
        )
    apply_transition(session, case, "sign", actor=actor, now=now, term_due_dates=[t.due_date for t in terms])
    # "sign" leaves only from 已达成协议, where the check above made sure the agreement exists.
    assert agreement is not None
    agreement.signed_at = signed_at
    if disapproval is not None:
        agreement.override_reason = reason
        agreement.override_by = actor.id
        agreement.override_at = now
        agreement.override_opinion_id = disapproval.id
    session.add(agreement)
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="agreement.sign",
        entity="agreement",
        entity_id=agreement.id,
        case_id=case.id,
        at=now,
        after={"signed_at": signed_at.isoformat()}
        | (
            without_personal_data({"override_reason": reason, "override_opinion_id": disapproval.id})
            if disapproval is not None
            else {}
        ),
    )
    if disapproval is not None:
        _notify_director_of_override(session, case, agreement, actor=actor, reason=reason)
    enqueue_after(session, "sign", key=f"signed:{case.id}", case_id=case.id)
    return case


def _notify_director_of_override(
    session: Session, case: Case, agreement: Agreement, *, actor: User, reason: str
) -> None:
    """The center's director (every active level-1 leader) hears of a signing over the lawyer's word."""
    directors = session.exec(
        select(User.id)
        .where(User.role == Role.leader, User.level == 1, col(User.active))
        .order_by(col(User.id))
    ).all()
    for user_id in directors:
        notify(
            session,
            key=f"sign-override:{agreement.id}:{agreement.revision}:{user_id}",
            user_id=user_id,
            case_id=case.id,
            text=f"{actor.display_name}在律师不同意的情况下登记了协议签署（{case.case_no}）；理由：{reason}",
        )


def follow_up_states(
    terms: list[AgreementTerm], *, performed: bool | None, term_id: int | None, states: list[dict] | None
) -> list[dict]:
    """The per-term states of a visit. The v1.0 body (`performed`, optional `term_id`) maps onto them:
    the named term, or every term not yet performed, found performed or not performed."""
    if states:
        return [
            {
                "term_id": int(s["term_id"]),
                "state": TermState(s["state"]).value if s.get("state") else None,
                "paid_amount": s.get("paid_amount"),
                "paid_on": s.get("paid_on"),
            }
            for s in states
        ]
    if performed is None:
        raise InvalidInput("请填写各条款的履行情况（terms）或履行结论（performed）", field="terms")
    state = TermState.performed if performed else TermState.not_performed
    targets = [t for t in terms if (t.id == term_id if term_id is not None else not t.performed)]
    return [{"term_id": id_of(t), "state": state.value} for t in targets]


def record_follow_up(cmd: FollowUpCreate, ctx: ActionContext) -> FollowUp:
    """回访 (人民调解法 第31条): what was found, term by term. It never closes the case: 结案 is a decision
    (flows/closing.py); a term found not performed (or only partly) flags the case with the legal path."""
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    performed, notes, term_id, visited_at = cmd.performed, cmd.notes, cmd.term_id, cmd.visited_at
    method, visited_person, opinion = cmd.method, cmd.visited_person, cmd.opinion
    satisfaction = cmd.satisfaction
    terms = [t.model_dump(exclude_none=True) for t in cmd.terms]
    if case.stage != Stage.follow_up:
        raise TransitionNotAllowed(f"案件当前阶段为“{Stage(case.stage).label}”，不能登记回访")
    visited_at = visited_at or now
    if visited_at > now:
        raise InvalidInput("回访时间不能晚于当前时间", field="visited_at")
    agreement = session.exec(select(Agreement).where(Agreement.case_id == case.id)).one()
    # By day: the form gives minutes, and a visit the day the agreement is signed is a real one.
    if agreement.signed_at is not None and china_date(visited_at) < china_date(agreement.signed_at):
        raise InvalidInput("回访日期不能早于协议签署日期", field="visited_at")
    all_terms = list(
        session.exec(
            select(AgreementTerm)
            .where(AgreementTerm.agreement_id == agreement.id)
            .order_by(col(AgreementTerm.seq))
        ).all()
    )
    by_id = {id_of(t): t for t in all_terms}
    if term_id is not None and term_id not in by_id:
        raise InvalidInput("该履行条款不属于本案协议", field="term_id")
    states = follow_up_states(all_terms, performed=performed, term_id=term_id, states=terms)
    for i, item in enumerate(states):
        if item["term_id"] not in by_id:
            raise InvalidInput("该履行条款不属于本案协议", field=f"terms.{i}.term_id")
    if len({s["term_id"] for s in states}) != len(states):
        raise InvalidInput("同一条款只能填写一次履行情况", field="terms")
    payments = _payments_of_visit(session, agreement, by_id, states, visited_at=visited_at, now=now)
    found_performed = bool(states) and all(s["state"] == TermState.performed for s in states)
    visit = FollowUp(
        case_id=id_of(case),
        term_id=term_id,
        performed=found_performed if performed is None else performed,
        notes=notes,
        visited_at=visited_at,
        actor_id=actor.id,
        method=method,
        visited_person=visited_person,
        opinion=opinion,
        term_states=states,
        satisfaction=Satisfaction(satisfaction).value if satisfaction else None,
    )
    session.add(visit)
    session.flush()
    for term_id_, (amount, paid_on) in payments.items():
        session.add(TermPayment(term_id=term_id_, follow_up_id=id_of(visit), amount=amount, paid_on=paid_on))
    for item in states:
        term = by_id[item["term_id"]]
        term.state = item["state"]
        done = item["state"] == TermState.performed
        if done and not term.performed:
            term.performed_at = visited_at
        elif not done:
            term.performed_at = None
        term.performed = done
        session.add(term)
    session.flush()
    # A term not performed (or only partly) is flagged with the parties' legal path; once no term is,
    # the follow-up's own flag goes (a flow failure's flag stays).
    unperformed = [
        by_id[s["term_id"]] for s in states if s["state"] in (TermState.not_performed, TermState.partly)
    ]
    if unperformed:
        jc = judicial_confirmation_due(session, agreement)
        path = (
            f"可在{jc.due.isoformat()}前共同向人民法院申请司法确认"
            if jc and china_date(now) <= jc.due
            else "可就调解协议的履行或内容向人民法院提起诉讼；已经司法确认的可申请强制执行"
        )
        items = "、".join(f"第{t.seq}项" for t in unperformed)
        case.flagged = True
        case.flag_reason = f"回访发现协议未履行（{items}）：{path}"
    elif (
        case.flagged
        and (case.flag_reason or "").startswith("回访发现")
        and not any(t.state in (TermState.not_performed, TermState.partly) for t in all_terms)
    ):
        case.flagged = False
        case.flag_reason = None
    case.updated_at = now
    session.add(case)
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="follow_up.record",
        entity="follow_up",
        entity_id=visit.id,
        case_id=case.id,
        at=now,
        after=without_personal_data(
            {
                "visited_at": visited_at.isoformat(),
                "method": method,
                "satisfaction": visit.satisfaction,
                "terms": {str(by_id[s["term_id"]].seq): s["state"] for s in states},
                "paid": {str(by_id[t].seq): str(amount) for t, (amount, _) in payments.items()},
            }
        ),
    )
    enqueue_after(
        session,
        "follow_up",
        key=f"follow_up:{visit.id}",
        case_id=case.id,
        params={"follow_up_id": visit.id},
    )
    return visit


def _payments_of_visit(
    session: Session,
    agreement: Agreement,
    by_id: dict[int, AgreementTerm],
    states: list[dict],
    *,
    visited_at: datetime,
    now: datetime,
) -> dict[int, tuple[Decimal, date]]:
    """The payments this visit records, and each state settled from them (models.agreement.
    state_after_payment). A money term found 已履行 without an amount is taken as paid in full on the
    visit's day: the remainder is recorded, so 已履行 and 尚欠 never disagree."""
    before = paid_so_far(session, list(by_id))
    signed_on = china_date(agreement.signed_at or agreement.created_at)
    out: dict[int, tuple[Decimal, date]] = {}
    for i, item in enumerate(states):
        term = by_id[item["term_id"]]
        raw, paid_on = item.pop("paid_amount", None), item.pop("paid_on", None)
        if isinstance(paid_on, str):
            paid_on = date.fromisoformat(paid_on)
        if raw is None:
            if item["state"] is None:
                raise InvalidInput(f"请填写{term_name(term)}的履行情况", field=f"terms.{i}.state")
            rest = term.amount - before.get(id_of(term), Decimal(0)) if term.amount is not None else None
            if item["state"] == TermState.performed and rest:
                out[id_of(term)] = (rest, china_date(visited_at))
                item["paid_amount"], item["paid_on"] = str(rest), china_date(visited_at).isoformat()
            continue
        paid_now = Decimal(raw)
        paid_before = before.get(id_of(term), Decimal("0.00"))
        problem = payment_problem(
            term,
            paid_before=paid_before,
            paid_now=paid_now,
            paid_on=paid_on,
            signed_on=signed_on,
            today=china_date(now),
        )
        if problem:
            raise InvalidInput(problem[1], field=f"terms.{i}.{problem[0]}")
        state, refused = state_after_payment(term, paid=paid_before + paid_now, stated=item["state"])
        if refused:
            raise InvalidInput(refused, field=f"terms.{i}.state")
        item["state"] = state
        if paid_now > 0:
            assert paid_on is not None  # payment_problem asks for the day of a payment
            out[id_of(term)] = (paid_now, paid_on)
            item["paid_amount"], item["paid_on"] = str(paid_now), paid_on.isoformat()
    return out


@step
def attach_agreement_document(case_id: int, agreement_id: int, document_id: int) -> None:
    with tasks.write_session() as session:
        agreement = session.get(Agreement, agreement_id)
        assert agreement is not None, agreement_id  # recorded before the flow was enqueued
        if agreement.document_id != document_id:
            agreement.document_id = document_id
            session.add(agreement)


@step
def schedule_follow_up_reminders(case_id: int) -> int:
    with tasks.write_session() as session:
        case = session.get(Case, case_id)
        assert case is not None, case_id  # the outbox run belongs to an existing case
        agreement = session.exec(select(Agreement).where(Agreement.case_id == case_id)).one()
        terms = session.exec(select(AgreementTerm).where(AgreementTerm.agreement_id == agreement.id)).all()
        # One reminder per due date, to whoever carries the case (models.my_work.case_carriers).
        owner = case_carrier(session, case_id)
        sent = 0
        for due, group in by_due_date(list(terms)):
            when = due.isoformat() if due else "协议约定时间"
            sent += tasks.notify(
                session,
                key=f"follow_up_due:case:{case_id}:{when if due else 'undated'}",
                user_id=owner,
                case_id=case_id,
                text=f"{case.case_no} {term_numbers([t.seq for t in group])}履行期限 {when}，请届时回访",
            )
        return sent


@process_flow("tiaojie-agreement")
async def agreement_flow(key: str) -> None:
    params = tasks.params_of(key)
    case_id = tasks.case_id_of(key)
    doc_id = tasks.issue_document(case_id, "agreement", f"agreement:{case_id}:{params['revision']}")
    attach_agreement_document(case_id, params["agreement_id"], doc_id)


@process_flow("tiaojie-signed")
async def signed_flow(key: str) -> None:
    case_id = tasks.case_id_of(key)
    schedule_follow_up_reminders(case_id)
    file_agreement_with_court(case_id)  # 委派: the agreement is filed with the court (特邀调解规定 第19条)


@process_flow("tiaojie-follow-up")
async def follow_up_flow(key: str) -> None:
    params = tasks.params_of(key)
    tasks.issue_document(tasks.case_id_of(key), "follow_up_record", f"follow_up:{params['follow_up_id']}")


def agreement_flow_key(case_id: int, revision: int) -> str:
    return f"agreement:{case_id}:{revision}"
