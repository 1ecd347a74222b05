"""Files staff upload to a case for its 卷宗 (issue 22): ID copies, 授权委托书, evidence, signed scans.

Only PDF, JPEG and PNG, judged by the bytes and not by the name or the declared type: the leading magic
bytes pick the type, then the file must open as that type (pypdf reads its pages, Pillow verifies the
image), so a renamed program or a truncated file is refused. Stored by SHA-256 in the document archive
(documents/storage.py); the row keeps the name as uploaded only to show it."""

from __future__ import annotations

import io
from datetime import datetime

from sqlmodel import Field, SQLModel

from models.db import UTCDateTime, utcnow
from models.lifecycle import InvalidInput

# The contract's limit (CONTRACT v1.2: 20 MB at most); api/main.BodyLimit stops a larger body earlier.
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
ALLOWED_TYPES = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


class Attachment(SQLModel, table=True):
    __tablename__ = "attachments"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    party_id: int | None = Field(default=None, foreign_key="parties.id")
    kind: str = Field(max_length=20, description="models.enums.AttachmentKind")
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=40, description="judged from the content")
    size: int
    sha256: str = Field(max_length=64, index=True)
    path: str = Field(max_length=300, description="relative to the data dir")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: int | None = Field(default=None, foreign_key="users.id")


def _magic_type(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    # PDF 1.7 (ISO 32000-1) 7.5.2: readers accept the header within the first 1024 bytes.
    if b"%PDF-" in data[:1024]:
        return "application/pdf"
    return None


def content_type_of(data: bytes) -> str:
    """The type of an uploaded file from its bytes; InvalidInput (422) for anything but a readable PDF,
    JPEG or PNG, or an empty or oversized file."""
    if not data:
        raise InvalidInput("上传的文件是空的", field="file")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise InvalidInput("上传的文件超过 20 MB", field="file")
    kind = _magic_type(data)
    if kind is None:
        raise InvalidInput("只能上传 PDF、JPEG 或 PNG 文件（按文件内容判断，与文件名无关）", field="file")
    try:
        if kind == "application/pdf":
            from pypdf import PdfReader

            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted or len(reader.pages) == 0:
                raise ValueError("encrypted or empty")
        else:
            from PIL import Image

            with Image.open(io.BytesIO(data)) as image:
                image.verify()
    except Exception as exc:  # any parser error means the file cannot be bound into the 卷宗
        label = {"application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG"}[kind]
        raise InvalidInput(
            f"文件无法作为 {label} 打开（已损坏、加密或不完整），请重新扫描或导出后上传", field="file"
        ) from exc
    return kind


def safe_filename(name: str | None, content_type: str) -> str:
    """The uploaded name without folders or control characters, with the extension its content has."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable())[:150].strip() or "附件"
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return f"{stem or '附件'}.{ALLOWED_TYPES[content_type]}"
