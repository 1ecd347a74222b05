"""Case → plain dict for each document kind (shapes in documents/shapes.py). One short builder per kind."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from models.agreement import (
    Agreement,
    AgreementTerm,
    FollowUp,
    OralAgreement,
    TermPayment,
    agreement_notices,
    statutory_place,
)
from models.case import Case, ClockEvent
from models.clocks import due_date, get_rule
from models.committee import Committee, center_committee, committee_for, document_number
from models.db import id_of
from models.deadlines import (
    STAGE_LIMITS,
    china_date,
    days_overdue,
    end_of_day_utc,
    last_day,
    legal_due,
    open_sql,
    overdue_sql,
    work_calendar,
)
from models.document import paper_no
from models.enums import (
    Category,
    Channel,
    ClockCode,
    EscalationLevel,
    ExpertKind,
    FollowUpMethod,
    OralPerformance,
    PanelRole,
    PartyRole,
    ReferralKind,
    RejectionReason,
    RiskLevel,
    SessionOutcome,
    Stage,
    TermState,
)
from models.escalation import Escalation, histories
from models.expert import Expert, PanelMember
from models.law import (
    REJECTION_ITEM,
    Route,
    accepting_body,
    clock_citation,
    government_route,
    prints_limitation_interruption,
    rejection_routes,
    termination_routes,
)
from models.law import citation as law
from models.mediation_session import MediationSession
from models.money import format_amount
from models.party import Party
from models.portal import RemoteSignature
from models.settings import get_settings
from models.tz import CHINA
from models.user import User
from models.validation import ValidationError, birth_date_from_id, gender_from_id


def _committee(row: Committee) -> dict:
    """The committee in whose name and under whose seal the case's documents are issued
    (models.committee.committee_for; 医疗纠纷预防和处理条例 第38、39条 for a medical dispute)."""
    return {
        "name": row.name,
        "center": get_settings().center_name,
        "kind": row.kind,
        "seal": f"{row.name}印章",
    }


def _party(p: Party) -> dict:
    out: dict[str, Any] = {"role": p.role, "kind": p.kind, "name": p.name}
    if p.kind == "person":
        if p.id_number:
            out["id_number"] = p.id_number
            try:
                out["gender"] = gender_from_id(p.id_number)
                out["birth_date"] = birth_date_from_id(p.id_number)
            except ValidationError:
                pass
        if p.employer:
            out["work_unit"] = p.employer
    else:
        if p.org_code:
            out["org_code"] = p.org_code
        if p.legal_representative:
            out["legal_rep"] = p.legal_representative
            if p.legal_representative_title:
                out["legal_rep_position"] = p.legal_representative_title
    if p.address:
        out["address"] = p.address
    if p.phone:
        out["phone"] = p.phone
    if p.agent_name:
        # Only the application and the agreement print these tables (both carry personal data:
        # models.access.PERSONAL_DATA_KINDS), so the agent's ID number and phone may stand here.
        agent: dict[str, Any] = {
            "name": p.agent_name,
            "kind_label": "委托代理人",
            "authority": "特别授权" if p.agent_special_authority else "一般授权",
        }
        if p.agent_id_number:
            agent["id_number"] = p.agent_id_number
        if p.agent_phone:
            agent["phone"] = p.agent_phone
        out["agents"] = [agent]
    if p.is_representative:
        out["representative"] = True
    if p.represented_by:
        out["represented_by"] = p.represented_by
    return out


def _parties(session: Session, case: Case) -> list[Party]:
    return list(session.exec(select(Party).where(Party.case_id == case.id).order_by(col(Party.id))).all())


def subject_of(case: Case, parties: list[Party]) -> str:
    """One line naming the dispute: 张某某等17人与某公司劳动争议."""
    applicants = [p for p in parties if p.role == "applicant"]
    respondents = [p for p in parties if p.role == "respondent"]
    left = (
        applicants[0].name + (f"等{len(applicants)}人" if len(applicants) > 1 else "") if applicants else ""
    )
    right = (
        respondents[0].name + (f"等{len(respondents)}人" if len(respondents) > 1 else "")
        if respondents
        else ""
    )
    label = Category(case.category).label
    return f"{left}与{right}{label}{'' if label.endswith(('纠纷', '争议')) else '纠纷'}"


def _panel(session: Session, case: Case) -> list[dict]:
    rows = session.exec(
        select(PanelMember, Expert)
        .join(Expert, col(Expert.id) == PanelMember.expert_id)
        .where(PanelMember.case_id == case.id, PanelMember.active)
        .order_by(col(PanelMember.id))
    ).all()
    return [
        {
            "name": e.name,
            "role_label": PanelRole(m.role).label,
            "kind_label": ExpertKind(e.kind).label,
            "organization": e.organization or "",
        }
        for m, e in rows
    ]


def _presiding(session: Session, case: Case) -> str:
    lead = session.exec(
        select(Expert)
        .join(PanelMember, col(PanelMember.expert_id) == Expert.id)
        .where(PanelMember.case_id == case.id, PanelMember.active, PanelMember.role == PanelRole.lead)
    ).first()
    return lead.name if lead else ""


def _recorder(session: Session, case: Case) -> str:
    user = session.get(User, case.created_by) if case.created_by else None
    return user.display_name if user else ""


def _base(session: Session, case: Case | None) -> dict:
    """What every document carries; a referred case names its referrer and reference on each one
    (base.html prints them under the title unless the body already says so)."""
    s = get_settings()
    committee = committee_for(session, case) if case is not None else center_committee(session)
    out: dict[str, Any] = {
        "case_no": case.case_no if case else "",
        "committee": _committee(committee),
        "verify_base_url": s.public_base_url,
    }
    # A committee with its own series numbers its documents there (瑞医调〔2026〕00001号); the case
    # number is printed beside it (base.html).
    number = document_number(session, case, committee) if case is not None else None
    if number:
        out["doc_no"] = number
    referral = _referral(case) if case is not None else None
    if referral:
        out["referral"] = referral
    return out


# How a case reached the committee, in the channel's own words (a grid report or a transfer is not
# "申请人自愿申请"): (where it came from, whether the parties applied).
_CHANNEL_ORIGIN: dict[Channel, tuple[str, bool]] = {
    Channel.walk_in: ("当事人来访申请", True),
    Channel.online: ("当事人线上申请", True),
    Channel.hotline: ("当事人通过12345热线申请", True),
    Channel.grid_report: ("网格员上报", False),
    Channel.police_transfer: ("公安机关移交", False),
    Channel.court_referral: ("人民法院委派", False),
    Channel.petition_transfer: ("信访工作机构转办", False),
    Channel.other: ("经其他途径", True),
}


def _intake_statement(case: Case) -> dict:
    """The application's own declaration, worded to how the case came in, with its bases from the table."""
    referral = _referral(case)
    origin, applied = _CHANNEL_ORIGIN.get(Channel(case.channel), ("其他途径", False))
    if referral:
        source = (
            f"{referral['referrer']}以{referral['reference'] or '（文号待补）'}{referral['verb']}本委员会调解"
        )
        consent = "当事人同意由本委员会调解"
    elif applied:
        source = f"本纠纷经{origin}"
        consent = "申请人自愿申请人民调解"
    else:
        basis = law("rules2002_23")
        source = f"本纠纷经{origin}，本委员会依照{basis.cite_short}的规定主动调解（当事人表示异议的除外）"
        consent = "当事人同意由本委员会调解"
    rights = f"{law('pml_23').cite}、{law('pml_24').article_label}"
    lines = [
        f"人民调解不收取任何费用（{law('pml_4').cite}）",
        "当事人在调解活动中享有选择或者接受人民调解员、接受调解、拒绝调解或者要求终止调解、要求调解公开"
        f"进行或者不公开进行、自主表达意愿和自愿达成调解协议的权利，并应当如实陈述纠纷事实、遵守调解现场秩序、"
        f"尊重人民调解员、尊重对方当事人行使权利（{rights}）",
    ]
    # Only a party's own application interrupts a limitation period; a 确权 claim has none (issue 19).
    if not prints_limitation_interruption(
        applied=applied, referral_kind=case.referral_kind, claims=case.claims
    ):
        pass
    elif case.category == Category.labor:
        arb = law("labor_27_2")
        lines.append(f"申请人民调解之日起仲裁时效中断（向有关部门请求权利救济，{arb.cite_short}）")
    else:
        interrupt = law("civil_195_4")
        lines.append(f"申请人民调解之日起诉讼时效中断（{interrupt.cite_short}）")
    return {"source": source, "consent": consent, "known": lines, "applied": applied and not referral}


