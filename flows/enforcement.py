"""From agreement to enforcement (issue 20): the actions the JSON routes and the case page share.

- `apply_judicial_confirmation`: the joint 司法确认申请书 and the 调解组织主持调解的证明 (人民调解法 第33条,
  民诉法 第205条, 民诉解释 第351—355条, 司法确认规定 第3条), refused with the reason and the article.
- `apply_payment_orders`: one 支付令申请书 per obligee for money terms a 回访 found unpaid after their due
  date (民诉法 第225条, 劳动争议调解仲裁法 第16条).
- `record_enforcement_step`: a step taken at a court or an arbitration commission (confirmed, 仲裁, 诉讼),
  recorded on the performance ledger.
- `send_jc_reminders`: the presiding mediator is reminded 7 days before the last day of 司法确认.
The rules are models/enforcement.py's; the documents documents/enforcement.py's.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlmodel import Session, col, select

from flows import tasks
from flows.messages import queue_message
from flows.notices import addressed_parties, open_deliveries
from flows.tasks import process_flow, step
from models.action_context import ActionContext
from models.agreement import Agreement, AgreementTerm, paid_so_far
from models.audit import record
from models.case import Case
from models.db import id_of
from models.deadlines import china_date
from models.enforcement import (
    EnforcementRecord,
    competent_court,
    jc_last_day,
    jc_refusal,
    payment_order_refusal,
    payment_order_terms,
    steps_of,
)
from models.enums import EnforcementStep, Stage
from models.law import citation
from models.lifecycle import FieldProblem, InvalidInput, InvalidInputs, TransitionNotAllowed
from models.my_work import case_carriers
from models.outbox import enqueue_after
from models.party import Party
from models.party_access import party_page_url
from models.schemas import EnforcementStepCreate, JudicialConfirmationCreate, PaymentOrdersCreate
from models.settings import get_settings
from models.user import User

JC_REMIND_DAYS = 7  # the presiding mediator hears of the 司法确认 last day a week ahead (issue 20)


def _signed_agreement(session: Session, case: Case) -> Agreement | None:
    return session.exec(select(Agreement).where(Agreement.case_id == case.id)).first()


def apply_judicial_confirmation(cmd: JudicialConfirmationCreate, ctx: ActionContext) -> EnforcementRecord:
    """The joint 司法确认 application of every party and the committee's certificate that it mediated."""
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    court = cmd.court
    agreement = _signed_agreement(session, case)
    today = china_date(now)
    refusal = jc_refusal(
        referral_kind=case.referral_kind,
        agreement=agreement,
        claims=case.claims,
        last_day=jc_last_day(session, case.referral_kind, agreement),
        today=today,
    )
    if refusal:
        raise TransitionNotAllowed(refusal)
    done = [s for s in steps_of(session, id_of(case)) if s.step == EnforcementStep.jc_applied]
    if done:
        raise TransitionNotAllowed(f"已于{done[0].on.isoformat()}制作司法确认申请书（{done[0].court}）")
    try:
        chosen, _basis = competent_court(
            referral_kind=case.referral_kind, court_name=get_settings().court_name, chosen=court
        )
    except ValueError as exc:
        raise InvalidInput(str(exc), field="court") from None
    step = EnforcementRecord(
        case_id=id_of(case),
        step=EnforcementStep.jc_applied.value,
        on=today,
        court=chosen,
        created_by=actor.id,
        created_at=now,
    )
    session.add(step)
    session.flush()
    _audit(session, step, actor=actor, now=now)
    enqueue_after(
        session, "judicial_confirmation", key=f"jc:{step.id}", case_id=case.id, params={"step_id": step.id}
    )
    return step


