"""From agreement to enforcement (issue 20): the enforcement steps taken on a case, the rules that say
when a 司法确认 application or a 支付令 application may be made, which court each goes to, and the
performance ledger (per obligee: agreed, paid, when, which step).

人民调解法 第33条 and 民诉法 第205条: both parties apply within 30 days of the agreement taking effect,
to the inviting court (委派) or a basic court of the committee's seat, a party's domicile or the object's
place; 民诉解释 第355条 excludes 身份关系 and 物权/知识产权确权; a court-entrusted (委托) agreement becomes
the court's own 调解书 (特邀调解规定 第20条). 民诉法 第225条 and 劳动争议调解仲裁法 第16条: a money term the
obligor did not pay within the agreed time may go to a 支付令."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Text
from sqlmodel import Field, Session, SQLModel, col, select

from models.agreement import (
    Agreement,
    AgreementTerm,
    FollowUp,
    TermPayment,
    judicial_confirmation_open,
    paid_so_far,
    term_name,
)
from models.case import Case
from models.clocks import DueDate, due_date
from models.db import JSONType, UTCDateTime, utcnow
from models.deadlines import china_date, work_calendar
from models.enums import ClockCode, EnforcementStep, ReferralKind, TermState
from models.law import citation, is_ownership_claim
from models.money import Money
from models.party import Party
from models.tz import CHINA


class EnforcementRecord(SQLModel, table=True):
    """One enforcement step on a case: for one obligee (`party_id`), or for every party (a joint
    司法确认 application: `party_id` NULL). The documents it issued hang on its subject keys."""

    __tablename__ = "enforcement_steps"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    party_id: int | None = Field(default=None, foreign_key="parties.id")
    step: str = Field(max_length=24, description="models.enums.EnforcementStep")
    on: date = Field(description="the day the step was taken (applied, confirmed, filed)")
    court: str | None = Field(default=None, max_length=120)
    note: str | None = Field(default=None, sa_type=Text)
    # The terms a 支付令 application claims (their outstanding sums make its amount).
    term_ids: list[int] = Field(default_factory=list, sa_type=JSONType)
    amount: Decimal | None = Field(default=None, sa_type=Money)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# 劳动争议调解仲裁法 第16条: 拖欠劳动报酬、工伤医疗费、经济补偿或者赔偿金 — the obligations it names.
_LABOR_16 = re.compile(r"工资|劳动报酬|薪|工伤医疗费|医疗费|经济补偿|赔偿金")


def labor_16_applies(category: str, obligations: list[str]) -> bool:
    return category == "labor" and any(_LABOR_16.search(o or "") for o in obligations)


def jc_refusal(
    *,
    referral_kind: str | None,
    agreement: Agreement | None,
    claims: str | None,
    last_day: date | None,
    today: date,
) -> str | None:
    """Why a 司法确认 application cannot be made (Chinese, with the article), or None."""
    if referral_kind == ReferralKind.court_post_filing:
        basis = citation("special_20")
        return (
            f"本案系人民法院立案后委托调解的案件，调解协议由人民法院审查并制作调解书结案，不适用司法确认"
            f"（{basis.cite_short}）"
        )
    if agreement is None or agreement.signed_at is None:
        return (
            f"调解协议尚未签署生效，不能申请司法确认（{citation('pml_33').cite_short}：自调解协议生效之日起）"
        )
    if agreement.status_relation:
        basis = citation("cpl_interp_355_3")
        return f"调解协议涉及婚姻、亲子、收养等身份关系，人民法院不予受理司法确认申请（{basis.cite_short}）"
    if is_ownership_claim(claims, rights_confirmation=agreement.rights_confirmation):
        basis = citation("cpl_interp_355_5")
        return f"调解协议内容涉及物权、知识产权确权，人民法院不予受理司法确认申请（{basis.cite_short}）"
    if last_day is not None and today > last_day:
        return (
            f"申请司法确认的期限已过：最后一日为{last_day.year}年{last_day.month}月{last_day.day}日"
            f"（{citation('pml_33').cite_short}、{citation('cpl_205').cite_short}：自调解协议生效之日起三十日内）"
        )
    return None


def competent_court(*, referral_kind: str | None, court_name: str, chosen: str | None) -> tuple[str, str]:
    """(the court, the key of its basis). 委派: the court that invited the committee (民诉法 第205条第（一）
    项); otherwise the basic court where the committee sits unless the parties chose a party's domicile or
    the object's place (第（二）项). Raises ValueError with the Chinese reason for a 委派 case sent
    elsewhere."""
    chosen = (chosen or "").strip() or None
    if referral_kind == ReferralKind.court_pre_filing:
        if chosen and chosen != court_name:
            raise ValueError(
                f"委派调解的案件应向作出委派的{court_name}申请司法确认（{citation('cpl_205_1').cite_short}）"
            )
        return court_name, "cpl_205_1"
    return chosen or court_name, "cpl_205_2"


def latest_visit_after(session: Session, case_id: int, term: AgreementTerm) -> tuple[FollowUp, str] | None:
    """The latest 回访 after the term's due date that named the term, and what it found."""
    if term.due_date is None:
        return None
    found: tuple[FollowUp, str] | None = None
    visits = session.exec(
        select(FollowUp)
        .where(FollowUp.case_id == case_id)
        .order_by(col(FollowUp.visited_at), col(FollowUp.id))
    ).all()
    for visit in visits:
        if china_date(visit.visited_at) <= term.due_date:
            continue
        for item in visit.term_states or []:
            if item.get("term_id") == term.id and item.get("state"):
                found = (visit, item["state"])
    return found


