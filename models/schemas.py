"""What comes in and goes out (the API's and the pages' shapes). Tables are never returned directly.

Validators raise ValueError with a Chinese reason; the API turns them into 422 naming the field."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from models.enums import (
    Category,
    Channel,
    CloseKind,
    ExpertKind,
    FollowUpMethod,
    PanelRole,
    PartyKind,
    PartyRole,
    ReferralKind,
    SessionOutcome,
    TermState,
)
from models.validation import ValidationError, validate_id_number, validate_mobile, validate_org_code


def _clean(value: str | None) -> str | None:
    """Trim. Free text keeps its full-width punctuation (，。：) exactly as typed."""
    if value is None:
        return None
    return value.strip() or None


def _fold(value: str | None) -> str | None:
    """Identifiers only: fold full-width digits and letters (typed with a Chinese IME) to ASCII."""
    if value is None:
        return None
    return unicodedata.normalize("NFKC", value).strip() or None


def _required_text(value: str) -> str:
    value = _clean(value) or ""
    if not value:
        raise ValueError("不能为空")
    return value


def _id_number(value: str | None) -> str | None:
    value = _fold(value)
    if value is None:
        return None
    try:
        return validate_id_number(value)
    except ValidationError as exc:
        raise ValueError(exc.message) from exc


def _phone(value: str | None) -> str | None:
    value = _fold(value)
    if value is None:
        return None
    try:
        return validate_mobile(value)
    except ValidationError as exc:
        raise ValueError(exc.message) from exc


def _org_code(value: str | None) -> str | None:
    value = _fold(value)
    if value is None:
        return None
    try:
        return validate_org_code(value)
    except ValidationError as exc:
        raise ValueError(exc.message) from exc


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("时间须带时区，如 2026-11-25T09:30:00+08:00")
    return value


RequiredText = Annotated[str, AfterValidator(_required_text)]
IdNumber = Annotated[str | None, AfterValidator(_id_number)]
Phone = Annotated[str | None, AfterValidator(_phone)]
OrgCode = Annotated[str | None, AfterValidator(_org_code)]
AwareDatetime = Annotated[datetime, AfterValidator(_aware)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- Cases ------------------------------------------------------------------------------------


class PartyCreate(StrictModel):
    role: PartyRole
    kind: PartyKind = PartyKind.person
    name: RequiredText = Field(max_length=120)
    id_number: IdNumber = None
    phone: Phone = None
    address: str | None = Field(default=None, max_length=300)
    org_code: OrgCode = None
    legal_representative: str | None = Field(default=None, max_length=60)
    employer: str | None = Field(default=None, max_length=120)
    agent_name: str | None = Field(default=None, max_length=60)
    agent_expert_id: int | None = None
    is_representative: bool = False

    @model_validator(mode="after")
    def _kind_fields(self) -> PartyCreate:
        if self.kind == PartyKind.organization and self.id_number:
            raise ValueError("单位当事人请填写统一社会信用代码，而非身份证号")
        return self


class ReferralCreate(StrictModel):
    kind: ReferralKind
    reference: RequiredText = Field(max_length=120)
    summary_procedure: bool = False


class CaseCreate(StrictModel):
    channel: Channel
    category: Category
    town: RequiredText = Field(max_length=64)
    village: str | None = Field(default=None, max_length=64)
    summary: RequiredText = Field(max_length=5000)
    claims: str | None = Field(default=None, max_length=5000)
    facts: str | None = Field(default=None, max_length=10000)
    amount_involved: Decimal | None = Field(default=None, ge=0, max_digits=16, decimal_places=2)
    headcount: int | None = Field(default=None, ge=1, le=100000)
    referral: ReferralCreate | None = None
    parties: list[PartyCreate] = Field(min_length=2, max_length=500)

    @field_validator("parties")
    @classmethod
    def _both_sides(cls, parties: list[PartyCreate]) -> list[PartyCreate]:
        roles = {p.role for p in parties}
        if PartyRole.applicant not in roles or PartyRole.respondent not in roles:
            raise ValueError("至少需要一名申请人和一名被申请人")
        representatives = [p for p in parties if p.is_representative]
        # 信访工作条例 第18条: 多人提出同一信访事项的，推选代表，代表人数不超过5人.
        if len(representatives) > 5:
            raise ValueError("群体性纠纷推选的代表不得超过5人")
        return parties


class ExtendClock(StrictModel):
    days: int = Field(ge=1, le=365)
    consent_note: RequiredText = Field(max_length=1000, description="双方当事人同意继续调解的记录")


class ClockPause(StrictModel):
    note: RequiredText = Field(max_length=1000)


class CaseAction(StrictModel):
    version: int | None = Field(default=None, description="乐观锁：页面加载时的版本号")


class RejectCase(CaseAction):
    reason: RequiredText = Field(max_length=2000)
    # 2002 规定 第22条 (models.enums.RejectionReason); optional for CONTRACT v1 clients, whose words then
    # have to name one of the reasons.
    reason_code: str | None = Field(default=None, max_length=32)


class RespondentAnswer(CaseAction):
    """The respondent's answer to the 征询 (人民调解法 第17条)."""

    agrees: bool
    note: str | None = Field(default=None, max_length=2000)


