"""The mediation agreement (人民调解协议书), its terms, the oral agreement (口头协议) and the follow-up
visits (回访)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, func, select

from models.base import version_column
from models.case import LegalOpinion
from models.db import JSONType, UTCDateTime, utcnow
from models.enums import Category, OralPerformance, ReferralKind, TermState
from models.law import citation
from models.money import Money

_version = version_column()


class Agreement(SQLModel, table=True):
    __tablename__ = "agreements"
    __mapper_args__ = {"version_id_col": _version}

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", unique=True)
    facts: str | None = Field(default=None, sa_type=Text)
    disputes: str | None = Field(default=None, sa_type=Text)
    responsibility: str | None = Field(default=None, sa_type=Text)
    # 民诉解释 第355条: an agreement on 物权、知识产权确权 or on 身份关系 is not judicially confirmed.
    rights_confirmation: bool = Field(default=False, description="协议内容涉及物权、知识产权确权")
    status_relation: bool = Field(default=False, description="协议涉及婚姻、亲子、收养等身份关系")
    drafted_by: int | None = Field(default=None, foreign_key="users.id")
    performance_method: str = Field(sa_type=Text)
    performance_place: str | None = Field(default=None, max_length=200)
    # 婚姻、收养、继承: signed in ink, never electronically.
    ink_only: bool = False
    revision: int = Field(default=1, description="corrected before signing → a new document version")
    issued_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    signed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    document_id: int | None = Field(default=None, foreign_key="documents.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    version: int = Field(default=1, sa_column=_version)
    # Signed over the latest lawyer disapproval of this draft (flows/agreement.sign_agreement): who
    # decided, when, why, and which opinion was overridden. NULL: no disapproval stood at signing.
    override_reason: str | None = Field(default=None, sa_type=Text)
    override_by: int | None = Field(default=None, foreign_key="users.id")
    override_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    override_opinion_id: int | None = Field(default=None, foreign_key="legal_opinions.id")


class AgreementTerm(SQLModel, table=True):
    __tablename__ = "agreement_terms"
    __table_args__ = (UniqueConstraint("agreement_id", "seq", name="uq_term_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreements.id", index=True)
    seq: int
    obligor: str = Field(max_length=120)
    # One obligee per term (several obligees → one term each, so each amount stands on its own).
    # NULL only on terms recorded before v1.1.
    obligee: str | None = Field(default=None, max_length=120)
    obligation: str = Field(sa_type=Text)
    amount: Decimal | None = Field(default=None, sa_type=Money)
    due_date: date | None = None
    # How and where this term is performed when it differs from the agreement's performance method/place.
    method: str | None = Field(default=None, sa_type=Text)
    place: str | None = Field(default=None, max_length=200)
    performed: bool = False
    performed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # As found at the latest follow-up (models.enums.TermState); NULL until the first visit.
    state: str | None = Field(default=None, max_length=16)


# 民诉解释 第358条(五): a court rejects an agreement whose content is unclear. Every term names who owes
# what to whom, how, where and by when; the reason names the missing part (in the order a reader asks).
TERM_PARTS = (
    ("obligor", "请填写义务人"),
    ("obligee", "请填写权利人"),
    ("obligation", "请填写义务内容（具体给付什么或做什么）"),
    ("due_date", "请填写履行期限"),
)
# "张三、李四" or "张建国等17人" as one obligee hides who gets how much: one term per obligee.
_SEVERAL = re.compile(r"[、，,;；/]|等.{0,6}人")


def term_problem(term: dict, *, method: str | None, place: str | None) -> tuple[str, str] | None:
    """(field, Chinese reason) of the first part a term lacks, or None when the term is complete.
    `method` and `place` are the agreement's own, which a term without its own inherits."""
    for key, reason in TERM_PARTS:
        value = term.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return key, reason
    if (term["obligor"] or "").strip() == (term["obligee"] or "").strip():
        return "obligee", "权利人与义务人不能是同一人"
    if not ((term.get("method") or "").strip() or (method or "").strip()):
        return "method", "请填写履行方式"
    # A money term needs no place: the law supplies the obligee's (民法典 第511条第（三）项; CONTRACT v1.2).
    if term.get("amount") is None and not ((term.get("place") or "").strip() or (place or "").strip()):
        return "place", "请填写履行地点（本项或协议的履行地点）"
    amount = term.get("amount")
    if amount is not None:
        if Decimal(amount) <= 0:
            return "amount", "金额应大于零"
        if _SEVERAL.search(term["obligee"]):
            return "obligee", "给付金钱的条款只能有一名权利人：多名权利人的，请按人分列条款并各写明金额"
    return None


