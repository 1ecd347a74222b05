"""Data and the rules that must always hold. No web or Prefect imports here."""

from models.agreement import Agreement, AgreementTerm, FollowUp, TermPayment
from models.attachment import Attachment
from models.audit import AuditEvent
from models.auth_session import AuthSession
from models.case import Case, CaseLink, CaseNumberCounter, ClockEvent, LegalOpinion
from models.center_settings import CenterText
from models.closing import CaseClosing
from models.committee import Committee, CommitteeCaseNumber
from models.delivery import Delivery
from models.document import Document
from models.enforcement import EnforcementRecord
from models.escalation import Escalation
from models.expert import Expert, PanelMember, Recusal
from models.idempotency import IdempotencyKey
from models.job import Job
from models.mediation_session import MediationSession
from models.message import Message
from models.notification import Notification
from models.party import Party
from models.portal import PortalRating, RemoteSignature, SignatureCode
from models.process_run import HolidaySchedule, ProcessRun, SettingValue
from models.review import Review, ReviewFinding, ReviewSample
from models.rollups import RollupCaseState, RollupCloseDays, RollupClosedWeek, RollupIntakeDay
from models.subsidy import Subsidy
from models.town import Town
from models.user import User

__all__ = [
    "Agreement",
    "AgreementTerm",
    "Attachment",
    "AuditEvent",
    "AuthSession",
    "Case",
    "CaseClosing",
    "CaseLink",
    "CaseNumberCounter",
    "CenterText",
    "ClockEvent",
    "Committee",
    "CommitteeCaseNumber",
    "Delivery",
    "Document",
    "EnforcementRecord",
    "Escalation",
    "Expert",
    "FollowUp",
    "HolidaySchedule",
    "IdempotencyKey",
    "Job",
    "LegalOpinion",
    "MediationSession",
    "Message",
    "Notification",
    "PanelMember",
    "Party",
    "PortalRating",
    "ProcessRun",
    "Recusal",
    "RemoteSignature",
    "Review",
    "ReviewFinding",
    "ReviewSample",
    "RollupCaseState",
    "RollupCloseDays",
    "RollupClosedWeek",
    "RollupIntakeDay",
    "SettingValue",
    "SignatureCode",
    "Subsidy",
    "TermPayment",
    "Town",
    "User",
]