def _signers(parties: list[Party], roles: tuple[str, ...]) -> list[dict]:
    """One signature row per party of these roles, then its agent: each signs for itself."""
    rows: list[dict] = []
    for p in parties:
        if p.role not in roles:
            continue
        label = {"applicant": "申请人", "respondent": "被申请人", "third_party": "第三人"}[p.role]
        if p.is_representative:
            label += "（代表人）"
        if p.kind == "organization":
            label += "（盖章，法定代表人或委托代理人签名）"
        rows.append({"role": label, "name": p.name})
        if p.agent_name:
            rows.append({"role": f"{p.name}的委托代理人", "name": p.agent_name})
    return rows


def application(session: Session, case: Case, subject: str, now: datetime) -> dict:
    parties = _parties(session, case)
    place = f"{case.town}{case.village or ''}"
    ctx = {
        **_base(session, case),
        "received_at": case.created_at,
        "channel_label": Channel(case.channel).label,
        "category_label": Category(case.category).label,
        "town": case.town,
        "village": case.village or "",
        "place": place,
        "parties": [_party(p) for p in parties],
        "summary": case.summary,
        "claims": case.claims or "",
        "headcount": case.headcount,
        "is_mass": case.is_mass,
        "risk_label": RiskLevel(case.risk_level).label,
        "registrar": _recorder(session, case),
        "issued_on": china_date(case.created_at),
        "statement": _intake_statement(case),
        "signers": _signers(parties, ("applicant",)),
    }
    if case.amount_involved is not None:
        ctx["amount_involved"] = case.amount_involved
    return ctx


def _referral(case: Case) -> dict | None:
    """Who referred the case and under which reference (issue 10: every document says so)."""
    if not case.referral_kind:
        return None
    kind = ReferralKind(case.referral_kind)
    court = get_settings().court_name
    referrer, verb = {
        ReferralKind.court_pre_filing: (court, "委派"),
        ReferralKind.court_post_filing: (court, "委托"),
        ReferralKind.petition: ("信访工作机构", "转办"),
    }[kind]
    return {
        "kind_label": kind.label,
        "reference": case.referral_reference or "",
        "referrer": referrer,
        "verb": verb,
    }


def _origin(case: Case) -> str:
    if case.referral_kind:
        return "referral"
    # Not on a party's application (a grid report, a transfer): the committee mediates on its own
    # initiative, unless a party objects (2002 规定 第23条第一款).
    applied = _CHANNEL_ORIGIN.get(Channel(case.channel), ("", True))[1]
    return "application" if applied else "initiative"


def _clock_paragraph(case: Case, due_on: date) -> dict:
    """The clock's legal words (models/law.py) and what they mean for this case, without promising an
    end the law does not set: 人民调解 itself has no statutory end (2002 规定 第33条 "一般在一个月内调结")."""
    cite = clock_citation(case.clock)
    if cite is None:
        return {}
    if case.clock == "people_mediation":
        meaning = "本委员会将力争在一个月内调结；未能调结、双方当事人同意的，可以继续调解。"
    elif case.clock == "labor":
        meaning = "本纠纷的十五日期间至{due}届满；届满未达成调解协议的，当事人可以依法申请仲裁。"
    elif case.clock == "medical":
        meaning = "本纠纷的调解期限至{due}届满（鉴定时间不计入）。"
    else:
        meaning = "本纠纷的调解期限至{due}届满。"
    return {"clock_cite": cite.cite_short, "clock_words": cite.text, "clock_meaning": meaning}


def _due_note(session: Session, case: Case, due_on: date) -> str | None:
    """The estimate note when the printed last day was counted on a year whose holidays are not yet known."""
    legal = legal_due(case, work_calendar(session))
    if legal is None or not legal.calendar_is_estimated or legal.due != due_on:
        return None
    return legal.note


def _rights() -> list[dict]:
    return [{"cite": c.cite_short, "words": list(c.paragraphs)} for c in (law("pml_23"), law("pml_24"))]


