"""Every coded value of the contract, with its Chinese label (served by /meta/enums)."""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class LabeledEnum(StrEnum):
    @property
    def label(self) -> str:
        return LABELS[type(self)][self.value]

    @classmethod
    def from_code_or_label(cls, value: str) -> Self:
        value = value.strip()
        for member in cls:
            if value == member.value or value == member.label:
                return member
        raise ValueError(value)


class Stage(LabeledEnum):
    registered = "registered"
    accepted = "accepted"
    rejected = "rejected"
    panel_formed = "panel_formed"
    in_mediation = "in_mediation"
    agreed = "agreed"
    follow_up = "follow_up"
    failed = "failed"
    withdrawn = "withdrawn"
    closed = "closed"


class Channel(LabeledEnum):
    walk_in = "walk_in"
    grid_report = "grid_report"
    police_transfer = "police_transfer"
    hotline = "hotline"
    court_referral = "court_referral"
    petition_transfer = "petition_transfer"
    online = "online"
    other = "other"


class Category(LabeledEnum):
    marriage_family = "marriage_family"
    neighbor = "neighbor"
    housing_land = "housing_land"
    contract = "contract"
    damages = "damages"
    labor = "labor"
    land_acquisition = "land_acquisition"
    medical = "medical"
    property_mgmt = "property_mgmt"
    traffic = "traffic"
    forest_land = "forest_land"
    village_affairs = "village_affairs"
    consumer = "consumer"
    other = "other"


class PartyRole(LabeledEnum):
    applicant = "applicant"
    respondent = "respondent"
    third_party = "third_party"


class PartyKind(LabeledEnum):
    person = "person"
    organization = "organization"


class ExpertKind(LabeledEnum):
    mediator = "mediator"
    lawyer = "lawyer"
    judge = "judge"
    department = "department"
    elder = "elder"
    industry = "industry"
    psychologist = "psychologist"
    police = "police"


class PanelRole(LabeledEnum):
    lead = "lead"
    member = "member"
    legal_advisor = "legal_advisor"


class SessionOutcome(LabeledEnum):
    continue_ = "continue"
    agreed = "agreed"
    failed = "failed"
    withdrawn = "withdrawn"


class CloseKind(LabeledEnum):
    """结案方式: how a case ends (the 结案 decision)."""

    performed = "performed"
    failed = "failed"
    withdrawn = "withdrawn"
    oral_performed = "oral_performed"
    transferred = "transferred"
    # An agreement not fully performed (issue 18): the case leaves the center by the route that fits.
    partly_performed = "partly_performed"
    judicial_confirm = "judicial_confirm"
    payment_order = "payment_order"
    litigation = "litigation"
    arbitration = "arbitration"


class FollowUpMethod(LabeledEnum):
    phone = "phone"
    visit = "visit"
    interview = "interview"
    other = "other"


class TermState(LabeledEnum):
    """A term's performance as found at a follow-up visit."""

    performed = "performed"
    partly = "partly"
    not_performed = "not_performed"
    not_due = "not_due"


class OralPerformance(LabeledEnum):
    """How an oral agreement (人民调解法 第28条) is performed."""

    on_the_spot = "on_the_spot"
    later = "later"


class ReferralKind(LabeledEnum):
    court_pre_filing = "court_pre_filing"
    court_post_filing = "court_post_filing"
    petition = "petition"


class RejectionReason(LabeledEnum):
    """不予受理的理由: the list of 司法部《人民调解工作若干规定》(2002) 第22条 (the table: models/law.py)."""

    specialized_organ = "specialized_organ"  # 第22条(一) 只能由专门机关管辖处理
    mediation_forbidden = "mediation_forbidden"  # 第22条(一) 禁止采用民间调解方式
    forest_ownership = "forest_ownership"  # 第22条(一), 森林法 第22条: 人民政府处理
    land_ownership = "land_ownership"  # 第22条(一), 土地管理法 第14条: 人民政府处理
    court_accepted = "court_accepted"  # 第22条(二)
    police_accepted = "police_accepted"  # 第22条(二)
    admin_accepted = "admin_accepted"  # 第22条(二)