def apply_payment_orders(cmd: PaymentOrdersCreate, ctx: ActionContext) -> list[EnforcementRecord]:
    """One 支付令申请书 per obligee (and obligor) of the named money terms; every refusal named at once."""
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    term_ids, court = cmd.term_ids, cmd.court
    if not term_ids:
        raise InvalidInput("请选择申请支付令的条款", field="term_ids")
    agreement = _signed_agreement(session, case)
    if agreement is None or agreement.signed_at is None:
        raise TransitionNotAllowed("调解协议尚未签署生效，不能申请支付令")
    terms = {
        id_of(t): t
        for t in session.exec(select(AgreementTerm).where(AgreementTerm.agreement_id == agreement.id)).all()
    }
    unknown = [tid for tid in term_ids if tid not in terms]
    if unknown:
        raise InvalidInput("所选条款不属于本案协议", field="term_ids")
    chosen = [terms[tid] for tid in dict.fromkeys(term_ids)]
    paid = paid_so_far(session, [id_of(t) for t in chosen])
    applied = payment_order_terms(steps_of(session, id_of(case)))
    today = china_date(now)
    refusals = []
    for t in sorted(chosen, key=lambda t: t.seq):
        outstanding = (t.amount or Decimal(0)) - paid.get(id_of(t), Decimal(0))
        why = payment_order_refusal(
            session, id_of(case), t, outstanding=outstanding, applied_on=applied.get(id_of(t)), today=today
        )
        if why:
            refusals.append(why)
    if refusals:
        raise TransitionNotAllowed("；".join(refusals))
    parties = {p.name: p for p in session.exec(select(Party).where(Party.case_id == case.id)).all()}
    groups: dict[tuple[str, str], list[AgreementTerm]] = {}
    for t in sorted(chosen, key=lambda t: t.seq):
        groups.setdefault((t.obligee or "", t.obligor), []).append(t)
    problems = [
        FieldProblem("term_ids", f"第{ts[0].seq}项的{who}“{name}”不是本案当事人，无法列为{role}")
        for (obligee, obligor), ts in groups.items()
        for name, who, role in ((obligee, "权利人", "债权人"), (obligor, "义务人", "债务人"))
        if name not in parties
    ]
    if problems:
        raise InvalidInputs(problems)
    court = (court or "").strip() or get_settings().court_name
    steps = []
    for (obligee, _obligor), ts in groups.items():
        step = EnforcementRecord(
            case_id=id_of(case),
            party_id=parties[obligee].id,
            step=EnforcementStep.payment_order_applied.value,
            on=today,
            court=court,
            term_ids=[id_of(t) for t in ts],
            amount=sum(
                ((t.amount or Decimal(0)) - paid.get(id_of(t), Decimal(0)) for t in ts), Decimal("0.00")
            ),
            created_by=actor.id,
            created_at=now,
        )
        session.add(step)
        steps.append(step)
    session.flush()
    for step in steps:
        _audit(session, step, actor=actor, now=now)
    ids = [id_of(s) for s in steps]
    enqueue_after(
        session, "payment_orders", key=f"payment_orders:{ids[0]}", case_id=case.id, params={"step_ids": ids}
    )
    return steps


def record_enforcement_step(cmd: EnforcementStepCreate, ctx: ActionContext) -> EnforcementRecord:
    """A step taken outside the center (the court confirmed, an arbitration or a suit filed), on the
    ledger for one obligee or (without one) for every party."""
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    step, on, obligee_party_id, court, note = cmd.step, cmd.on, cmd.obligee_party_id, cmd.court, cmd.note
    try:
        kind = EnforcementStep(step)
    except ValueError:
        labels = "、".join(f"{k.value}（{k.label}）" for k in EnforcementStep)
        raise InvalidInput(f"执行步骤应为：{labels}", field="step") from None
    agreement = _signed_agreement(session, case)
    if agreement is None or agreement.signed_at is None:
        raise TransitionNotAllowed("调解协议尚未签署生效，不能登记履行保障步骤")
    if on > china_date(now):
        raise InvalidInput("日期不能晚于今天", field="on")
    if on < china_date(agreement.signed_at):
        raise InvalidInput(
            f"日期不能早于协议签署日期（{china_date(agreement.signed_at).isoformat()}）", field="on"
        )
    if obligee_party_id is not None:
        party = session.get(Party, obligee_party_id)
        if party is None or party.case_id != case.id:
            raise InvalidInput("该当事人不属于本案", field="obligee_party_id")
    steps = steps_of(session, id_of(case))
    if kind == EnforcementStep.jc_confirmed and not any(s.step == EnforcementStep.jc_applied for s in steps):
        raise TransitionNotAllowed("尚未申请司法确认，不能登记已司法确认")
    row = EnforcementRecord(
        case_id=id_of(case),
        party_id=obligee_party_id,
        step=kind.value,
        on=on,
        court=(court or "").strip() or None,
        note=(note or "").strip() or None,
        created_by=actor.id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    _audit(session, row, actor=actor, now=now)
    case.updated_at = now
    session.add(case)
    return row


def _audit(session: Session, step: EnforcementRecord, *, actor: User, now: datetime) -> None:
    # The step, its day, court and terms: no names, no notes (the note may name people).
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action=f"enforcement.{step.step}",
        entity="enforcement_step",
        entity_id=step.id,
        case_id=step.case_id,
        at=now,
        after={
            "step": step.step,
            "on": step.on.isoformat(),
            "party_id": step.party_id,
            "court": step.court,
            "term_ids": step.term_ids,
            "amount": str(step.amount) if step.amount is not None else None,
        },
    )