def acceptance_notice(session: Session, case: Case, subject: str, now: datetime) -> dict:
    """受理通知书 to the applicant(s): accepted under 2002 规定 第23条 (人民调解法 第17、18条 are not
    conditions of acceptance); the respondent gets its own notice (respondent_notice)."""

    parties = _parties(session, case)
    rule = get_rule(case.clock)
    unit = "个月" if rule.unit == "month" else "日"
    due_on = case.clock_due_on or china_date(now)
    # A court's 委派/委托 is accepted on the referral with the parties' consent (特邀调解规定 第11条),
    # not as a party's application (2002 规定 第23条第一款).
    court_referred = case.referral_kind in (ReferralKind.court_pre_filing, ReferralKind.court_post_filing)
    basis = law("invited_11_1" if court_referred else "rules2002_23")
    government = government_route(case.category, case.claims)
    ctx = {
        **_base(session, case),
        "addressees": [p.name for p in parties if p.role == "applicant"],
        "received_on": china_date(case.created_at),
        "accepted_on": china_date(case.accepted_at or now),
        "category_label": Category(case.category).label,
        "subject": subject_of(case, parties),
        "panel": _panel(session, case),
        "clock_label": f"{rule.label_zh}（{rule.amount}{unit}）",
        "clock_basis": rule.basis_zh,
        "due_on": due_on,
        "issued_on": china_date(case.accepted_at or now),
        "contact_name": _recorder(session, case),
        "origin": _origin(case),
        "channel_label": Channel(case.channel).label,
        "acceptance_cite": basis.cite_short,
        "acceptance_words": basis.text,
        "respondents": [p.name for p in parties if p.role == "respondent"],
        "consent_cite": law("pml_17").cite_short,
        "rights": _rights(),
        "free_cite": law("pml_4").cite_short,
        **_clock_paragraph(case, due_on),
        "due_note": _due_note(session, case, due_on),
    }
    if government is not None:
        organizations = all(p.kind == "organization" for p in parties)
        ctx["government"] = {
            "cite": government.cite_short,
            # 第一款 between units, 第二款 where a person is a party (森林法 第22条, 土地管理法 第14条).
            "words": government.paragraph(2 if government.number == "第十四条" or not organizations else 1),
        }
    referral = _referral(case)
    if referral:
        ctx["referral"] = referral
    return ctx


def respondent_notice(session: Session, case: Case, subject: str, now: datetime) -> dict:
    """受理通知书（被申请人）/征询意见: the respondent is told of the application and asked whether it
    agrees to mediation (人民调解法 第17条: a party that clearly refuses cannot be mediated)."""
    parties = _parties(session, case)
    consent = law("pml_17")
    ctx = {
        **_base(session, case),
        # The third party (e.g. the general contractor who pays) is asked like the respondent (第17条).
        "addressees": [p.name for p in parties if p.role in ("respondent", "third_party")],
        "respondents": [p.name for p in parties if p.role == "respondent"],
        "third_parties": [p.name for p in parties if p.role == "third_party"],
        "applicants": [p.name for p in parties if p.role == "applicant"],
        "received_on": china_date(case.created_at),
        "accepted_on": china_date(case.accepted_at or now),
        "category_label": Category(case.category).label,
        "subject": subject_of(case, parties),
        "summary": case.summary,
        "claims": case.claims or "",
        "origin": _origin(case),
        "consent_cite": consent.cite_short,
        "consent_words": consent.text,
        "rights": _rights(),
        "free_cite": law("pml_4").cite_short,
        "issued_on": china_date(case.accepted_at or now),
        "contact_name": _recorder(session, case),
    }
    referral = _referral(case)
    if referral:
        ctx["referral"] = referral
    return ctx


def clock_notice(session: Session, case: Case, subject: str, now: datetime) -> dict:
    """调解期限中止/恢复计算告知书: one per pause or resume (subject "clock_notice:{case}:{event}"), to every
    party, with the day it took effect and, on a resume, the new last day."""
    event = session.get(ClockEvent, int(subject.rsplit(":", 1)[1]))
    if event is None or event.case_id != case.id or event.kind not in ("pause", "resume"):
        raise ValueError(f"no clock pause or resume for {subject}")
    parties = _parties(session, case)
    rule = get_rule(case.clock)
    ctx: dict[str, Any] = {
        **_base(session, case),
        "addressees": [p.name for p in parties],
        "subject": subject_of(case, parties),
        "event": event.kind,
        "effective_on": event.effective_on or china_date(event.at),
        "reason": event.note.rstrip("。；;.，, "),
        "unit": "个工作日" if rule.counts_working_days_only else "日",
        "days": event.days,
        "issued_on": china_date(event.at),
        "contact_name": _recorder(session, case),
    }
    cite = clock_citation(case.clock)
    if cite is not None:
        ctx["basis_cite"] = cite.cite_short
        ctx["basis_words"] = cite.text
    if event.kind == "resume" and event.due_on is not None:
        ctx["due_on"] = event.due_on
        note = _due_note(session, case, event.due_on)
        if note:
            ctx["due_note"] = note
    return ctx


def rejection_notice(session: Session, case: Case, subject: str, now: datetime) -> dict:
    """不予受理通知书: the reason from 2002 规定 第22条 and the routes 第24条 tells, matched to it."""
    parties = _parties(session, case)
    code = RejectionReason(case.rejection_reason_code) if case.rejection_reason_code else None
    ctx: dict[str, Any] = {
        **_base(session, case),
        "addressees": [p.name for p in parties if p.role == "applicant"],
        "received_on": china_date(case.created_at),
        "subject": subject_of(case, parties),
        "reason": case.rejection_reason or "",
        "issued_on": china_date(case.closed_at or now),
        "origin": _origin(case),
    }
    if code is not None:
        item = law(REJECTION_ITEM[code])
        routes = rejection_routes(
            code,
            category=case.category,
            court_name=get_settings().court_name,
            town=case.town,
            all_organizations=all(p.kind == "organization" for p in parties),
            accepted_by=accepting_body(code, case.rejection_reason),
        )
        ctx |= {
            "reason_label": code.label,
            "basis": item.cite_short,
            "basis_words": item.text,
            "routes_cite": law("rules2002_24").cite_short,
            "other_routes": [f"{r.name}：{r.body}" + (f"（{r.note}）" if r.note else "") for r in routes],
            "route_bases": [
                {"cite": r.basis.cite_short, "words": list(r.basis.paragraphs)} for r in routes if r.basis
            ],
        }
    referral = _referral(case)
    if referral:
        ctx["referral"] = referral
    return ctx


def _cn_day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _recorded_by(session: Session, ms: MediationSession) -> str:
    """Who recorded, by real name: entered with the record; older records name the recording user."""
    if ms.recorder_name:
        return ms.recorder_name
    user = session.get(User, ms.recorded_by) if ms.recorded_by else None
    return user.display_name if user else ""


def _speaker(person: dict) -> str:
    """申请人陈阿大 / 调解主持人王调解 / 协助调解人（律师）周律师 / 参加人张经理."""
    capacity = person["capacity"]
    if capacity.startswith("调解主持人"):
        capacity = "调解主持人"
    return f"{capacity}{person['name']}"