class RiskLevel(LabeledEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class Role(LabeledEnum):
    staff = "staff"
    lawyer = "lawyer"
    leader = "leader"
    admin = "admin"


class DocumentKind(LabeledEnum):
    application = "application"
    acceptance_notice = "acceptance_notice"
    rejection_notice = "rejection_notice"
    session_record = "session_record"
    agreement = "agreement"
    termination_notice = "termination_notice"
    follow_up_record = "follow_up_record"
    supervision_order = "supervision_order"
    backlog_report = "backlog_report"
    respondent_notice = "respondent_notice"
    clock_notice = "clock_notice"
    panel_notice = "panel_notice"
    session_notice = "session_notice"
    delivery_receipt = "delivery_receipt"
    judicial_confirmation_application = "judicial_confirmation_application"
    mediation_certificate = "mediation_certificate"
    payment_order_application = "payment_order_application"
    court_filing = "court_filing"
    court_return = "court_return"
    dossier = "dossier"


class DeliveryMethod(LabeledEnum):
    """送达方式 (民诉法 第87—90条; electronic only with the party's consent, 第90条 by analogy)."""

    in_person = "in_person"
    post = "post"
    sms = "sms"
    email = "email"
    portal = "portal"


class DeliveryStatus(LabeledEnum):
    pending = "pending"
    delivered = "delivered"
    refused = "refused"
    failed = "failed"


class DeliverySigner(LabeledEnum):
    """Who signed the 送达回证 (民诉法 第88条)."""

    party = "party"
    family = "family"
    clerk = "clerk"
    agent = "agent"


class Satisfaction(LabeledEnum):
    """The parties' satisfaction, one scale for the 回访 and the parties' page (满意率 counts 4, 3 and 2)."""

    very_satisfied = "4"
    satisfied = "3"
    basically_satisfied = "2"
    dissatisfied = "1"


class EscalationLevel(LabeledEnum):
    l0 = "0"
    l1 = "1"
    l2 = "2"
    l3 = "3"


class CommitteeKind(LabeledEnum):
    people = "people"
    medical = "medical"
    traffic = "traffic"
    labor = "labor"
    other = "other"


class ClockCode(LabeledEnum):
    people_mediation = "people_mediation"
    labor = "labor"
    court_pre_filing = "court_pre_filing"
    court_post_filing = "court_post_filing"
    court_post_filing_summary = "court_post_filing_summary"
    petition_reply = "petition_reply"
    petition_handle = "petition_handle"
    medical = "medical"
    judicial_confirmation = "judicial_confirmation"


class MessageChannel(LabeledEnum):
    sms = "sms"
    email = "email"


class MessageStatus(LabeledEnum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    failed = "failed"


LABELS: dict[type, dict[str, str]] = {
    Stage: {
        "registered": "登记",
        "accepted": "受理",
        "rejected": "不予受理",
        "panel_formed": "专班已组建",
        "in_mediation": "调解中",
        "agreed": "达成协议",
        "follow_up": "履行回访",
        "failed": "调解不成",
        "withdrawn": "撤回",
        "closed": "结案",
    },
    Channel: {
        "walk_in": "来访",
        "grid_report": "网格上报",
        "police_transfer": "警情移交",
        "hotline": "12345热线",
        "court_referral": "法院委派",
        "petition_transfer": "信访转办",
        "online": "线上申请",
        "other": "其他",
    },
    Category: {
        "marriage_family": "婚姻家庭",
        "neighbor": "邻里纠纷",
        "housing_land": "房屋宅基地",
        "contract": "合同纠纷",
        "damages": "损害赔偿",
        "labor": "劳动争议",
        "land_acquisition": "征地拆迁",
        "medical": "医疗纠纷",
        "property_mgmt": "物业纠纷",
        "traffic": "交通事故",
        "forest_land": "山林土地",
        "village_affairs": "村务/三资",
        "consumer": "消费纠纷",
        "other": "其他",
    },
    CommitteeKind: {
        "people": "人民调解委员会",
        "medical": "医疗纠纷人民调解委员会",
        "traffic": "交通事故纠纷人民调解委员会",
        "labor": "劳动争议调解组织",
        "other": "其他调解组织",
    },
    PartyRole: {"applicant": "申请人", "respondent": "被申请人", "third_party": "第三人"},
    PartyKind: {"person": "自然人", "organization": "法人或其他组织"},
    ExpertKind: {
        "mediator": "人民调解员",
        "lawyer": "律师",
        "judge": "法官",
        "department": "事权部门",
        "elder": "乡贤",
        "industry": "行业调解组织",
        "psychologist": "心理咨询师",
        "police": "民警",
    },
    PanelRole: {"lead": "调解主持人", "member": "专班成员", "legal_advisor": "法律顾问"},
    SessionOutcome: {
        "continue": "继续调解",
        "agreed": "达成协议",
        "failed": "调解不成",
        "withdrawn": "撤回申请",
    },
    CloseKind: {
        "performed": "履行完毕",
        "failed": "调解不成",
        "withdrawn": "撤回",
        "oral_performed": "口头协议履行",
        "transferred": "转其他途径",
        "partly_performed": "部分履行",
        "judicial_confirm": "转司法确认",
        "payment_order": "申请支付令",
        "litigation": "转诉讼",
        "arbitration": "转仲裁",
    },
    FollowUpMethod: {"phone": "电话回访", "visit": "上门回访", "interview": "约谈回访", "other": "其他方式"},
    TermState: {
        "performed": "已履行",
        "partly": "部分履行",
        "not_performed": "未履行",
        "not_due": "未到履行期",
    },
    OralPerformance: {"on_the_spot": "当场履行", "later": "约定日后履行"},
    ReferralKind: {
        "court_pre_filing": "法院委派（诉前）",
        "court_post_filing": "法院委托（诉中）",
        "petition": "信访转办",
    },
    RejectionReason: {
        "specialized_organ": "法律、法规规定只能由专门机关管辖处理的纠纷",
        "mediation_forbidden": "法律、法规禁止采用民间调解方式解决的纠纷",
        "forest_ownership": "林木、林地所有权和使用权争议（由人民政府依法处理）",
        "land_ownership": "土地所有权和使用权争议（由人民政府处理）",
        "court_accepted": "人民法院已经受理或者解决的纠纷",
        "police_accepted": "公安机关已经受理或者解决的纠纷",
        "admin_accepted": "其他行政机关已经受理或者解决的纠纷",
    },
    RiskLevel: {"low": "低", "medium": "中", "high": "高", "critical": "极高（可能激化为治安或刑事案件）"},
    Role: {"staff": "中心工作人员", "lawyer": "律师", "leader": "领导", "admin": "管理员"},
    DocumentKind: {
        "application": "调解申请书/受理登记表",
        "acceptance_notice": "受理通知书",
        "rejection_notice": "不予受理通知书",
        "session_record": "人民调解记录",
        "agreement": "人民调解协议书",
        "termination_notice": "终止调解告知书",
        "follow_up_record": "回访记录",
        "supervision_order": "督办单",
        "backlog_report": "积案报表",
        "respondent_notice": "受理通知书（被申请人）/征询意见",
        "clock_notice": "调解期限中止/恢复告知书",
        "panel_notice": "调解员（专班）告知书",
        "session_notice": "调解通知书",
        "delivery_receipt": "送达回证",
        "judicial_confirmation_application": "司法确认申请书",
        "mediation_certificate": "调解组织主持调解的证明",
        "payment_order_application": "支付令申请书",
        "court_filing": "委派调解协议备案函",
        "court_return": "委派（委托）调解终结移交函",
        "dossier": "人民调解卷宗",
    },
    Satisfaction: {"4": "非常满意", "3": "满意", "2": "基本满意", "1": "不满意"},
    DeliveryMethod: {
        "in_person": "直接送达",
        "post": "邮寄送达",
        "sms": "短信送达",
        "email": "电子邮件送达",
        "portal": "当事人服务平台送达",
    },
    DeliveryStatus: {
        "pending": "待送达",
        "delivered": "已送达",
        "refused": "拒收（留置送达）",
        "failed": "未能送达",
    },
    DeliverySigner: {
        "party": "受送达人本人",
        "family": "同住成年家属",
        "clerk": "法人或其他组织负责收件的人",
        "agent": "代理人",
    },
    EscalationLevel: {"0": "承办", "1": "中心主任督办", "2": "镇街领导督办", "3": "市领导包案"},
    ClockCode: {
        "people_mediation": "人民调解期限",
        "labor": "劳动争议调解",
        "court_pre_filing": "诉前委派调解",
        "court_post_filing": "诉中委托调解",
        "court_post_filing_summary": "简易程序委托调解",
        "petition_reply": "信访告知",
        "petition_handle": "信访办结",
        "medical": "医疗纠纷调解",
        "judicial_confirmation": "申请司法确认",
    },
    MessageChannel: {"sms": "短信", "email": "电子邮件"},
    MessageStatus: {"queued": "待发送", "sending": "发送中", "sent": "已发送", "failed": "发送失败"},
}

ENUMS_BY_NAME: dict[str, type[LabeledEnum]] = {
    "stage": Stage,
    "channel": Channel,
    "category": Category,
    "party_role": PartyRole,
    "party_kind": PartyKind,
    "expert_kind": ExpertKind,
    "panel_role": PanelRole,
    "session_outcome": SessionOutcome,
    "close_kind": CloseKind,
    "follow_up_method": FollowUpMethod,
    "term_state": TermState,
    "referral_kind": ReferralKind,
    "rejection_reason": RejectionReason,
    "risk_level": RiskLevel,
    "role": Role,
    "document_kind": DocumentKind,
    "escalation_level": EscalationLevel,
    "delivery_method": DeliveryMethod,
    "delivery_status": DeliveryStatus,
    "delivery_signer": DeliverySigner,
    "clock": ClockCode,
    "committee_kind": CommitteeKind,
    "message_channel": MessageChannel,
    "message_status": MessageStatus,
}