def payment_order_refusal(
    session: Session,
    case_id: int,
    term: AgreementTerm,
    *,
    outstanding: Decimal,
    applied_on: date | None,
    today: date,
) -> str | None:
    """Why no 支付令 may be applied for on this term (Chinese, with the article), or None."""
    name = term_name(term)
    basis = citation("cpl_225").cite_short
    if term.amount is None:
        return f"{name}不是给付金钱的条款，不能申请支付令（{basis}：请求给付金钱、有价证券）"
    if outstanding <= 0:
        return f"{name}经回访已履行完毕，不能申请支付令"
    if term.due_date is None or today <= term.due_date:
        due = term.due_date.isoformat() if term.due_date else "未约定"
        return (
            f"{name}的履行期限（最后一日{due}）尚未届满，不能申请支付令"
            f"（{citation('labor_16').cite_short}：在协议约定期限内不履行的）"
        )
    visit = latest_visit_after(session, case_id, term)
    if visit is None:
        return f"{name}履行期限届满后尚无回访记录其未履行：请先回访并登记已付金额，再申请支付令"
    if visit[1] == TermState.performed:
        return f"{name}经回访已履行完毕，不能申请支付令"
    if applied_on is not None:
        return f"{name}已于{applied_on.isoformat()}申请支付令"
    return None


def steps_of(session: Session, case_id: int) -> list[EnforcementRecord]:
    return list(
        session.exec(
            select(EnforcementRecord)
            .where(EnforcementRecord.case_id == case_id)
            .order_by(col(EnforcementRecord.on), col(EnforcementRecord.id))
        ).all()
    )


def payment_order_terms(steps: list[EnforcementRecord]) -> dict[int, date]:
    """Each term already claimed in a 支付令 application, with the day it was applied for."""
    return {
        tid: s.on
        for s in steps
        if s.step == EnforcementStep.payment_order_applied
        for tid in s.term_ids or []
    }