class PanelProposalRequest(StrictModel):
    size: int | None = Field(default=None, ge=1, le=9)


class PanelMemberIn(StrictModel):
    expert_id: int
    role: PanelRole = PanelRole.member


class PanelConfirm(CaseAction):
    members: list[PanelMemberIn] = Field(min_length=1, max_length=15)

    @field_validator("members")
    @classmethod
    def _one_lead(cls, members: list[PanelMemberIn]) -> list[PanelMemberIn]:
        leads = [m for m in members if m.role == PanelRole.lead]
        if len(leads) != 1:
            raise ValueError("专班须有且仅有一名调解主持人（lead）")
        if len({m.expert_id for m in members}) != len(members):
            raise ValueError("同一专家不能重复列入专班")
        return members


class RecusalCreate(StrictModel):
    expert_id: int
    reason: RequiredText = Field(max_length=2000)


class SessionCreate(StrictModel):
    scheduled_at: AwareDatetime
    location: RequiredText = Field(max_length=120)
    duration_minutes: int = Field(default=120, ge=15, le=600)


class SessionReschedule(StrictModel):
    scheduled_at: AwareDatetime
    location: str | None = Field(default=None, max_length=120, description="不填则地点不变")
    reason: RequiredText = Field(max_length=500, description="改期理由（记入调解记录）")


class SessionCancel(StrictModel):
    reason: RequiredText = Field(max_length=500, description="取消理由（记入调解记录）")


class SessionRecord(StrictModel):
    held_at: AwareDatetime
    attendees: list[RequiredText] = Field(min_length=1, max_length=200)
    notes: RequiredText = Field(max_length=50000)
    outcome: SessionOutcome
    consent_to_continue: bool = Field(default=False, description="期限届满后双方同意继续调解")


class TermIn(StrictModel):
    """One obligation of one obligor to one obligee (several obligees: one term each). The parts a term
    lacks are refused by flows.agreement with the part named (models.agreement.term_problem)."""

    obligor: RequiredText = Field(max_length=120, description="义务人")
    obligee: str | None = Field(
        default=None, max_length=120, description="权利人（必填；多名权利人分列条款）"
    )
    obligation: RequiredText = Field(max_length=2000, description="义务内容：具体给付什么或做什么")
    amount: Decimal | None = Field(default=None, ge=0, max_digits=16, decimal_places=2)
    due_date: date | None = Field(default=None, description="履行期限（必填）")
    method: str | None = Field(
        default=None, max_length=2000, description="本项履行方式；不填则用协议的履行方式"
    )
    place: str | None = Field(
        default=None, max_length=200, description="本项履行地点；不填则用协议的履行地点"
    )


class AgreementCreate(CaseAction):
    terms: list[TermIn] = Field(min_length=1, max_length=50)
    performance_method: RequiredText = Field(max_length=2000)
    performance_place: str | None = Field(default=None, max_length=200)
    facts: str | None = Field(default=None, max_length=10000)
    disputes: str | None = Field(default=None, max_length=5000)
    responsibility: str | None = Field(default=None, max_length=5000)
    rights_confirmation: bool = Field(
        default=False, description="协议内容涉及物权、知识产权确权（不能申请司法确认）"
    )
    status_relation: bool = Field(
        default=False, description="协议涉及婚姻、亲子、收养等身份关系的效力或解除（不能申请司法确认）"
    )


