"""What comes in and goes out (the API's and the pages' shapes). Tables are never returned directly.

Validators raise ValueError with a Chinese reason; the API turns them into 422 naming the field."""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from models.binding import represented_by_problem
from models.enums import (
    Category,
    Channel,
    CloseKind,
    EnforcementStep,
    ExpertKind,
    FollowUpMethod,
    OralPerformance,
    PanelRole,
    PartyKind,
    PartyRole,
    ReferralKind,
    Satisfaction,
    SessionOutcome,
    TermState,
)
from models.law import ARTICLES, cite_together
from models.money import AMOUNT_PATTERN, CENT, FLOAT_EXACT_BELOW, MAX_AMOUNT, MAX_AMOUNT_TEXT, amount_problem
from models.validation import (
    MAX_DB_ID,
    ValidationError,
    check_date_range,
    clean_text,
    validate_id_number,
    validate_mobile,
    validate_org_code,
)


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


def _line(value: str | None) -> str | None:
    """A name, a place, a reference: one line (free text may span lines, see StrictModel)."""
    if value is None:
        return None
    try:
        return clean_text(value, multiline=False)
    except ValidationError as exc:
        raise ValueError(exc.message) from exc


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


_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def _email(value: str | None) -> str | None:
    value = _fold(value)
    if value is None:
        return None
    if len(value) > 200 or not _EMAIL.match(value):
        raise ValueError("电子邮箱格式不正确")
    return value


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
    _in_range(value)
    return value


def _in_range(value: date) -> date:
    try:
        return check_date_range(value)
    except ValidationError as exc:
        raise ValueError(exc.message) from exc


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_text(value: object) -> object:
    # Lax pydantic reads a number, or text of digits, as seconds since 1970 ({"now": 0} and ?to=0 →
    # 1970-01-01): a date or a time comes as ISO text (YYYY-MM-DD first) or not at all.
    if value is None or isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DAY.match(value):
        raise ValueError("日期时间应为 ISO 8601 文本，如 2026-11-25 或 2026-11-25T09:30:00+08:00")
    return value


def _amount_input(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("应为金额数字")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("应为有限的数字（不接受 NaN 或 Infinity）")
        # A JSON number is read as a binary float, exact to 15 significant digits only: 99999999999999.99
        # arrives as 99999999999999.98. Past 15 digits (10^13 元 with 分) the sum must come as text.
        if abs(value) >= FLOAT_EXACT_BELOW:
            raise ValueError(f'{FLOAT_EXACT_BELOW:,} 元及以上的金额请以文本填写，如 "{MAX_AMOUNT}"')
        # repr of a float is its shortest round-tripping decimal: 0.05 → "0.05".
        return repr(value)
    return value


def _amount(value: Decimal) -> Decimal:
    problem = amount_problem(value)
    if problem:
        raise ValueError(problem)
    return value.quantize(CENT)


def _whole_number(value: object) -> object:
    if isinstance(value, (bool, float)):
        raise ValueError("应为整数")
    return value


def _flag(value: object) -> object:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError("应为是或否（true 或 false）")
    return value


# Request bodies take no value of another JSON type: true is not 1, 0 is not false, a number is not a
# date, 5.0 is not 5. Text is still read (the pages' forms send every value as text: "5", "on",
# "2026-11-25"). Not pydantic's strict mode: that would also refuse enum codes and amounts in text.
WHOLE = BeforeValidator(_whole_number)
Int = Annotated[int, WHOLE]
Flag = Annotated[bool, BeforeValidator(_flag)]
# Money (models/money.py): 0 to MAX_AMOUNT, to the 分; a JSON string or number (a number below 10^13).
Amount = Annotated[
    Decimal,
    BeforeValidator(_amount_input),
    AfterValidator(_amount),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": AMOUNT_PATTERN},
                {"type": "number", "minimum": 0, "exclusiveMaximum": FLOAT_EXACT_BELOW},
            ],
            "description": f"金额（元），0 至 {MAX_AMOUNT_TEXT}，最多两位小数；"
            f"{FLOAT_EXACT_BELOW:,} 元及以上请以文本填写",
        }
    ),
]
IsoDate = Annotated[date, BeforeValidator(_iso_text), AfterValidator(_in_range)]
# A number's bounds come before its BeforeValidator: pydantic then sets them on the number's own
# schema, which /openapi.json shows as `minimum` / `maximum`. After it (or on `X | None`), they become
# a separate check that the schema shows as raw `ge` / `le`, which JSON Schema clients do not read.
# An id in a body names a row: a larger number than the column holds names nothing (and would overflow).
RefId = Annotated[int, Field(ge=1, le=MAX_DB_ID), WHOLE]
Version = Annotated[int, Field(ge=0, le=MAX_DB_ID), WHOLE]

