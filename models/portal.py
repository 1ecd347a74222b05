"""The party's own page (一案一码, CONTRACT v1.2 "The parties' channel"): what a party may open with its
code and secret, what the page shows it, its rating of the mediation, and the remote signatures.

A party sees one case, its own data unmasked and of everyone else only names: never another party's
ID number, phone or address (个人信息保护法 第6条: no more than the purpose needs)."""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field as PydanticField
from sqlalchemy import LargeBinary, Text
from sqlmodel import Field, Session, SQLModel, col, func, select

from models.access import PERSONAL_DATA_KINDS
from models.agreement import Agreement, AgreementTerm
from models.binding import resolve_term_party
from models.case import Case
from models.db import UTCDateTime, id_of, utcnow
from models.delivery import Delivery
from models.document import Document
from models.enums import DeliveryStatus, DocumentKind, PartyRole, Satisfaction, Stage
from models.expert import Expert, PanelMember
from models.mediation_session import MediationSession
from models.next_step import waiting_on
from models.party import Party
from models.public import Money
from models.schemas import Flag, StrictModel
from models.tz import CHINA

SECRET_CHARS = 6  # the last characters of the party's ID number or credit code
OTP_TTL = timedelta(minutes=10)
OTP_TRIES = 3
MAX_SIGNATURE_BYTES = 200_000  # a drawn signature is a few KB; this bounds what one request stores
MAX_COMMENT_CHARS = 500
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class PortalRating(SQLModel, table=True):
    """A party's rating of the mediation on its page (one per party; a second rating replaces it). Kept
    apart from the 回访's satisfaction so the two can be counted together or apart."""

    __tablename__ = "portal_ratings"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    party_id: int = Field(foreign_key="parties.id", unique=True)
    rating: str = Field(max_length=1)  # models.enums.Satisfaction
    comment: str | None = Field(default=None, sa_type=Text)
    rated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SignatureCode(SQLModel, table=True):
    """A one-time code sent to the party's phone before it signs (kept hashed; 10 minutes, 3 tries)."""

    __tablename__ = "signature_codes"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    party_id: int = Field(foreign_key="parties.id", index=True)
    code_hash: str = Field(max_length=100)  # "{salt}${hmac}"
    expires_at: datetime = Field(sa_type=UTCDateTime)
    tries: int = 0
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    message_id: int | None = None  # the outbox message that carried it
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RemoteSignature(SQLModel, table=True):
    """A handwritten signature on one agreement version, by a party (on its page) or by the presiding
    mediator (on the case page). 电子签名法 第13条: reliable when the signing data is the signer's alone and
    any change after signing can be detected: hence the version's SHA-256 and the code's message."""

    __tablename__ = "remote_signatures"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    agreement_id: int = Field(foreign_key="agreements.id", index=True)
    agreement_revision: int
    agreement_sha256: str = Field(max_length=64)
    party_id: int | None = Field(default=None, foreign_key="parties.id")
    expert_id: int | None = Field(default=None, foreign_key="experts.id")  # the presiding mediator
    user_id: int | None = Field(default=None, foreign_key="users.id")  # who recorded a mediator's
    signer_name: str = Field(max_length=120)
    image_png: bytes = Field(sa_type=LargeBinary)
    image_sha256: str = Field(max_length=64)
    address: str | None = Field(default=None, max_length=64)
    message_id: int | None = None
    signed_at: datetime = Field(sa_type=UTCDateTime)


@dataclass(frozen=True)
class PartyActor:
    """Who acts on the party's page, as the audit log and the delivery record name it: no account, and
    no name (the log keeps no personal data), only the party's record."""

    party_id: int

    @property
    def id(self) -> None:  # no user account
        return None

    @property
    def username(self) -> str:
        return f"当事人#{self.party_id}（一案一码）"


# --- Opening the page --------------------------------------------------------------------------


def secret_of(party: Party) -> str | None:
    """What opens the party's page: the last 6 characters of its ID number (an organization: of its
    unified social credit code); None when the case holds no such number (then only the window helps)."""
    number = party.id_number if party.kind == "person" else party.org_code
    number = (number or "").strip().upper()
    return number[-SECRET_CHARS:] if len(number) >= SECRET_CHARS else None


