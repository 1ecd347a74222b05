"""The party's own actions on its page (一案一码) and the mediator's remote signature: the JSON routes
(api/routes/portal.py) and the page (api/pages/portal.py) call these same functions.

- `confirm_delivery`: the party opened a notice on its page and confirms it; the first time with its
  consent to electronic delivery (民诉法 第90条 by analogy, models/law.py cpl_90); the delivery is then
  recorded delivered by the portal and the 送达回证 follows (flows/notices.file_delivery).
- `ask_for_paper`: the party wants the notice on paper (第90条: 受送达人提出需要纸质文书的…应当提供):
  recorded, the delivery stays pending for staff.
- `rate_mediation`: after closing, the party's satisfaction (models.enums.Satisfaction).
- `request_signature_code` / `sign_as_party` / `sign_as_mediator`: remote signing of the current
  agreement version; when every bound party and the presiding mediator have signed, the agreement is
  signed through flows/agreement.sign_agreement (all its guards apply). Never for 婚姻、收养、继承 matters
  (电子签名法 第3条, models/law.py esign_3).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from flows import tasks
from flows.agreement import attach_agreement_document, is_ink_only, presiding_expert, sign_agreement
from flows.messages import queue_message
from flows.notices import file_delivery
from flows.tasks import process_flow, step
from models.action_context import ActionContext
from models.agreement import Agreement
from models.audit import record
from models.case import Case
from models.db import id_of
from models.deadlines import china_date
from models.delivery import FINAL, Delivery
from models.document import Document
from models.enums import DeliveryMethod, DeliverySigner, DeliveryStatus, Satisfaction, Stage
from models.law import ARTICLES
from models.lifecycle import InvalidInput, NotFound, TransitionNotAllowed
from models.outbox import enqueue_after
from models.party import Party
from models.portal import (
    MAX_COMMENT_CHARS,
    OTP_TRIES,
    OTP_TTL,
    PartyActor,
    PortalRating,
    RemoteSignature,
    SignatureCode,
    bound_parties,
    current_agreement,
    otp_hash,
    png_problem,
    signatures_of,
)
from models.schemas import AgreementSigned, DeliveryRecord
from models.settings import get_settings
from models.user import User
from models.validation import ValidationError, clean_text


def _audit_party(
    session: Session,
    party: Party,
    *,
    action: str,
    entity: str,
    entity_id: int | None,
    now: datetime,
    **kw: Any,
) -> None:
    """An audit row of the party's own act: named by its record, never its name (no personal data)."""
    record(
        session,
        actor_id=None,
        actor_name=PartyActor(id_of(party)).username,
        action=action,
        entity=entity,
        entity_id=entity_id,
        case_id=party.case_id,
        at=now,
        **kw,
    )


def _case_of(session: Session, party: Party) -> Case:
    case = session.get(Case, party.case_id)
    assert case is not None, party.case_id  # foreign key
    return case


def _own_delivery(session: Session, party: Party, delivery_id: int) -> Delivery:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.party_id != party.id:
        raise NotFound("没有该送达记录")
    return delivery


def confirm_delivery(
    *, session: Session, party: Party, delivery_id: int, consent_electronic: bool, now: datetime
) -> Delivery:
    """The party confirms receipt of a notice on its page: delivered by the portal today."""
    delivery = _own_delivery(session, party, delivery_id)
    if delivery.status in FINAL:
        raise TransitionNotAllowed("该文书已确认送达，无需再次确认")
    if not party.consent_electronic and not consent_electronic:
        # 民诉法 第90条 (by analogy): electronic delivery only with the addressee's consent.
        raise InvalidInput(
            f"首次在线确认收到文书，须先同意电子送达（参照{ARTICLES['cpl_90'].cite_short}）",
            field="consent_electronic",
        )
    actor = PartyActor(id_of(party))
    if consent_electronic and party.consent_at is None:
        party.consent_at = now
        session.add(party)
    org = party.kind == "organization"
    confirmed = DeliveryRecord(
        status=DeliveryStatus.delivered,
        method=DeliveryMethod.portal,
        delivered_at=china_date(now),
        signed_by=DeliverySigner.party,
        # An organization signs through a person (民诉法 第88条): its 法定代表人, else in its own name.
        signer_name=(party.legal_representative or party.name) if org else None,
        note="当事人通过一案一码页面确认收到",
        consent_electronic=consent_electronic,
    )
    return file_delivery(
        confirmed.about(delivery_id), session=session, case=_case_of(session, party), actor=actor, now=now
    )