def send_jc_reminders(session: Session, now: datetime) -> int:
    """A reminder to whoever carries the case (its presiding mediator's account first) once the last
    day of 司法确认 is at most JC_REMIND_DAYS away and nobody applied yet; once per case and last day."""
    today = china_date(now)
    rows = session.exec(
        select(Case, Agreement)
        .join(Agreement, col(Agreement.case_id) == Case.id)
        .where(Case.stage == Stage.follow_up, col(Agreement.signed_at).is_not(None))
    ).all()
    applied = set(
        session.exec(
            select(EnforcementRecord.case_id).where(EnforcementRecord.step == EnforcementStep.jc_applied)
        ).all()
    )
    due: list[tuple[Case, date]] = []
    for case, agreement in rows:
        last = jc_last_day(session, case.referral_kind, agreement)
        if last is None or id_of(case) in applied:
            continue
        if last - timedelta(days=JC_REMIND_DAYS) <= today <= last:
            due.append((case, last))
    carriers = case_carriers(session, {id_of(c): c for c, _ in due})
    sent = 0
    for case, last in due:
        left = (last - today).days
        sent += tasks.notify(
            session,
            key=f"jc-last-day:{case.id}:{last.isoformat()}",
            user_id=carriers.get(id_of(case)),
            case_id=case.id,
            text=(
                f"{case.case_no} 申请司法确认的最后一日为{last.isoformat()}（还剩{left}天）："
                "当事人需要的，请协助其共同申请"
            ),
        )
        _tell_parties_jc_last_day(session, case, last, now)
    return sent


def _tell_parties_jc_last_day(session: Session, case: Case, last: date, now: datetime) -> None:
    """The same reminder by SMS (else e-mail) to each party who consented to electronic delivery
    (民诉法 第90条 by analogy): once per party and last day, however often the daily flow runs."""
    for party in session.exec(select(Party).where(Party.case_id == case.id).order_by(col(Party.id))).all():
        to, channel = (party.phone, "sms") if party.phone else (party.email, "email")
        if not party.consent_electronic or not to:
            continue
        queue_message(
            session,
            channel=channel,
            to=to,
            subject=f"申请司法确认的期限（{case.case_no}）" if channel == "email" else None,
            body=(
                f"【矛调中心】{party.name}：{case.case_no}的人民调解协议，申请司法确认的最后一日为"
                f"{last.year}年{last.month}月{last.day}日（{citation('pml_33').cite_short}）。"
                f"需要申请的，请与调解员联系。当事人页面：{party_page_url(session, party)}"
            ),
            purpose="jc_reminder",
            now=now,
            case_id=case.id,
            party_id=party.id,
            key=f"jc-last-day:{case.id}:{last.isoformat()}:party:{party.id}",
        )


