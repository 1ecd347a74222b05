"""What the JSON API returns: one `XPublic` model per body, so `/openapi.json` describes every answer.

Each model builds itself from the rows (`CasePublic.from_row(case, now)`, `PartyPublic.from_row(party,
full=...)`, `CaseDetailPublic.from_case(session, case, user, now)`, ...): the routes return the model,
the pages read `model_dump(mode="json")`, so both show the one shape. Personal data is masked wherever
the reader is not working the case, and always in lists.

Timestamps and dates are the ISO strings of the stored values (re-parsing them would change their
spelling, e.g. `+00:00` → `Z`); the schema still says `format: date-time` / `format: date`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model
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
from models.case_queries import CasePage
from models.center_settings import TUNABLES, default_value
from models.clocks import due_date, get_rule
from models.closing import CaseClosing
from models.committee import CaseCommitteePublic, committee_for
from models.db import id_of
from models.deadlines import china_date, clocks_for, is_overdue, last_day, legal_due, work_calendar
from models.document import Document
from models.enforcement import EnforcementRecord, jc_last_day, judicial_confirmation_due, ledger, steps_of
from models.enums import (
    ENUMS_BY_NAME,
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
    PartyKind,
    PartyRole,
    ReferralKind,
    RiskLevel,
    Satisfaction,
    SessionOutcome,
    Stage,
    TermState,
)
from models.escalation import Escalation, EscalationStatus
from models.escalation import histories as escalation_histories
from models.expert import Expert, PanelMember, Recusal
from models.history import case_history
from models.law import ARTICLES
from models.lifecycle import allowed_actions
from models.mediation_session import MediationSession, recusal_asked
from models.money import AMOUNT_PATTERN
from models.party import Party
from models.tz import CHINA
from models.user import User
from models.validation import mask_email, mask_id_number, mask_phone

Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
Day = Annotated[str, WithJsonSchema({"type": "string", "format": "date"})]
Money = Annotated[str, WithJsonSchema({"type": "string", "pattern": AMOUNT_PATTERN})]
Level = Annotated[int, Field(ge=0, le=3)]


SessionStatus = Literal["scheduled", "held", "cancelled"]
EscalationStatusCode = Literal["assigned", "acknowledged", "instructed", "answered", "resolved"]
SESSION_STATUS_LABELS: dict[str, str] = {"scheduled": "待召开", "held": "已召开", "cancelled": "已取消"}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _money(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


def _display_name(session: Session, user_id: int | None) -> str | None:
    user = session.get(User, user_id) if user_id is not None else None
    return user.display_name if user else None


class PublicModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- Errors -------------------------------------------------------------------------------------


class ValidationIssuePublic(PublicModel):
    loc: list[str | int] = Field(description='出错的位置，如 ["body", "parties", 0, "id_number"]')
    msg: str = Field(description="中文原因")
    type: str
    field: str | None = Field(default=None, description="字段的中文名称（已知时）")


class FieldErrorPublic(PublicModel):
    field: str | None = Field(description="字段路径，如 party_answers.0.recusal_against")
    message: str = Field(description="中文原因")


class ErrorPublic(PublicModel):
    """Every 4xx (and 5xx) answer of the API: a Chinese reason, or for 422 the list of bad fields."""

    detail: str | list[ValidationIssuePublic] = Field(description="中文说明；422 时为逐项列出的字段错误")
    errors: list[FieldErrorPublic] | None = Field(
        default=None,
        description="业务规则发现的全部输入错误（一次列出）：field 为字段路径（如 statements.2.speaker）",
    )


# --- Auth ---------------------------------------------------------------------------------------


class TokenPublic(PublicModel):
    access_token: str
    token_type: str = "bearer"


class LogoutPublic(PublicModel):
    logged_out: bool = Field(description="本令牌的服务器端会话已撤销，令牌不再有效")


class MePublic(PublicModel):
    id: int
    username: str
    display_name: str
    role: str
    level: int | None
    town: str | None
    expert_id: int | None


# --- Cases --------------------------------------------------------------------------------------


class ReferralPublic(PublicModel):
    kind: ReferralKind
    reference: str | None


class CasePublic(PublicModel):
    """A case as every action returns it (CONTRACT: Case)."""

    id: int
    case_no: str = Field(description="如 瑞调〔2026〕00017号")
    stage: Stage
    stage_label: str
    category: Category
    category_label: str
    channel: Channel
    channel_label: str
    town: str
    village: str | None
    summary: str
    claims: str | None
    amount_involved: Money | None
    headcount: int
    is_mass: bool
    risk_level: RiskLevel
    risk_label: str
    risk_reasons: list[str]
    police_reported: bool
    escalation_level: Level
    escalation_label: str
    stage_due_at: Timestamp | None
    stage_due_on: Day | None = Field(default=None, description="本阶段期限的最后一日")
    overdue: bool = Field(description="截至 now 是否超过本阶段期限")
    clock: ClockCode
    clock_label: str
    clock_due_on: Day | None
    clock_paused: bool
    referral: ReferralPublic | None
    outcome: str | None
    flagged: bool
    flag_reason: str | None
    created_at: Timestamp
    updated_at: Timestamp
    accepted_at: Timestamp | None
    closed_at: Timestamp | None
    close_kind: CloseKind | None = Field(default=None, description="结案方式（待审批时也已填写）")
    close_kind_label: str | None = None
    close_pending: bool = Field(default=False, description="结案决定待中心主任审批")
    version: int = Field(description="乐观锁版本号：修改时回传")

    @classmethod
    def from_row(cls, case: Case, now: datetime, **more: Any) -> Self:
        """`more`: the fields a subclass adds (the list's parties, the detail's 卷宗)."""
        return cls(
            id=id_of(case),
            case_no=case.case_no or "",
            stage=Stage(case.stage),
            stage_label=Stage(case.stage).label,
            category=Category(case.category),
            category_label=Category(case.category).label,
            channel=Channel(case.channel),
            channel_label=Channel(case.channel).label,
            town=case.town,
            village=case.village,
            summary=case.summary,
            claims=case.claims,
            amount_involved=_money(case.amount_involved),
            headcount=case.headcount,
            is_mass=case.is_mass,
            risk_level=RiskLevel(case.risk_level),
            risk_label=RiskLevel(case.risk_level).label,
            risk_reasons=case.risk_reasons,
            police_reported=case.police_reported,
            escalation_level=case.escalation_level,
            escalation_label=EscalationLevel(str(case.escalation_level)).label,
            stage_due_at=_iso(case.stage_due_at),
            # The last allowed day (what people see and documents print), not the end-of-day instant.
            stage_due_on=_day(last_day(case.stage_due_at)),
            overdue=is_overdue(case, now),
            clock=ClockCode(case.clock),
            clock_label=ClockCode(case.clock).label,
            clock_due_on=_day(case.clock_due_on),
            clock_paused=case.clock_paused_since is not None,
            referral=(
                ReferralPublic(kind=ReferralKind(case.referral_kind), reference=case.referral_reference)
                if case.referral_kind
                else None
            ),
            outcome=case.outcome,
            flagged=case.flagged,
            flag_reason=case.flag_reason,
            created_at=case.created_at.isoformat(),
            updated_at=case.updated_at.isoformat(),
            accepted_at=_iso(case.accepted_at),
            closed_at=_iso(case.closed_at),
            close_kind=CloseKind(case.close_kind) if case.close_kind else None,
            close_kind_label=CloseKind(case.close_kind).label if case.close_kind else None,
            # Decided but not closed: waiting for the director's 结案审批.
            close_pending=case.close_kind is not None and case.stage != Stage.closed,
            version=case.version,
            **more,
        )


class PartyPublic(PublicModel):
    """A party; `id_number`, `phone` masked and `address` withheld for readers not working the case."""

    id: int
    role: PartyRole
    role_label: str
    kind: PartyKind
    name: str
    id_number: str | None
    phone: str | None
    org_code: str | None
    address: str | None
    legal_representative: str | None
    legal_representative_title: str | None = Field(default=None, description="法定代表人职务")
    agent_name: str | None
    agent_phone: str | None = Field(default=None, description="委托代理人电话（脱敏规则同当事人）")
    agent_id_number: str | None = Field(default=None, description="委托代理人身份证号（脱敏规则同当事人）")
    agent_special_authority: bool = Field(default=False, description="委托代理人有特别授权")
    agent_expert_id: int | None
    is_representative: bool
    represented_by: str | None = Field(default=None, description="由谁代表（推选的代表）")
    email: str | None = Field(default=None, description="电子邮箱（脱敏规则同电话）")
    consent_electronic: bool = Field(default=False, description="同意电子送达")
    consent_at: Timestamp | None = Field(default=None, description="同意（或撤回）电子送达的记录时间")
    version: int | None = None

    @classmethod
    def from_row(cls, party: Party, *, full: bool) -> Self:
        """`full`: the reader works the case and sees personal data unmasked."""
        return cls(
            id=id_of(party),
            role=PartyRole(party.role),
            role_label=PartyRole(party.role).label,
            kind=PartyKind(party.kind),
            name=party.name,
            id_number=party.id_number if full or not party.id_number else mask_id_number(party.id_number),
            phone=party.phone if full or not party.phone else mask_phone(party.phone),
            org_code=party.org_code,
            address=party.address if full else None,
            legal_representative=party.legal_representative,
            legal_representative_title=party.legal_representative_title,
            agent_name=party.agent_name,
            # The agent's numbers are masked like the party's own.
            agent_phone=party.agent_phone if full or not party.agent_phone else mask_phone(party.agent_phone),
            agent_id_number=(
                party.agent_id_number
                if full or not party.agent_id_number
                else mask_id_number(party.agent_id_number)
            ),
            agent_special_authority=party.agent_special_authority,
            agent_expert_id=party.agent_expert_id,
            is_representative=party.is_representative,
            represented_by=party.represented_by,
            email=party.email if full or not party.email else mask_email(party.email),
            consent_electronic=party.consent_electronic,
            consent_at=_iso(party.consent_at),
            version=party.version,
        )


class CaseListItemPublic(CasePublic):
    parties: list[PartyPublic] = Field(description="个人信息已脱敏")
    match: str | None = Field(
        default=None,
        description="按完整身份证号或电话检索到时匹配的是什么（已脱敏）：身份证号 330381********1234 匹配",
    )


class CasesPublic(PublicModel):
    items: list[CaseListItemPublic]
    total: int
    limit: int
    offset: int

    @classmethod
    def from_page(cls, session: Session, page: CasePage, *, now: datetime, limit: int, offset: int) -> Self:
        """One page of `find_cases` as the list shows it: parties always masked. (`page.more`, the
        pages' capped count, is theirs to read: the JSON list counts every match.)"""
        parties: dict[int, list[PartyPublic]] = {}
        if page.rows:
            query = select(Party).where(col(Party.case_id).in_([id_of(c) for c in page.rows]))
            for p in session.exec(query.order_by(col(Party.id))).all():
                parties.setdefault(p.case_id, []).append(PartyPublic.from_row(p, full=False))
        match = {"match": page.match} if page.match else {}
        items = [
            CaseListItemPublic.from_row(c, now, parties=parties.get(id_of(c), []), **match) for c in page.rows
        ]
        return cls(items=items, total=page.total, limit=limit, offset=offset)


class PanelMemberPublic(PublicModel):
    id: int
    expert_id: int
    name: str
    kind: ExpertKind
    kind_label: str
    organization: str | None
    role: PanelRole
    role_label: str
    active: bool
    seated_at: Timestamp
    removed_reason: str | None

    @classmethod
    def from_row(cls, member: PanelMember, expert: Expert) -> Self:
        return cls(
            id=id_of(member),
            expert_id=id_of(expert),
            name=expert.name,
            kind=ExpertKind(expert.kind),
            kind_label=ExpertKind(expert.kind).label,
            organization=expert.organization,
            role=PanelRole(member.role),
            role_label=PanelRole(member.role).label,
            active=member.active,
            seated_at=member.seated_at.isoformat(),
            removed_reason=member.removed_reason,
        )

    @classmethod
    def of_case(cls, session: Session, case_id: int, *, include_removed: bool = False) -> list[Self]:
        query = (
            select(PanelMember, Expert)
            .join(Expert, col(Expert.id) == col(PanelMember.expert_id))
            .where(PanelMember.case_id == case_id)
        )
        if not include_removed:
            query = query.where(col(PanelMember.active))
        return [cls.from_row(m, e) for m, e in session.exec(query.order_by(col(PanelMember.id))).all()]


class PanelPublic(PublicModel):
    """The panel after a recusal (the expert replaced or removed)."""

    case_id: int
    panel: list[PanelMemberPublic]
    version: int

    @classmethod
    def from_row(cls, session: Session, case: Case) -> Self:
        return cls(
            case_id=id_of(case), panel=PanelMemberPublic.of_case(session, id_of(case)), version=case.version
        )


class RecusalPublic(PublicModel):
    expert_id: int
    reason: str
    replaced_by_expert_id: int | None
    created_at: Timestamp

    @classmethod
    def from_row(cls, recusal: Recusal) -> Self:
        return cls(
            expert_id=recusal.expert_id,
            reason=recusal.reason,
            replaced_by_expert_id=recusal.replaced_by_expert_id,
            created_at=recusal.created_at.isoformat(),
        )


class RescheduleEntryPublic(PublicModel):
    """A time given up by a reschedule (改期), with the reason."""

    scheduled_at: Timestamp = Field(description="原定时间")
    ends_at: Timestamp
    location: str = Field(description="原定地点")
    reason: str
    at: Timestamp = Field(description="改期操作时间")
    by: str = Field(description="操作人姓名")


class PresentPersonPublic(PublicModel):
    name: str
    kind: Literal["party", "party_agent", "panel", "other"]
    capacity: str
    on_behalf_of: str | None = Field(default=None, description="代理人、法定代表人所代表的当事人")


class StatementPublic(PublicModel):
    speaker: str
    text: str


class PartyAnswerPublic(PublicModel):
    party: str
    answer: str
    recusal: bool
    recusal_against: str | None
    recusal_reason: str | None


class OralTermPublic(PublicModel):
    obligor: str
    obligee: str
    obligation: str
    amount: Money | None
    due_date: str | None
    method: str | None
    place: str | None


class OralConsentPublic(PublicModel):
    party: str
    agrees: bool
    words: str


class OralAgreementPublic(PublicModel):
    """人民调解法 第28条: an oral agreement, recorded in the 人民调解记录 of its session."""

    id: int
    session_id: int
    terms: list[OralTermPublic]
    consents: list[OralConsentPublic]
    performance: str
    performance_label: str
    performed: bool
    performed_at: Timestamp | None
    performance_note: str | None
    written_requested_at: Timestamp | None
    written_requested_by: str | None
    agreement_id: int | None
    version: int

    @classmethod
    def from_row(cls, oral: OralAgreement) -> Self:
        return cls(
            id=id_of(oral),
            session_id=oral.session_id,
            terms=[OralTermPublic.model_validate(t) for t in oral.terms],
            consents=[OralConsentPublic.model_validate(c) for c in oral.consents],
            performance=oral.performance,
            performance_label=OralPerformance(oral.performance).label,
            performed=oral.performed,
            performed_at=_iso(oral.performed_at),
            performance_note=oral.performance_note,
            written_requested_at=_iso(oral.written_requested_at),
            written_requested_by=oral.written_requested_by,
            agreement_id=oral.agreement_id,
            version=oral.version,
        )


class SessionPublic(PublicModel):
    id: int
    seq: int | None = Field(description="第N次（按时间排序；已召开的不再变动）；已取消的为空")
    scheduled_at: Timestamp
    ends_at: Timestamp
    location: str
    held_at: Timestamp | None
    attendees: list[str]
    notes: str | None
    outcome: SessionOutcome | None
    recorded_at: Timestamp | None
    status: SessionStatus
    status_label: str
    reschedules: list[RescheduleEntryPublic] = Field(description="改期记录（原定时间与理由）")
    cancelled_at: Timestamp | None
    cancel_reason: str | None
    version: int
    # v1.1 人民调解记录 (人民调解法 第23、24、27、28条)
    present: list[PresentPersonPublic] = Field(default_factory=list, description="到场人员：姓名和身份")
    recorder_name: str | None = Field(default=None, description="记录人")
    statements: list[StatementPublic] = Field(default_factory=list, description="各方发言，按顺序")
    rights_told: bool = Field(default=False, description="已告知当事人权利义务")
    party_answers: list[PartyAnswerPublic] = Field(default_factory=list, description="当事人答复及回避申请")
    recusal_asked: bool | None = Field(default=None, description="是否有当事人申请回避（未询问为空）")

    @classmethod
    def from_row(cls, ms: MediationSession, **more: Any) -> Self:
        """`more`: the fields a subclass adds (the case, the scheduling warnings)."""
        status: SessionStatus = "cancelled" if ms.cancelled_at else "held" if ms.recorded_at else "scheduled"
        return cls(
            id=id_of(ms),
            seq=ms.seq,
            scheduled_at=ms.scheduled_at.isoformat(),
            ends_at=ms.ends_at.isoformat(),
            location=ms.location,
            held_at=_iso(ms.held_at),
            attendees=ms.attendees,
            notes=ms.notes,
            outcome=SessionOutcome(ms.outcome) if ms.outcome else None,
            recorded_at=_iso(ms.recorded_at),
            status=status,
            status_label=SESSION_STATUS_LABELS[status],
            reschedules=[RescheduleEntryPublic.model_validate(r) for r in ms.reschedules or []],
            cancelled_at=_iso(ms.cancelled_at),
            cancel_reason=ms.cancel_reason,
            version=ms.version,
            present=[PresentPersonPublic.model_validate(p) for p in ms.present or []],
            recorder_name=ms.recorder_name,
            statements=[StatementPublic.model_validate(s) for s in ms.statements or []],
            rights_told=ms.rights_told,
            party_answers=[PartyAnswerPublic.model_validate(a) for a in ms.party_answers or []],
            recusal_asked=recusal_asked(ms),
            **more,
        )


class SessionWithCasePublic(SessionPublic):
    case: CasePublic


class SessionScheduledPublic(SessionWithCasePublic):
    warnings: list[str] = Field(
        default_factory=list,
        description="安排提示（不阻止保存）：晚于本阶段期限（写明最后一日）、周末或法定节假日",
    )


class AttachmentPublic(PublicModel):
    """A file uploaded to the case's 卷宗 (issue 22)."""

    id: int
    kind: str = Field(
        description="id_copy、authorization、evidence、investigation、performance_proof、signed_scan、other"
    )
    kind_label: str
    party_id: int | None
    filename: str
    content_type: str = Field(description="按文件内容判断：application/pdf、image/jpeg、image/png")
    size: int
    sha256: str
    created_at: Timestamp
    url: str = Field(description="下载地址")


class ChecklistPart(PublicModel):
    source: str = Field(description="document（已出具文书）、attachment（上传材料）、generated（立卷时打印）")
    id: int | None
    title: str


class ChecklistItemPublic(PublicModel):
    item: str = Field(description="卷内材料名称")
    code: str
    required: bool = Field(description="必须（true）或按需（false）")
    present: bool
    missing: list[str] = Field(description="尚缺的材料（必须项）")
    note: str | None
    documents: list[ChecklistPart]


class DocumentPublic(PublicModel):
    id: int
    kind: DocumentKind
    kind_label: str
    sha256: str
    verify_code: str | None
    version_no: int
    supersedes_id: int | None
    created_at: Timestamp
    url: str = Field(description="PDF 下载地址")
    case_id: int | None

    @classmethod
    def from_row(cls, doc: Document) -> Self:
        return cls(
            id=id_of(doc),
            kind=DocumentKind(doc.kind),
            kind_label=DocumentKind(doc.kind).label,
            sha256=doc.sha256,
            verify_code=doc.verify_code,
            version_no=doc.version_no,
            supersedes_id=doc.supersedes_id,
            created_at=doc.created_at.isoformat(),
            url=f"/api/v1/documents/{doc.id}/pdf",
            case_id=doc.case_id,
        )


class TermPublic(PublicModel):
    id: int
    seq: int
    obligor: str = Field(description="义务人")
    obligee: str | None = Field(description="权利人（v1.1 之前登记的条款为空）")
    obligation: str
    method: str | None = Field(description="本项履行方式；为空则用协议的履行方式")
    place: str | None = Field(description="本项履行地点；为空则用协议的履行地点")
    amount: Money | None
    due_date: Day | None
    performed: bool
    performed_at: Timestamp | None
    state: TermState | None = Field(description="最近一次回访时的履行情况；尚未回访为空")
    state_label: str | None

    @classmethod
    def from_row(cls, term: AgreementTerm) -> Self:
        return cls(
            id=id_of(term),
            seq=term.seq,
            obligor=term.obligor,
            obligee=term.obligee,
            obligation=term.obligation,
            method=term.method,
            place=term.place,
            amount=_money(term.amount),
            due_date=_day(term.due_date),
            performed=term.performed,
            performed_at=_iso(term.performed_at),
            state=TermState(term.state) if term.state else None,
            state_label=TermState(term.state).label if term.state else None,
        )


class JudicialConfirmationPublic(PublicModel):
    due: Day = Field(description=f"申请司法确认的最后一日（{ARTICLES['pml_33'].cite_short}）")
    basis: str


class SignOverridePublic(PublicModel):
    """Signed over the lawyer's disapproval of the draft (v1.2 `override_reason`)."""

    reason: str = Field(description="坚持签署的理由")
    by: str | None = Field(description="决定签署的人")
    at: Timestamp = Field(description="登记时间")
    opinion_id: int | None = Field(description="被坚持签署所覆盖的律师意见")


class DisapprovalPublic(PublicModel):
    """The lawyer's latest opinion on the current draft, when it disapproves (signing then needs a reason)."""

    opinion_id: int
    author: str | None = Field(description="律师姓名")
    body: str
    created_at: Timestamp
    revision: int = Field(description="针对的协议书稿次")

    @classmethod
    def from_row(cls, session: Session, agreement: Agreement) -> Self | None:
        """None once signed, or where no disapproval stands on the current draft."""
        if agreement.signed_at is not None:
            return None
        opinion = standing_disapproval(session, agreement)
        if opinion is None:
            return None
        return cls(
            opinion_id=id_of(opinion),
            author=_display_name(session, opinion.author_id),
            body=opinion.body,
            created_at=opinion.created_at.isoformat(),
            revision=opinion.agreement_revision or 0,
        )


class AgreementPublic(PublicModel):
    id: int
    case_id: int
    facts: str | None
    disputes: str | None
    responsibility: str | None
    rights_confirmation: bool = Field(description="协议内容涉及物权、知识产权确权")
    status_relation: bool = Field(description="协议涉及身份关系")
    performance_method: str
    performance_place: str | None
    ink_only: bool
    issued_at: Timestamp | None
    signed_at: Timestamp | None
    terms: list[TermPublic]
    document: DocumentPublic | None
    document_pending: bool = Field(description="协议书正在生成（服务器模式下稍后刷新）")
    judicial_confirmation: JudicialConfirmationPublic | None
    version: int
    revision: int = Field(default=1, description="协议书稿次（签署前每次修改加一）")
    lawyer_disapproval: DisapprovalPublic | None = Field(
        default=None, description="律师对当前稿的最新意见为不同意（签署须填写 override_reason）"
    )
    sign_override: SignOverridePublic | None = Field(default=None, description="在律师不同意的情况下签署")

    @classmethod
    def from_row(cls, agreement: Agreement, session: Session, **more: Any) -> Self:
        """`more`: the fields a subclass adds (the case)."""
        terms = session.exec(
            select(AgreementTerm)
            .where(AgreementTerm.agreement_id == agreement.id)
            .order_by(col(AgreementTerm.seq))
        ).all()
        doc = session.get(Document, agreement.document_id) if agreement.document_id else None
        # None where 司法确认 is not open (委托, 确权, 身份关系): nothing to show.
        due = judicial_confirmation_due(session, agreement)
        return cls(
            id=id_of(agreement),
            case_id=agreement.case_id,
            facts=agreement.facts,
            disputes=agreement.disputes,
            responsibility=agreement.responsibility,
            rights_confirmation=agreement.rights_confirmation,
            status_relation=agreement.status_relation,
            performance_method=agreement.performance_method,
            performance_place=agreement.performance_place,
            ink_only=agreement.ink_only,
            issued_at=_iso(agreement.issued_at),
            signed_at=_iso(agreement.signed_at),
            terms=[TermPublic.from_row(t) for t in terms],
            document=DocumentPublic.from_row(doc) if doc else None,
            document_pending=doc is None,
            judicial_confirmation=(
                JudicialConfirmationPublic(due=due.due.isoformat(), basis=due.basis) if due else None
            ),
            version=agreement.version,
            revision=agreement.revision,
            lawyer_disapproval=DisapprovalPublic.from_row(session, agreement),
            sign_override=(
                SignOverridePublic(
                    reason=agreement.override_reason,
                    by=_display_name(session, agreement.override_by),
                    at=_iso(agreement.override_at) or "",
                    opinion_id=agreement.override_opinion_id,
                )
                if agreement.override_reason
                else None
            ),
            **more,
        )


class AgreementWithCasePublic(AgreementPublic):
    case: CasePublic


class FollowUpTermPublic(PublicModel):
    term_id: int
    seq: int = Field(description="协议第N项")
    obligee: str | None = Field(default=None, description="权利人")
    state: TermState
    state_label: str
    paid_amount: Money | None = Field(default=None, description="本次登记的已付金额（元）")
    paid_on: Day | None = Field(default=None, description="付款日期")


class TermPerformancePublic(PublicModel):
    term_id: int
    seq: int = Field(description="协议第N项")
    obligor: str = Field(description="义务人")
    obligee: str | None = Field(description="权利人")
    amount: Money = Field(description="约定金额（元）")
    paid: Money = Field(description="累计已付（元）")
    outstanding: Money = Field(description="尚欠（元）")


class FollowUpPublic(PublicModel):
    id: int
    term_id: int | None
    performed: bool = Field(description="本次回访的条款均已履行")
    notes: str | None
    visited_at: Timestamp
    method: FollowUpMethod | None
    method_label: str | None
    visited_person: str | None = Field(description="被回访人")
    opinion: str | None = Field(description="当事人意见")
    terms: list[FollowUpTermPublic]
    visitor: str | None = Field(description="回访人姓名")
    satisfaction: Satisfaction | None = Field(default=None, description="当事人满意度（v1.2）")
    satisfaction_label: str | None = None

    @classmethod
    def from_row(
        cls, visit: FollowUp, terms: dict[int, AgreementTerm], visitor: User | None = None, **more: Any
    ) -> Self:
        """`terms`: the agreement's terms by id (a visit names them by id); `more`: a subclass's fields."""
        return cls(
            id=id_of(visit),
            term_id=visit.term_id,
            performed=visit.performed,
            notes=visit.notes,
            visited_at=visit.visited_at.isoformat(),
            method=FollowUpMethod(visit.method) if visit.method else None,
            method_label=FollowUpMethod(visit.method).label if visit.method else None,
            visited_person=visit.visited_person,
            opinion=visit.opinion,
            terms=[
                FollowUpTermPublic(
                    term_id=item["term_id"],
                    seq=terms[item["term_id"]].seq if item["term_id"] in terms else 0,
                    obligee=terms[item["term_id"]].obligee if item["term_id"] in terms else None,
                    state=TermState(item["state"]),
                    state_label=TermState(item["state"]).label,
                    paid_amount=item.get("paid_amount"),
                    paid_on=item.get("paid_on"),
                )
                for item in visit.term_states or []
            ],
            visitor=visitor.display_name if visitor else None,
            satisfaction=Satisfaction(visit.satisfaction) if visit.satisfaction else None,
            satisfaction_label=Satisfaction(visit.satisfaction).label if visit.satisfaction else None,
            **more,
        )


class FollowUpWithCasePublic(FollowUpPublic):
    case: CasePublic


class EscalationEventPublic(PublicModel):
    kind: Literal["ack", "instruct", "urge", "feedback", "resolve"] = Field(
        description="ack 签收, instruct 批示, urge 催办, feedback 承办反馈, resolve 办结"
    )
    kind_label: str
    text: str | None
    reply_by: Day | None = Field(description="批示要求的反馈期限（当日全天有效）")
    actor: str = Field(description="办理人姓名；系统自动办结时为“系统”")
    at: Timestamp


class InstructionPublic(PublicModel):
    text: str
    reply_by: Day
    by: str = Field(description="批示领导姓名")
    at: Timestamp


class FeedbackPublic(PublicModel):
    text: str
    by: str = Field(description="反馈人姓名")
    at: Timestamp


class EscalationPublic(PublicModel):
    id: int
    case_id: int
    stage: Stage
    from_level: Level
    to_level: Level
    level_label: str
    reason: str
    assignee_id: int | None
    assignee: str | None = Field(description="督办领导姓名")
    leader: str | None = Field(description="督办领导姓名（同 assignee）")
    status: EscalationStatusCode = Field(
        description="assigned 待签收, acknowledged 已签收, instructed 已批示待反馈, answered 已反馈, "
        "resolved 已办结"
    )
    status_label: str
    acknowledged_at: Timestamp | None
    acknowledged_by: str | None = Field(description="签收人姓名")
    reply_by: Day | None = Field(description="最近一次批示要求的反馈期限")
    stage_left_at: Timestamp | None = Field(description="案件离开超期阶段的时间")
    instructions: list[InstructionPublic]
    feedback: list[FeedbackPublic]
    events: list[EscalationEventPublic] = Field(description="办理经过（签收、批示、催办、反馈、办结）")
    created_at: Timestamp
    resolved_at: Timestamp | None
    resolved_reason: str | None = Field(
        default=None, description="办结原因（如：案件已结案（履行完毕），督办自动结束）"
    )
    open: bool
    document_id: int | None = Field(description="督办单")

    @classmethod
    def from_row(
        cls, esc: Escalation, assignee: User | None = None, history: list[dict] | None = None, **more: Any
    ) -> Self:
        """`history`: its steps from `models.escalation.histories` (签收, 批示, 催办, 反馈, 办结);
        `more`: the fields a subclass adds (the case's)."""
        events = history or []
        acks = [e for e in events if e["kind"] == "ack"]
        return cls(
            id=id_of(esc),
            case_id=esc.case_id,
            stage=Stage(esc.stage),
            from_level=esc.from_level,
            to_level=esc.to_level,
            level_label=EscalationLevel(str(esc.to_level)).label,
            reason=esc.reason,
            assignee_id=esc.assignee_id,
            assignee=assignee.display_name if assignee else None,
            leader=assignee.display_name if assignee else None,
            status=EscalationStatus(esc.status).value,
            status_label=EscalationStatus(esc.status).label,
            acknowledged_at=_iso(esc.acknowledged_at),
            acknowledged_by=acks[-1]["actor"] if acks else None,
            reply_by=_day(esc.reply_by),
            stage_left_at=_iso(esc.stage_left_at),
            instructions=[
                InstructionPublic(text=e["text"] or "", reply_by=e["reply_by"], by=e["actor"], at=e["at"])
                for e in events
                if e["kind"] == "instruct"
            ],
            feedback=[
                FeedbackPublic(text=e["text"] or "", by=e["actor"], at=e["at"])
                for e in events
                if e["kind"] == "feedback"
            ],
            events=[EscalationEventPublic.model_validate(e) for e in events],
            created_at=esc.created_at.isoformat(),
            resolved_at=_iso(esc.resolved_at),
            resolved_reason=next((e["text"] for e in reversed(events) if e["kind"] == "resolve"), None),
            open=esc.resolved_at is None,
            document_id=esc.document_id,
            **more,
        )


class EscalationListItemPublic(EscalationPublic):
    case_no: str
    town: str
    case_stage: Stage
    case_stage_label: str
    summary: str

    @classmethod
    def from_rows(
        cls, esc: Escalation, case: Case, assignee: User | None = None, history: list[dict] | None = None
    ) -> Self:
        """The escalation with its case's number, town, stage and summary."""
        return cls.from_row(
            esc,
            assignee,
            history,
            case_no=case.case_no,
            town=case.town,
            case_stage=Stage(case.stage),
            case_stage_label=Stage(case.stage).label,
            summary=case.summary,
        )


class EscalationsPublic(PublicModel):
    items: list[EscalationListItemPublic]
    total: int
    limit: int
    offset: int


class TimelineEntryPublic(PublicModel):
    at: Timestamp
    actor: str | None = Field(description="操作人姓名（系统自动处理为“系统”）")
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    text: str = Field(description="该事件的中文表述，如“窗口受理员 小陈 受理了案件”")


class CaseClockPublic(PublicModel):
    """One legal clock of a case (a case may run several, e.g. 信访告知 and 信访办结)."""

    clock: ClockCode
    label: str
    main: bool = Field(description="决定案件调解期限的主期限")
    ended: bool
    ended_label: str | None
    start: Day | None
    due: Day | None
    basis: str | None
    days_left: int | None
    estimated: bool = Field(description="该年节假日安排尚未载入，按周末推算")
    note: str | None
    paused: bool
    extension_days: int
    paused_days: int
    # v1.2 (issue 19): the working days a working-day clock (医疗) stood still; not in `paused_days`.
    paused_workdays: int = 0

    @classmethod
    def of_case(cls, session: Session, case: Case, now: datetime) -> list[Self]:
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
                cls(
                    clock=ClockCode(clock.code),
                    label=ClockCode(clock.code).label,
                    main=clock.main,
                    ended=ended,
                    ended_label=stage.label if ended else None,
                    start=_day(start),
                    due=due.due.isoformat() if due else None,
                    basis=due.basis if due else None,
                    days_left=(due.due - today).days if due and not ended else None,
                    estimated=due.calendar_is_estimated if due else False,
                    note=due.note if due else None,
                    paused=clock.main and case.clock_paused_since is not None,
                    extension_days=case.clock_extension_days if clock.main else 0,
                    paused_days=case.clock_paused_days if clock.main else 0,
                    paused_workdays=case.clock_paused_workdays if clock.main else 0,
                )
            )
        agreement = session.exec(select(Agreement).where(Agreement.case_id == case.id)).first()
        if agreement is not None and agreement.signed_at is not None:
            start = agreement.signed_at.astimezone(CHINA).date()
            jc = due_date(ClockCode.judicial_confirmation, start, calendar)
            out.append(
                cls(
                    clock=ClockCode.judicial_confirmation,
                    label=ClockCode.judicial_confirmation.label,
                    main=False,
                    ended=False,
                    ended_label=None,
                    start=start.isoformat(),
                    due=jc.due.isoformat(),
                    basis=jc.basis,
                    days_left=(jc.due - today).days,
                    estimated=jc.calendar_is_estimated,
                    note=jc.note,
                    paused=False,
                    extension_days=0,
                    paused_days=0,
                )
            )
        return out


