"""The one PDF reader of the tests: poppler's pdftotext, as a person copying the text would see it.

pdftotext spaces CJK glyphs freely (U+3000 included), so most checks compare `compact` text."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.document import Document
from models.settings import get_settings

PdfSource = bytes | Path | str


def pdf_text(
    source: PdfSource, *, layout: bool = False, first: int | None = None, last: int | None = None
) -> str:
    """The text of a PDF (its bytes or its path); `layout` keeps each visual line; `first`/`last` pages,
    counted from 1. Pages are separated by a form feed."""
    args = ["pdftotext"]
    if layout:
        args.append("-layout")
    if first is not None:
        args += ["-f", str(first)]
    if last is not None:
        args += ["-l", str(last)]
    if isinstance(source, bytes):
        out = subprocess.run([*args, "-", "-"], input=source, check=True, capture_output=True).stdout
        return out.decode()
    return subprocess.run([*args, str(source), "-"], check=True, capture_output=True, text=True).stdout


def compact(text: str) -> str:
    """All whitespace removed."""
    return "".join(text.split())


def pdf_compact(source: PdfSource) -> str:
    return compact(pdf_text(source))


def pdf_pages(source: PdfSource, *, layout: bool = False) -> list[str]:
    """Each page's text, in order (pdftotext ends every page with a form feed)."""
    return pdf_text(source, layout=layout).split("\f")[:-1]


def layout_lines(source: PdfSource) -> list[str]:
    """The non-blank visual lines (`pdftotext -layout`), each with its runs of spaces made one."""
    return [" ".join(line.split()) for line in pdf_text(source, layout=True).splitlines() if line.strip()]


def archived_path(doc: Document) -> Path:
    return Path(get_settings().data_dir) / doc.path


def archived_documents(engine: Engine, case_id: int | None, kind: str) -> list[Document]:
    """The archived documents of `kind` (of one case, or of any), oldest first."""
    with Session(engine) as session:
        query = select(Document).where(Document.kind == kind).order_by(col(Document.id))
        if case_id is not None:
            query = query.where(Document.case_id == case_id)
        return list(session.exec(query).all())


def archived_pdf_texts(engine: Engine, case_id: int, kind: str) -> list[str]:
    """Every archived PDF of `kind` for the case, oldest first, as compact text."""
    return [pdf_compact(archived_path(doc)) for doc in archived_documents(engine, case_id, kind)]
