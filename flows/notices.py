"""Notices addressed to each party and their delivery (送达): issue 19 points 3 and 4.

- `issue_party_notices`: one notice per party addressed (调解员（专班）告知书 when the panel is confirmed,
  调解通知书 when a session is scheduled, rescheduled or cancelled), each with its delivery record.
- `open_deliveries`: the delivery records of a notice addressed to several parties (受理通知书, 征询意见).
- `record_delivery`: staff record how a notice reached a party; delivered or refused issues the
  送达回证 (民诉法 第87、89条 by analogy) through FLOW_AFTER["record_delivery"].
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from flows import tasks
from flows.messages import queue_message
from flows.tasks import process_flow, step
from models.action_context import ActionContext
from models.audit import record
from models.case import Case
from models.db import id_of
from models.deadlines import china_date
from models.delivery import ELECTRONIC, FINAL, NOTICE_ADDRESSEES, Delivery, check_delivery
from models.document import Document
from models.enums import DeliveryMethod, DeliveryStatus, DocumentKind
from models.lifecycle import NotFound
from models.outbox import enqueue_after
from models.party import Party
from models.party_access import party_page_url
from models.portal import PartyActor
from models.schemas import DeliveryRecord
from models.settings import get_settings
from models.user import User


def addressed_parties(session: Session, case_id: int, kind: str, *, per_party: bool) -> list[Party]:
    """The parties a notice of `kind` is addressed to. A notice sent to each party separately goes to a
    group member through the representative it elected (劳动争议调解仲裁法 第7条; 信访工作条例 第20条)."""
    roles = NOTICE_ADDRESSEES.get(kind, ())
    parties = session.exec(
        select(Party).where(Party.case_id == case_id, col(Party.role).in_(roles)).order_by(col(Party.id))
    ).all()
    return [p for p in parties if not (per_party and p.represented_by)]


def open_deliveries(session: Session, *, case_id: int, document_id: int, party_ids: list[int]) -> int:
    """A pending delivery record per party the document is addressed to, once (a rerun adds none); a
    party who consented to electronic delivery is told by SMS or e-mail that it waits on its page."""
    have = set(session.exec(select(Delivery.party_id).where(Delivery.document_id == document_id)).all())
    added = 0
    for pid in party_ids:
        if pid not in have:
            session.add(Delivery(case_id=case_id, document_id=document_id, party_id=pid))
            announce_on_portal(session, case_id=case_id, document_id=document_id, party_id=pid)
            added += 1
    return added


def announce_on_portal(session: Session, *, case_id: int, document_id: int, party_id: int) -> None:
    """民诉法 第90条 (by analogy): with the party's consent the notice is served on its page (一案一码) and
    announced by SMS (else e-mail); the party confirms receipt there (flows/portal.confirm_delivery)."""
    party = session.get(Party, party_id)
    doc = session.get(Document, document_id)
    case = session.get(Case, case_id)
    if party is None or doc is None or case is None or not party.consent_electronic:
        return
    if doc.kind == DocumentKind.session_notice:
        return  # flows/sessions.announce_session already tells the time and place, with this page's link
    to, channel = (party.phone, "sms") if party.phone else (party.email, "email")
    if not to:
        return
    url = party_page_url(session, party)
    queue_message(
        session,
        channel=channel,
        to=to,
        subject="调解文书送达通知" if channel == "email" else None,
        body=f"【矛调中心】{case.case_no}的{DocumentKind(doc.kind).label}已送达您的当事人页面，"
        f"请打开 {url} 查看并确认收到。",
        purpose="delivery_notice",
        now=doc.created_at,
        case_id=case_id,
        party_id=party_id,
    )


@step
def open_deliveries_of(case_id: int, document_id: int) -> int:
    """The delivery records of a notice addressed to all parties of some roles at once."""
    with tasks.write_session() as session:
        doc = session.get(Document, document_id)
        assert doc is not None, document_id
        ids = [id_of(p) for p in addressed_parties(session, case_id, doc.kind, per_party=False)]
        return open_deliveries(session, case_id=case_id, document_id=document_id, party_ids=ids)


@step
def issue_party_notices(case_id: int, kind: str, key: str) -> list[int]:
    """One notice of `kind` per party addressed (subject `{key}:party:{pid}`), each with its delivery
    record; a rerun issues and opens nothing twice."""
    # Loaded at first use: the document stack (WeasyPrint) costs seconds the CLI does not pay.
    from documents.issue import issue_document

    settings = get_settings()
    out = []
    with tasks.write_session() as session:
        for party in addressed_parties(session, case_id, kind, per_party=True):
            doc = issue_document(
                session,
                case_id=case_id,
                kind=kind,
                subject_key=f"{key}:party:{party.id}",
                data_dir=settings.data_dir,
                base_url=settings.public_base_url,
            )
            open_deliveries(session, case_id=case_id, document_id=id_of(doc), party_ids=[id_of(party)])
            out.append(id_of(doc))
    return out


def record_delivery(cmd: DeliveryRecord, ctx: ActionContext) -> Delivery:
    """Staff record how a notice reached its addressee (a party confirms it on its page: `file_delivery`)."""
    return file_delivery(cmd, session=ctx.session, case=ctx.case, actor=ctx.actor, now=ctx.now)


def file_delivery(
    cmd: DeliveryRecord, *, session: Session, case: Case, actor: User | PartyActor, now: datetime
) -> Delivery:
    """Record how a notice reached its addressee (rules: models.delivery.check_delivery). Consent to
    electronic delivery given with this record is kept on the party (民诉法 第90条 by analogy)."""
    delivery_id, status, method, delivered_at = cmd.delivery_id, cmd.status, cmd.method, cmd.delivered_at
    signed_by, signer_name, note = cmd.signed_by, cmd.signer_name, cmd.note
    consent_electronic = cmd.consent_electronic
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.case_id != case.id:
        raise NotFound("本案没有该送达记录")
    party = session.get(Party, delivery.party_id)
    doc = session.get(Document, delivery.document_id)
    assert party is not None and doc is not None, delivery_id  # foreign keys
    check_delivery(
        delivery,
        status=status,
        method=method,
        delivered_at=delivered_at,
        signed_by=signed_by,
        signer_name=signer_name,
        note=note,
        party_kind=party.kind,
        consent_electronic=consent_electronic or party.consent_electronic,
        issued_on=china_date(doc.created_at),
        today=china_date(now),
    )
    before = {"status": delivery.status, "method": delivery.method}
    if consent_electronic and not party.consent_electronic and method in ELECTRONIC:
        party.consent_electronic = True
        party.consent_at = party.consent_at or now
        session.add(party)
        record(
            session,
            actor_id=actor.id,
            actor_name=actor.username,
            action="party.consent_electronic",
            entity="party",
            entity_id=party.id,
            case_id=case.id,
            at=now,
            before={"consent_electronic": False},
            after={"consent_electronic": True, "delivery_id": delivery.id},
        )
    delivery.status = DeliveryStatus(status).value
    delivery.method = DeliveryMethod(method).value if method else None
    delivery.delivered_at = delivered_at if delivery.status in FINAL else None
    delivery.signed_by = signed_by if delivery.status == DeliveryStatus.delivered else None
    delivery.signer_name = (signer_name or "").strip() or None if delivery.signed_by else None
    delivery.note = (note or "").strip() or None
    delivery.recorded_by = actor.id
    delivery.recorded_at = now
    session.add(delivery)
    case.updated_at = now
    session.add(case)
    # No names or notes in the audit values: who signed is personal data, the note may name witnesses.
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="delivery.record",
        entity="delivery",
        entity_id=delivery.id,
        case_id=case.id,
        at=now,
        before=before,
        after={
            "status": delivery.status,
            "method": delivery.method,
            "delivered_at": delivered_at.isoformat() if delivered_at else None,
            "signed_by": delivery.signed_by,
            "document_id": delivery.document_id,
        },
    )
    if delivery.status in FINAL:
        enqueue_after(
            session,
            "record_delivery",
            key=f"delivery:{delivery.id}",
            case_id=case.id,
            params={"delivery_id": delivery.id},
        )
    session.flush()
    return delivery


@step
def issue_delivery_receipt(case_id: int, delivery_id: int) -> int:
    # Loaded at first use: the document stack (WeasyPrint) costs seconds the CLI does not pay.
    from documents.issue import issue_document

    settings = get_settings()
    with tasks.write_session() as session:
        doc = issue_document(
            session,
            case_id=case_id,
            kind="delivery_receipt",
            subject_key=f"delivery:{delivery_id}",
            data_dir=settings.data_dir,
            base_url=settings.public_base_url,
        )
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None, delivery_id
        delivery.receipt_document_id = doc.id
        session.add(delivery)
        return id_of(doc)


@process_flow("tiaojie-delivery-receipt")
async def delivery_receipt_flow(key: str) -> None:
    params = tasks.params_of(key)
    issue_delivery_receipt(tasks.case_id_of(key), params["delivery_id"])