class ClockEventPublic(PublicModel):
    kind: str = Field(description="extend / pause / resume")
    days: int = Field(description="extend: 延长日数; pause: 暂停时尚余; resume: 暂停的日数（单位见 unit）")
    note: str
    at: Timestamp
    # v1.2 (issue 19), optional.
    unit: Literal["day", "working_day"] = Field(default="day", description="days 的单位：日 / 工作日")
    effective_on: Day | None = Field(default=None, description="暂停或恢复的生效日期")
    due_on: Day | None = Field(default=None, description="恢复后调解期限的最后一日")


class RelatedCasePublic(PublicModel):
    case_id: int
    case_no: str
    reason: str
    stage: Stage


class OpinionPublic(PublicModel):
    id: int
    kind: str = Field(description="opinion / agreement_review")
    approved: bool | None
    body: str
    created_at: Timestamp


class CaseOpinionPublic(OpinionPublic):
    author: str | None


class ClosingPublic(PublicModel):
    kind: CloseKind
    kind_label: str
    note: str | None
    requested_by: str = Field(description="作出结案决定的人；系统自动为“系统”")
    requested_at: Timestamp
    needs_approval: bool
    pending: bool = Field(description="待审批")
    approved_by: str | None = Field(description="审批人姓名")
    approved_at: Timestamp | None
    approval_note: str | None

    @classmethod
    def from_row(cls, closing: CaseClosing, users: dict[int | None, User]) -> Self:
        """`users`: the people by id (the decision and the approval name them)."""

        def name(user_id: int | None) -> str | None:
            return users[user_id].display_name if user_id in users else None

        return cls(
            kind=CloseKind(closing.kind),
            kind_label=CloseKind(closing.kind).label,
            note=closing.note,
            requested_by=name(closing.requested_by) or "系统",
            requested_at=closing.requested_at.isoformat(),
            needs_approval=closing.needs_approval,
            pending=closing.needs_approval and closing.approved_at is None,
            approved_by=name(closing.approved_by) if closing.needs_approval else None,
            approved_at=_iso(closing.approved_at),
            approval_note=closing.approval_note,
        )