RequiredText = Annotated[str, AfterValidator(_required_text)]
Line = Annotated[str, AfterValidator(_line)]
RequiredLine = Annotated[str, AfterValidator(_line), AfterValidator(_required_text)]
IdNumber = Annotated[str | None, AfterValidator(_id_number)]
Phone = Annotated[str | None, AfterValidator(_phone)]
Email = Annotated[str | None, AfterValidator(_email)]
OrgCode = Annotated[str | None, AfterValidator(_org_code)]
AwareDatetime = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_aware)]


def _clean_input(value: object) -> object:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean_input(v) for v in value]
    return value


class StrictModel(BaseModel):
    """Every request body: unknown fields refused, and every text cleaned once (models.validation.
    clean_text: control characters, direction overrides, lone surrogates and noncharacters refused;
    invisible characters removed) before the field's own type and rules see it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _clean_text(cls, value: object, info: ValidationInfo) -> object:
        try:
            return _clean_input(value)
        except ValidationError as exc:
            raise ValueError(exc.message) from exc


class OnRow(StrictModel):
    """A command about one row under the case (a session, a party, a delivery): which one the address
    says (`about`), never the body, so a v1 body stays what it was."""

    _row_id: int = PrivateAttr(default=0)

    def about(self, row_id: int) -> Self:
        command = self.model_copy()
        command._row_id = row_id
        return command


class OnSession(OnRow):
    @property
    def session_id(self) -> int:
        return self._row_id


class OnParty(OnRow):
    @property
    def party_id(self) -> int:
        return self._row_id


class OnDelivery(OnRow):
    @property
    def delivery_id(self) -> int:
        return self._row_id


# --- Cases ------------------------------------------------------------------------------------


class PartyCreate(StrictModel):
    role: PartyRole = Field(title="角色")
    kind: PartyKind = Field(default=PartyKind.person, title="类型")
    name: RequiredLine = Field(title="姓名或名称", max_length=120)
    id_number: IdNumber = Field(default=None, title="身份证号")
    phone: Phone = Field(default=None, title="电话")
    email: Email = Field(
        title="电子邮箱", default=None, description="电子邮箱（同意电子送达的，调解通知发至此）"
    )
    address: Line | None = Field(title="住址", default=None, max_length=300)
    org_code: OrgCode = Field(default=None, title="统一社会信用代码")
    legal_representative: Line | None = Field(
        title="法定代表人", default=None, max_length=60, description="法定代表人（单位）"
    )
    legal_representative_title: Line | None = Field(
        title="法定代表人职务", default=None, max_length=60, description="法定代表人职务，如 总经理"
    )
    employer: Line | None = Field(title="工作单位", default=None, max_length=120)
    agent_name: Line | None = Field(title="委托代理人", default=None, max_length=60, description="委托代理人")
    agent_phone: Phone = Field(title="委托代理人电话", default=None, description="委托代理人手机号码")
    agent_id_number: IdNumber = Field(
        title="委托代理人身份证号", default=None, description="委托代理人公民身份号码"
    )
    agent_special_authority: Flag = Field(
        title="特别授权", default=False, description="委托代理人有特别授权（可代为同意、签署调解协议）"
    )
    agent_expert_id: RefId | None = Field(default=None, title="代理人（专家库）")
    is_representative: Flag = Field(default=False, title="代表人")
    represented_by: Line | None = Field(
        title="由谁代表", default=None, max_length=120, description="由谁代表：本案推选的代表（当事人）的姓名"
    )

    @model_validator(mode="after")
    def _kind_fields(self) -> PartyCreate:
        if self.kind == PartyKind.organization and self.id_number:
            raise ValueError("单位当事人请填写统一社会信用代码，而非身份证号")
        if problem := agent_problem(self):
            raise ValueError(problem[1])
        return self


def agent_problem(party: object) -> tuple[str, str] | None:
    """(field, Chinese reason) when a party's agent and representative fields cannot stand together:
    for intake (PartyCreate) and for a PATCH merged onto the stored party (flows/parties.py)."""

    def get(name: str) -> object:
        return getattr(party, name, None)

    if get("kind") == PartyKind.person and get("legal_representative_title"):
        return "legal_representative_title", "自然人当事人没有法定代表人，请勿填写法定代表人职务"
    if get("legal_representative_title") and not get("legal_representative"):
        return "legal_representative", "填写了法定代表人职务，请同时填写法定代表人姓名"
    if not get("agent_name") and (
        get("agent_phone") or get("agent_id_number") or get("agent_special_authority")
    ):
        return "agent_name", "填写了委托代理人的电话、身份证号或特别授权，请同时填写委托代理人姓名"
    return None


class ReferralCreate(StrictModel):
    kind: ReferralKind = Field(title="委派或委托")
    reference: RequiredLine = Field(title="案号或文号", max_length=120)
    summary_procedure: Flag = Field(default=False, title="适用简易程序")


class CaseCreate(StrictModel):
    channel: Channel = Field(title="来源渠道")
    category: Category = Field(title="纠纷类别")
    town: RequiredLine = Field(title="镇街", max_length=64)
    village: Line | None = Field(title="村（社区）", default=None, max_length=64)
    summary: RequiredText = Field(title="纠纷概要", max_length=5000)
    claims: str | None = Field(title="申请事项", default=None, max_length=5000)
    facts: str | None = Field(title="事实与理由", default=None, max_length=10000)
    amount_involved: Amount | None = Field(default=None, title="涉及金额")
    headcount: Annotated[int, Field(ge=1, le=100000), WHOLE] | None = Field(default=None, title="涉及人数")
    referral: ReferralCreate | None = Field(default=None, title="委派或委托")
    parties: list[PartyCreate] = Field(title="当事人", min_length=2, max_length=500)

    @field_validator("parties")
    @classmethod
    def _both_sides(cls, parties: list[PartyCreate]) -> list[PartyCreate]:
        roles = {p.role for p in parties}
        if PartyRole.applicant not in roles or PartyRole.respondent not in roles:
            raise ValueError("至少需要一名申请人和一名被申请人")
        representatives = [p for p in parties if p.is_representative]
        # 信访工作条例 第20条第三款: 多人提出共同的信访事项的，应当推选代表，代表人数不得超过5人.
        if len(representatives) > 5:
            raise ValueError("群体性纠纷推选的代表不得超过5人")
        for n, party in enumerate(parties, start=1):
            problem = represented_by_problem(
                party.name, party.represented_by, party.is_representative, parties
            )
            if problem:
                raise ValueError(f"第{n}名当事人{party.name}：{problem}")
        # One person or body is one party: listed twice (on both sides, or twice on one) is a typing
        # mistake the case file would carry forever. Positions, not the numbers, name the rows.
        seen: dict[str, int] = {}
        for n, party in enumerate(parties, start=1):
            for key, label in ((party.id_number, "身份证号"), (party.org_code, "统一社会信用代码")):
                if not key:
                    continue
                if key in seen:
                    first = parties[seen[key] - 1]
                    if first.role != party.role:
                        raise ValueError(
                            f"第{seen[key]}名与第{n}名当事人{label}相同：同一人不能既是"
                            f"{first.role.label}又是{party.role.label}"
                        )
                    raise ValueError(f"第{seen[key]}名与第{n}名当事人{label}相同，请勿重复登记")
                seen[key] = n
        return parties


class PartyUpdate(OnParty):
    """`PATCH /cases/{id}/parties/{pid}`: the fields sent are changed (null clears one); the others stay.
    Name, role and kind are not changed here: the agreement's terms name the party by its name."""

    version: Version | None = Field(
        title="版本号", default=None, description="乐观锁：页面加载时的案件版本号"
    )
    id_number: IdNumber = Field(default=None, title="身份证号")
    phone: Phone = Field(default=None, title="电话")
    email: Email = Field(title="电子邮箱", default=None, description="电子邮箱")
    consent_electronic: Flag | None = Field(
        title="同意电子送达",
        default=None,
        description="同意电子送达：调解通知等以短信、电子邮件告知（送达时间另行记录）",
    )
    address: Line | None = Field(title="住址", default=None, max_length=300)
    org_code: OrgCode = Field(default=None, title="统一社会信用代码")
    legal_representative: Line | None = Field(
        title="法定代表人", default=None, max_length=60, description="法定代表人（单位）"
    )
    legal_representative_title: Line | None = Field(
        title="法定代表人职务", default=None, max_length=60, description="法定代表人职务"
    )
    agent_name: Line | None = Field(title="委托代理人", default=None, max_length=60, description="委托代理人")
    agent_phone: Phone = Field(title="委托代理人电话", default=None, description="委托代理人手机号码")
    agent_id_number: IdNumber = Field(
        title="委托代理人身份证号", default=None, description="委托代理人公民身份号码"
    )
    agent_special_authority: Flag | None = Field(
        title="特别授权", default=None, description="委托代理人有特别授权"
    )
    is_representative: Flag | None = Field(title="代表人", default=None, description="推选的代表")
    represented_by: Line | None = Field(
        title="由谁代表", default=None, max_length=120, description="由谁代表（推选的代表姓名）"
    )