def secret_matches(party: Party, given: str) -> bool:
    expected = secret_of(party)
    return expected is not None and hmac.compare_digest(expected, (given or "").strip().upper())


# --- What the page shows ----------------------------------------------------------------------


def _cn(value: datetime) -> str:
    return value.astimezone(CHINA).strftime("%Y年%m月%d日 %H:%M")


def presiding_name(session: Session, case_id: int) -> str | None:
    return session.exec(
        select(Expert.name)
        .join(PanelMember, col(PanelMember.expert_id) == Expert.id)
        .where(PanelMember.case_id == case_id, col(PanelMember.active), PanelMember.role == "lead")
    ).first()


def current_agreement(session: Session, case_id: int) -> tuple[Agreement, Document] | None:
    """The agreement and the document of its current version, once issued."""
    row = session.exec(
        select(Agreement, Document)
        .join(Document, col(Document.id) == Agreement.document_id)
        .where(Agreement.case_id == case_id)
    ).first()
    return (row[0], row[1]) if row else None


def bound_parties(session: Session, agreement: Agreement) -> list[Party]:
    """The parties the agreement's terms bind or benefit (义务人 and 权利人, agents resolved to their
    party: models.binding): those who must sign it."""
    parties = list(
        session.exec(select(Party).where(Party.case_id == agreement.case_id).order_by(col(Party.id))).all()
    )
    terms = session.exec(select(AgreementTerm).where(AgreementTerm.agreement_id == agreement.id)).all()
    # resolve_term_party answers one of `parties` itself: identity tells which.
    named = {
        id(found)
        for t in terms
        for name in (t.obligor, t.obligee)
        if (found := resolve_term_party(name, parties)) is not None
    }
    return [p for p in parties if id(p) in named]


def signatures_of(session: Session, agreement: Agreement) -> list[RemoteSignature]:
    """The signatures on the agreement's current revision (a corrected agreement needs them again)."""
    return list(
        session.exec(
            select(RemoteSignature)
            .where(
                RemoteSignature.agreement_id == agreement.id,
                RemoteSignature.agreement_revision == agreement.revision,
            )
            .order_by(col(RemoteSignature.id))
        ).all()
    )


def party_view(session: Session, party: Party, now: datetime) -> dict[str, Any]:
    """Everything the party's page and `GET /portal/me` show, as plain data: masked for everyone but the
    party itself."""
    case = session.get(Case, party.case_id)
    assert case is not None, party.case_id
    what, who = waiting_on(session, case, now)
    stage = Stage(case.stage)
    others = session.exec(
        select(Party).where(Party.case_id == case.id, Party.id != party.id).order_by(col(Party.id))
    ).all()
    sessions = session.exec(
        select(MediationSession)
        .where(MediationSession.case_id == case.id)
        .order_by(col(MediationSession.scheduled_at), col(MediationSession.id))
    ).all()
    deliveries = session.exec(
        select(Delivery, Document)
        .join(Document, col(Document.id) == Delivery.document_id)
        .where(Delivery.party_id == party.id)
        .order_by(col(Document.created_at), col(Delivery.id))
    ).all()
    rating = session.exec(select(PortalRating).where(PortalRating.party_id == party.id)).first()
    agreement = _agreement_summary(session, case, party)
    return {
        "case_no": case.case_no,
        "stage": stage.value,
        "stage_label": stage.label,
        "next_step": what,
        "next_step_by": who,
        "stage_due_on": case.stage_due_at.astimezone(CHINA).date().isoformat()
        if case.stage_due_at and stage not in (Stage.closed, Stage.rejected)
        else None,
        "mediator": presiding_name(session, id_of(case)),
        "me": {
            "id": party.id,
            "name": party.name,
            "role_label": PartyRole(party.role).label,
            "id_number": party.id_number if party.kind == "person" else None,
            "org_code": party.org_code if party.kind == "organization" else None,
            "phone": party.phone,
            "address": party.address,
            "consent_electronic": party.consent_electronic,
        },
        # Others by name and role only: never their ID number, phone or address.
        "others": [{"name": p.name, "role_label": PartyRole(p.role).label} for p in others],
        "sessions": [
            {
                "seq": ms.seq,
                "scheduled_at": _cn(ms.scheduled_at),
                "location": ms.location,
                "status": "已取消" if ms.cancelled_at else "已召开" if ms.held_at else "待召开",
            }
            for ms in sessions
        ],
        "documents": [
            {
                "id": doc.id,
                "delivery_id": d.id,
                "kind_label": DocumentKind(doc.kind).label,
                "issued_on": doc.created_at.astimezone(CHINA).date().isoformat(),
                "status": d.status,
                "status_label": DeliveryStatus(d.status).label,
                "paper_requested": d.paper_requested_at is not None,
                "to_confirm": d.status == DeliveryStatus.pending and d.paper_requested_at is None,
                "url": f"/p/{{code}}/documents/{doc.id}",
            }
            for d, doc in deliveries
            # The application and agreement print every party's numbers: never as a file here.
            if doc.kind not in PERSONAL_DATA_KINDS
        ],
        "agreement": agreement,
        "can_rate": stage == Stage.closed,
        "rating": {
            "rating": int(rating.rating),
            "label": Satisfaction(rating.rating).label,
            "comment": rating.comment,
        }
        if rating
        else None,
    }