def _rights_told(session: Session, ms: MediationSession, parties: list[Party]) -> dict | None:
    """人民调解法 第23、24条 told at the first session, each party's answer and any recusal request; a
    later session shows it only where it was told again. None: nothing to print."""
    earlier = session.exec(
        select(MediationSession.id).where(
            MediationSession.case_id == ms.case_id,
            MediationSession.id != ms.id,
            col(MediationSession.recorded_at).is_not(None),
            col(MediationSession.recorded_at) < (ms.recorded_at or ms.created_at),
        )
    ).first()
    first = earlier is None
    if not first and not ms.rights_told:
        return None
    rights, duties = law("pml_23"), law("pml_24")
    roles = {p.name: PartyRole(p.role).label for p in parties}
    answers = []
    for a in ms.party_answers or []:
        if a.get("recusal"):
            recusal = f"申请{a.get('recusal_against')}回避" + (
                f"，理由：{a['recusal_reason']}" if a.get("recusal_reason") else ""
            )
        else:
            recusal = "不申请回避"
        if recusal in a["answer"]:
            recusal = ""  # the party's own words already say it ("已清楚，不申请回避。")
        speaker = f"{roles.get(a['party'], '')}{a['party']}"
        answers.append({"speaker": speaker, "answer": a["answer"], "recusal": recusal})
    asked = [a for a in ms.party_answers or [] if a.get("recusal")]
    if not ms.party_answers:
        recusal_line = "未记录当事人是否申请回避"
    elif asked:
        recusal_line = "；".join(
            f"{roles.get(a['party'], '')}{a['party']}申请{a.get('recusal_against')}回避" for a in asked
        )
    else:
        recusal_line = "各方当事人均表示不申请调解人员回避"
    return {
        "first": first,
        "told": ms.rights_told,
        "basis": f"{rights.cite}、{duties.article_label}",
        "rights": list(rights.paragraphs),
        "duties": list(duties.paragraphs),
        "answers": answers,
        "recusal_line": recusal_line,
    }


def _oral_record(oral: OralAgreement, parties: list[Party]) -> dict:
    """人民调解法 第28条: the oral agreement's content, each party's consent and its performance."""
    roles = {p.name: PartyRole(p.role).label for p in parties}
    terms = []
    for t in oral.terms:
        item: dict[str, Any] = {
            "obligor": t["obligor"],
            "obligee": t["obligee"],
            "obligation": t["obligation"],
            "due_date": date.fromisoformat(t["due_date"]) if t.get("due_date") else None,
            "method": t.get("method") or "",
            "place": t.get("place") or "",
        }
        if t.get("amount") is not None:
            item["amount"] = Decimal(t["amount"])
        terms.append(item)
    # As at the session (the record is signed there): a later performance is recorded on the case.
    if oral.performance == OralPerformance.on_the_spot:
        performance = "各方当事人当场履行完毕"
    else:
        performance = "约定日后履行（按上列期限履行）"
    basis = law("pml_28")
    return {
        "basis": basis.cite,
        "basis_text": basis.text,
        "terms": terms,
        # Paid at the session: "于…前履行" would promise a date that already passed (issue 19).
        "on_the_spot": oral.performance == OralPerformance.on_the_spot,
        "consents": [
            {"speaker": f"{roles.get(c['party'], '')}{c['party']}", "words": c.get("words") or "同意"}
            for c in oral.consents
        ],
        "performance": performance,
        # Only what was said at the session: a later performance's note belongs to that later entry.
        "note": (oral.performance_note or "") if oral.performance == OralPerformance.on_the_spot else "",
        "written": (
            f"{roles.get(oral.written_requested_by or '', '')}{oral.written_requested_by}"
            f"于{_cn_day(china_date(oral.written_requested_at))}要求制作书面调解协议书"
            if oral.written_requested_at and oral.written_requested_by
            else ""
        ),
    }


def session_record(session: Session, case: Case, subject: str, now: datetime) -> dict:
    """人民调解记录 (人民调解法 第27条): who was present by real name and capacity, the rights and duties
    told at the first session with each party's answer, each speaker's statements as entered, an oral
    agreement reached (第28条), and a signature row for each party and each participant."""
    session_id = int(subject.split(":")[1])
    ms = session.get(MediationSession, session_id)
    assert ms is not None, subject  # subjects are issued for sessions that exist
    parties = _parties(session, case)
    # Records made before v1.1 list names only.
    present = ms.present or [{"name": a, "kind": "other", "capacity": "参加人"} for a in ms.attendees or []]
    by_name = {p["name"]: p for p in present}
    recorder = _recorded_by(session, ms)
    leads = [p["name"] for p in present if p["capacity"].startswith("调解主持人")]
    presiding = leads[0] if leads else _presiding(session, case)
    party_lines = []
    signers = []
    for p in parties:
        role = PartyRole(p.role).label
        acting = [
            x["name"]
            for x in present
            if x["kind"] == "party_agent" and x["capacity"].startswith(f"{role}{p.name}的")
        ]
        if p.name in by_name:
            status = "到场"
        elif acting:
            status = f"由{'、'.join(acting)}代为参加"
        elif p.represented_by:
            # A group member acts through the representative the group elected.
            status = f"由{p.represented_by}代表" + ("" if p.represented_by in by_name else "，代表未到场")
        else:
            status = "未到场"
        party_lines.append(f"{role}{p.name}（{status}）")
        signers.append(
            {"role": role, "name": p.name if status == "到场" or acting else f"{p.name}（{status}）"}
        )
    for x in present:
        if x["name"] == recorder:
            continue  # signs once, as 记录人
        if x["kind"] in ("party_agent", "other") or (x["kind"] == "panel" and x["name"] != presiding):
            signers.append({"role": x["capacity"], "name": x["name"]})
    if ms.statements:
        entries = [
            {
                "speaker": _speaker(by_name[st["speaker"]])
                if st["speaker"] in by_name
                else f"记录人{st['speaker']}",
                "text": st["text"],
            }
            for st in ms.statements
        ]
    else:
        # Before v1.1 the record was one text: printed as written, without inventing speakers.
        entries = [{"speaker": "", "text": para} for para in (ms.notes or "").split("\n") if para.strip()]
    oral = session.exec(select(OralAgreement).where(OralAgreement.session_id == ms.id)).first()
    outcome = SessionOutcome(ms.outcome).label if ms.outcome else ""
    if oral is not None:
        outcome += "（口头协议）"
    return {
        **_base(session, case),
        "session_no": ms.seq,
        "subject": subject_of(case, parties),
        "held_at": ms.held_at or ms.scheduled_at,
        "ended_at": ms.ends_at,
        "location": ms.location,
        "presiding": presiding,
        "recorder": recorder,
        "party_lines": party_lines,
        "mediators": [_speaker(x) for x in present if x["kind"] == "panel"],
        "others": [_speaker(x) for x in present if x["kind"] in ("party_agent", "other")],
        "attendees": [f"{x['capacity']} {x['name']}" for x in present],
        "rights": _rights_told(session, ms, parties),
        "entries": entries or [{"speaker": "", "text": "（无）"}],
        "oral": _oral_record(oral, parties) if oral else None,
        "outcome_label": outcome,
        "signers": signers,
        "issued_on": china_date(ms.held_at or now),
    }