EDITABLE_PARTY_FIELDS = tuple(f for f in PartyUpdate.model_fields if f != "version")


class ExtendClock(StrictModel):
    days: Int = Field(title="延长天数", ge=1, le=365)
    consent_note: RequiredText = Field(
        title="双方同意记录", max_length=1000, description="双方当事人同意继续调解的记录"
    )


class ClockPause(StrictModel):
    note: RequiredText = Field(title="说明", max_length=1000)
    # v1.2: the day the pause / resume took effect (appraisal commissioned / opinion received); default today.
    on: date | None = Field(
        title="生效日期", default=None, description="生效日期（委托鉴定之日/收到鉴定意见之日），默认今天"
    )


class CaseAction(StrictModel):
    version: Version | None = Field(title="版本号", default=None, description="乐观锁：页面加载时的版本号")


class RejectCase(CaseAction):
    reason: RequiredText = Field(title="理由", max_length=2000)
    # 2002 规定 第22条 (models.enums.RejectionReason); optional for CONTRACT v1 clients, whose words then
    # have to name one of the reasons.
    reason_code: Line | None = Field(title="不予受理理由", default=None, max_length=32)


class RespondentAnswer(CaseAction):
    """The respondent's answer to the 征询 (人民调解法 第17条)."""

    agrees: Flag = Field(title="是否同意调解")
    note: str | None = Field(title="说明", default=None, max_length=2000)