class EnforcementStepPublic(PublicModel):
    id: int
    step: EnforcementStep
    label: str = Field(description="步骤（中文）")
    on: Day = Field(description="日期")
    court: str | None = Field(description="法院或仲裁委员会")
    note: str | None = None
    party_id: int | None = Field(default=None, description="权利人；空为全体当事人")
    term_ids: list[int] = Field(default_factory=list, description="支付令申请所涉条款")
    amount: Money | None = Field(default=None, description="申请支付的金额（元）")

    @classmethod
    def from_row(cls, step: EnforcementRecord) -> Self:
        return cls(
            id=id_of(step),
            step=EnforcementStep(step.step),
            label=EnforcementStep(step.step).label,
            on=step.on.isoformat(),
            court=step.court,
            note=step.note,
            party_id=step.party_id,
            term_ids=list(step.term_ids or []),
            amount=_money(step.amount),
        )


class LedgerRowPublic(PublicModel):
    obligee: str = Field(description="权利人")
    party_id: int | None
    seqs: list[int] = Field(description="协议第N项")
    agreed: Money = Field(description="约定（元）")
    paid: Money = Field(description="已付（元）")
    outstanding: Money = Field(description="尚欠（元）")
    last_paid_on: Day | None = Field(description="最近付款日期")
    steps: list[EnforcementStepPublic] = Field(description="已采取的履行保障步骤")