def _agreement_signers(session: Session, case: Case) -> tuple[str, list[dict]]:
    """(presiding 人民调解员, the other panel members). Only an appointed 人民调解员 signs as one
    (人民调解法 第13、19条); anyone else on the panel assisted (第20条) and signs as such."""
    rows = session.exec(
        select(PanelMember, Expert)
        .join(Expert, col(Expert.id) == PanelMember.expert_id)
        .where(PanelMember.case_id == case.id, PanelMember.active)
        .order_by(col(PanelMember.id))
    ).all()
    presiding = next((e.name for m, e in rows if m.role == PanelRole.lead and e.appointed_mediator), "")
    others = []
    for m, e in rows:
        if e.name == presiding:
            continue
        if e.appointed_mediator:
            label = "人民调解员"
        elif m.role == PanelRole.legal_advisor:
            label = f"协助调解人（{ExpertKind(e.kind).label}）"
        else:
            label = f"参与调解人（{ExpertKind(e.kind).label}）"
        others.append({"name": e.name, "role_label": label})
    return presiding, others


def _agreement_recorder(session: Session, case: Case, agr: Agreement) -> str:
    """Who recorded: the recorder of the session where the parties agreed, else who drafted the agreement."""
    agreed = session.exec(
        select(MediationSession)
        .where(MediationSession.case_id == case.id, MediationSession.outcome == SessionOutcome.agreed)
        .order_by(col(MediationSession.id).desc())
    ).first()
    user_id = (agreed.recorded_by if agreed else None) or agr.drafted_by or case.created_by
    user = session.get(User, user_id) if user_id else None
    return user.display_name if user else ""


def _remote_signatures(session: Session, agr: Agreement) -> dict[tuple[str, int | None], dict]:
    """The handwritten signatures made on the party's page or the case page for this revision
    (flows/portal.py), as images the print places in the signature column, with their date."""
    rows = session.exec(
        select(RemoteSignature)
        .where(RemoteSignature.agreement_id == agr.id, RemoteSignature.agreement_revision == agr.revision)
        .order_by(col(RemoteSignature.id))
    ).all()
    return {
        ("party", r.party_id) if r.party_id else ("expert", r.expert_id): {
            "image": "data:image/png;base64," + base64.b64encode(r.image_png).decode(),
            "date": china_date(r.signed_at),
        }
        for r in rows
    }


def agreement(session: Session, case: Case, subject: str, now: datetime) -> dict:
    agr = session.exec(select(Agreement).where(Agreement.case_id == case.id)).one()
    terms = session.exec(
        select(AgreementTerm).where(AgreementTerm.agreement_id == agr.id).order_by(col(AgreementTerm.seq))
    ).all()
    parties = _parties(session, case)
    due_dates = [t.due_date for t in terms if t.due_date]
    term_dicts = []
    for t in terms:
        item: dict[str, Any] = {"obligor": t.obligor, "obligation": t.obligation}
        if t.obligee:
            item["obligee"] = t.obligee
        if t.amount is not None:
            item["amount"] = t.amount
        if t.due_date:
            item["due_date"] = t.due_date
        if t.method:
            item["method"] = t.method
        if t.place:
            item["place"] = t.place
        elif not agr.performance_place and t.amount is not None and t.obligee:
            item["place"] = statutory_place(t.obligee)
        term_dicts.append(item)
    presiding, others = _agreement_signers(session, case)
    court = get_settings().court_name
    drawn = _remote_signatures(session, agr)
    return {
        **_base(session, case),
        "category_label": Category(case.category).label,
        "parties": [
            _party(p) | ({"esign": drawn[("party", p.id)]} if ("party", p.id) in drawn else {})
            for p in parties
        ],
        "presiding_esign": next((v for (who, _), v in drawn.items() if who == "expert"), None),
        "facts": agr.facts or case.summary,
        "disputes": agr.disputes or case.claims or "",
        # Printed only when stated: a heading with nothing under it tells a court nothing.
        "responsibility": (agr.responsibility or "").strip(),
        "terms": term_dicts,
        "performance": {
            "method": agr.performance_method,
            "place": agr.performance_place or _place_by_law(agr),
            "deadline": max(due_dates) if due_dates else "",
        },
        "presiding": presiding,
        "recorder": _agreement_recorder(session, case, agr),
        "panel": others,
        "court_name": court,
        "notices": agreement_notices(
            category=case.category,
            referral_kind=case.referral_kind,
            rights_confirmation=agr.rights_confirmation,
            status_relation=agr.status_relation,
            court=court,
            **_jc_last_day(session, agr, now),
        ),
        "ink_only": agr.ink_only,
        "issued_on": china_date(agr.issued_at or now),
    }


def _jc_last_day(session: Session, agr: Agreement, now: datetime) -> dict[str, Any]:
    """The 司法确认 last day the agreement prints (issue 20): from the signing day once signed; on the
    draft, from the day it is printed to be signed (the notice names that day)."""
    signed_on = china_date(agr.signed_at) if agr.signed_at else None
    start = signed_on or china_date(agr.issued_at or now)
    last = due_date(ClockCode.judicial_confirmation, start, work_calendar(session)).due
    return {"last_day": last, "counted_from": None if signed_on else start}


def _place_by_law(agr: Agreement) -> str:
    """No place agreed: the law's words stand in the row (民法典 第511条第（三）项)."""
    basis = law("civil_511_3")
    return f"未约定。依照{basis.cite_short}“{basis.text}”的规定履行"


def _termination_routes(session: Session, case: Case) -> list[Route]:
    parties = _parties(session, case)
    return termination_routes(
        category=case.category,
        referral_kind=case.referral_kind,
        court_name=get_settings().court_name,
        town=case.town,
        all_organizations=bool(parties) and all(p.kind == "organization" for p in parties),
    )