@step
def issue_jc_documents(case_id: int, step_id: int) -> list[int]:
    """The 司法确认申请书 and the 调解组织主持调解的证明, each with a delivery record per party (they carry
    both to the court)."""
    # Loaded at first use: the document stack (WeasyPrint) costs seconds the CLI does not pay.
    from documents.issue import issue_document

    settings = get_settings()
    out = []
    with tasks.write_session() as session:
        for kind, key in (
            ("judicial_confirmation_application", f"judicial_confirmation:{step_id}"),
            ("mediation_certificate", f"mediation_certificate:{step_id}"),
        ):
            doc = issue_document(
                session,
                case_id=case_id,
                kind=kind,
                subject_key=key,
                data_dir=settings.data_dir,
                base_url=settings.public_base_url,
            )
            ids = [id_of(p) for p in addressed_parties(session, case_id, kind, per_party=False)]
            open_deliveries(session, case_id=case_id, document_id=id_of(doc), party_ids=ids)
            out.append(id_of(doc))
    return out


@step
def issue_payment_order_applications(case_id: int, step_ids: list[int]) -> list[int]:
    """One 支付令申请书 per step (per obligee), delivered to that obligee only."""
    # Loaded at first use: the document stack (WeasyPrint) costs seconds the CLI does not pay.
    from documents.issue import issue_document

    settings = get_settings()
    out = []
    with tasks.write_session() as session:
        for step_id in step_ids:
            step = session.get(EnforcementRecord, step_id)
            assert step is not None and step.party_id is not None, step_id
            doc = issue_document(
                session,
                case_id=case_id,
                kind="payment_order_application",
                subject_key=f"payment_order:{step_id}",
                data_dir=settings.data_dir,
                base_url=settings.public_base_url,
            )
            open_deliveries(session, case_id=case_id, document_id=id_of(doc), party_ids=[step.party_id])
            out.append(id_of(doc))
    return out


@process_flow("tiaojie-judicial-confirmation")
async def judicial_confirmation_flow(key: str) -> None:
    issue_jc_documents(tasks.case_id_of(key), tasks.params_of(key)["step_id"])


@process_flow("tiaojie-payment-orders")
async def payment_orders_flow(key: str) -> None:
    issue_payment_order_applications(tasks.case_id_of(key), list(tasks.params_of(key)["step_ids"]))


def enforcement_options(session: Session, case: Case, now: datetime) -> dict:
    """What the case page offers, by the same rules the actions apply: why 司法确认 cannot be applied
    for (or the court it goes to), and each unpaid money term with the reason it cannot go to a 支付令
    yet (None: it can)."""
    agreement = _signed_agreement(session, case)
    today = china_date(now)
    steps = steps_of(session, id_of(case))
    jc_done = next((s for s in steps if s.step == EnforcementStep.jc_applied), None)
    refusal = jc_refusal(
        referral_kind=case.referral_kind,
        agreement=agreement,
        claims=case.claims,
        last_day=jc_last_day(session, case.referral_kind, agreement),
        today=today,
    )
    court, basis = competent_court(
        referral_kind=case.referral_kind, court_name=get_settings().court_name, chosen=None
    )
    terms: list[dict] = []
    if agreement is not None and agreement.signed_at is not None:
        rows = session.exec(
            select(AgreementTerm)
            .where(AgreementTerm.agreement_id == agreement.id, col(AgreementTerm.amount).is_not(None))
            .order_by(col(AgreementTerm.seq))
        ).all()
        paid = paid_so_far(session, [id_of(t) for t in rows])
        applied = payment_order_terms(steps)
        for t in rows:
            outstanding = (t.amount or Decimal(0)) - paid.get(id_of(t), Decimal(0))
            if outstanding <= 0:
                continue
            why = payment_order_refusal(
                session,
                id_of(case),
                t,
                outstanding=outstanding,
                applied_on=applied.get(id_of(t)),
                today=today,
            )
            terms.append(
                {
                    "id": t.id,
                    "seq": t.seq,
                    "obligee": t.obligee,
                    "obligation": t.obligation,
                    "outstanding": outstanding,
                    "due_date": t.due_date,
                    "refusal": why,
                }
            )
    return {
        "jc_done": jc_done,
        "jc_refusal": refusal,
        "jc_court": court,
        "jc_pre_filing": basis == "cpl_205_1",
        "order_terms": terms,
    }
