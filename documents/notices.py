"""Context builders of the notices addressed to one party and of the 送达回证 (issue 19 points 3, 4).

Subject keys (documents.issue: one document per key):
- panel_notice   `panel:{case}:{seq}:{t}:party:{pid}`        调解员（专班）告知书, one per party
- session_notice `session_notice:{sid}[:{n}]:party:{pid}`   调解通知书 (n-th reschedule when n is given)
                 `session_cancel:{sid}:party:{pid}`         the notice that the session is cancelled
- delivery_receipt `delivery:{did}`                         送达回证
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from documents.context import _base, _panel, _presiding, _recorder, subject_of
from models.case import Case
from models.deadlines import china_date
from models.delivery import Delivery
from models.document import Document
from models.enums import DeliveryMethod, DeliverySigner, DeliveryStatus, DocumentKind, PartyRole
from models.law import citation as law
from models.mediation_session import MediationSession
from models.party import Party
from models.user import User


def addressed_party_id(subject: str) -> int:
    return int(subject.rsplit(":party:", 1)[1])


def _addressee(session: Session, subject: str) -> Party:
    party = session.get(Party, addressed_party_id(subject))
    assert party is not None, subject  # the flow addresses the case's own parties
    return party


def _parties(session: Session, case: Case) -> list[Party]:
    return list(session.exec(select(Party).where(Party.case_id == case.id).order_by(col(Party.id))).all())


def _article(key: str) -> dict:
    a = law(key)
    return {"cite": a.cite_short, "words": list(a.paragraphs)}


def panel_notice(session: Session, case: Case, subject: str, now: datetime) -> dict:
    """调解员（专班）告知书: who mediates (real names, roles), the right to choose a mediator (人民调解法
    第19条, 第23条第（一）项) and to ask for recusal, on the grounds of 特邀调解规定 第15条, and how."""
    party = _addressee(session, subject)
    parties = _parties(session, case)
    return {
        **_base(session, case),
        "addressees": [party.name],
        "addressee_role": PartyRole(party.role).label,
        "subject": subject_of(case, parties),
        "panel": _panel(session, case),
        "presiding": _presiding(session, case),
        "choose": _article("pml_19"),
        "rights": _article("pml_23"),
        "recusal": _article("invited_15"),
        "issued_on": china_date(now),
        "contact_name": _recorder(session, case),
    }


def _session_of(session: Session, subject: str) -> tuple[MediationSession, str, int]:
    """The session, the variant (scheduled / rescheduled / cancelled) and the reschedule number."""
    head = subject.rsplit(":party:", 1)[0].split(":")
    ms = session.get(MediationSession, int(head[1]))
    assert ms is not None, subject
    if head[0] == "session_cancel":
        return ms, "cancelled", 0
    if len(head) > 2:
        return ms, "rescheduled", int(head[2])
    return ms, "scheduled", 0


def session_notice(session: Session, case: Case, subject: str, now: datetime) -> dict:
    """调解通知书: when and where, who comes, what to bring, what happens if a party does not come;
    again on a reschedule (the old time and the reason) and on a cancellation (which says so)."""
    party = _addressee(session, subject)
    parties = _parties(session, case)
    ms, variant, n = _session_of(session, subject)
    ctx: dict[str, Any] = {
        **_base(session, case),
        "addressees": [party.name],
        "addressee_kind": party.kind,
        "subject": subject_of(case, parties),
        "variant": variant,
        "session_no": ms.seq or 0,
        "scheduled_at": ms.scheduled_at,
        "ends_at": ms.ends_at,
        "location": ms.location,
        "attendees": [
            {"role": PartyRole(p.role).label, "name": p.name}
            for p in parties
            if not p.represented_by  # a member of a group comes through the representative it elected
        ],
        "panel": _panel(session, case),
        "presiding": _presiding(session, case),
        "refusal": _article("pml_17"),
        "issued_on": china_date(now),
        "contact_name": _recorder(session, case),
    }
    if variant == "rescheduled":
        before = ms.reschedules[n - 1]
        ctx["previous_at"] = before["scheduled_at"]
        ctx["previous_location"] = before["location"]
        ctx["reason"] = before.get("reason") or ""
        if n < len(ms.reschedules):  # a later reschedule moved it again: print the time this notice set
            ctx["scheduled_at"] = ms.reschedules[n]["scheduled_at"]
            ctx["location"] = ms.reschedules[n]["location"]
    elif variant == "scheduled" and ms.reschedules:  # moved since: print the time first set
        ctx["scheduled_at"] = ms.reschedules[0]["scheduled_at"]
        ctx["location"] = ms.reschedules[0]["location"]
    elif variant == "cancelled":
        ctx["reason"] = ms.cancel_reason or ""
    return ctx


def delivery_receipt(session: Session, case: Case, subject: str, now: datetime) -> dict:
    """送达回证 (民诉法 第87条: the date and the signature; 第88条: who may sign; 第89条: a refusal with
    its reason and witnesses, 留置送达; 第90条: electronic delivery with consent)."""
    delivery = session.get(Delivery, int(subject.split(":")[1]))
    assert delivery is not None, subject
    doc = session.get(Document, delivery.document_id)
    party = session.get(Party, delivery.party_id)
    assert doc is not None and party is not None, subject
    server = session.get(User, delivery.recorded_by) if delivery.recorded_by else None
    status = DeliveryStatus(delivery.status)
    signer = DeliverySigner(delivery.signed_by) if delivery.signed_by else None
    signer_name = (delivery.signer_name or "").strip() or (
        party.name if signer == DeliverySigner.party else ""
    )
    bases = ["cpl_87", "cpl_88"]
    if status == DeliveryStatus.refused:
        bases.append("cpl_89")
    if delivery.method in (DeliveryMethod.sms, DeliveryMethod.email, DeliveryMethod.portal):
        bases.append("cpl_90")
    return {
        **_base(session, case),
        "document_title": DocumentKind(doc.kind).label,
        "document_no": doc.verify_code or "",
        "document_issued_on": china_date(doc.created_at),
        "addressee": party.name,
        "addressee_role": PartyRole(party.role).label,
        "method_label": DeliveryMethod(delivery.method).label if delivery.method else "",
        "status": status.value,
        "status_label": status.label,
        "delivered_on": delivery.delivered_at,
        "signer_label": signer.label if signer else "",
        "signer_name": signer_name,
        "note": delivery.note or "",
        "server": server.display_name if server else "",
        "bases": [_article(k) for k in bases],
        "issued_on": china_date(now),
    }


NOTICE_BUILDERS: dict[str, Callable[..., dict]] = {
    "panel_notice": panel_notice,
    "session_notice": session_notice,
    "delivery_receipt": delivery_receipt,
}
