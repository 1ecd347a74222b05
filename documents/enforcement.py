"""Context builders of the documents from agreement to enforcement (issue 20).

Subject keys (documents.issue: one document per key):
- judicial_confirmation_application `judicial_confirmation:{step}`  司法确认申请书 (joint, every party)
- mediation_certificate             `mediation_certificate:{step}` 调解组织主持调解的证明
- payment_order_application         `payment_order:{step}`         支付令申请书, one obligee's only
- court_filing                      `court_filing:{case}`          委派调解协议备案函
- court_return                      `court_return:{case}`          委派（委托）调解终结移交函
Every article printed comes from models/law.py with its words.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from documents.context import _base, _panel, _parties, _party, _presiding, _term_line, subject_of
from documents.money import amount_in_chinese_capitals
from models.agreement import Agreement, AgreementTerm, FollowUp, paid_so_far
from models.case import Case
from models.deadlines import china_date
from models.document import Document
from models.enforcement import EnforcementRecord, jc_last_day, labor_16_applies, latest_visit_after
from models.enums import Category, DocumentKind, ReferralKind, SessionOutcome
from models.law import citation as law
from models.mediation_session import MediationSession
from models.money import format_amount
from models.party import Party
from models.settings import get_settings


def _article(key: str) -> dict:
    a = law(key)
    return {"cite": a.cite_short, "words": list(a.paragraphs)}


def _step(session: Session, subject: str) -> EnforcementRecord:
    step = session.get(EnforcementRecord, int(subject.split(":")[1]))
    assert step is not None, subject  # the flow issues documents of recorded steps only
    return step


def _agreement(session: Session, case: Case) -> tuple[Agreement, list[AgreementTerm]]:
    agr = session.exec(select(Agreement).where(Agreement.case_id == case.id)).one()
    terms = list(
        session.exec(
            select(AgreementTerm).where(AgreementTerm.agreement_id == agr.id).order_by(col(AgreementTerm.seq))
        ).all()
    )
    return agr, terms


def _agreement_ref(session: Session, case: Case, agr: Agreement) -> dict:
    """How the agreement is referred to: its date, number (the committee's document number or the case
    number) and the printed document's code and fingerprint."""
    doc = session.get(Document, agr.document_id) if agr.document_id else None
    base = _base(session, case)
    return {
        "signed_on": china_date(agr.signed_at) if agr.signed_at else None,
        "number": base.get("doc_no") or case.case_no,
        "verify_code": doc.verify_code if doc else "",
        "sha256": doc.sha256 if doc else "",
    }


def _signer(p: Party, capacity: str) -> dict:
    """The party signs itself; an agent signs only with special authority (民诉解释 第351条: an agent the
    law allows; disposing of the claims needs 特别授权)."""
    if p.agent_name and p.agent_special_authority:
        return {"role": f"{capacity}{p.name}的委托代理人（特别授权）", "name": p.agent_name}
    label = f"{capacity}（盖章，法定代表人签名）" if p.kind == "organization" else capacity
    return {"role": label, "name": p.name}


def _held_sessions(session: Session, case: Case) -> list[MediationSession]:
    return list(
        session.exec(
            select(MediationSession)
            .where(
                MediationSession.case_id == case.id,
                col(MediationSession.held_at).is_not(None),
                col(MediationSession.cancelled_at).is_(None),
            )
            .order_by(col(MediationSession.held_at))
        ).all()
    )