class EnforcementPublic(PublicModel):
    """From agreement to enforcement (issue 20): the 司法确认 last day and the performance ledger."""

    judicial_confirmation_last_day: Day | None = Field(
        description=f"申请司法确认的最后一日（{ARTICLES['pml_33'].cite_short}）；不适用或协议未签署时为空"
    )
    ledger: list[LedgerRowPublic]
    steps: list[EnforcementStepPublic]

    @classmethod
    def from_row(cls, session: Session, case: Case, agreement: Agreement | None) -> Self:
        """The 司法确认 last day and the performance ledger (models/enforcement.py)."""
        last = jc_last_day(session, case.referral_kind, agreement)
        steps = {id_of(s): EnforcementStepPublic.from_row(s) for s in steps_of(session, id_of(case))}
        return cls(
            judicial_confirmation_last_day=_day(last),
            ledger=[
                LedgerRowPublic(
                    obligee=row["obligee"],
                    party_id=row["party_id"],
                    seqs=row["seqs"],
                    agreed=str(row["agreed"]),
                    paid=str(row["paid"]),
                    outstanding=str(row["outstanding"]),
                    last_paid_on=_day(row["last_paid_on"]),
                    steps=[steps[s["id"]] for s in row["steps"]],
                )
                for row in ledger(session, id_of(case))
            ],
            steps=list(steps.values()),
        )


