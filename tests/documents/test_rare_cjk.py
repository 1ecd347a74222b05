"""Names with characters of the CJK extensions B–G (common in personal names: 𠀀 𪚥 𱍐) print with a real
glyph from a font that has them (BabelStone Han, the fallback after Noto Serif CJK), never a missing-glyph
box, and come back out of the PDF as the same characters."""

from __future__ import annotations

import re
import subprocess
from io import BytesIO
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from documents.render import html_to_pdf, render_html
from tests.documents.examples import example
from tests.support.pdf import pdf_compact
from tests.support.rendering import printed_documents

# One character of each extension, code points from the Unicode charts (not from any font):
RARE = {
    "Ext B": "\U00020000",  # 𠀀 U+20000, first of Extension B
    "Ext B (𪚥)": "\U0002a6a5",  # 𪚥 U+2A6A5, four 龍
    "Ext D": "\U0002b740",  # U+2B740, first of Extension D
    "Ext E": "\U0002b820",  # U+2B820, first of Extension E
    "Ext F": "\U0002ceb0",  # U+2CEB0, first of Extension F
    "Ext G": "\U00031350",  # 𱍐 U+31350
}
NAME = "张" + "".join(RARE.values())


def _fonts(reader: PdfReader) -> list[DictionaryObject]:
    found: dict[int, DictionaryObject] = {}
    for page in reader.pages:
        resources = page["/Resources"].get_object()
        for ref in resources.get("/Font", {}).values():
            font = ref.get_object()
            found[id(font)] = font
    return list(found.values())


def _to_unicode(font: DictionaryObject) -> dict[int, str]:
    """The font's ToUnicode CMap as {glyph id: text} (bfchar and bfrange entries)."""
    data = font["/ToUnicode"].get_object().get_data().decode("latin-1")
    mapping: dict[int, str] = {}

    def text_of(hexstr: str) -> str:
        return bytes.fromhex(hexstr).decode("utf-16-be")

    for block in re.findall(r"beginbfchar(.*?)endbfchar", data, re.S):
        for gid, uni in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            mapping[int(gid, 16)] = text_of(uni)
    for block in re.findall(r"beginbfrange(.*?)endbfrange", data, re.S):
        for lo, hi, uni in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            start = text_of(uni)
            for offset, gid in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                mapping[gid] = start[:-1] + chr(ord(start[-1]) + offset)
    return mapping


def _embedded_font_file(font: DictionaryObject) -> TTFont:
    descendant = font["/DescendantFonts"][0].get_object()
    descriptor = descendant["/FontDescriptor"].get_object()
    stream = descriptor.get("/FontFile2") or descriptor.get("/FontFile3")
    return TTFont(BytesIO(stream.get_object().get_data()))


@pytest.fixture(scope="module")
def pdf_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    context = example("application")
    context["parties"][0]["name"] = NAME
    html = render_html("application", context)
    assert NAME in html
    path = tmp_path_factory.mktemp("rare") / "application.pdf"
    with printed_documents():
        path.write_bytes(html_to_pdf(html))
    return path


def test_rare_characters_come_back_as_text(pdf_path: Path) -> None:
    compact = pdf_compact(pdf_path)
    assert NAME in compact, [c for c in NAME if c not in compact]


def test_rare_characters_use_real_glyphs_of_a_fallback_font(pdf_path: Path) -> None:
    reader = PdfReader(pdf_path)
    wanted = set(RARE.values())
    drawn: dict[str, tuple[str, int]] = {}
    for font in _fonts(reader):
        if "/ToUnicode" not in font or "/DescendantFonts" not in font:
            continue
        mapping = _to_unicode(font)
        hits = {text: gid for gid, text in mapping.items() if text in wanted}
        if not hits:
            continue
        embedded = _embedded_font_file(font)
        glyph_order = embedded.getGlyphOrder()
        glyf = embedded.get("glyf")
        for char, gid in hits.items():
            # Glyph 0 is .notdef, the missing-glyph box.
            assert gid != 0, f"{char!r} drawn as .notdef in {font['/BaseFont']}"
            if glyf is not None:
                glyph = glyf[glyph_order[gid]]
                assert glyph.numberOfContours != 0, f"{char!r} is an empty glyph in {font['/BaseFont']}"
            drawn[char] = (str(font["/BaseFont"]), gid)
    assert set(drawn) == wanted, f"missing: {[hex(ord(c)) for c in wanted - set(drawn)]}"
    # The extension characters are not in Noto Serif CJK: they come from the BabelStone Han fallback.
    assert all("BabelStone" in base for base, _gid in drawn.values()), drawn


def test_pdffonts_lists_the_fallback_font_embedded(pdf_path: Path) -> None:
    out = subprocess.run(["pdffonts", str(pdf_path)], check=True, capture_output=True, text=True).stdout
    rows = [line for line in out.splitlines() if "BabelStone" in line]
    assert rows, out
    # Columns: name type encoding emb sub uni object-id: embedded, subset and with a ToUnicode map.
    assert all(re.search(r"\byes\s+yes\s+yes\b", row) for row in rows), rows