def termination_notice(session: Session, case: Case, subject: str, now: datetime) -> dict:
    """终止调解告知书 (人民调解法 第26条): the reason, and the routes matched to the regime (models/law.py);
    every article printed comes from the table, quoted with its words."""
    parties = _parties(session, case)
    last = session.exec(
        select(MediationSession)
        .where(MediationSession.case_id == case.id, col(MediationSession.outcome).is_not(None))
        .order_by(col(MediationSession.seq).desc())
    ).first()
    withdrawn = case.stage == Stage.withdrawn or case.outcome == "withdrawn"
    reason_basis = law("pml_23") if withdrawn else None
    reason = "当事人要求终止调解" if withdrawn else "经调解，双方当事人未能达成调解协议"
    if case.clock == "medical" and not withdrawn:
        medical = law("medical_38")
        legal = legal_due(case, work_calendar(session))
        if legal is not None and china_date(case.stage_entered_at) > legal.due:
            reason = f"调解期限届满未达成调解协议，依照{medical.cite_short}的规定，视为调解不成"
    if case.respondent_agrees is False:
        # 人民调解法 第17条: the respondent's clear refusal ends it before any session.
        refusal = law("pml_17")
        reason = f"被申请人明确表示拒绝调解，依照{refusal.quoted}的规定，不得调解"
        reason_basis = None
        last = None
    if last and last.notes:
        reason += f"。{last.notes.splitlines()[-1][:200]}"
    routes = _termination_routes(session, case)
    ending = law("pml_26")
    ctx: dict[str, Any] = {
        **_base(session, case),
        "addressees": [p.name for p in parties],
        "subject": subject_of(case, parties),
        "accepted_on": china_date(case.accepted_at or case.created_at),
        "terminated_on": china_date(case.stage_entered_at),
        "reason": reason,
        "reason_cite": reason_basis.cite_short if reason_basis else "",
        "ending_cite": ending.cite,
        "ending_words": ending.text,
        "routes": [{"name": r.name, "body": r.body, "note": r.note} for r in routes],
        "route_bases": [
            {"cite": a.cite_short, "words": list(a.paragraphs)}
            for a in dict.fromkeys(a for r in routes for a in r.bases)
        ],
        "issued_on": china_date(case.stage_entered_at),
    }
    applied = _CHANNEL_ORIGIN.get(Channel(case.channel), ("", False))[1]
    agreement = session.exec(select(Agreement).where(Agreement.case_id == case.id)).first()
    if not prints_limitation_interruption(
        applied=applied,
        referral_kind=case.referral_kind,
        claims=case.claims,
        rights_confirmation=bool(agreement and agreement.rights_confirmation),
    ):
        # No party applied (a court's referral, the committee's own initiative) or a 确权 claim with
        # no limitation period (民法典 第196条): nothing was interrupted by an application.
        ctx["limitation"] = ""
    elif case.category == Category.labor:
        arb = law("labor_27_2")
        ctx["limitation"] = f"仲裁时效依照{arb.cite_short}“{arb.text}”的规定计算，请及时申请仲裁。"
    else:
        lead, item = law("civil_195"), law("civil_195_4")
        ctx["limitation"] = (
            f"当事人申请人民调解，属于{item.cite_short}“{item.text}”；依照{lead.cite_short}的规定，"
            "诉讼时效中断，自调解终止之日起，诉讼时效期间重新计算。请及时行使权利。"
        )
    return ctx


def _term_due(term: AgreementTerm) -> str:
    return f"履行期限 {term.due_date.isoformat()}" if term.due_date else ""


def _term_line(term: AgreementTerm) -> str:
    """第1项：林小二向陈阿大赔偿损失人民币1,500.00元（履行期限2027年1月4日）."""
    whom = f"向{term.obligee}" if term.obligee else ""
    money = f"人民币{format_amount(term.amount)}元" if term.amount is not None else ""
    due = f"（履行期限{_cn_day(term.due_date)}）" if term.due_date else ""
    return f"第{term.seq}项：{term.obligor}{whom}{term.obligation}{money}{due}"


def follow_up_record(session: Session, case: Case, subject: str, now: datetime) -> dict:
    """回访记录 (人民调解法 第31条) as of the visit it is issued for: each visit's date, method, who was
    visited and their opinion, every term's state at that visit; the next step. It never says the case
    is closed unless a 结案 decision closed it: 结案 is staff's decision (flows/closing.py)."""
    agr = session.exec(select(Agreement).where(Agreement.case_id == case.id)).one()
    terms = session.exec(
        select(AgreementTerm).where(AgreementTerm.agreement_id == agr.id).order_by(col(AgreementTerm.seq))
    ).all()
    query = select(FollowUp).where(FollowUp.case_id == case.id)
    if subject.startswith("follow_up:"):
        # The facts as of this visit: a later visit has its own record.
        query = query.where(col(FollowUp.id) <= int(subject.split(":")[1]))
    visits = session.exec(query.order_by(col(FollowUp.id))).all()
    users = {u.id: u.display_name for u in session.exec(select(User)).all()}
    parties = _parties(session, case)
    by_id = {t.id: t for t in terms}
    state: dict[int | None, str | None] = {t.id: None for t in terms}  # as found so far
    payments: dict[int, list[TermPayment]] = {}
    for pay in session.exec(
        select(TermPayment).where(col(TermPayment.term_id).in_(list(by_id))).order_by(col(TermPayment.id))
    ).all():
        payments.setdefault(pay.follow_up_id, []).append(pay)
    paid: dict[int | None, Decimal] = {t.id: Decimal("0.00") for t in terms}  # as paid so far
    visit_dicts = []
    for v in visits:
        paid_now = {pay.term_id: pay for pay in payments.get(id_of(v), [])}
        for pay in paid_now.values():
            paid[pay.term_id] += pay.amount
        found = {i["term_id"]: i["state"] for i in v.term_states or [] if i["term_id"] in by_id}
        if not v.term_states:
            # Recorded before per-term states: the visit's conclusion for the term(s) it named.
            found = {
                t.id: (TermState.performed if v.performed else TermState.not_performed).value
                for t in terms
                if v.term_id in (None, t.id)
            }
        state.update(found)
        statuses = []
        for t in terms:
            if t.id in found:
                label = TermState(found[t.id]).label
                note = "届时再行回访" if found[t.id] == TermState.not_due else ""
            else:
                label = "本次未回访"
                last = state.get(t.id)
                note = f"此前回访：{TermState(last).label}" if last else ""
            # A money term once anything is paid: this visit's payment, the sum so far, what is owed.
            if t.amount is not None and paid[t.id]:
                now_paid = paid_now.get(id_of(t))
                money = (
                    f"{_cn_day(now_paid.paid_on)}付{format_amount(now_paid.amount)}元；" if now_paid else ""
                ) + f"累计已付{format_amount(paid[t.id])}元，尚欠{format_amount(t.amount - paid[t.id])}元"
                note = f"{note}；{money}" if note else money
            statuses.append(
                {
                    "obligee": t.obligee or "",
                    "term": _term_line(t),
                    "performed": found.get(t.id) == TermState.performed,
                    "state_label": label,
                    "note": note,
                }
            )
        visit_dicts.append(
            {
                "visited_on": china_date(v.visited_at),
                # Not recorded: blank, to fill in by hand ("回访方式 回访" told nothing).
                "method": FollowUpMethod(v.method).label if v.method else "",
                "visitor": users.get(v.actor_id, ""),
                "interviewee": v.visited_person or "",
                "statuses": statuses,
                "opinion": v.opinion or "",
                "notes": v.notes or "",
            }
        )
    all_done = bool(terms) and all(state[t.id] == TermState.performed for t in terms)
    unperformed = [t for t in terms if state[t.id] in (TermState.not_performed, TermState.partly)]
    waiting = [t for t in terms if state[t.id] in (None, TermState.not_due)]
    lines: list[str] = []
    if all_done:
        lines.append("经回访，协议各项义务均已履行。")
        if case.stage == Stage.closed:
            lines.append(f"本案已于{_cn_day(china_date(case.stage_entered_at))}作出结案决定。")
        else:
            lines.append("下一步：由中心工作人员审核履行情况后作出结案决定（履行完毕）。")
    else:
        for t in unperformed:
            lines.append(f"第{t.seq}项{TermState(str(state[t.id])).label}：督促义务人{t.obligor}履行。")
        for t in waiting:
            due = f"，履行期限{_cn_day(t.due_date)}" if t.due_date else ""
            lines.append(f"第{t.seq}项尚未到期或未确认履行{due}：届时再行回访。")
        lines.append("协议全部履行后，由中心工作人员作出结案决定。")
    notices = []
    if unperformed:
        # 人民调解法 第32条, 第33条第2款 (models/law.py): the routes when an agreement is not performed.
        sue, enforce = law("pml_32"), law("pml_33")
        notices.append(f"{sue.text}（{sue.cite}）")
        notices.append(f"{enforce.paragraph(2)}（{enforce.cite}第二款）")
    return {
        **_base(session, case),
        "subject": subject_of(case, parties),
        "agreement_on": china_date(agr.signed_at or agr.issued_at),
        "terms": [_term_line(t) for t in terms],
        "visits": visit_dicts,
        "conclusion": "\n".join(lines),
        "all_performed": all_done,
        "notices": notices,
        "issued_on": china_date(visits[-1].visited_at) if visits else china_date(now),
    }


