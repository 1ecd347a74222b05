"""Shared fixtures: every kind rendered once per test session from tests/documents/examples.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from documents.render import KINDS, html_to_pdf, render_html
from tests.documents.examples import example, inheritance_agreement
from tests.support.pdf import pdf_compact, pdf_text
from tests.support.rendering import printed_documents


@dataclass
class Rendered:
    kind: str
    context: dict
    html: str
    pdf: bytes
    path: Path

    def text(self, *, layout: bool = False) -> str:
        """pdftotext output (reading order, or `layout` lines)."""
        return pdf_text(self.path, layout=layout)

    def compact_text(self) -> str:
        return pdf_compact(self.path)


def _render(kind: str, context: dict, folder: Path, name: str) -> Rendered:
    html = render_html(kind, context)
    pdf = html_to_pdf(html)
    path = folder / f"{name}.pdf"
    path.write_bytes(pdf)
    return Rendered(kind, context, html, pdf, path)


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendered]:
    folder = tmp_path_factory.mktemp("documents")
    with printed_documents():
        docs = {kind: _render(kind, example(kind), folder, kind) for kind in KINDS}
        docs["ink_agreement"] = _render("agreement", inheritance_agreement(), folder, "ink_agreement")
    return docs