def judicial_confirmation_open(
    *, referral_kind: str | None, rights_confirmation: bool, status_relation: bool
) -> bool:
    """Whether the parties may apply for 司法确认 (人民调解法 第33条).

    Not for a case the court entrusted after filing: the court makes the 调解书 (特邀调解规定 第20条);
    not for 物权、知识产权确权 or 身份关系 (民诉解释 第355条). A labor agreement may: 第33条 covers
    every agreement a 人民调解委员会 reaches, a 基层人民调解组织 is a labor mediation organisation
    (劳动争议调解仲裁法 第10条), and 第355条 does not exclude labor disputes."""
    return referral_kind != ReferralKind.court_post_filing and not rights_confirmation and not status_relation


def agreement_notices(
    *,
    category: str,
    referral_kind: str | None,
    rights_confirmation: bool,
    status_relation: bool,
    court: str,
    last_day: date | None = None,
    counted_from: date | None = None,
) -> list[str]:
    """The notices printed on the agreement, by regime; every citation from models.law. `last_day`: the
    last day to apply for 司法确认 (issue 20), counted from the signing day, or, on a draft, from
    `counted_from` (the day it is printed to be signed; the sentence says so)."""
    notices = [
        "本协议自各方当事人签名（盖章或按指印）、人民调解员签名并加盖人民调解委员会印章之日起生效。"
        f"{citation('pml_31').paragraph(1)[:-1]}（{citation('pml_31').cite}）。"
    ]
    if referral_kind == ReferralKind.court_post_filing:
        notices.append(
            f"委托调解告知：本案系{court}立案后委托调解的案件。本委员会将本协议提交{court}，"
            f"由人民法院审查并制作调解书结案（{citation('special_20').cite}）。"
        )
        return notices
    if category == Category.labor:
        notices += [
            f"不履行的救济：{citation('labor_15').text[:-1]}（{citation('labor_15').cite}）。",
            f"支付令：{citation('labor_16').text}（{citation('labor_16').cite}）",
            f"仲裁时效：{citation('labor_27').paragraph(1)}{citation('labor_27').paragraph(2)}"
            f"（{citation('labor_27').cite}）",
        ]
    if judicial_confirmation_open(
        referral_kind=referral_kind, rights_confirmation=rights_confirmation, status_relation=status_relation
    ):
        inviting = "（作出委派的人民法院）" if referral_kind == ReferralKind.court_pre_filing else ""
        last = ""
        if last_day is not None:
            assumed = (
                f"（本协议于{counted_from.year}年{counted_from.month}月{counted_from.day}日签署生效的）"
                if counted_from
                else ""
            )
            last = f"{assumed}申请司法确认的最后一日为{last_day.year}年{last_day.month}月{last_day.day}日。"
        notices.append(
            "司法确认告知：各方当事人认为有必要的，可以自本协议生效之日起三十日内，"
            f"共同向{court}{inviting}申请司法确认。{last}{citation('pml_33').paragraph(2)[:-1]}"
            f"（{citation('pml_33').cite}，{citation('cpl_205').cite}、"
            f"{citation('cpl_206').cite}）。"
        )
    return notices


class FollowUp(SQLModel, table=True):
    """A follow-up visit (回访记录): the committee supervises performance (人民调解法 第31条)."""

    __tablename__ = "follow_ups"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    term_id: int | None = Field(default=None, foreign_key="agreement_terms.id")
    performed: bool = Field(description="every term named at this visit was found performed")
    notes: str | None = Field(default=None, sa_type=Text)
    visited_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor_id: int | None = Field(default=None, foreign_key="users.id")
    method: str | None = Field(default=None, max_length=16, description="models.enums.FollowUpMethod")
    visited_person: str | None = Field(default=None, max_length=120, description="被回访人")
    opinion: str | None = Field(default=None, sa_type=Text, description="当事人意见")
    # [{"term_id", "state"}] as found at this visit (models.enums.TermState).
    term_states: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    # v1.2: the parties' satisfaction (models.enums.Satisfaction, "1"–"4"); NULL: not asked or no answer.
    satisfaction: str | None = Field(default=None, max_length=1)