class DeliveryRecord(OnDelivery):
    """How a notice reached its addressee (CONTRACT v1.2; rules: models.delivery.check_delivery)."""

    status: str = Field(title="送达结果", max_length=16, description="delivered / refused / failed")
    method: str | None = Field(
        title="送达方式", default=None, max_length=16, description="in_person / post / sms / email / portal"
    )
    delivered_at: IsoDate | None = Field(title="送达日期", default=None, description="签收或拒收的日期")
    signed_by: str | None = Field(
        title="签收人身份", default=None, max_length=16, description="party / family / clerk / agent"
    )
    signer_name: Line | None = Field(
        title="签收人姓名", default=None, max_length=60, description="签收人姓名（非本人签收时）"
    )
    note: str | None = Field(
        title="说明", default=None, max_length=2000, description="拒收事由和见证人 / 未能送达的原因"
    )
    consent_electronic: Flag = Field(
        title="同意电子送达", default=False, description="受送达人同意电子送达（记录在当事人名下）"
    )


class PanelProposalRequest(StrictModel):
    size: Annotated[int, Field(ge=1, le=9), WHOLE] | None = Field(default=None, title="专班人数")


class PanelMemberIn(StrictModel):
    expert_id: RefId = Field(title="专家")
    role: PanelRole = Field(default=PanelRole.member, title="角色")