def ask_for_paper(*, session: Session, party: Party, delivery_id: int, now: datetime) -> Delivery:
    """我要纸质送达: recorded on the delivery, which stays pending for staff to deliver on paper."""
    delivery = _own_delivery(session, party, delivery_id)
    if delivery.status in FINAL:
        raise TransitionNotAllowed("该文书已送达，如需纸质文书请联系调解中心")
    if delivery.paper_requested_at is None:
        delivery.paper_requested_at = now
        session.add(delivery)
        _audit_party(
            session,
            party,
            action="delivery.paper_requested",
            entity="delivery",
            entity_id=delivery.id,
            now=now,
            after={"paper_requested": True, "document_id": delivery.document_id},
        )
    return delivery


def rate_mediation(
    *, session: Session, party: Party, rating: int | str, comment: str | None, now: datetime
) -> PortalRating:
    """The party's satisfaction once the case is closed (one per party; a new rating replaces it)."""
    case = _case_of(session, party)
    if case.stage != Stage.closed:
        raise TransitionNotAllowed("案件结案后才能评价调解工作")
    try:
        value = Satisfaction(str(rating))
    except ValueError:
        raise InvalidInput(
            "评价应为：" + "、".join(f"{s.value} {s.label}" for s in Satisfaction), field="rating"
        ) from None
    try:
        text = clean_text(comment or "")[:MAX_COMMENT_CHARS] or None
    except ValidationError as exc:
        raise InvalidInput(exc.message, field="comment") from None
    row = session.exec(select(PortalRating).where(PortalRating.party_id == party.id)).first()
    before = {"rating": row.rating} if row else None
    row = row or PortalRating(case_id=id_of(case), party_id=id_of(party), rating=value.value)
    row.rating, row.comment, row.rated_at = value.value, text, now
    session.add(row)
    session.flush()
    # The comment is the party's own words (it may name people): the log keeps only the rating.
    _audit_party(
        session,
        party,
        action="portal.rate",
        entity="portal_rating",
        entity_id=row.id,
        now=now,
        before=before,
        after={"rating": value.value, "has_comment": text is not None},
    )
    return row


# --- Remote signing ---------------------------------------------------------------------------


def _signable(session: Session, case: Case) -> tuple[Agreement, Document]:
    """The agreement version that may be signed remotely now, or 409 saying why not."""
    if is_ink_only(case):
        esign = ARTICLES["esign_3"]
        raise TransitionNotAllowed(
            f"婚姻、收养、继承等人身关系的协议不适用电子签名（{esign.cite_short}“{esign.text}”），"
            "请到调解中心当面签字"
        )
    found = current_agreement(session, id_of(case))
    if case.stage != Stage.agreed or found is None:
        raise TransitionNotAllowed("目前没有待签署的调解协议书")
    agreement, doc = found
    if agreement.ink_only:
        raise TransitionNotAllowed("本协议须当面签字，不能在线签署")
    return agreement, doc


def _party_may_sign(session: Session, party: Party, agreement: Agreement, doc: Document) -> None:
    if all(p.id != party.id for p in bound_parties(session, agreement)):
        raise TransitionNotAllowed("协议条款未约定您的权利义务，无需签署本协议")
    if any(s.party_id == party.id for s in signatures_of(session, agreement)):
        raise TransitionNotAllowed("您已签署本版本协议")