def _agreement_summary(session: Session, case: Case, party: Party) -> dict[str, Any] | None:
    """The agreement as the page shows it: the terms with names only (the PDF carries every party's
    numbers, so it is not offered), and where remote signing stands."""
    found = current_agreement(session, id_of(case))
    if found is None:
        return None
    agreement, doc = found
    terms = session.exec(
        select(AgreementTerm)
        .where(AgreementTerm.agreement_id == agreement.id)
        .order_by(col(AgreementTerm.seq))
    ).all()
    bound = bound_parties(session, agreement)
    signed = signatures_of(session, agreement)
    return {
        "revision": agreement.revision,
        "sha256": doc.sha256,
        "signed": agreement.signed_at is not None,
        "ink_only": agreement.ink_only,
        "performance_method": agreement.performance_method,
        "terms": [
            {
                "seq": t.seq,
                "obligor": t.obligor,
                "obligee": t.obligee,
                "obligation": t.obligation,
                "amount": f"{t.amount:.2f}" if t.amount is not None else None,
                "due_date": t.due_date.isoformat() if t.due_date else None,
            }
            for t in terms
        ],
        "must_sign": any(p.id == party.id for p in bound),
        "i_signed": any(s.party_id == party.id for s in signed),
        "signers": [s.signer_name for s in signed],
    }


def satisfaction_counts(session: Session) -> dict[str, int]:
    """The parties' ratings on their pages by scale value (the dashboard's 满意率 counts 4, 3 and 2)."""
    rows = session.exec(select(PortalRating.rating, func.count()).group_by(col(PortalRating.rating))).all()
    return dict(rows)


# --- Remote signing ---------------------------------------------------------------------------


def otp_hash(secret_key: str, code_id_salt: str, otp: str) -> str:
    """A one-time code kept only as a keyed hash: a copy of the database does not reveal live codes."""
    return hmac.new(secret_key.encode(), f"otp:{code_id_salt}:{otp}".encode(), hashlib.sha256).hexdigest()


def png_problem(data: bytes) -> str | None:
    """Why `data` is not a signature image we keep (a PNG of sensible size), or None."""
    if not data:
        return "请先在签名框内手写签名"
    if len(data) > MAX_SIGNATURE_BYTES:
        return f"签名图片过大（不超过{MAX_SIGNATURE_BYTES // 1000}KB）"
    if not data.startswith(PNG_MAGIC) or data[12:16] != b"IHDR" or len(data) < 33:
        return "签名图片须为PNG格式"
    width, height = struct.unpack(">II", data[16:24])
    if not (20 <= width <= 4000 and 20 <= height <= 4000):
        return "签名图片尺寸不正确"
    return None


# --- Bodies and answers of the portal's JSON routes -------------------------------------------


class PortalLogin(StrictModel):
    secret: str = PydanticField(
        min_length=1, max_length=32, description="身份证号码（或统一社会信用代码）后六位"
    )


