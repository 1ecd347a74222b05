"""送达: one record per notice and party addressed, and the rules a delivery record must keep.

民诉法 第87—90条 (models/law.py cpl_87 … cpl_90), applied to the committee's notices by analogy: a
送达回证 names the date and who signed (第87、88条); a refusal is noted with its reason and witnesses
(第89条, 留置送达); electronic delivery only with the party's consent (第90条)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from models.db import UTCDateTime, utcnow
from models.document import Document
from models.enums import DeliveryMethod, DeliverySigner, DeliveryStatus, DocumentKind, PartyRole
from models.lifecycle import FieldProblem, InvalidInputs, TransitionNotAllowed
from models.party import Party

# The notices addressed to parties that get a delivery record, and to whom each is addressed.
NOTICE_ADDRESSEES: dict[str, tuple[str, ...]] = {
    DocumentKind.acceptance_notice: ("applicant",),
    DocumentKind.rejection_notice: ("applicant",),
    DocumentKind.termination_notice: ("applicant", "respondent", "third_party"),
    DocumentKind.respondent_notice: ("respondent", "third_party"),
    DocumentKind.panel_notice: ("applicant", "respondent", "third_party"),
    DocumentKind.session_notice: ("applicant", "respondent", "third_party"),
    # Issue 20: both go to every party, who carry them to the court (the 支付令申请书 goes to its obligee
    # alone: flows/enforcement.py names that party).
    DocumentKind.judicial_confirmation_application: ("applicant", "respondent", "third_party"),
    DocumentKind.mediation_certificate: ("applicant", "respondent", "third_party"),
}

ELECTRONIC = frozenset({DeliveryMethod.sms, DeliveryMethod.email, DeliveryMethod.portal})
FINAL = frozenset({DeliveryStatus.delivered, DeliveryStatus.refused})


class Delivery(SQLModel, table=True):
    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("document_id", "party_id", name="uq_deliveries_document_party"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    document_id: int = Field(foreign_key="documents.id", index=True)
    party_id: int = Field(foreign_key="parties.id", index=True)
    method: str | None = Field(default=None, max_length=16)
    status: str = Field(default=DeliveryStatus.pending, max_length=16)
    delivered_at: date | None = None  # the date signed for (第87条第二款), or of the refusal
    signed_by: str | None = Field(default=None, max_length=16)  # DeliverySigner
    signer_name: str | None = Field(default=None, max_length=60)
    note: str | None = Field(default=None, sa_type=Text)
    recorded_by: int | None = Field(default=None, foreign_key="users.id")
    recorded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    receipt_document_id: int | None = Field(default=None, foreign_key="documents.id")
    # The party asked on its page for the notice on paper: the record stays pending for staff.
    paper_requested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def check_delivery(
    delivery: Delivery,
    *,
    status: str,
    method: str | None,
    delivered_at: date | None,
    signed_by: str | None,
    signer_name: str | None,
    note: str | None,
    party_kind: str,
    consent_electronic: bool,
    issued_on: date,
    today: date,
) -> None:
    """Raise TransitionNotAllowed (409) or InvalidInputs (422, each field named) if this record may not be
    made; nothing is changed here."""
    if delivery.status in FINAL:
        label = DeliveryStatus(delivery.status).label
        raise TransitionNotAllowed(f"该文书已记录为“{label}”，送达回证已出具，不能再更改送达记录")
    problems: list[FieldProblem] = []

    def bad(field: str, message: str) -> None:
        problems.append(FieldProblem(field=field, message=message))

    try:
        state = DeliveryStatus(status)
    except ValueError:
        bad(
            "status",
            "送达状态应为：" + "、".join(s.label for s in DeliveryStatus if s != DeliveryStatus.pending),
        )
        raise InvalidInputs(problems) from None
    if state == DeliveryStatus.pending:
        bad("status", "请记录送达结果：已送达、拒收或未能送达")
    how = None
    if method:
        try:
            how = DeliveryMethod(method)
        except ValueError:
            bad("method", "送达方式应为：" + "、".join(m.label for m in DeliveryMethod))
    elif state != DeliveryStatus.failed:
        bad("method", "请选择送达方式")
    if how in ELECTRONIC and not consent_electronic:
        # 民诉法 第90条 (by analogy): electronic delivery only with the addressee's consent, recorded.
        bad("method", f"{how.label if how else ''}须经受送达人同意电子送达：请先记录当事人同意电子送达")
    if state in FINAL:
        if delivered_at is None:
            bad("delivered_at", "请填写送达日期（签收或拒收的日期）")
        elif delivered_at > today:
            bad("delivered_at", "送达日期不能晚于今天")
        elif delivered_at < issued_on:
            bad("delivered_at", f"送达日期不能早于文书出具日期（{issued_on.isoformat()}）")
    if state == DeliveryStatus.delivered:
        who = None
        if not signed_by:
            bad("signed_by", "请选择签收人：本人、同住成年家属、负责收件的人或代理人")
        else:
            try:
                who = DeliverySigner(signed_by)
            except ValueError:
                bad("signed_by", "签收人应为：" + "、".join(s.label for s in DeliverySigner))
        # 民诉法 第88条: a citizen's adult family member; an organization's clerk (or its representative).
        if who == DeliverySigner.family and party_kind == "organization":
            bad("signed_by", "受送达人是法人或其他组织的，应由其法定代表人、主要负责人或负责收件的人签收")
        if who == DeliverySigner.clerk and party_kind == "person":
            bad("signed_by", "受送达人是公民的，本人不在时交其同住成年家属签收")
        if who is not None and who != DeliverySigner.party and not (signer_name or "").strip():
            bad("signer_name", f"请填写签收人（{who.label}）的姓名")
        if who == DeliverySigner.party and party_kind == "organization" and not (signer_name or "").strip():
            bad("signer_name", "请填写代表单位签收的人的姓名")
    if state == DeliveryStatus.refused and not (note or "").strip():
        # 民诉法 第89条: the reason for the refusal and who witnessed it are noted on the 送达回证.
        bad("note", "拒收的，请在说明中记明拒收事由和见证人（留置送达）")
    if state == DeliveryStatus.failed and not (note or "").strip():
        bad("note", "未能送达的，请说明原因")
    if problems:
        raise InvalidInputs(problems)


def delivery_rows(session: Session, case_id: int) -> list[dict]:
    """What reached whom: every notice × party addressed, oldest notice first (the JSON list and the
    case page's 送达 section)."""
    rows = session.exec(
        select(Delivery, Document, Party)
        .join(Document, col(Document.id) == Delivery.document_id)
        .join(Party, col(Party.id) == Delivery.party_id)
        .where(Delivery.case_id == case_id)
        .order_by(col(Delivery.document_id), col(Delivery.party_id))
    ).all()
    return [
        {
            "id": d.id,
            "document_id": d.document_id,
            "kind": doc.kind,
            "kind_label": DocumentKind(doc.kind).label,
            "party_id": d.party_id,
            "party": p.name,
            "party_kind": p.kind,
            "party_role_label": PartyRole(p.role).label,
            "method": d.method,
            "method_label": DeliveryMethod(d.method).label if d.method else None,
            "status": d.status,
            "status_label": DeliveryStatus(d.status).label,
            "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
            "signed_by": d.signed_by,
            "signed_by_label": DeliverySigner(d.signed_by).label if d.signed_by else None,
            "signer_name": d.signer_name,
            "note": d.note,
            "consent_electronic": p.consent_electronic,
            "receipt_document_id": d.receipt_document_id,
            "receipt_url": f"/api/v1/documents/{d.receipt_document_id}/pdf"
            if d.receipt_document_id
            else None,
            "final": d.status in FINAL,
        }
        for d, doc, p in rows
    ]