def request_signature_code(*, session: Session, party: Party, now: datetime) -> SignatureCode:
    """A 6-digit one-time code to the party's phone (10 minutes, 3 tries), kept only hashed."""
    case = _case_of(session, party)
    agreement, doc = _signable(session, case)
    _party_may_sign(session, party, agreement, doc)
    if not party.phone:
        raise InvalidInput("本案未登记您的手机号码，无法发送验证码，请联系调解中心", field="phone")
    recent = session.exec(
        select(SignatureCode)
        .where(SignatureCode.party_id == party.id)
        .order_by(col(SignatureCode.created_at).desc())
    ).first()
    if recent is not None and (now - recent.created_at).total_seconds() < 60:
        raise TransitionNotAllowed("验证码已发送，请1分钟后再试")
    otp = f"{secrets.randbelow(1_000_000):06d}"
    salt = secrets.token_hex(8)
    row = SignatureCode(
        case_id=id_of(case),
        party_id=id_of(party),
        code_hash=f"{salt}${otp_hash(get_settings().effective_secret_key, salt, otp)}",
        expires_at=now + OTP_TTL,
        created_at=now,
    )
    session.add(row)
    session.flush()
    message = queue_message(
        session,
        channel="sms",
        to=party.phone,
        body=f"【矛调中心】您正在签署{case.case_no}人民调解协议书，验证码{otp}，10分钟内有效。如非本人操作请忽略。",
        purpose="signature_otp",
        now=now,
        case_id=id_of(case),
        party_id=id_of(party),
    )
    row.message_id = message.id
    session.add(row)
    _audit_party(
        session,
        party,
        action="signature.code_sent",
        entity="signature_code",
        entity_id=row.id,
        now=now,
        after={"message_id": row.message_id, "agreement_sha256": doc.sha256},
    )
    return row


@dataclass(frozen=True)
class SignOutcome:
    """A signature, or why the code was refused (the try is counted: the caller commits, then answers
    422 with `problem`)."""

    signature: RemoteSignature | None = None
    problem: str | None = None


def _use_code(session: Session, party: Party, otp: str, now: datetime) -> SignatureCode | str:
    code = session.exec(
        select(SignatureCode)
        .where(SignatureCode.party_id == party.id, col(SignatureCode.used_at).is_(None))
        .order_by(col(SignatureCode.created_at).desc())
    ).first()
    if code is None or code.expires_at <= now:
        return "验证码已失效，请重新获取"
    if code.tries >= OTP_TRIES:
        return "验证码错误次数过多，请重新获取"
    salt, _, digest = code.code_hash.partition("$")
    if not secrets.compare_digest(digest, otp_hash(get_settings().effective_secret_key, salt, otp.strip())):
        code.tries += 1
        session.add(code)
        left = OTP_TRIES - code.tries
        return f"验证码错误，还可尝试{left}次" if left else "验证码错误次数过多，请重新获取"
    code.used_at = now
    session.add(code)
    return code


def sign_as_party(
    *, session: Session, party: Party, otp: str, image_png: bytes, address: str | None, now: datetime
) -> SignOutcome:
    """The party signs the current agreement version with the code sent to its phone."""
    if problem := png_problem(image_png):
        raise InvalidInput(problem, field="image_png_base64")
    case = _case_of(session, party)
    agreement, doc = _signable(session, case)
    _party_may_sign(session, party, agreement, doc)
    code = _use_code(session, party, otp, now)
    if isinstance(code, str):
        return SignOutcome(problem=code)
    signature = _keep_signature(
        session,
        case=case,
        agreement=agreement,
        doc=doc,
        image_png=image_png,
        address=address,
        now=now,
        party=party,
        message_id=code.message_id,
    )
    _sign_when_complete(session, case, agreement, doc, now=now)
    return SignOutcome(signature=signature)


def sign_as_mediator(
    *, session: Session, case: Case, image_png: bytes, address: str | None, actor: User, now: datetime
) -> RemoteSignature:
    """主持人签名: the presiding mediator's signature, recorded by staff on the case page."""
    if problem := png_problem(image_png):
        raise InvalidInput(problem, field="image_png_base64")
    agreement, doc = _signable(session, case)
    lead = presiding_expert(session, id_of(case))
    if lead is None:
        raise TransitionNotAllowed("本案尚未确定调解主持人")
    if any(s.expert_id == lead.id for s in signatures_of(session, agreement)):
        raise TransitionNotAllowed(f"调解主持人{lead.name}已签署本版本协议")
    signature = _keep_signature(
        session,
        case=case,
        agreement=agreement,
        doc=doc,
        image_png=image_png,
        address=address,
        now=now,
        expert_id=lead.id,
        signer_name=lead.name,
        actor=actor,
    )
    _sign_when_complete(session, case, agreement, doc, now=now)
    return signature