def _stage_due_as_of(session: Session, case: Case, esc: Escalation) -> datetime | None:
    """The stalled stage's deadline for the stage visit the escalation was raised in: the case's own
    while it is still in that visit (pauses, extensions and holiday schedules keep it current), else the
    value the audited transition that left the visit recorded in its `before` (apply_transition)."""
    from models.audit import AuditEvent

    if case.stage_seq == esc.stage_seq:
        return case.stage_due_at
    events = session.exec(
        select(AuditEvent)
        .where(AuditEvent.case_id == case.id, col(AuditEvent.at) >= esc.created_at)
        .order_by(col(AuditEvent.at), col(AuditEvent.id))
    ).all()
    for event in events:
        before = event.before or {}
        if before.get("stage_seq") == esc.stage_seq and "stage_due_at" in before:
            value = before["stage_due_at"]
            return datetime.fromisoformat(value) if value else None
    return None


def _order_no(session: Session, esc: Escalation) -> str:
    """瑞调督〔2026〕00003号: the year's sequence of 督办单, numbered like the center's other papers."""
    year = china_date(esc.created_at).year
    start = datetime(year, 1, 1, tzinfo=CHINA)
    end = datetime(year + 1, 1, 1, tzinfo=CHINA)
    seq = len(
        session.exec(
            select(Escalation.id).where(
                col(Escalation.created_at) >= start,
                col(Escalation.created_at) < end,
                col(Escalation.id) <= (esc.id or 0),
            )
        ).all()
    )
    return paper_no(f"{get_settings().case_no_prefix}督", year, seq)


def supervision_order(session: Session, case: Case, subject: str, now: datetime) -> dict:
    """督办单: the facts as of the moment it was raised (the stage, its deadline and the days past it
    then), issued in the name of the supervising level, never under the committee's seal."""
    esc = session.get(Escalation, int(subject.split(":")[1]))
    assert esc is not None, subject  # subjects are issued for escalations that exist
    assignee = session.get(User, esc.assignee_id) if esc.assignee_id else None
    parties = _parties(session, case)
    raised = esc.created_at
    due_at = _stage_due_as_of(session, case, esc)
    due_day = last_day(due_at)
    overdue = days_overdue(due_at, raised)
    if due_day is None:
        overdue_text = "未计期限（期限中止）"
    elif overdue > 0:
        overdue_text = f"{overdue}日"
    elif due_day == china_date(raised):
        overdue_text = "今日到期，尚未超期"
    else:
        overdue_text = f"尚未超期（距期限{(due_day - china_date(raised)).days}日）"
    order_no = _order_no(session, esc)
    issuer = _supervision_issuer(esc.to_level, case.town)
    return {
        **_base(session, case),
        "doc_no": order_no,
        "order_no": order_no,
        "level_label": EscalationLevel(str(esc.to_level)).label,
        "assignee": assignee.display_name if assignee else "（待指定）",
        "subject": subject_of(case, parties),
        "category_label": Category(case.category).label,
        "town": case.town,
        "stage_label": Stage(esc.stage).label,
        "accepted_on": china_date(case.accepted_at)
        if case.accepted_at and case.accepted_at <= raised
        else "",
        "registered_on": china_date(case.created_at),
        "stage_due_on": due_day or "",
        "overdue_days": overdue,
        "overdue_text": overdue_text,
        "is_mass": case.is_mass,
        "risk_label": RiskLevel(case.risk_level).label,
        "reason": esc.reason,
        "requirements": [
            "请于收到督办单后3个工作日内听取承办人汇报，明确化解措施和责任人",
            "对群体性、高风险纠纷落实稳控措施，防止矛盾激化",
            f"化解进展及结果请书面反馈{issuer}",
        ],
        "reply_by": china_date(raised) + timedelta(days=7),
        "issuer": issuer,
        "issued_on": china_date(raised),
        **_supervision_history(session, esc, now),
    }


