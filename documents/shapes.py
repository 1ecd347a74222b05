"""The context dict each document kind is rendered from (the contract of `render_pdf`).

The case → dict builders (documents/context.py, written against these shapes) hand the render
layer plain data: strings, ints, bools, `Decimal`s and dates. No ORM object reaches a template.

Conventions shared by every kind:
- Dates and datetimes are `datetime.date` / `datetime.datetime` or ISO strings ("2026-11-12",
  "2026-11-12T09:30:00+08:00"); the templates print them as "2026年11月12日" (GB/T 9704-2012 7.3.5.3
  prints the 成文日期 with Arabic numerals). Aware datetimes are shown in Asia/Shanghai.
- Amounts are `Decimal` or decimal strings ("320000.00"); the templates print the figures and the
  Chinese capitals (documents.money).
- Every text is plain text: the templates escape it (autoescape is on for every template).
  Line breaks in long texts (`summary`, `facts`, ...) start new paragraphs.
- `*_label` fields carry the Chinese label of an enum (from /meta/enums), so the render layer
  needs no lookup table.
- Fields marked NotRequired may be left out; the template then prints a blank line to fill by hand.

Verification (see documents.verification): `verify_base_url` + `verify_code` make the QR code
and the printed 验证码. Required for `agreement`, optional for every other kind.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, NotRequired, Protocol, TypedDict

DateLike = date | str
DateTimeLike = datetime | str
AmountLike = Decimal | str


class Committee(TypedDict):
    name: str  # 人民调解委员会 full name, printed as the 红头: "瑞安市矛盾纠纷调处化解中心人民调解委员会"
    center: NotRequired[str]  # the hosting center, printed small above the 红头
    address: NotRequired[str]
    phone: NotRequired[str]
    town: NotRequired[str]
    kind: NotRequired[str]  # models.enums.CommitteeKind: a 医调委 issues a medical case's documents itself
    seal: NotRequired[str]  # the seal's words: "瑞安市医疗纠纷人民调解委员会印章"


class Agent(TypedDict):
    name: str
    kind_label: str  # "委托代理人" / "法定代理人" / "代表人"
    id_number: NotRequired[str]
    work_unit: NotRequired[str]  # e.g. "浙江某某律师事务所律师"
    phone: NotRequired[str]
    authority: NotRequired[str]  # "特别授权" / "一般授权"


class Party(TypedDict):
    role: Literal["applicant", "respondent", "third_party"]
    kind: Literal["person", "organization"]
    name: str
    # person
    gender: NotRequired[str]  # "男" / "女"
    birth_date: NotRequired[DateLike]  # printed as 出生日期; or give `age`
    age: NotRequired[int]
    ethnicity: NotRequired[str]  # 民族, optional
    id_number: NotRequired[str]
    work_unit: NotRequired[str]
    # organization
    org_code: NotRequired[str]  # 统一社会信用代码
    legal_rep: NotRequired[str]  # 法定代表人 / 负责人
    legal_rep_title: NotRequired[str]  # "法定代表人" (default) or "负责人"
    legal_rep_position: NotRequired[str]  # "总经理"
    # both
    address: NotRequired[str]
    phone: NotRequired[str]
    agents: NotRequired[list[Agent]]
    # a group (群体性纠纷): an elected representative, or the name of the one representing this member
    representative: NotRequired[bool]
    represented_by: NotRequired[str]


class PanelMember(TypedDict):
    name: str
    role_label: str  # "调解主持人" / "调解员" / "法律顾问"
    kind_label: NotRequired[str]  # "人民调解员" / "律师" / "事权部门" ...
    organization: NotRequired[str]


class Referral(TypedDict):
    kind_label: str  # "法院委派" / "法院委托" / "信访转办"
    reference: str  # "(2026)浙0381民诉前调1234号"
    referrer: NotRequired[str]  # who referred it: "瑞安市人民法院"
    verb: NotRequired[str]  # "委派" / "委托" / "转办"


class ArticleText(TypedDict):
    cite: str  # "《人民调解法》第二十三条" (models/law.py)
    words: list[str]  # the article's paragraphs, verbatim


class _Letterhead(TypedDict):
    case_no: str  # "瑞调〔2026〕00017号"; for backlog_report the report number "瑞调报〔2026〕第46期"
    committee: Committee
    issued_on: NotRequired[DateLike]  # 落款日期; blank date line when missing
    doc_no: NotRequired[str]  # 文号 under the 红头; defaults to case_no


class _Base(_Letterhead):
    # Optional here; the agreement requires them (a TypedDict subclass may not turn an optional key
    # required, so AgreementContext derives from _Letterhead and declares them itself).
    verify_base_url: NotRequired[str]  # "https://tiaojie.ruian.example"
    verify_code: NotRequired[str]  # documents.verification.new_verify_code()


class ApplicationContext(_Base):
    """调解申请书 / 受理登记表 (人民调解法 第27条: register entry)."""

    received_at: DateTimeLike  # intake timestamp: interrupts the limitation period, never edited
    channel_label: str  # "来访"
    category_label: str  # "劳动争议"
    town: str
    village: NotRequired[str]
    parties: list[Party]
    summary: str  # 纠纷简要情况
    claims: str  # 申请事项 / 调解请求
    amount_involved: NotRequired[AmountLike]
    headcount: NotRequired[int]
    is_mass: NotRequired[bool]  # 群体性纠纷
    risk_label: NotRequired[str]  # "一般" / "较高" / "高"
    referral: NotRequired[Referral]
    registrar: NotRequired[str]  # 登记人
    acceptance_opinion: NotRequired[str]  # 受理意见; blank lines when not decided yet


class AcceptanceNoticeContext(_Base):
    """受理通知书."""

    addressees: list[str]  # names of the parties notified
    received_on: DateLike
    accepted_on: DateLike
    category_label: str
    subject: str  # one line: "张某某等17人与瑞安市某建设有限公司劳动争议"
    panel: NotRequired[list[PanelMember]]
    clock_label: str  # "劳动争议调解（15日）"
    clock_basis: str  # "《劳动争议调解仲裁法》第十四条"
    due_on: DateLike
    contact_name: NotRequired[str]
    contact_phone: NotRequired[str]
    # Issue 10: every basis from models/law.py, never a template string.
    origin: NotRequired[Literal["application", "initiative", "referral"]]
    channel_label: NotRequired[str]  # how the committee learnt of it (initiative)
    referral: NotRequired[Referral]
    acceptance_cite: NotRequired[str]  # 2002 规定 第20条
    acceptance_words: NotRequired[str]
    respondents: NotRequired[list[str]]  # asked separately whether they agree (respondent_notice)
    consent_cite: NotRequired[str]  # 人民调解法 第17条
    clock_cite: NotRequired[str]
    clock_words: NotRequired[str]
    clock_meaning: NotRequired[str]  # "{due}" is replaced by due_on
    rights: NotRequired[list[ArticleText]]  # 人民调解法 第23、24条
    free_cite: NotRequired[str]  # 人民调解法 第4条


class RespondentNoticeContext(_Base):
    """受理通知书（被申请人）/征询意见 (人民调解法 第17条): asks the respondent whether it agrees."""

    addressees: list[str]  # the respondents and the third parties, each asked (人民调解法 第17条)
    respondents: NotRequired[list[str]]
    third_parties: NotRequired[list[str]]
    applicants: list[str]
    received_on: DateLike
    accepted_on: DateLike
    category_label: str
    subject: str
    summary: NotRequired[str]
    claims: NotRequired[str]
    origin: NotRequired[Literal["application", "initiative", "referral"]]
    referral: NotRequired[Referral]
    consent_cite: str
    consent_words: str
    rights: list[ArticleText]
    free_cite: NotRequired[str]
    contact_name: NotRequired[str]


class RejectionNoticeContext(_Base):
    """不予受理通知书 (2002 规定 第22条 reason, 第24条 routes matched to it)."""

    addressees: list[str]
    received_on: DateLike
    subject: str
    reason: str
    basis: NotRequired[str]  # legal basis of the refusal
    other_routes: NotRequired[list[str]]  # where the applicant may turn instead
    reason_label: NotRequired[str]  # the 第22条 reason chosen
    basis_words: NotRequired[str]  # the item's words
    routes_cite: NotRequired[str]  # 2002 规定 第24条
    route_bases: NotRequired[list[ArticleText]]  # 森林法 第22条 / 土地管理法 第14条 …, quoted
    origin: NotRequired[Literal["application", "initiative", "referral"]]
    referral: NotRequired[Referral]


class SessionEntry(TypedDict):
    speaker: str  # "调解员" / "申请人代表 张建国" / "被申请人委托代理人 林某"
    text: str


class Signer(TypedDict):
    role: str  # "申请人代表" / "被申请人委托代理人" / "列席人员"
    name: str


class SessionRecordContext(_Base):
    """调解笔录 (人民调解法 第27条: one record per session, signed by the participants)."""

    session_no: int
    subject: str
    held_at: DateTimeLike
    ended_at: NotRequired[DateTimeLike]
    location: str
    presiding: str  # 调解主持人
    recorder: str  # 记录人
    panel: NotRequired[list[PanelMember]]
    attendees: list[str]  # "申请人代表 张建国" ...
    entries: list[SessionEntry]
    outcome_label: str  # "继续调解" / "达成协议" / "调解不成" / "撤回"
    signers: list[Signer]  # who signs the record besides the presiding mediator and the recorder


class Term(TypedDict):
    obligor: str  # who performs
    obligation: str  # what
    amount: NotRequired[AmountLike]  # printed in figures and capitals
    due_date: NotRequired[DateLike]
    obligee: NotRequired[str]  # who receives (one per term; NULL only on terms recorded before v1.1)
    method: NotRequired[str]  # this term's own way of performance, if not the agreement's
    place: NotRequired[str]  # this term's own place of performance, if not the agreement's


class Performance(TypedDict):
    method: str  # 履行方式: "银行转账至各申请人本人银行账户"
    place: str  # 履行地点
    deadline: DateLike  # 履行期限 (last day)


class AgreementContext(_Letterhead):
    """人民调解协议书 (人民调解法 第28–29条, 司法部2002年《人民调解工作若干规定》第35条)."""

    category_label: str
    parties: list[Party]
    facts: str  # 纠纷的主要事实
    disputes: str  # 争议事项
    responsibility: str  # 各方当事人的责任
    terms: list[Term]
    performance: Performance
    other_terms: NotRequired[list[str]]  # 其他约定 (confidentiality, waiver of further claims ...)
    presiding: str  # 调解主持人 (signs)
    recorder: str  # 记录人 (signs)
    panel: NotRequired[list[PanelMember]]
    court_name: str  # competent court for 司法确认: "瑞安市人民法院"
    notices: list[str]  # by regime (models.agreement.agreement_notices): effect, labor remedies, 司法确认
    ink_only: NotRequired[bool]  # marriage / adoption / inheritance: signed in ink only
    signed_on: NotRequired[DateLike]
    verify_base_url: str
    verify_code: str


class Route(TypedDict):
    name: str  # "申请劳动争议仲裁"
    body: str  # "瑞安市劳动人事争议仲裁委员会"
    note: NotRequired[str]  # time limit and how


class TerminationNoticeContext(_Base):
    """终止调解告知书 (人民调解法 第26条)."""

    addressees: list[str]
    subject: str
    accepted_on: DateLike
    terminated_on: DateLike
    reason: str
    routes: list[Route]  # arbitration / administrative / litigation routes open to the parties


class TermStatus(TypedDict):
    term: str
    performed: bool
    state_label: NotRequired[str]  # v1.1: 已履行 / 部分履行 / 未履行 / 未到履行期
    note: NotRequired[str]


class FollowUpVisit(TypedDict):
    visited_on: DateLike
    method: str  # "电话回访" / "上门回访"
    visitor: str
    interviewee: str
    statuses: list[TermStatus]
    opinion: NotRequired[str]  # 当事人意见
    notes: NotRequired[str]


class FollowUpRecordContext(_Base):
    """回访记录 (人民调解法 第31条: the committee supervises performance)."""

    subject: str
    agreement_on: DateLike
    visits: list[FollowUpVisit]
    conclusion: str  # 回访结论: "已全部履行，建议结案" / "未履行，告知司法确认、申请强制执行"
    all_performed: bool


class SupervisionOrderContext(_Base):
    """督办单 (escalation)."""

    order_no: str  # "瑞调督〔2026〕第0042号"
    level_label: str  # "中心主任督办" / "镇街领导督办" / "市领导包案"
    assignee: str  # 承办单位 / 责任人
    subject: str
    category_label: str
    town: str
    stage_label: str
    accepted_on: NotRequired[DateLike]
    stage_due_on: DateLike
    overdue_days: int
    is_mass: NotRequired[bool]
    risk_label: NotRequired[str]
    reason: str  # why escalated
    requirements: list[str]  # 督办要求
    reply_by: DateLike
    issuer: str  # 督办单位: the center, the town's or the city's government, by level
    # The loop as of the day issued (models.escalation.histories): {"actor", "at", "text", "reply_by"}
    acknowledged: NotRequired[dict[str, Any] | None]
    instructions: NotRequired[list[dict[str, Any]]]
    feedback: NotRequired[list[dict[str, Any]]]


class BacklogRow(TypedDict):
    label: str  # town, category or age bucket
    open: int
    overdue: int
    mass: NotRequired[int]


class OverdueCase(TypedDict):
    case_no: str
    town: str
    category_label: str
    stage_label: str
    days_overdue: int
    level_label: str


class ClockNoticeContext(_Base):
    """调解期限中止/恢复计算告知书 (医疗纠纷预防和处理条例 第38条: appraisal time is not counted)."""

    addressees: list[str]  # every party
    subject: str
    event: Literal["pause", "resume"]
    effective_on: DateLike  # the appraisal commissioned / its opinion received
    reason: str  # the clerk's note
    unit: str  # "个工作日" or "日"
    days: int  # pause: what was left of the period; resume: the days it stood still
    due_on: NotRequired[DateLike]  # resume: the new last day
    basis_cite: NotRequired[str]
    basis_words: NotRequired[str]
    due_note: NotRequired[str]  # the estimate note when the last day lies in an unpublished year
    contact_name: NotRequired[str]


class BacklogReportContext(_Base):
    """积案报表 (weekly, for leaders; no personal data)."""

    period_label: str  # "2026年第46周（11月9日—11月15日）"
    generated_at: DateTimeLike
    totals: dict[
        str, int | str
    ]  # open, overdue, mass, closed_in_period, new_in_period, success_rate ("82.4%")
    by_age: list[BacklogRow]  # drawn as the bar chart
    by_town: list[BacklogRow]
    by_category: list[BacklogRow]
    oldest: list[OverdueCase]


class PanelNoticeContext(_Base):
    """调解员（专班）告知书 to one party (人民调解法 第19条, 第23条; 特邀调解规定 第15条 recusal grounds)."""

    addressees: list[str]
    addressee_role: str
    subject: str
    panel: list[PanelMember]
    presiding: str
    choose: ArticleText
    rights: ArticleText
    recusal: ArticleText
    contact_name: NotRequired[str]


class Attendee(TypedDict):
    role: str
    name: str


class SessionNoticeContext(_Base):
    """调解通知书 to one party: scheduled, rescheduled (with the old time) or cancelled."""

    addressees: list[str]
    subject: str
    variant: Literal["scheduled", "rescheduled", "cancelled"]
    session_no: int
    scheduled_at: DateTimeLike
    location: str
    attendees: list[Attendee]
    panel: list[PanelMember]
    refusal: ArticleText  # 人民调解法 第17条
    previous_at: NotRequired[DateTimeLike]
    previous_location: NotRequired[str]
    reason: NotRequired[str]
    contact_name: NotRequired[str]


class DeliveryReceiptContext(_Base):
    """送达回证 (民诉法 第87—90条 by analogy)."""

    document_title: str
    document_no: str
    document_issued_on: DateLike
    addressee: str
    addressee_role: str
    method_label: str
    status: str
    status_label: str
    delivered_on: DateLike | None
    signer_label: str
    signer_name: str
    note: str
    server: str
    bases: list[ArticleText]


class JudicialConfirmationContext(_Base):
    """司法确认申请书 (民诉解释 第354条; 民诉法 第205条; 司法确认规定 第3条)."""

    applicants: list[Party]
    request: str
    facts: str
    terms: list[str]
    court: str
    court_basis: ArticleText
    materials: list[str]
    bases: list[ArticleText]
    signers: list[dict[str, str]]
    last_day: DateLike | None


class MediationCertificateContext(_Base):
    """调解组织主持调解的证明."""

    subject: str
    presiding: str
    sessions: list[dict[str, Any]]
    agreement: dict[str, Any]


class PaymentOrderContext(_Base):
    """支付令申请书 of one obligee (民诉法 第225条; 劳动争议调解仲裁法 第16条)."""

    creditor: Party
    debtor: Party
    amount: AmountLike
    terms: list[dict[str, Any]]
    court: str
    bases: list[ArticleText]


class CourtFilingContext(_Base):
    """委派调解协议备案函 (特邀调解规定 第19条)."""

    court: str
    subject: str
    agreement: dict[str, Any]
    basis: ArticleText


class CourtReturnContext(_Base):
    """委派（委托）调解终结移交函 (特邀调解规定 第21条)."""

    court: str
    subject: str
    materials: list[dict[str, str]]
    basis: ArticleText


class ContextShape(Protocol):
    """What render needs of a shape: a TypedDict class's keys (the type checker has no name for
    "any TypedDict class")."""

    __required_keys__: frozenset[str]


KIND_SHAPES: dict[str, ContextShape] = {
    "application": ApplicationContext,
    "acceptance_notice": AcceptanceNoticeContext,
    "rejection_notice": RejectionNoticeContext,
    "respondent_notice": RespondentNoticeContext,
    "clock_notice": ClockNoticeContext,
    "session_record": SessionRecordContext,
    "agreement": AgreementContext,
    "termination_notice": TerminationNoticeContext,
    "follow_up_record": FollowUpRecordContext,
    "supervision_order": SupervisionOrderContext,
    "backlog_report": BacklogReportContext,
    "panel_notice": PanelNoticeContext,
    "session_notice": SessionNoticeContext,
    "delivery_receipt": DeliveryReceiptContext,
    "judicial_confirmation_application": JudicialConfirmationContext,
    "mediation_certificate": MediationCertificateContext,
    "payment_order_application": PaymentOrderContext,
    "court_filing": CourtFilingContext,
    "court_return": CourtReturnContext,
}

KIND_TITLES: dict[str, str] = {
    "application": "人民调解申请书（受理登记表）",
    "acceptance_notice": "人民调解受理通知书",
    "rejection_notice": "不予受理通知书",
    "respondent_notice": "人民调解受理通知书（征询意见）",
    "clock_notice": "调解期限中止、恢复计算告知书",
    "session_record": "人民调解记录",  # CONTRACT v1.1: the official title
    "agreement": "人民调解协议书",
    "termination_notice": "终止人民调解告知书",
    "follow_up_record": "人民调解协议履行回访记录",
    "supervision_order": "矛盾纠纷督办单",
    "backlog_report": "矛盾纠纷积案情况报表",
    "panel_notice": "调解员（专班）告知书",
    "session_notice": "调解通知书",
    "delivery_receipt": "送达回证",
    "judicial_confirmation_application": "司法确认申请书",
    "mediation_certificate": "调解组织主持调解的证明",
    "payment_order_application": "支付令申请书",
    "court_filing": "委派调解协议备案函",
    "court_return": "委派（委托）调解终结移交函",
}