class EnforcementActionPublic(PublicModel):
    steps: list[EnforcementStepPublic]
    documents: list[DocumentPublic] = Field(description="已生成的文书（服务器模式下稍后生成）")
    case: CasePublic


class CaseDetailPublic(CasePublic):
    """The case file (卷宗): everything on the case page."""

    parties: list[PartyPublic]
    panel: list[PanelMemberPublic]
    panel_history: list[PanelMemberPublic]
    recusals: list[RecusalPublic]
    sessions: list[SessionPublic]
    agreement: AgreementPublic | None
    follow_ups: list[FollowUpPublic]
    escalations: list[EscalationPublic]
    documents: list[DocumentPublic]
    timeline: list[TimelineEntryPublic]
    clocks: list[CaseClockPublic]
    clock_events: list[ClockEventPublic]
    related_cases: list[RelatedCasePublic]
    opinions: list[CaseOpinionPublic]
    allowed_actions: list[str] = Field(description="当前阶段允许的流转")
    still_due: list[TermPublic] = Field(description="尚未履行的协议条款（按履行期限排序）")
    performance: list[TermPerformancePublic] = Field(
        default_factory=list, description="给付金钱的条款：约定、已付、尚欠（按条款）"
    )
    closing: ClosingPublic | None = Field(description="最近一次结案决定（含审批）")
    oral_agreement: OralAgreementPublic | None = Field(
        default=None, description=f"口头协议（{ARTICLES['pml_28'].cite_short}）"
    )
    committee: CaseCommitteePublic | None = Field(
        default=None,
        description="承办本案的调解组织：其受理类别含本案类别的调解委员会，否则为本中心人民调解委员会",
    )
    enforcement: EnforcementPublic | None = Field(default=None, description="司法确认期限与履行台账")

    @classmethod
    def from_case(cls, session: Session, case: Case, user: User, now: datetime) -> Self:
        """Everything on the case page, read for `user` (personal data masked unless they work cases;
        related cases only where they may see them)."""
        full = sees_personal_data(user)
        case_id = id_of(case)
        agreement = session.exec(select(Agreement).where(Agreement.case_id == case_id)).first()
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
        closing = session.exec(
            select(CaseClosing).where(CaseClosing.case_id == case_id).order_by(col(CaseClosing.id).desc())
        ).first()
        oral = session.exec(select(OralAgreement).where(OralAgreement.case_id == case_id)).first()
        case_escalations = session.exec(
            select(Escalation).where(Escalation.case_id == case_id).order_by(col(Escalation.id))
        ).all()
        steps = escalation_histories(session, [id_of(e) for e in case_escalations])
        working = get_rule(case.clock).counts_working_days_only
        # Only related cases the reader may see: another town's case number and stage are not a town
        # leader's to read, nor a lawyer's off that case.
        related = session.exec(
            select(CaseLink, Case)
            .join(Case, col(Case.id) == col(CaseLink.related_case_id))
            .where(CaseLink.case_id == case_id, case_filter(user))
        ).all()
        return cls.from_row(
            case,
            now,
            parties=[
                PartyPublic.from_row(p, full=full)
                for p in session.exec(
                    select(Party).where(Party.case_id == case_id).order_by(col(Party.id))
                ).all()
            ],
            panel=PanelMemberPublic.of_case(session, case_id),
            panel_history=PanelMemberPublic.of_case(session, case_id, include_removed=True),
            recusals=[
                RecusalPublic.from_row(r)
                for r in session.exec(select(Recusal).where(Recusal.case_id == case_id)).all()
            ],
            # By date, the cancelled ones where they were planned (struck through on the page).
            sessions=[
                SessionPublic.from_row(s)
                for s in session.exec(
                    select(MediationSession)
                    .where(MediationSession.case_id == case_id)
                    .order_by(col(MediationSession.scheduled_at), col(MediationSession.id))
                ).all()
            ],
            agreement=AgreementPublic.from_row(agreement, session) if agreement else None,
            follow_ups=[
                FollowUpPublic.from_row(f, terms, users.get(f.actor_id))
                for f in session.exec(
                    select(FollowUp).where(FollowUp.case_id == case_id).order_by(col(FollowUp.id))
                ).all()
            ],
            still_due=[TermPublic.from_row(t) for t in still_due(unperformed_terms(session, agreement))],
            performance=[
                TermPerformancePublic(
                    term_id=row["term_id"],
                    seq=row["seq"],
                    obligor=row["obligor"],
                    obligee=row["obligee"],
                    amount=str(row["amount"]),
                    paid=str(row["paid"]),
                    outstanding=str(row["outstanding"]),
                )
                for row in performance_rows(list(terms.values()), paid_so_far(session, list(terms)))
            ],
            committee=CaseCommitteePublic.from_row(committee_for(session, case)),
            enforcement=EnforcementPublic.from_row(session, case, agreement),
            oral_agreement=OralAgreementPublic.from_row(oral) if oral else None,
            closing=ClosingPublic.from_row(closing, users) if closing else None,
            escalations=[
                EscalationPublic.from_row(e, users.get(e.assignee_id), steps[id_of(e)])
                for e in case_escalations
            ],
            documents=[
                DocumentPublic.from_row(d)
                for d in session.exec(
                    select(Document).where(Document.case_id == case_id).order_by(col(Document.id))
                ).all()
            ],
            # Each event also as a Chinese sentence naming the person (models/history.py).
            timeline=[TimelineEntryPublic.model_validate(e) for e in case_history(session, case_id)],
            clocks=CaseClockPublic.of_case(session, case, now),
            clock_events=[
                ClockEventPublic(
                    kind=c.kind,
                    days=c.days,
                    note=c.note,
                    at=c.at.isoformat(),
                    unit="working_day" if working and c.kind != "extend" and c.effective_on else "day",
                    effective_on=_day(c.effective_on),
                    due_on=_day(c.due_on),
                )
                for c in session.exec(
                    select(ClockEvent).where(ClockEvent.case_id == case_id).order_by(col(ClockEvent.id))
                ).all()
            ],
            related_cases=[
                RelatedCasePublic(
                    case_id=id_of(c), case_no=c.case_no or "", reason=link.reason, stage=Stage(c.stage)
                )
                for link, c in related
            ],
            opinions=[
                CaseOpinionPublic(
                    id=id_of(o),
                    kind=o.kind,
                    approved=o.approved,
                    body=o.body,
                    author=users[o.author_id].display_name if o.author_id in users else None,
                    created_at=o.created_at.isoformat(),
                )
                for o in session.exec(
                    select(LegalOpinion).where(LegalOpinion.case_id == case_id).order_by(col(LegalOpinion.id))
                ).all()
            ],
            allowed_actions=allowed_actions(case.stage),
        )


