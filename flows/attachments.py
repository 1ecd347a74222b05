"""Uploading a file to a case's 卷宗 (issue 22): the one action the JSON route and the case page call."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlmodel import Session

from documents.storage import archive_file
from models.attachment import ALLOWED_TYPES, Attachment, content_type_of, safe_filename
from models.audit import record
from models.case import Case
from models.enums import AttachmentKind, Stage
from models.lifecycle import Forbidden, InvalidInput, TransitionNotAllowed
from models.party import Party
from models.roles import STAFF
from models.settings import get_settings
from models.user import User

# An identity paper and an authority letter belong to one party: the checklist counts them per party.
PER_PARTY = frozenset({AttachmentKind.id_copy, AttachmentKind.authorization})


def add_attachment(
    *,
    session: Session,
    case: Case,
    actor: User,
    now: datetime,
    kind: str,
    filename: str | None,
    data: bytes,
    party_id: int | None = None,
    data_dir: Path | None = None,
) -> Attachment:
    """Judge the file by its content, store it by SHA-256, record it on the case (audited, no names)."""
    if actor.role not in STAFF:
        raise Forbidden("仅中心工作人员可以上传卷宗材料")
    if case.stage in (Stage.closed, Stage.rejected):
        # The 卷宗 was judged complete (or its gap explained) at 结案: what it holds stays as filed.
        ended = "案件已结案" if case.stage == Stage.closed else "案件已决定不予受理"
        raise TransitionNotAllowed(f"{ended}，卷宗材料不能再添加")
    try:
        attachment_kind = AttachmentKind(kind)
    except ValueError as exc:
        kinds = "、".join(k.label for k in AttachmentKind)
        raise InvalidInput(f"材料类别应为：{kinds}", field="kind") from exc
    party = session.get(Party, party_id) if party_id is not None else None
    if party_id is not None and (party is None or party.case_id != case.id):
        raise InvalidInput("所选当事人不是本案当事人", field="party_id")
    if attachment_kind in PER_PARTY and party is None:
        raise InvalidInput(f"{attachment_kind.label}须指明是哪一方当事人的", field="party_id")
    if attachment_kind == AttachmentKind.authorization and party is not None and not party.agent_name:
        raise InvalidInput(f"{party.name}未登记委托代理人：请先在当事人信息中登记代理人", field="party_id")
    content_type = content_type_of(data)
    sha256, path = archive_file(data, data_dir or get_settings().data_dir, ALLOWED_TYPES[content_type])
    root = Path(data_dir or get_settings().data_dir)
    row = Attachment(
        case_id=case.id,  # type: ignore[arg-type]
        party_id=party.id if party else None,
        kind=attachment_kind.value,
        filename=safe_filename(filename, content_type),
        content_type=content_type,
        size=len(data),
        sha256=sha256,
        path=str(path.relative_to(root)),
        created_at=now,
        created_by=actor.id,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="attachment.add",
        entity="attachment",
        entity_id=row.id,
        case_id=case.id,
        at=now,
        # The file name may carry a person's name: only what kind of file, its type, size and fingerprint.
        after={"kind": row.kind, "content_type": content_type, "size": row.size, "sha256": sha256},
    )
    return row
