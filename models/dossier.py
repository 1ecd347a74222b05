"""The 人民调解卷宗 (issue 22 point 1): what a case's file holds, item by item, and whether it is complete.

人民调解法 第27条 (models/law.py pml_27): the committee files the register entry, the records and the
agreement as the case's file. The items and their order follow the published 卷内目录 (必须 / 按需):

- 人民调解申请书 / 受理登记表 (必须): the `application` document issued at intake.
- 当事人权利义务告知书 (必须): the 受理通知书 to the applicant and to the respondent print 人民调解法
  第23、24条 in full (documents/templates/acceptance_notice.html, respondent_notice.html); the
  调解员（专班）告知书 (recusal and choice of mediator) is filed with them.
- 当事人身份证明 (必须), per party who took part. Decision: a party's identity is proven by an `id_copy`
  attachment for that party, or by the party having been present at a held session in person, through its
  委托代理人 or (an organisation) its 法定代表人 — the presiding mediator checks the identity of everyone
  present, and the 人民调解记录 names each by real name and capacity. A group member only represented by
  its elected representative was not seen, so needs its copy. Applicants always took part (they applied
  or were referred); respondents and third parties once an agreement binds them (one who stayed away
  or refused mediation took no part, 人民调解法 第17条).
- 授权委托书 (按需): required for every party that has a 委托代理人 — the agent acts on the written
  authority, which the file must hold (an `authorization` attachment for that party).
- 调查记录, 证据材料 (按需): `investigation`, `evidence` and `other` attachments.
- 人民调解记录 (必须): the record document of every held session. Not required of a case that ended
  (调解不成, 撤回, 转其他途径) before any session was held: there is nothing to record.
- 人民调解协议书 (必须), by how the case ends: an agreement closes on the 协议书's latest version; an oral
  agreement (人民调解法 第28条) on the 人民调解记录 of the session where it was reached; a failed or
  withdrawn case on its 终止调解告知书 (第26条), which takes the agreement's place; a transfer to another
  route before mediation needs neither (the 结案 note, printed in the 情况说明, says where it went).
- 送达情况 (按需): the 调解通知书 and 期限告知书, the 送达回证, and the list of deliveries.
- 履行凭证, 回访记录, 司法确认有关材料 (按需).
- 卷宗情况说明 (按需): printed when the director closed over a missing item (the reason) or the 结案
  decision carries a note.
- 封底 (必须): the binder prints it itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from models.agreement import Agreement, OralAgreement
from models.attachment import Attachment
from models.case import Case
from models.closing import CaseClosing
from models.document import Document
from models.enums import AttachmentKind, CloseKind, DocumentKind, PartyKind, PartyRole, Stage
from models.lifecycle import TransitionNotAllowed
from models.mediation_session import MediationSession
from models.party import Party

# 保管期限 printed on the cover. A people's mediation file is kept long-term by the committee; a center with
# another filing rule changes this one line (no statute in ../shared/law fixes the period).
RETENTION = "长期"

# Kinds of 结案 whose file holds the 终止调解告知书 in the agreement's place (人民调解法 第26条).
TERMINATED = frozenset({CloseKind.failed, CloseKind.withdrawn, CloseKind.transferred})
_ENDED = frozenset({Stage.failed, Stage.withdrawn, Stage.closed})


@dataclass
class Part:
    """One piece bound into an item: an issued document, an uploaded file, or a page the binder prints."""

    source: str  # "document" | "attachment" | "generated"
    title: str
    id: int | None = None
    path: str | None = None  # archived file, relative to the data dir
    content_type: str = "application/pdf"

    def public(self) -> dict:
        return {"source": self.source, "id": self.id, "title": self.title}


@dataclass
class Item:
    code: str
    label: str
    required: bool
    parts: list[Part] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # what a required item still lacks, in words
    present: bool = False
    note: str | None = None

    def public(self) -> dict:
        return {
            "item": self.label,
            "code": self.code,
            "required": self.required,
            "present": self.present,
            "missing": self.missing,
            "note": self.note,
            "documents": [p.public() for p in self.parts],
        }


@dataclass
class CaseFile:
    """What the checklist is computed from, loaded once."""

    case: Case
    parties: list[Party]
    documents: list[Document]
    attachments: list[Attachment]
    held: list[MediationSession]
    agreement: Agreement | None
    oral: OralAgreement | None
    closing: CaseClosing | None


def load_case_file(session: Session, case: Case) -> CaseFile:
    cid = case.id
    docs = session.exec(select(Document).where(Document.case_id == cid).order_by(col(Document.id))).all()
    # Only the latest version of each subject is filed (a corrected document replaces the earlier one);
    # an agreement's revisions are separate subjects, so only its latest revision stays too.
    latest: dict[str, Document] = {}
    for doc in docs:
        latest[doc.subject_key] = doc
    superseded = {d.supersedes_id for d in latest.values() if d.supersedes_id is not None}
    current = [d for d in latest.values() if d.id not in superseded and d.kind != DocumentKind.dossier]
    return CaseFile(
        case=case,
        parties=list(session.exec(select(Party).where(Party.case_id == cid).order_by(col(Party.id))).all()),
        documents=sorted(current, key=lambda d: d.id or 0),
        attachments=list(
            session.exec(
                select(Attachment).where(Attachment.case_id == cid).order_by(col(Attachment.id))
            ).all()
        ),
        held=list(
            session.exec(
                select(MediationSession)
                .where(MediationSession.case_id == cid, col(MediationSession.held_at).is_not(None))
                .order_by(col(MediationSession.held_at))
            ).all()
        ),
        agreement=session.exec(select(Agreement).where(Agreement.case_id == cid)).first(),
        oral=session.exec(select(OralAgreement).where(OralAgreement.case_id == cid)).first(),
        closing=session.exec(
            select(CaseClosing)
            .where(CaseClosing.case_id == cid, col(CaseClosing.approved_at).is_not(None))
            .order_by(col(CaseClosing.id).desc())
        ).first(),
    )


def _docs(cf: CaseFile, *kinds: str) -> list[Part]:
    return [
        Part("document", DocumentKind(d.kind).label, id=d.id, path=d.path)
        for d in cf.documents
        if d.kind in kinds
    ]


def _files(cf: CaseFile, *kinds: AttachmentKind, party_id: int | None = None) -> list[Part]:
    return [
        Part(
            "attachment",
            f"{AttachmentKind(a.kind).label}：{a.filename}",
            id=a.id,
            path=a.path,
            content_type=a.content_type,
        )
        for a in cf.attachments
        if a.kind in kinds and (party_id is None or a.party_id == party_id)
    ]


def _present_in_person(cf: CaseFile) -> set[str]:
    # Panel members are left out: a mediator named like a party proves nobody's identity.
    return {
        (entry.get("name") or "").strip()
        for ms in cf.held
        for entry in (ms.present or [])
        if entry.get("kind") != "panel"
    }


def _seen(party: Party, present: set[str]) -> bool:
    if party.name in present or (party.agent_name and party.agent_name in present):
        return True
    return (
        party.kind == PartyKind.organization
        and bool(party.legal_representative)
        and (party.legal_representative in present)
    )


def _end_kind(cf: CaseFile, kind: CloseKind | None) -> CloseKind | None:
    """How the case ends: the kind being decided, else the one decided, else what its stage implies."""
    if kind is not None:
        return kind
    if cf.case.close_kind:
        return CloseKind(cf.case.close_kind)
    if cf.case.stage in (Stage.failed, Stage.withdrawn):
        return CloseKind(cf.case.stage)
    return None


def unproven_parties(cf: CaseFile) -> list[Party]:
    """The parties who took part and whose identity the file does not prove (no ID copy, never seen)."""
    present = _present_in_person(cf)
    # The other side took part once an agreement (written or oral) binds it; before that a respondent
    # who stayed away has given the file nothing to prove (人民调解法 第17条: it may refuse mediation).
    bound = cf.agreement is not None or cf.oral is not None
    copied = {a.party_id for a in cf.attachments if a.kind == AttachmentKind.id_copy}
    return [
        p
        for p in cf.parties
        if (p.role == PartyRole.applicant or bound) and p.id not in copied and not _seen(p, present)
    ]


def _identity(cf: CaseFile) -> Item:
    item = Item("identity", "当事人身份证明", required=True)
    present = _present_in_person(cf)
    for party in cf.parties:
        item.parts += _files(cf, AttachmentKind.id_copy, party_id=party.id)
        seen_at = next((ms for ms in cf.held if _seen(party, _present_names_of(ms))), None)
        if seen_at is not None and _seen(party, present):
            item.parts.append(
                Part("generated", f"{party.name}：到场核对身份（第{seen_at.seq or 1}次调解记录）")
            )
    unproven = unproven_parties(cf)
    if unproven:
        names = "、".join(p.name for p in unproven)
        item.missing.append(f"{names}的身份证明（身份证件复印件，或到场调解时核对身份）")
    return item


def _present_names_of(ms: MediationSession) -> set[str]:
    return {(e.get("name") or "").strip() for e in (ms.present or []) if e.get("kind") != "panel"}


def _authorization(cf: CaseFile) -> Item:
    with_agent = [p for p in cf.parties if p.agent_name]
    item = Item("authorization", "授权委托书", required=bool(with_agent))
    for party in with_agent:
        letters = _files(cf, AttachmentKind.authorization, party_id=party.id)
        item.parts += letters
        if not letters:
            item.missing.append(f"{party.name}委托{party.agent_name}的授权委托书")
    item.parts += [p for p in _files(cf, AttachmentKind.authorization) if p not in item.parts]
    if not with_agent:
        item.note = "各方当事人均未委托代理人"
    return item


def _session_records(cf: CaseFile, end: CloseKind | None) -> Item:
    item = Item("session_record", "人民调解记录", required=True)
    by_subject = {d.subject_key: d for d in cf.documents if d.kind == DocumentKind.session_record}
    for ms in cf.held:
        doc = by_subject.get(f"session:{ms.id}")
        if doc is None:
            item.missing.append(f"第{ms.seq or '?'}次调解的人民调解记录（尚未生成）")
        else:
            item.parts.append(
                Part("document", f"人民调解记录（第{ms.seq or '?'}次）", id=doc.id, path=doc.path)
            )
    if not cf.held:
        if end in TERMINATED:
            item.required = False
            item.note = "未进行调解即终止（见终止调解告知书）"
        else:
            item.missing.append("人民调解记录（尚无已进行的调解）")
    return item


def _outcome(cf: CaseFile, end: CloseKind | None) -> Item:
    scans = _files(cf, AttachmentKind.signed_scan)
    if end in TERMINATED or (
        end is None
        and cf.agreement is None
        and cf.oral is None
        and cf.case.stage
        in (
            Stage.failed,
            Stage.withdrawn,
        )
    ):
        item = Item("outcome", "终止调解告知书（代人民调解协议书）", required=True)
        item.parts = _docs(cf, DocumentKind.termination_notice) + scans
        if not _docs(cf, DocumentKind.termination_notice):
            if end == CloseKind.transferred and not cf.held:
                item.required = False
                item.note = "未经调解转其他途径，去向见卷宗情况说明"
            elif end in (CloseKind.failed, CloseKind.withdrawn) and cf.case.stage not in _ENDED:
                # Decided directly (not after a session that ended so): the 结案 itself issues the
                # 终止调解告知书 (flows/closing.closing_flow), so it cannot be asked for before.
                item.required = False
                item.note = "结案时出具终止调解告知书"
            else:
                item.missing.append("终止调解告知书")
        return item
    if end == CloseKind.oral_performed or (end is None and cf.oral is not None and cf.agreement is None):
        # 人民调解法 第28条: the oral agreement's content is recorded in the 人民调解记录.
        item = Item("outcome", "人民调解协议书（口头协议，载于人民调解记录）", required=True)
        doc = next(
            (
                d
                for d in cf.documents
                if cf.oral is not None and d.subject_key == f"session:{cf.oral.session_id}"
            ),
            None,
        )
        if doc is None:
            item.missing.append("记载口头协议的人民调解记录")
        else:
            item.parts.append(Part("document", "口头协议（见人民调解记录）", id=doc.id, path=doc.path))
        return item
    item = Item("outcome", "人民调解协议书", required=True)
    agreements = _docs(cf, DocumentKind.agreement)
    item.parts = agreements[-1:] + scans  # the latest revision: the one signed
    if not agreements:
        item.missing.append("人民调解协议书")
    return item


def _explanation(cf: CaseFile, override_reason: str | None) -> Item:
    item = Item("explanation", "卷宗情况说明", required=False)
    closing = cf.closing
    reason = override_reason or (closing.override_reason if closing else None)
    if reason or (closing is not None and closing.note):
        item.parts.append(Part("generated", "卷宗情况说明"))
    return item


def checklist(
    session: Session,
    case: Case,
    *,
    close_kind: CloseKind | None = None,
    override_reason: str | None = None,
    case_file: CaseFile | None = None,
) -> list[Item]:
    """The 卷内目录's items for `case`, in filing order, each with what fills it and what it lacks.
    `close_kind`: the 结案 being decided (the file is judged for that ending)."""
    cf = case_file or load_case_file(session, case)
    end = _end_kind(cf, close_kind)
    application = Item("application", "人民调解申请书（受理登记表）", required=True)
    application.parts = _docs(cf, DocumentKind.application)
    if not application.parts:
        application.missing.append("人民调解申请书或受理登记表")
    rights = Item("rights_notice", "当事人权利义务告知书", required=True)
    told = _docs(cf, DocumentKind.acceptance_notice, DocumentKind.respondent_notice)
    rights.parts = told + _docs(cf, DocumentKind.panel_notice)
    if not told:
        rights.missing.append("载明当事人权利义务的受理通知书")
    delivery = Item("delivery", "调解通知及送达情况", required=False)
    delivery.parts = _docs(
        cf, DocumentKind.session_notice, DocumentKind.clock_notice, DocumentKind.delivery_receipt
    )
    if any(d.kind in _DELIVERED_NOTICES for d in cf.documents):
        delivery.parts.append(Part("generated", "送达情况一览"))
    items = [
        application,
        rights,
        _identity(cf),
        _authorization(cf),
        Item("investigation", "调查记录", required=False, parts=_files(cf, AttachmentKind.investigation)),
        Item(
            "evidence",
            "证据材料",
            required=False,
            parts=_files(cf, AttachmentKind.evidence, AttachmentKind.other),
        ),
        _session_records(cf, end),
        _outcome(cf, end),
        delivery,
        Item(
            "performance_proof",
            "履行凭证",
            required=False,
            parts=_files(cf, AttachmentKind.performance_proof),
        ),
        Item("follow_up", "回访记录", required=False, parts=_docs(cf, DocumentKind.follow_up_record)),
        Item(
            "judicial",
            "司法确认有关材料",
            required=False,
            parts=_docs(
                cf,
                DocumentKind.judicial_confirmation_application,
                DocumentKind.mediation_certificate,
                DocumentKind.payment_order_application,
                DocumentKind.court_filing,
                DocumentKind.court_return,
            ),
        ),
        _explanation(cf, override_reason),
        Item("back_cover", "封底", required=True, parts=[Part("generated", "封底")], note="立卷时打印"),
    ]
    for item in items:
        item.present = bool(item.parts) and not item.missing
    return items


_DELIVERED_NOTICES = frozenset(
    {
        DocumentKind.acceptance_notice,
        DocumentKind.respondent_notice,
        DocumentKind.panel_notice,
        DocumentKind.session_notice,
        DocumentKind.termination_notice,
        DocumentKind.rejection_notice,
    }
)


def missing_required(items: Sequence[Item]) -> list[str]:
    """What the file lacks, in words, item by item (empty: complete)."""
    out = []
    for item in items:
        if item.required and not item.present:
            out.append(f"{item.label}：{'；'.join(item.missing) or '缺'}")
    return out


def incomplete_refusal(missing: Sequence[str]) -> TransitionNotAllowed:
    """The 409 of a 结案 over an incomplete file, naming each missing item (人民调解法 第27条)."""
    return TransitionNotAllowed(
        "卷宗材料不全，不能结案。缺少："
        + "；".join(missing)
        + "。请补齐后再结案（上传材料在案件页“卷宗材料”），"
        "或由中心主任填写理由批准结案（理由印入卷宗情况说明）"
    )
