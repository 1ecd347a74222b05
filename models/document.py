"""Issued documents: PDFs archived by fingerprint, never overwritten."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.db import UTCDateTime, utcnow


class Document(SQLModel, table=True):
    __tablename__ = "documents"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    kind: str = Field(max_length=48)  # judicial_confirmation_application: 33 (migration 0028)
    # What the document is about (e.g. "agreement:12", "session:40"): a rerun finds it instead of
    # issuing a second one; a corrected document is a new row with version_no + 1.
    subject_key: str = Field(max_length=80, index=True)
    version_no: int = 1
    supersedes_id: int | None = Field(default=None, foreign_key="documents.id")
    sha256: str = Field(max_length=64, unique=True)
    verify_code: str | None = Field(default=None, max_length=32, unique=True)
    path: str = Field(max_length=300)
    size_bytes: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: int | None = Field(default=None, foreign_key="users.id")


def paper_no(prefix: str, year: int, seq: int) -> str:
    """The center's numbering of its papers, as case numbers are (瑞调〔2026〕00017号): a kind's prefix,
    the year in 〔〕 and the year's sequence number, e.g. 瑞调督〔2026〕00003号 for a 督办单."""
    return f"{prefix}〔{year}〕{seq:05d}号"