def _supervision_issuer(level: int, town: str) -> str:
    """The 督办单 is issued in the name of the level that supervises, not the committee's: the center
    (中心主任督办), the town's government (镇街领导督办), the city's (市领导包案)."""
    s = get_settings()
    if level >= 3:
        city = s.center_name.split("市", 1)[0] + "市" if "市" in s.center_name else ""
        return f"{city}人民政府" if city else s.center_name
    if level == 2 and town:
        return f"{town}办事处" if town.endswith("街道") else f"{town}人民政府"
    return s.center_name


def _supervision_history(session: Session, esc: Escalation, now: datetime) -> dict:
    """签收, 批示 and 承办反馈 as of the moment the 督办单 is issued (what was known that day)."""
    esc_id = esc.id or 0
    steps = [
        {**e, "at": datetime.fromisoformat(e["at"])}
        for e in histories(session, [esc_id])[esc_id]
        if datetime.fromisoformat(e["at"]) <= now
    ]
    acks = [e for e in steps if e["kind"] == "ack"]
    return {
        "acknowledged": acks[-1] if acks else None,
        "instructions": [e for e in steps if e["kind"] == "instruct"],
        "feedback": [e for e in steps if e["kind"] == "feedback"],
    }


def _report_town(session: Session, subject: str) -> str | None:
    """A report a leader ordered from the pages (subject `backlog:job:<id>`, flows/jobs.py) covers what
    they may see, as the dashboard does: a town leader's, their own town. The weekly one: the center."""
    from models.access import scope_town
    from models.job import Job

    # Ordered through `GET /reports/backlog` (api/routes/reports.py): `backlog@<moment>@<town>` names
    # the town it covers; `backlog@<moment>` alone is center-wide.
    if subject.startswith("backlog@"):
        parts = subject.split("@", 2)
        return parts[2] if len(parts) == 3 and parts[2] else None
    prefix = "backlog:job:"
    if not subject.startswith(prefix):
        return None
    job = session.get(Job, int(subject.removeprefix(prefix)))
    requester = session.get(User, job.requested_by) if job is not None else None
    return scope_town(requester) if requester is not None else None


def backlog_report(session: Session, case: Case | None, subject: str, now: datetime) -> dict:
    from models.backlog import backlog_summary

    town = _report_town(session, subject)
    summary = backlog_summary(session, now=now, town=town)
    year, week, _ = china_date(now).isocalendar()
    s = get_settings()
    in_town = [col(Case.town) == town] if town else []
    overdue_rows = session.exec(
        select(Case).where(overdue_sql(now), *in_town).order_by(col(Case.stage_due_at)).limit(20)
    ).all()
    rate = summary["success_rate"]
    today = china_date(now)
    # Due today is not overdue: the period runs to 24:00 of its last day (models/deadlines.py).
    due_today = len(
        session.exec(
            select(Case.id).where(
                open_sql(),
                col(Case.clock_paused_since).is_(None),
                col(Case.stage_due_at) > now,
                col(Case.stage_due_at) <= end_of_day_utc(today),
                *in_town,
            )
        ).all()
    )
    return {
        "case_no": f"{s.case_no_prefix}报〔{year}〕第{week}期",
        "committee": _committee(center_committee(session)),
        "period_label": f"{town}，{year}年第{week}周" if town else f"{year}年第{week}周",
        "generated_at": now,
        "issued_on": china_date(now),
        "totals": {
            "open": summary["open_total"],
            "overdue": summary["overdue"],
            "closed_in_period": summary["trend"][-1]["out"],
            "new_in_period": summary["trend"][-1]["in"],
            "success_rate": f"{rate * 100:.1f}%" if rate is not None else "—",
            "mass": summary["mass_open"],
        },
        "by_age": [
            {"label": k, "open": v, "overdue": summary["overdue_by_age"].get(k, 0)}
            for k, v in summary["by_age"].items()
        ],
        "by_town": [
            {
                "label": k,
                "open": v,
                "overdue": summary["overdue_by_town"].get(k, 0),
                "mass": summary["mass_by_town"].get(k, 0),
            }
            for k, v in summary["by_town"].items()
        ],
        "by_category": [
            {
                "label": Category(k).label,
                "open": v,
                "overdue": summary["overdue_by_category"].get(k, 0),
                "mass": summary["mass_by_category"].get(k, 0),
            }
            for k, v in summary["by_category"].items()
        ],
        "oldest": [
            {
                "case_no": c.case_no,
                "town": c.town,
                "category_label": Category(c.category).label,
                "stage_label": Stage(c.stage).label,
                "days_overdue": days_overdue(c.stage_due_at, now),
                "level_label": EscalationLevel(str(c.escalation_level)).label,
            }
            for c in overdue_rows
            # An instant deadline inside its last day (older data) has not run out yet that day.
            if days_overdue(c.stage_due_at, now) > 0
        ],
        "due_today": due_today,
        "note": _backlog_note(session),
    }


def _backlog_note(session: Session) -> list[str]:
    """Which deadlines the report counts: each stage's own limit, the center's for its own steps (with
    the days this center set) and the case's legal clock for the mediation itself."""
    from models.center_settings import current_values

    days = current_values(session)
    center = []
    for stage in (Stage.registered, Stage.accepted, Stage.agreed):
        limit = STAGE_LIMITS[stage]
        n = days.get(f"stage_days_{stage.value}", limit.working_days)
        center.append(f"{stage.label}阶段{n}个工作日")
    clocks = "；".join(
        f"{get_rule(code).label_zh}依{cite.cite_short}"
        for code in ("people_mediation", "labor", "medical", "court_pre_filing", "court_post_filing")
        if (cite := clock_citation(code)) is not None
    )
    counting = "、".join(law(k).cite_short for k in ("cpl_85", "civil_201", "civil_202", "civil_203"))
    return [
        "本表不含当事人个人信息。",
        f"“超期”按各案件所处阶段的期限计算：登记、受理、达成协议阶段按本中心规定的办理时限（{'、'.join(center)}）；"
        f"专班组建后至调解结束按案件适用的法定调解期限（{clocks}）；履行回访阶段按协议约定的履行期限。",
        f"期间依{counting}计算，期限最后一日当日二十四时届满；当日到期的案件不计入超期。",
    ]


BUILDERS: dict[str, Callable[..., dict]] = {
    "application": application,
    "acceptance_notice": acceptance_notice,
    "rejection_notice": rejection_notice,
    "respondent_notice": respondent_notice,
    "clock_notice": clock_notice,
    "session_record": session_record,
    "agreement": agreement,
    "termination_notice": termination_notice,
    "follow_up_record": follow_up_record,
    "supervision_order": supervision_order,
    "backlog_report": backlog_report,
}