class TermPayment(SQLModel, table=True):
    """A payment on a money term as reported at a 回访: how much, on which day. A term's paid sum is the
    sum of its payments (never more than its amount: `payment_problem`)."""

    __tablename__ = "term_payments"
    id: int | None = Field(default=None, primary_key=True)
    term_id: int = Field(foreign_key="agreement_terms.id", index=True)
    follow_up_id: int = Field(foreign_key="follow_ups.id", index=True)
    amount: Decimal = Field(sa_type=Money)
    paid_on: date
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def paid_so_far(session: Session, term_ids: list[int]) -> dict[int, Decimal]:
    """Each term's paid sum (SUM in SQL: exact on both databases, models/money.py)."""
    if not term_ids:
        return {}
    rows = session.exec(
        select(TermPayment.term_id, func.sum(TermPayment.amount))
        .where(col(TermPayment.term_id).in_(term_ids))
        .group_by(col(TermPayment.term_id))
    ).all()
    # func.sum keeps the column's type (Money): 分 on SQLite come back as 元.
    return dict(rows)


def term_name(term: AgreementTerm) -> str:
    """第3项（权利人：工人02）: how an answer names a term, so a clerk finds the worker at once."""
    return f"第{term.seq}项（权利人：{term.obligee}）" if term.obligee else f"第{term.seq}项"


def payment_problem(
    term: AgreementTerm,
    *,
    paid_before: Decimal,
    paid_now: Decimal,
    paid_on: date | None,
    signed_on: date,
    today: date,
) -> tuple[str, str] | None:
    """(field, Chinese reason) a payment reported at a visit cannot be kept, or None."""
    name = term_name(term)
    if term.amount is None:
        return "paid_amount", f"{name}不是给付金钱的条款，不能填写已付金额"
    if paid_now > 0 and paid_on is None:
        return "paid_on", f"请填写{name}的付款日期"
    if paid_on is not None and paid_on > today:
        return "paid_on", f"{name}的付款日期不能晚于今天"
    if paid_on is not None and paid_on < signed_on:
        return "paid_on", f"{name}的付款日期不能早于协议签署日期（{signed_on.isoformat()}）"
    if paid_before + paid_now > term.amount:
        return "paid_amount", (
            f"{name}累计已付金额不能超过约定金额{term.amount:,}元"
            f"（此前已付{paid_before:,}元，本次{paid_now:,}元，最多还可付{term.amount - paid_before:,}元）"
        )
    return None


def state_after_payment(
    term: AgreementTerm, *, paid: Decimal, stated: str | None
) -> tuple[str | None, str | None]:
    """(state, Chinese reason it is refused) of a money term whose payments now sum to `paid`.

    Paid in full → 已履行, unless the visit says otherwise (the money came but, say, the receipt is
    disputed: the staff's word stands). Part paid → 部分履行 only: 已履行 would close a case over money
    still owed, and 未履行 / 未到期 would hide what was paid. Nothing paid → the state the visit gives."""
    assert term.amount is not None
    if paid >= term.amount:
        return stated or TermState.performed.value, None
    if paid > 0:
        if stated in (None, TermState.partly.value):
            return TermState.partly.value, None
        return None, f"{term_name(term)}已付{paid:,}元，尚欠{term.amount - paid:,}元，履行情况应为部分履行"
    if stated is None:
        return None, f"请填写{term_name(term)}的履行情况或已付金额"
    return stated, None


def performance_rows(terms: list[AgreementTerm], paid: dict[int, Decimal]) -> list[dict[str, Any]]:
    """Per money term what was agreed, paid and is still owed (the case's `performance`)."""
    rows = []
    for t in sorted(terms, key=lambda t: t.seq):
        if t.amount is None:
            continue
        got = paid.get(t.id or 0, Decimal("0.00"))
        rows.append(
            {
                "term_id": t.id,
                "seq": t.seq,
                "obligor": t.obligor,
                "obligee": t.obligee,
                "amount": t.amount,
                "paid": got,
                "outstanding": t.amount - got,
            }
        )
    return rows