class PanelConfirm(CaseAction):
    members: list[PanelMemberIn] = Field(title="专班成员", min_length=1, max_length=15)

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
    expert_id: RefId = Field(title="专家")
    reason: RequiredText = Field(title="理由", max_length=2000)


class SessionCreate(StrictModel):
    scheduled_at: AwareDatetime = Field(title="调解时间")
    location: RequiredLine = Field(title="地点", max_length=120)
    duration_minutes: Int = Field(title="时长", default=120, ge=15, le=600)


class SessionReschedule(OnSession):
    scheduled_at: AwareDatetime = Field(title="调解时间")
    location: Line | None = Field(title="地点", default=None, max_length=120, description="不填则地点不变")
    reason: RequiredText = Field(title="理由", max_length=500, description="改期理由（记入调解记录）")


class SessionCancel(OnSession):
    reason: RequiredText = Field(title="理由", max_length=500, description="取消理由（记入调解记录）")
    requested_by: Line | None = Field(
        default=None,
        title="申请取消的一方",
        max_length=120,
        description="申请取消的当事人姓名或名称；调解组织决定取消的不填",
    )


class ParticipantIn(StrictModel):
    name: RequiredLine = Field(title="姓名", max_length=60, description="真实姓名")
    capacity: RequiredLine = Field(title="身份", max_length=60, description="身份，如：罗凤村村民委员会主任")


class StatementIn(StrictModel):
    speaker: RequiredLine = Field(title="发言人", max_length=60, description="发言人（到场人员姓名）")
    text: RequiredText = Field(title="内容", max_length=5000)


class PartyAnswerIn(StrictModel):
    party: RequiredLine = Field(title="当事人", max_length=120, description="当事人（或其代理人）姓名")
    answer: RequiredText = Field(title="答复", max_length=1000, description="对权利义务告知的答复")
    recusal: Flag = Field(title="申请回避", default=False, description="申请调解人员回避")
    recusal_against: str | None = Field(
        title="申请回避的调解人员", default=None, max_length=60, description="申请回避的调解人员"
    )
    recusal_reason: str | None = Field(title="回避理由", default=None, max_length=1000)


class OralTermIn(StrictModel):
    obligor: RequiredLine = Field(title="义务人", max_length=120, description="义务人")
    obligee: str | None = Field(title="权利人", default=None, max_length=120, description="权利人")
    obligation: RequiredText = Field(title="义务内容", max_length=2000, description="义务内容")
    amount: Amount | None = Field(default=None, title="金额")
    due_date: IsoDate | None = Field(
        title="履行期限", default=None, description="履行期限（约定日后履行的必填）"
    )
    method: str | None = Field(title="方式", default=None, max_length=2000)
    place: str | None = Field(title="履行地点", default=None, max_length=200)


class OralConsentIn(StrictModel):
    party: RequiredLine = Field(title="当事人", max_length=120, description="当事人姓名或名称")
    agrees: Flag = Field(title="是否同意")
    words: str | None = Field(
        title="当事人的表示", default=None, max_length=1000, description="当事人的表示，如：同意"
    )


class OralAgreementIn(StrictModel):
    terms: list[OralTermIn] = Field(title="协议条款", min_length=1, max_length=50)
    consents: list[OralConsentIn] = Field(title="各方同意", min_length=1, max_length=200)
    performance: OralPerformance = Field(title="履行情况")
    performance_note: str | None = Field(title="履行说明", default=None, max_length=2000)


class OralPerformed(CaseAction):
    performed_at: AwareDatetime = Field(title="履行时间")
    note: str | None = Field(title="说明", default=None, max_length=2000)


class WrittenAgreementRequest(CaseAction):
    requested_by: RequiredLine = Field(
        title="要求制作的当事人", max_length=120, description="要求制作书面协议的当事人"
    )
    performance_method: str | None = Field(
        title="履行方式", default=None, max_length=2000, description="履行方式（口头协议未约定时必填）"
    )
    performance_place: str | None = Field(title="履行地点", default=None, max_length=200)