def _keep_signature(
    session: Session,
    *,
    case: Case,
    agreement: Agreement,
    doc: Document,
    image_png: bytes,
    address: str | None,
    now: datetime,
    party: Party | None = None,
    message_id: int | None = None,
    expert_id: int | None = None,
    signer_name: str | None = None,
    actor: User | None = None,
) -> RemoteSignature:
    signature = RemoteSignature(
        case_id=id_of(case),
        agreement_id=id_of(agreement),
        agreement_revision=agreement.revision,
        agreement_sha256=doc.sha256,
        party_id=party.id if party else None,
        expert_id=expert_id,
        user_id=actor.id if actor else None,
        signer_name=party.name if party else signer_name or "",
        image_png=image_png,
        image_sha256=hashlib.sha256(image_png).hexdigest(),
        address=(address or "")[:64] or None,
        message_id=message_id,
        signed_at=now,
    )
    session.add(signature)
    session.flush()
    record(
        session,
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else PartyActor(id_of(party) if party else 0).username,
        action="agreement.remote_sign",
        entity="remote_signature",
        entity_id=signature.id,
        case_id=case.id,
        at=now,
        after={
            "agreement_id": agreement.id,
            "agreement_revision": agreement.revision,
            "agreement_sha256": doc.sha256,
            "image_sha256": signature.image_sha256,
            "message_id": message_id,
            "signer": "party" if party else "presiding_mediator",
        },
    )
    return signature


def missing_signers(session: Session, case: Case, agreement: Agreement, doc: Document) -> list[str]:
    """Who has still to sign this version: the bound parties, then the presiding mediator."""
    signed = signatures_of(session, agreement)
    by_party = {s.party_id for s in signed if s.party_id}
    by_expert = {s.expert_id for s in signed if s.expert_id}
    missing = [p.name for p in bound_parties(session, agreement) if p.id not in by_party]
    lead = presiding_expert(session, id_of(case))
    if lead is None or lead.id not in by_expert:
        missing.append(f"调解主持人{lead.name if lead else ''}")
    return missing


def signing_state(session: Session, case: Case) -> dict | None:
    """Where remote signing of the current version stands, for the case page; None when it does not
    apply (no agreement to sign, already signed, or a matter signed in ink only)."""
    found = current_agreement(session, id_of(case))
    if case.stage != Stage.agreed or found is None or is_ink_only(case) or found[0].ink_only:
        return None
    agreement, doc = found
    lead = presiding_expert(session, id_of(case))
    signed = signatures_of(session, agreement)
    return {
        "signed": [s.signer_name for s in signed],
        "missing": missing_signers(session, case, agreement, doc),
        "presiding": lead.name if lead else None,
        "presiding_signed": lead is not None and any(s.expert_id == lead.id for s in signed),
    }


def _sign_when_complete(
    session: Session, case: Case, agreement: Agreement, doc: Document, *, now: datetime
) -> None:
    """Everyone has signed this version: the agreement is signed (sign_agreement's guards apply; a
    refusal there refuses this last signature too) and reissued with the signatures in place."""
    if missing_signers(session, case, agreement, doc):
        return
    signed = signatures_of(session, agreement)
    # The act is the center's: recorded in the name of the staff member who recorded the mediator's.
    recorder = next((session.get(User, s.user_id) for s in signed if s.user_id), None)
    assert recorder is not None, "the mediator's signature is recorded by a staff account"
    sign_agreement(AgreementSigned(signed_at=now), ActionContext(session, case, recorder, now))
    enqueue_after(
        session,
        "remote_signed",
        key=f"remote_signed:{case.id}:{agreement.revision}",
        case_id=case.id,
        params={"agreement_id": agreement.id, "sha256": doc.sha256},
    )


@step
def reissue_signed_agreement(case_id: int, agreement_id: int) -> int:
    """The agreement again, now with the handwritten signatures in place (a new version of its document:
    the signatures were made on the one before, whose SHA-256 each of them keeps)."""
    # Loaded at first use: the document stack (WeasyPrint) costs seconds the CLI does not pay.
    from documents.issue import issue_document

    settings = get_settings()
    with tasks.write_session() as session:
        agreement = session.get(Agreement, agreement_id)
        assert agreement is not None, agreement_id
        doc = issue_document(
            session,
            case_id=case_id,
            kind="agreement",
            subject_key=f"agreement:{case_id}:{agreement.revision}:signed",
            data_dir=settings.data_dir,
            base_url=settings.public_base_url,
        )
        return id_of(doc)


@process_flow("tiaojie-remote-signed")
async def remote_signed_flow(key: str) -> None:
    params = tasks.params_of(key)
    case_id = tasks.case_id_of(key)
    doc_id = reissue_signed_agreement(case_id, params["agreement_id"])
    attach_agreement_document(case_id, params["agreement_id"], doc_id)