def performance_by_obligee(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows summed per obligee (first appearance order): what a worker on the phone asks."""
    groups: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = r["obligee"] or "（未填写权利人）"
        g = groups.setdefault(
            key,
            {
                "obligee": key,
                "seqs": [],
                "amount": Decimal("0.00"),
                "paid": Decimal("0.00"),
                "outstanding": Decimal("0.00"),
            },
        )
        g["seqs"].append(r["seq"])
        for k in ("amount", "paid", "outstanding"):
            g[k] += r[k]
    return list(groups.values())


def standing_disapproval(session: Session, agreement: Agreement | None) -> LegalOpinion | None:
    """The lawyer's disapproval that stands on the current draft: the latest opinion with a verdict
    given on this revision, when it disapproves (a later approval of the same draft lifts it; an
    opinion on an earlier draft does not bind the corrected one)."""
    if agreement is None:
        return None
    latest = session.exec(
        select(LegalOpinion)
        .where(
            LegalOpinion.case_id == agreement.case_id,
            LegalOpinion.agreement_revision == agreement.revision,
            col(LegalOpinion.approved).is_not(None),
        )
        .order_by(col(LegalOpinion.created_at).desc(), col(LegalOpinion.id).desc())
    ).first()
    return latest if latest is not None and latest.approved is False else None


def latest_term_states(session: Session, case_id: int, terms: list[AgreementTerm]) -> dict[int, str | None]:
    """Each term's state as found at the latest 回访 that named it (by visit time, then by entry: a visit
    entered late for an earlier day does not overrule a later one). A term no visit named keeps what the
    term row says (rows recorded before per-term states: performed or nothing)."""
    states: dict[int, str | None] = {
        t.id or 0: t.state or (TermState.performed.value if t.performed else None) for t in terms
    }
    visits = session.exec(
        select(FollowUp)
        .where(FollowUp.case_id == case_id)
        .order_by(col(FollowUp.visited_at), col(FollowUp.id))
    ).all()
    for visit in visits:
        for item in visit.term_states or []:
            if item.get("term_id") in states:
                states[item["term_id"]] = item.get("state")
    return states


def unperformed_terms(session: Session, agreement: Agreement | None) -> list[AgreementTerm]:
    """The terms not performed yet, by seq: the latest 回访 did not find them 已履行, or money is still
    owed on them. The one rule read by the closing page, the 结案 action and the case page."""
    if agreement is None:
        return []
    terms = list(
        session.exec(
            select(AgreementTerm)
            .where(AgreementTerm.agreement_id == agreement.id)
            .order_by(col(AgreementTerm.seq))
        ).all()
    )
    states = latest_term_states(session, agreement.case_id, terms)
    paid = paid_so_far(session, [t.id or 0 for t in terms])
    return [
        t
        for t in terms
        if states[t.id or 0] != TermState.performed
        or (t.amount is not None and paid.get(t.id or 0, Decimal(0)) < t.amount)
    ]


def unperformed_summary(session: Session, agreement: Agreement, terms: list[AgreementTerm]) -> str:
    """ "第11至17项部分履行、第18项未到履行期": the terms not performed, grouped by what the latest visit
    found (money still owed on a term found 已履行 says so)."""
    states = latest_term_states(session, agreement.case_id, terms)
    groups: dict[str, list[int]] = {}
    for t in terms:
        state = states[t.id or 0]
        label = TermState(state).label if state and state != TermState.performed else "尚未回访"
        if state == TermState.performed:
            label = "尚有欠款"
        groups.setdefault(label, []).append(t.seq)
    return "，".join(f"{term_numbers(seqs)}{label}" for label, seqs in groups.items())


def still_due(terms: list[AgreementTerm]) -> list[AgreementTerm]:
    """The given terms (models.agreement.unperformed_terms) by due date (no date last): what the
    follow-up still waits for."""
    return sorted(terms, key=lambda t: (t.due_date is None, t.due_date or date.min, t.seq))


def by_due_date(terms: list[AgreementTerm]) -> list[tuple[date | None, list[AgreementTerm]]]:
    """Terms grouped by due date (no date last), each group by seq: one 回访 and one reminder per date,
    not one per term (17 workers paid on one day are one visit)."""
    groups: dict[date | None, list[AgreementTerm]] = {}
    for term in sorted(terms, key=lambda t: t.seq):
        groups.setdefault(term.due_date, []).append(term)
    return sorted(groups.items(), key=lambda g: (g[0] is None, g[0] or date.min))


def term_numbers(seqs: list[int]) -> str:
    """ "第1至17项", "第1、3、5至7项": the terms a reminder is about, runs shortened."""
    runs: list[list[int]] = []
    for n in sorted(set(seqs)):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    parts = [
        str(r[0]) if len(r) == 1 else f"{r[0]}、{r[1]}" if len(r) == 2 else f"{r[0]}至{r[-1]}" for r in runs
    ]
    return f"第{'、'.join(parts)}项"


_oral_version = version_column()


class OralAgreement(SQLModel, table=True):
    """人民调解法 第28条: where the parties need no written agreement they may agree orally, and the
    mediator records its content in the 人民调解记录 of the session where it was reached. A party may
    still ask for a written 人民调解协议书 (made through the normal agreement flow from these terms)."""

    __tablename__ = "oral_agreements"
    __mapper_args__ = {"version_id_col": _oral_version}

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", unique=True)
    session_id: int = Field(foreign_key="mediation_sessions.id", index=True)
    # [{"obligor", "obligee", "obligation", "amount" (str|None), "due_date" (ISO), "method", "place"}]
    terms: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    # Each party's consent as recorded: [{"party", "agrees": bool, "words"}].
    consents: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    performance: str = Field(max_length=16, description="models.enums.OralPerformance")
    performed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    performance_note: str | None = Field(default=None, sa_type=Text)
    # A party's request for a written agreement (人民调解法 第28条) and the agreement made from it.
    written_requested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    written_requested_by: str | None = Field(default=None, max_length=120)
    agreement_id: int | None = Field(default=None, foreign_key="agreements.id")
    recorded_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    version: int = Field(default=1, sa_column=_oral_version)

    @property
    def performed(self) -> bool:
        return self.performance == OralPerformance.on_the_spot or self.performed_at is not None


# An oral term still names who owes what to whom (人民调解法 第28条: the mediator records its content).
ORAL_TERM_PARTS = TERM_PARTS[:3]


def oral_term_problem(term: dict, *, performance: str) -> tuple[str, str] | None:
    """(field, Chinese reason) of the first part an oral term lacks. Performed on the spot, it needs no
    deadline (the session's day is its date); performed later, it needs one."""
    for key, reason in ORAL_TERM_PARTS:
        value = term.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return key, reason
    if (term["obligor"] or "").strip() == (term["obligee"] or "").strip():
        return "obligee", "权利人与义务人不能是同一人"
    if performance == OralPerformance.later and not term.get("due_date"):
        return "due_date", "约定日后履行的，请填写履行期限"
    amount = term.get("amount")
    if amount is not None:
        if Decimal(amount) <= 0:
            return "amount", "金额应大于零"
        if _SEVERAL.search(term["obligee"]):
            return "obligee", "给付金钱的条款只能有一名权利人：多名权利人的，请按人分列条款并各写明金额"
    return None


def statutory_place(obligee: str) -> str:
    """The place the law supplies for a money term whose agreement names none (民法典 第511条第（三）项:
    给付货币的，在接受货币一方所在地履行)."""
    from models.law import ARTICLES

    return f"{obligee}（接受货币一方）所在地（{ARTICLES['civil_511_3'].cite_short}）"


def is_unsigned_print(kind: str, agreement: Agreement | None) -> bool:
    """An agreement print while the agreement is unsigned: /verify calls it 未签署打印稿, never plainly
    真实有效 (it takes effect only once signed and sealed: 人民调解法 第29条)."""
    return kind == "agreement" and (agreement is None or agreement.signed_at is None)