class PortalToken(SQLModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="有效秒数")


class PartyAccessPublic(SQLModel):
    code: str = Field(description="当事人服务码（一案一码）")
    url: str = Field(description="当事人页面地址")


class PortalConfirm(StrictModel):
    consent_electronic: Flag = PydanticField(default=False, description="同意电子送达（首次确认时必需）")


class PortalRatingIn(StrictModel):
    rating: int = PydanticField(ge=1, le=4, description="4 非常满意，3 满意，2 基本满意，1 不满意")
    comment: str | None = PydanticField(default=None, max_length=MAX_COMMENT_CHARS, description="意见和建议")


class SignatureIn(StrictModel):
    otp: str = PydanticField(min_length=6, max_length=6, pattern=r"^\d{6}$", description="短信验证码")
    image_png_base64: str = PydanticField(
        min_length=1, max_length=MAX_SIGNATURE_BYTES * 4 // 3 + 64, description="手写签名（PNG，Base64）"
    )


class PresidingSignatureIn(StrictModel):
    image_png_base64: str = PydanticField(
        min_length=1,
        max_length=MAX_SIGNATURE_BYTES * 4 // 3 + 64,
        description="主持人手写签名（PNG，Base64）",
    )


def png_from_base64(value: str) -> bytes:
    """The PNG bytes of a base64 text (a `data:image/png;base64,` prefix allowed); b"" when unreadable."""
    import base64
    import binascii

    text = value.split(",", 1)[1] if value.startswith("data:") else value
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return b""


def party_document(session: Session, party: Party, doc_id: int) -> Document | None:
    """A document the party may open: a notice addressed to it (a delivery record names it), never the
    application or agreement, which print every party's numbers."""
    row = session.exec(
        select(Document)
        .join(Delivery, col(Delivery.document_id) == Document.id)
        .where(Delivery.party_id == party.id, Document.id == doc_id)
    ).first()
    return row if row is not None and row.kind not in PERSONAL_DATA_KINDS else None


# --- What the portal answers (typed: OpenAPI describes every body) -----------------------------


class PortalMe(SQLModel):
    """The party itself, unmasked: it is its own data."""

    id: int
    name: str
    role_label: str
    id_number: str | None = None
    org_code: str | None = None
    phone: str | None = None
    address: str | None = None
    consent_electronic: bool


class PortalOther(SQLModel):
    """Another party: name and role only."""

    name: str
    role_label: str


class PortalSession(SQLModel):
    seq: int
    scheduled_at: str
    location: str
    status: str


class PortalDocument(SQLModel):
    id: int
    delivery_id: int
    kind_label: str
    issued_on: str
    status: str
    status_label: str
    paper_requested: bool
    to_confirm: bool
    url: str
    page_url: str | None = None


class PortalTerm(SQLModel):
    seq: int
    obligor: str
    obligee: str | None = None
    obligation: str
    amount: Money | None = None
    due_date: str | None = None


class PortalAgreement(SQLModel):
    revision: int
    sha256: str
    signed: bool
    ink_only: bool
    performance_method: str
    terms: list[PortalTerm]
    must_sign: bool
    i_signed: bool
    signers: list[str]


class PortalRatingPublic(SQLModel):
    rating: int
    label: str
    comment: str | None = None


class PortalView(SQLModel):
    """`GET /portal/me` and the answer of every party action: the party's case as its page shows it."""

    case_no: str | None = None
    stage: str
    stage_label: str
    next_step: str
    next_step_by: str
    stage_due_on: str | None = None
    mediator: str | None = None
    me: PortalMe
    others: list[PortalOther]
    sessions: list[PortalSession]
    documents: list[PortalDocument]
    agreement: PortalAgreement | None = None
    can_rate: bool
    rating: PortalRatingPublic | None = None


class SignatureCodeSent(SQLModel):
    sent: bool
    expires_at: str
    message_id: int | None = None


class PresidingSignaturePublic(SQLModel):
    signed: bool = Field(description="协议已由全部签署人签署")
    missing: list[str] = Field(description="尚待签署的人")
    stage: str