def judicial_confirmation_application(session: Session, case: Case, subject: str, now: datetime) -> dict:
    """司法确认申请书: every party a joint applicant with identity, domicile and contact (民诉解释 第354条),
    the 请求事项, the facts and the agreed terms, the competent court (民诉法 第205条), the materials
    (司法确认规定 第3条), the last day, and a signature row per party."""
    step = _step(session, subject)
    agr, terms = _agreement(session, case)
    parties = _parties(session, case)
    ref = _agreement_ref(session, case, agr)
    pre_filing = case.referral_kind == ReferralKind.court_pre_filing
    persons = [p for p in parties if p.kind == "person"]
    orgs = [p for p in parties if p.kind == "organization"]
    agents = [p for p in parties if p.agent_name and p.agent_special_authority]
    materials = [
        "司法确认申请书",
        f"人民调解协议书（{ref['number']}）",
        "调解组织主持调解的证明",
    ]
    if persons:
        materials.append(f"自然人申请人的居民身份证复印件（{len(persons)}份）")
    if orgs:
        materials.append(f"单位申请人的营业执照复印件及法定代表人身份证明书（{len(orgs)}份）")
    materials.append("与调解协议相关的财产权利证明等证明材料（如有）")
    if agents:
        names = "、".join(p.name for p in agents)
        materials.append(f"委托人签名或者盖章的授权委托书（{names}）")
    materials.append("双方当事人的送达地址、电话号码等联系方式（见本申请书申请人情况）")
    committee = _base(session, case)["committee"]["name"]
    return {
        **_base(session, case),
        "applicants": [{**_party(p), "role": "applicant"} for p in parties],
        "subject": subject_of(case, parties),
        "request": (
            f"请求人民法院确认申请人于{_cn(ref['signed_on'])}经{committee}调解达成的人民调解协议"
            f"（{ref['number']}）有效。"
        ),
        "facts": agr.facts or case.summary,
        "terms": [_term_line(t) for t in terms],
        "agreement": ref,
        "court": step.court or get_settings().court_name,
        "court_basis": _article("cpl_205_1" if pre_filing else "cpl_205_2"),
        "pre_filing": pre_filing,
        "parties_addresses": [f"{p.name}：{p.address}" for p in parties if p.address],
        "last_day": jc_last_day(session, case.referral_kind, agr),
        "materials": materials,
        "bases": [_article("pml_33"), _article("cpl_205"), _article("cpl_interp_354"), _article("jc2011_3")],
        "signers": [_signer(p, "申请人") for p in parties],
        "issued_on": step.on,
    }


def mediation_certificate(session: Session, case: Case, subject: str, now: datetime) -> dict:
    """调解组织主持调解的证明 (民诉解释 第354条): the committee, the presiding mediator and the others,
    the day it accepted, each session held, the day the parties agreed and signed."""
    step = _step(session, subject)
    agr, _terms = _agreement(session, case)
    parties = _parties(session, case)
    held = _held_sessions(session, case)
    agreed = [s for s in held if s.outcome == SessionOutcome.agreed]
    return {
        **_base(session, case),
        "subject": subject_of(case, parties),
        "accepted_on": china_date(case.accepted_at or case.created_at),
        "presiding": _presiding(session, case),
        "panel": _panel(session, case),
        "sessions": [
            {"seq": s.seq or i + 1, "held_on": china_date(s.held_at), "location": s.location}
            for i, s in enumerate(held)
        ],
        "agreed_on": china_date(agreed[-1].held_at) if agreed else None,
        "agreement": _agreement_ref(session, case, agr),
        "basis": _article("cpl_interp_354"),
        "issued_on": step.on,
    }


def payment_order_application(session: Session, case: Case, subject: str, now: datetime) -> dict:
    """支付令申请书 of one obligee: the worker as 债权人, the obligor (a company with its 法定代表人) as
    债务人, the amount in figures and capitals, the facts (the agreement, its date and number, the default
    found at the 回访), the court of the debtor's domicile, 民诉法 第225条 (and 劳动争议调解仲裁法 第16条 for
    wages, 工伤医疗费, 经济补偿 or 赔偿金). Nobody else's personal data."""
    step = _step(session, subject)
    agr, all_terms = _agreement(session, case)
    terms = [t for t in all_terms if t.id in set(step.term_ids or [])]
    creditor = session.get(Party, step.party_id)
    assert creditor is not None, subject
    debtor = session.exec(select(Party).where(Party.case_id == case.id, Party.name == terms[0].obligor)).one()
    paid = paid_so_far(session, [t.id or 0 for t in terms])
    visits = [v for t in terms if (v := latest_visit_after(session, case.id or 0, t))]
    visit: FollowUp | None = max((v[0] for v in visits), key=lambda v: v.visited_at, default=None)
    amount = step.amount or Decimal("0.00")
    labor = labor_16_applies(case.category, [t.obligation for t in terms])
    bases = [_article("cpl_225")] + ([_article("labor_16")] if labor else [])
    ref = _agreement_ref(session, case, agr)
    category = Category(case.category).label
    return {
        **_base(session, case),
        "creditor": _party(creditor),
        "debtor": _party(debtor),
        "creditor_signer": _signer(creditor, "申请人（债权人）"),
        "amount": amount,
        "amount_figures": format_amount(amount),
        "amount_capitals": amount_in_chinese_capitals(amount),
        "obligations": "、".join(dict.fromkeys(t.obligation for t in terms)),
        "category_label": category + ("" if category.endswith(("纠纷", "争议")) else "纠纷"),
        "agreement": ref,
        "terms": [
            {
                "line": _term_line(t),
                "amount": t.amount,
                "paid": paid.get(t.id or 0, Decimal("0.00")),
                "outstanding": (t.amount or Decimal(0)) - paid.get(t.id or 0, Decimal("0.00")),
                "due_date": t.due_date,
            }
            for t in terms
        ],
        "visited_on": china_date(visit.visited_at) if visit else None,
        "court": step.court or get_settings().court_name,
        "bases": bases,
        "labor_16": labor,
        "issued_on": step.on,
    }