class SessionRecord(OnSession):
    held_at: AwareDatetime = Field(title="召开时间")
    attendees: list[RequiredLine] = Field(title="参加人员", min_length=1, max_length=200)
    notes: str | None = Field(
        title="笔录", default=None, max_length=50000, description="调解经过（v1.0；v1.1 用 statements）"
    )
    outcome: SessionOutcome = Field(title="结果")
    consent_to_continue: Flag = Field(
        title="双方同意继续调解", default=False, description="期限届满后双方同意继续调解"
    )
    # v1.1 人民调解记录 (人民调解法 第23、24、27、28条).
    participants: list[ParticipantIn] = Field(
        title="其他参加人",
        default_factory=list,
        max_length=100,
        description="当事人和调解专班以外的参加人及其身份",
    )
    recorder: str | None = Field(
        title="记录人", default=None, max_length=60, description="记录人真实姓名（默认为当前用户姓名）"
    )
    statements: list[StatementIn] = Field(
        title="各方发言", default_factory=list, max_length=500, description="各方发言，按顺序"
    )
    rights_told: Flag = Field(
        title="已告知权利义务",
        default=False,
        description=f"已告知当事人权利义务（{cite_together('pml_23', 'pml_24')}）",
    )
    party_answers: list[PartyAnswerIn] = Field(
        title="当事人答复",
        default_factory=list,
        max_length=100,
        description="各方当事人对权利义务告知的答复及是否申请回避",
    )
    oral_agreement: OralAgreementIn | None = Field(
        title="口头协议",
        default=None,
        description=f"口头协议（{ARTICLES['pml_28'].cite_short}）：内容、各方同意、履行情况",
    )

    @model_validator(mode="after")
    def _something_recorded(self) -> SessionRecord:
        if not (self.notes or "").strip() and not self.statements:
            raise ValueError("请记录调解经过：各方发言（statements）或笔录（notes）")
        return self


class TermIn(StrictModel):
    """One obligation of one obligor to one obligee (several obligees: one term each). The parts a term
    lacks are refused by flows.agreement with the part named (models.agreement.term_problem)."""

    obligor: RequiredLine = Field(title="义务人", max_length=120, description="义务人")
    obligee: Line | None = Field(
        title="权利人", default=None, max_length=120, description="权利人（必填；多名权利人分列条款）"
    )
    obligation: RequiredText = Field(
        title="义务内容", max_length=2000, description="义务内容：具体给付什么或做什么"
    )
    amount: Amount | None = Field(default=None, title="金额")
    due_date: IsoDate | None = Field(title="履行期限", default=None, description="履行期限（必填）")
    method: str | None = Field(
        title="方式", default=None, max_length=2000, description="本项履行方式；不填则用协议的履行方式"
    )
    place: Line | None = Field(
        title="履行地点", default=None, max_length=200, description="本项履行地点；不填则用协议的履行地点"
    )


class AgreementCreate(CaseAction):
    terms: list[TermIn] = Field(title="协议条款", min_length=1, max_length=50)
    performance_method: RequiredText = Field(title="履行方式", max_length=2000)
    performance_place: Line | None = Field(title="履行地点", default=None, max_length=200)
    facts: str | None = Field(title="纠纷事实", default=None, max_length=10000)
    disputes: str | None = Field(title="争议事项", default=None, max_length=5000)
    responsibility: str | None = Field(title="责任承担", default=None, max_length=5000)
    rights_confirmation: Flag = Field(
        title="涉及确权", default=False, description="协议内容涉及物权、知识产权确权（不能申请司法确认）"
    )
    status_relation: Flag = Field(
        title="涉及身份关系",
        default=False,
        description="协议涉及婚姻、亲子、收养等身份关系的效力或解除（不能申请司法确认）",
    )


class AgreementSigned(CaseAction):
    signed_at: AwareDatetime = Field(title="签署时间")
    # v1.2: required only while the lawyer's latest opinion on the current draft disapproves.
    override_reason: str | None = Field(
        title="坚持签署的理由",
        default=None,
        max_length=2000,
        description="律师不同意当前稿时坚持签署的理由（记录在案并报中心主任）",
    )