class CandidatePublic(PublicModel):
    expert_id: int
    name: str
    kind: ExpertKind
    score: float
    reasons: list[str] = Field(description="得分理由")
    role: PanelRole | None = Field(description="推荐担任的角色；备选人员为空")
    organization: str | None


class ExcludedExpertPublic(PublicModel):
    expert_id: int
    name: str
    reason: str = Field(description="回避或排除原因")


class PanelProposalPublic(PublicModel):
    candidates: list[CandidatePublic]
    alternates: list[CandidatePublic]
    excluded: list[ExcludedExpertPublic]
    needs_mix: bool = Field(description="需兼顾法律专业与事权部门（群体性、高风险或专业类纠纷）")


class FlowRetryPublic(PublicModel):
    requeued: int


# --- Experts ------------------------------------------------------------------------------------


class DeclaredRelationPublic(PublicModel):
    name: str | None = None
    id_number: str | None = Field(default=None, description="已脱敏")
    org_code: str | None = None
    relation: str


class ExpertPublic(PublicModel):
    id: int
    name: str
    kind: ExpertKind
    kind_label: str
    organization: str | None
    towns: list[str] = Field(description="服务镇街；空表示全部")
    village: str | None
    specialties: list[Category]
    max_active_cases: int
    id_number: str | None = Field(description="已脱敏")
    phone: str | None = Field(description="已脱敏")
    room: str | None
    appointed_mediator: bool = Field(
        description="本委员会聘任的人民调解员：只有人民调解员可以主持调解并签署协议"
    )
    declared_relations: list[DeclaredRelationPublic]
    active: bool
    active_cases: int
    version: int

    @classmethod
    def from_row(cls, expert: Expert, active_cases: int = 0) -> Self:
        """`active_cases`: the open cases they sit on (`models.case_queries.active_case_counts`)."""
        return cls(
            id=id_of(expert),
            name=expert.name,
            kind=ExpertKind(expert.kind),
            kind_label=ExpertKind(expert.kind).label,
            organization=expert.organization,
            towns=expert.towns,
            village=expert.village,
            specialties=[Category(s) for s in expert.specialties],
            max_active_cases=expert.max_active_cases,
            id_number=mask_id_number(expert.id_number) if expert.id_number else None,
            phone=mask_phone(expert.phone) if expert.phone else None,
            room=expert.room,
            appointed_mediator=expert.appointed_mediator,
            declared_relations=[
                DeclaredRelationPublic.model_validate(
                    {**r, "id_number": mask_id_number(r["id_number"]) if r.get("id_number") else None}
                )
                for r in expert.declared_relations
            ],
            active=expert.active,
            active_cases=active_cases,
            version=expert.version,
        )