class AgreementSigned(CaseAction):
    signed_at: AwareDatetime


class TermStateIn(StrictModel):
    term_id: int
    state: TermState


class FollowUpCreate(StrictModel):
    """v1.1: per-term `terms`; the v1.0 body (`performed`, optional `term_id`) still works."""

    performed: bool | None = Field(default=None, description="v1.0：履行结论（不填 terms 时必填）")
    notes: str | None = Field(default=None, max_length=5000)
    term_id: int | None = None
    visited_at: AwareDatetime | None = Field(default=None, description="回访时间，默认为当前时间")
    method: FollowUpMethod | None = None
    visited_person: str | None = Field(default=None, max_length=120, description="被回访人")
    opinion: str | None = Field(default=None, max_length=5000, description="当事人意见")
    terms: list[TermStateIn] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _something_found(self) -> FollowUpCreate:
        if self.performed is None and not self.terms:
            raise ValueError("请填写各条款的履行情况（terms）或履行结论（performed）")
        return self


class CloseCase(CaseAction):
    kind: CloseKind
    note: str | None = Field(default=None, max_length=2000, description="结案说明")


class CloseApproval(StrictModel):
    note: str | None = Field(default=None, max_length=2000, description="审批意见")


class OpinionCreate(StrictModel):
    body: RequiredText = Field(max_length=20000)
    kind: str = Field(default="opinion", pattern="^(opinion|agreement_review)$")
    approved: bool | None = None


# --- Experts ----------------------------------------------------------------------------------


class DeclaredRelation(StrictModel):
    name: str | None = Field(default=None, max_length=120)
    id_number: IdNumber = None
    org_code: OrgCode = None
    relation: RequiredText = Field(max_length=60)

    @model_validator(mode="after")
    def _someone(self) -> DeclaredRelation:
        if not (self.name or self.id_number or self.org_code):
            raise ValueError("关联人须至少填写姓名、身份证号或统一社会信用代码之一")
        return self


class ExpertBase(StrictModel):
    name: RequiredText = Field(max_length=120)
    kind: ExpertKind
    organization: str | None = Field(default=None, max_length=120)
    towns: list[str] = Field(default_factory=list, max_length=100)
    village: str | None = Field(default=None, max_length=64)
    specialties: list[Category] = Field(default_factory=list, max_length=14)
    max_active_cases: int = Field(default=5, ge=0, le=500)
    id_number: IdNumber = None
    phone: Phone = None
    room: str | None = Field(default=None, max_length=120)
    declared_relations: list[DeclaredRelation] = Field(default_factory=list, max_length=200)
    active: bool = True
    appointed_mediator: bool | None = Field(
        default=None,
        description="本委员会聘任的人民调解员（人民调解法第十三条）；不填时调解员类为是，其他类为否",
    )

    @field_validator("towns")
    @classmethod
    def _towns(cls, towns: list[str]) -> list[str]:
        return [t for t in (_clean(t) for t in towns) if t]

    @model_validator(mode="after")
    def _appointed_default(self) -> ExpertBase:
        # The bank's 调解员 are the committee's own; a judge, lawyer or 乡贤 is appointed only when said so.
        if self.appointed_mediator is None:
            self.appointed_mediator = self.kind == ExpertKind.mediator
        return self


class ExpertCreate(ExpertBase):
    pass


class ExpertUpdate(StrictModel):
    name: str | None = Field(default=None, max_length=120)
    kind: ExpertKind | None = None
    organization: str | None = Field(default=None, max_length=120)
    towns: list[str] | None = None
    village: str | None = None
    specialties: list[Category] | None = None
    max_active_cases: int | None = Field(default=None, ge=0, le=500)
    appointed_mediator: bool | None = Field(default=None, description="本委员会聘任的人民调解员")
    id_number: IdNumber = None
    phone: Phone = None
    room: str | None = None
    declared_relations: list[DeclaredRelation] | None = None
    active: bool | None = None
    version: int | None = None