class TermStateIn(StrictModel):
    """v1.2: a money term adds what was paid since the last visit and the day; its state then follows
    from the paid sum (models.agreement.state_after_payment) when not given."""

    term_id: RefId = Field(title="履行条款")
    state: TermState | None = Field(
        title="履行情况", default=None, description="履行情况；给付金钱的条款填写已付金额时可不填"
    )
    paid_amount: Amount | None = Field(
        title="已付金额", default=None, description="本次登记的已付金额（元），累计不超过约定金额"
    )
    paid_on: IsoDate | None = Field(
        title="付款日期", default=None, description="付款日期，不晚于今天、不早于协议签署日期"
    )

    @model_validator(mode="after")
    def _state_or_payment(self) -> TermStateIn:
        if self.state is None and self.paid_amount is None:
            raise ValueError("请填写履行情况（state）或已付金额（paid_amount）")
        return self


class FollowUpCreate(StrictModel):
    """v1.1: per-term `terms`; the v1.0 body (`performed`, optional `term_id`) still works."""

    performed: Flag | None = Field(
        title="履行情况", default=None, description="v1.0：履行结论（不填 terms 时必填）"
    )
    notes: str | None = Field(title="笔录", default=None, max_length=5000)
    term_id: RefId | None = Field(default=None, title="履行条款")
    visited_at: AwareDatetime | None = Field(
        title="回访时间", default=None, description="回访时间，默认为当前时间"
    )
    method: FollowUpMethod | None = Field(default=None, title="回访方式")
    visited_person: Line | None = Field(
        title="被回访人", default=None, max_length=120, description="被回访人"
    )
    opinion: str | None = Field(title="当事人意见", default=None, max_length=5000, description="当事人意见")
    terms: list[TermStateIn] = Field(title="协议条款", default_factory=list, max_length=50)
    satisfaction: Satisfaction | None = Field(
        title="满意度",
        default=None,
        description="v1.2：当事人满意度 4 非常满意、3 满意、2 基本满意、1 不满意",
    )

    @model_validator(mode="after")
    def _something_found(self) -> FollowUpCreate:
        if self.performed is None and not self.terms:
            raise ValueError("请填写各条款的履行情况（terms）或履行结论（performed）")
        return self


class CloseCase(CaseAction):
    kind: CloseKind = Field(title="结案方式")
    note: str | None = Field(title="说明", default=None, max_length=2000, description="结案说明")
    # v1.2 (issue 22): only the center's director, only while a 必须 卷宗 item is missing.
    override_reason: str | None = Field(
        title="批准理由",
        default=None,
        max_length=2000,
        description="卷宗缺少必备材料时中心主任批准结案的理由（印入卷宗情况说明）",
    )


class JudicialConfirmationCreate(StrictModel):
    """司法确认 (issue 20): the court, when the parties chose a party's domicile or the object's place."""

    court: Line | None = Field(
        title="受理法院",
        default=None,
        max_length=120,
        description="受理法院；不填为调解组织所在地基层人民法院，委派案件为作出委派的人民法院",
    )


class PaymentOrdersCreate(StrictModel):
    """支付令 (issue 20): the money terms unpaid after their due date; one application per obligee."""

    term_ids: list[RefId] = Field(
        title="申请支付令的条款", min_length=1, max_length=500, description="申请支付令的条款"
    )
    court: Line | None = Field(
        title="受理法院", default=None, max_length=120, description="受理法院（债务人住所地基层人民法院）"
    )


class EnforcementStepCreate(StrictModel):
    """A step taken outside the center, on the performance ledger (issue 20)."""

    obligee_party_id: RefId | None = Field(
        title="权利人", default=None, description="权利人；不填为全体当事人（如共同申请司法确认）"
    )
    step: EnforcementStep = Field(title="步骤")
    on: date = Field(title="日期", description="日期")
    court: Line | None = Field(
        title="法院或仲裁委员会", default=None, max_length=120, description="法院或仲裁委员会"
    )
    note: str | None = Field(title="说明", default=None, max_length=2000, description="说明")