def _cn(day: date | None) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day else "　　年　月　日"


def court_filing(session: Session, case: Case, subject: str, now: datetime) -> dict:
    """委派调解协议备案函 (特邀调解规定 第19条第一款): to the court that referred the case, the agreement
    referenced by number, code and fingerprint and attached."""
    agr, terms = _agreement(session, case)
    parties = _parties(session, case)
    return {
        **_base(session, case),
        "court": get_settings().court_name,
        "subject": subject_of(case, parties),
        "accepted_on": china_date(case.accepted_at or case.created_at),
        "agreement": _agreement_ref(session, case, agr),
        "terms": [_term_line(t) for t in terms],
        "basis": _article("invited_19"),
        "issued_on": china_date(agr.signed_at or now),
    }


def court_return(session: Session, case: Case, subject: str, now: datetime) -> dict:
    """委派（委托）调解终结移交函 (特邀调解规定 第21条): the mediation ended without agreement (or was
    withdrawn); the court's own materials and the case's documents go back, listed one by one."""
    parties = _parties(session, case)
    pre_filing = case.referral_kind == ReferralKind.court_pre_filing
    withdrawn = case.outcome == "withdrawn" or case.stage == "withdrawn"
    docs = session.exec(
        select(Document)
        .where(
            Document.case_id == case.id,
            col(Document.kind).in_(
                [
                    DocumentKind.application,
                    DocumentKind.acceptance_notice,
                    DocumentKind.respondent_notice,
                    DocumentKind.session_record,
                    DocumentKind.termination_notice,
                ]
            ),
        )
        .order_by(col(Document.id))
    ).all()
    materials = [
        {
            "name": f"贵院{'委派' if pre_filing else '委托'}调解时移送的起诉状等材料",
            "note": case.referral_reference or "",
        }
    ]
    materials += [
        {
            "name": DocumentKind(d.kind).label,
            "note": f"{_cn(china_date(d.created_at))}，验证码{d.verify_code or ''}",
        }
        for d in docs
    ]
    ended = case.closed_at if case.stage == "closed" else case.stage_entered_at
    return {
        **_base(session, case),
        "court": get_settings().court_name,
        "subject": subject_of(case, parties),
        "accepted_on": china_date(case.accepted_at or case.created_at),
        "ended_on": china_date(ended or now),
        "reason": "当事人要求终止调解" if withdrawn else "经调解，双方当事人未能达成调解协议",
        "pre_filing": pre_filing,
        "basis": {
            "cite": law("invited_21").cite_short,
            "words": [law("invited_21").paragraph(1 if pre_filing else 2)],
        },
        "materials": materials,
        "issued_on": china_date(ended or now),
    }


ENFORCEMENT_BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "judicial_confirmation_application": judicial_confirmation_application,
    "mediation_certificate": mediation_certificate,
    "payment_order_application": payment_order_application,
    "court_filing": court_filing,
    "court_return": court_return,
}