def ledger(session: Session, case_id: int) -> list[dict[str, Any]]:
    """The performance ledger: per obligee of a money term, what was agreed, paid (and the last day
    paid), still owed, and the enforcement steps taken for them (a joint 司法确认 counts for each)."""
    agreement = session.exec(select(Agreement).where(Agreement.case_id == case_id)).first()
    if agreement is None:
        return []
    terms = [
        t
        for t in session.exec(
            select(AgreementTerm)
            .where(AgreementTerm.agreement_id == agreement.id)
            .order_by(col(AgreementTerm.seq))
        ).all()
        if t.amount is not None
    ]
    paid = paid_so_far(session, [t.id or 0 for t in terms])
    last_paid: dict[int, date] = {}
    for payment in session.exec(
        select(TermPayment)
        .where(col(TermPayment.term_id).in_([t.id for t in terms]))
        .order_by(col(TermPayment.paid_on))
    ).all():
        last_paid[payment.term_id] = payment.paid_on
    parties = {p.name: p for p in session.exec(select(Party).where(Party.case_id == case_id)).all()}
    steps = steps_of(session, case_id)
    rows: dict[str, dict[str, Any]] = {}
    for t in terms:
        key = t.obligee or "（未填写权利人）"
        party = parties.get(t.obligee or "")
        row = rows.setdefault(
            key,
            {
                "obligee": key,
                "party_id": party.id if party else None,
                "seqs": [],
                "agreed": Decimal("0.00"),
                "paid": Decimal("0.00"),
                "outstanding": Decimal("0.00"),
                "last_paid_on": None,
                "steps": [],
            },
        )
        got = paid.get(t.id or 0, Decimal("0.00"))
        row["seqs"].append(t.seq)
        row["agreed"] += t.amount or Decimal(0)
        row["paid"] += got
        row["outstanding"] += (t.amount or Decimal(0)) - got
        when = last_paid.get(t.id or 0)
        if when and (row["last_paid_on"] is None or when > row["last_paid_on"]):
            row["last_paid_on"] = when
    for row in rows.values():
        row["steps"] = [
            {
                "id": s.id,
                "step": s.step,
                "label": EnforcementStep(s.step).label,
                "on": s.on,
                "court": s.court,
                "note": s.note,
            }
            for s in steps
            if s.party_id is None or s.party_id == row["party_id"]
        ]
    return list(rows.values())


def steps_line(steps: list[dict[str, Any]]) -> str:
    """ "2027-01-05 已申请支付令；2027-01-20 已司法确认": the steps of a ledger row on one line."""
    return "；".join(f"{s['on'].isoformat()} {s['label']}" for s in steps)


def jc_last_day(session: Session, referral_kind: str | None, agreement: Agreement | None) -> date | None:
    """The last day to apply for 司法确认 (人民调解法 第33条: 30 days from the agreement taking effect,
    counted per 民诉法 第85条), or None where it is not open or the agreement is not signed."""
    if agreement is None or agreement.signed_at is None:
        return None
    if not judicial_confirmation_open(
        referral_kind=referral_kind,
        rights_confirmation=agreement.rights_confirmation,
        status_relation=agreement.status_relation,
    ):
        return None
    start = agreement.signed_at.astimezone(CHINA).date()
    return due_date(ClockCode.judicial_confirmation, start, work_calendar(session)).due


def judicial_confirmation_due(session: Session, agreement: Agreement) -> DueDate | None:
    """人民调解法 第33条: both parties may apply within 30 days of the agreement taking effect (None where
    司法确认 is not open: 委托 cases, 确权, 身份关系 — models.agreement.judicial_confirmation_open)."""
    if agreement.signed_at is None:
        return None
    case = session.get(Case, agreement.case_id)
    if case is not None and not judicial_confirmation_open(
        referral_kind=case.referral_kind,
        rights_confirmation=agreement.rights_confirmation,
        status_relation=agreement.status_relation,
    ):
        return None
    return due_date(
        ClockCode.judicial_confirmation, agreement.signed_at.astimezone(CHINA).date(), work_calendar(session)
    )