class CloseApproval(StrictModel):
    note: str | None = Field(title="审批意见", default=None, max_length=2000, description="审批意见")


class OpinionCreate(StrictModel):
    body: RequiredText = Field(title="内容", max_length=20000)
    kind: str = Field(title="类型", default="opinion", pattern="^(opinion|agreement_review)$")
    approved: Flag | None = Field(default=None, title="审查结论")


# --- Experts ----------------------------------------------------------------------------------


class DeclaredRelation(StrictModel):
    name: Line | None = Field(title="姓名或名称", default=None, max_length=120)
    id_number: IdNumber = Field(default=None, title="身份证号")
    org_code: OrgCode = Field(default=None, title="统一社会信用代码")
    relation: RequiredLine = Field(title="关系", max_length=60)

    @model_validator(mode="after")
    def _someone(self) -> DeclaredRelation:
        if not (self.name or self.id_number or self.org_code):
            raise ValueError("关联人须至少填写姓名、身份证号或统一社会信用代码之一")
        return self


class ExpertBase(StrictModel):
    name: RequiredLine = Field(title="姓名", max_length=120)
    kind: ExpertKind = Field(title="类别")
    organization: Line | None = Field(title="单位", default=None, max_length=120)
    towns: list[Annotated[Line, Field(max_length=64)]] = Field(
        title="服务镇街", default_factory=list, max_length=100
    )
    village: Line | None = Field(title="村社", default=None, max_length=64)
    specialties: list[Category] = Field(title="专长", default_factory=list, max_length=14)
    max_active_cases: Int = Field(title="最大在办案件数", default=5, ge=0, le=500)
    id_number: IdNumber = Field(default=None, title="身份证号")
    phone: Phone = Field(default=None, title="电话")
    # Free text, not a Line: where and how to find the room may take two lines (a spreadsheet cell
    # wrapped with Alt+Enter, "第一\n调解室"); control characters are still refused.
    room: str | None = Field(title="调解室", default=None, max_length=120)
    declared_relations: list[DeclaredRelation] = Field(
        title="申报的利害关系人", default_factory=list, max_length=200
    )
    active: Flag = Field(default=True, title="是否在岗")
    appointed_mediator: Flag | None = Field(
        title="聘任的人民调解员",
        default=None,
        description=f"本委员会聘任的人民调解员（{ARTICLES['pml_13'].cite_short}）；不填时调解员类为是，其他类为否",
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
    """Only the fields sent change. A field the expert cannot be without (name, kind, lists, limits,
    flags) refuses null; a clearable one (organization, village, ID number, phone, room) takes it."""

    name: RequiredLine | None = Field(title="姓名", default=None, max_length=120)
    kind: ExpertKind | None = Field(default=None, title="类别")
    organization: Line | None = Field(title="单位", default=None, max_length=120)
    towns: list[Annotated[Line, Field(max_length=64)]] | None = Field(
        title="服务镇街", default=None, max_length=100
    )
    village: Line | None = Field(title="村社", default=None, max_length=64)
    specialties: list[Category] | None = Field(title="专长", default=None, max_length=14)
    max_active_cases: Annotated[int, Field(ge=0, le=500), WHOLE] | None = Field(
        default=None, title="最大在办案件数"
    )
    appointed_mediator: Flag | None = Field(
        title="聘任的人民调解员", default=None, description="本委员会聘任的人民调解员"
    )
    id_number: IdNumber = Field(default=None, title="身份证号")
    phone: Phone = Field(default=None, title="电话")
    room: str | None = Field(title="调解室", default=None, max_length=120)  # free text, as in ExpertBase
    declared_relations: list[DeclaredRelation] | None = Field(
        title="申报的利害关系人", default=None, max_length=200
    )
    active: Flag | None = Field(default=None, title="是否在岗")
    version: Version | None = Field(default=None, title="版本号")

    @field_validator(
        "name",
        "kind",
        "towns",
        "specialties",
        "max_active_cases",
        "appointed_mediator",
        "declared_relations",
        "active",
        mode="before",
    )
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Called only for a field that was sent: null would store nothing where the bank needs a value.
        if value is None:
            raise ValueError("不能为空（null）；不修改请不要发送该字段")
        return value