class ExpertsPublic(PublicModel):
    items: list[ExpertPublic]
    total: int
    limit: int
    offset: int


# --- Escalation sweep, dashboard, clocks, enums, notifications, settings ----------------------------


class SweptPublic(PublicModel):
    case_id: int
    case_no: str
    from_level: Level
    to_level: Level
    reason: str


class SweepPublic(PublicModel):
    now: Timestamp
    escalated: list[SweptPublic]


class TrendWeekPublic(PublicModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    week_start: Day
    in_: int = Field(alias="in", description="本周登记")
    out: int = Field(description="本周结案")


class DashboardPublic(PublicModel):
    now: Timestamp
    town: str | None
    open_total: int
    overdue: int
    by_stage: dict[str, int] = Field(description="在办案件按阶段代码")
    by_stage_label: dict[str, int]
    by_category: dict[str, int]
    by_category_label: dict[str, int]
    by_town: dict[str, int]
    overdue_by_town: dict[str, int]
    overdue_by_category: dict[str, int]
    overdue_by_age: dict[str, int]
    mass_by_town: dict[str, int] = Field(description="在办群体性纠纷按镇街")
    mass_by_category: dict[str, int] = Field(description="在办群体性纠纷按类别代码")
    mass_open: int
    by_age: dict[str, int]
    escalated: dict[str, int] = Field(description='按督办级别（"1"–"3"）')
    closed_last_year: int
    agreed_last_year: int
    failed_last_year: int
    success_rate: float | None = Field(description="调解成功率（近一年，0–1）")
    median_days_to_close: float | None
    trend: list[TrendWeekPublic]


class ClockDuePublic(PublicModel):
    clock: ClockCode
    label: str
    start: Day
    due: Day = Field(description="期间的最后一日")
    basis: str
    estimated: bool = Field(description="该年节假日安排尚未公布或载入")
    note: str | None


class EnumItemPublic(PublicModel):
    code: str
    label: str = Field(description="中文名称")


# One field per enum of the contract, built from the same table /meta/enums serves. Typed as Any so
# the type checker does not match the unpacked names against create_model's own `__config__` etc.
_enum_fields: dict[str, Any] = dict.fromkeys(ENUMS_BY_NAME, (list[EnumItemPublic], ...))
EnumsPublic = create_model("EnumsPublic", __base__=PublicModel, **_enum_fields)


class DeliveryPublic(PublicModel):
    """One notice × party addressed (CONTRACT v1.2 `GET /cases/{id}/deliveries`)."""

    id: int
    document_id: int
    kind: str
    kind_label: str
    party_id: int
    party: str
    party_role_label: str
    method: str | None
    method_label: str | None
    status: str
    status_label: str
    delivered_at: Day | None
    signed_by: str | None
    signed_by_label: str | None
    signer_name: str | None
    note: str | None
    consent_electronic: bool
    receipt_document_id: int | None
    receipt_url: str | None


class NotificationPublic(PublicModel):
    id: int
    text: str
    case_id: int | None
    created_at: Timestamp
    read: bool


class NotificationsPublic(PublicModel):
    items: list[NotificationPublic]
    total: int
    limit: int
    offset: int


class NotificationReadPublic(PublicModel):
    id: int
    read: bool


class TunablePublic(PublicModel):
    key: str
    label: str
    basis: str
    value: int
    default: int
    minimum: int
    maximum: int

    @classmethod
    def all_of(cls, values: dict[str, int]) -> list[Self]:
        """The center's tunable settings with their basis, bounds and current values (`current_values`)."""
        return [
            cls(
                key=t.key,
                label=t.label,
                basis=t.basis,
                value=values[t.key],
                default=default_value(t.key),
                minimum=t.minimum,
                maximum=t.maximum,
            )
            for t in TUNABLES.values()
        ]


class ClockRulePublic(PublicModel):
    clock: ClockCode
    label: str
    amount: int
    unit: str = Field(description="day（日）、month（月）或 working_day（工作日）")
    basis: str


class StageLimitPublic(PublicModel):
    stage: Stage
    label: str
    working_days: int | None = Field(description="空表示按案件的法定期限")
    basis: str


class SettingsPublic(PublicModel):
    tunables: list[TunablePublic]
    clocks: list[ClockRulePublic]
    stage_limits: list[StageLimitPublic]


class SettingPublic(PublicModel):
    key: str
    value: int


class HolidaySchedulePublic(PublicModel):
    year: int
    loaded_at: Timestamp
    text: str


class HolidaysLoadedPublic(PublicModel):
    year: int
    holidays: int
    workdays: int
    moved: int = Field(description="期限随之重新计算的在办案件数")
    message: str = Field(description="如“N 件案件的期限已重新计算”")


# --- Outside /api/v1 ----------------------------------------------------------------------------


class HealthPublic(PublicModel):
    status: str = Field(description="ok / error")
    database: str = Field(description="ok / unreachable")


class VerificationPublic(PublicModel):
    """What anyone may learn about an issued document from its fingerprint: nothing personal."""

    valid: bool
    kind: DocumentKind
    kind_label: str
    case_no: str | None
    issued_on: Day
    sha256: str
    version_no: int
    superseded: bool = Field(description="已被更正后的新版本取代")
    draft: bool = Field(default=False, description="未签署打印稿（协议书尚未经各方签署，尚未生效）")


class OnlineApplicationPublic(PublicModel):
    case_no: str = Field(description="案号")
    code: str = Field(description="申请人的查询码（一案一码）：凭此码和身份证号后6位在 /p/{code} 查询进度")


class SignaturePublic(PublicModel):
    signed: bool = Field(description="文件带有本中心字段的 PDF 数字签名")
    intact: bool = Field(description="签名完好：签名后文件未被改动（签名覆盖整个文件）")
    ours: bool = Field(description="签名证书为本中心的文书签名证书")
    signer: str | None = Field(description="签名证书上的名称")
    signed_at: Timestamp | None = Field(description="签名时间")


class UploadVerificationPublic(PublicModel):
    """An uploaded PDF compared with the archive: is it the very file issued, and is its signature intact."""

    match: bool = Field(description="与本中心存档的某份文书逐字节一致（SHA-256 相同）")
    sha256: str = Field(description="上传文件的 SHA-256")
    document: VerificationPublic | None = Field(description="一致时：该文书的核验信息")
    signature: SignaturePublic
    verdict: str = Field(description="结论（中文）")


class VerificationMissPublic(PublicModel):
    valid: bool
    detail: str


# --- Users (admin) ------------------------------------------------------------------------------


class UserPublic(PublicModel):
    id: int
    username: str = Field(description="登录名")
    display_name: str = Field(description="姓名")
    role: str = Field(description="角色：staff、lawyer、leader、admin")
    level: int | None = Field(description="领导督办层级 1–3")
    town: str | None = Field(description="所属镇街")
    active: bool = Field(description="false：已停用，不能登录")
    expert_id: int | None = Field(description="关联的专家库记录（律师、调解员）")
    must_change_password: bool = Field(description="管理员重置密码后，下次登录须先修改密码")


class UsersPublic(PublicModel):
    items: list[UserPublic]
    total: int
    limit: int
    offset: int


class TemporaryPasswordPublic(PublicModel):
    temporary_password: str = Field(description="临时密码，只显示这一次；用户下次登录须先修改")
