"""The plain renderer: a document's words on plain A4 pages, in the order the HTML holds them, with no
layout, no fonts embedded and no pictures. Chosen by TIAOJIE_DOCUMENT_RENDERER=plain, for a test run
whose subject is not the printed page (the test suite's default; tests/documents and the tests marked
`printed` use WeasyPrint): the same template, context, signature and archive as a real document, in a
few milliseconds instead of WeasyPrint's half second. Never for the center's documents: a clerk could
not print it as the law's forms require (`tiaojie serve` says so at start).

The text is extractable as written (pdftotext, pypdf): every character gets its own code in a Type0
font whose ToUnicode map gives the character back, so rare CJK outside the BMP survives too."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import pydyf

# Elements that start a new line of text: the blocks, rows and line breaks of the templates.
_BLOCKS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
        "caption",
    ]
)
# Elements whose text is not on the page (metadata, styles, scripts).
_HIDDEN = frozenset(["head", "style", "script", "title", "template"])
# HTML collapses ASCII white space only: U+3000, the full-width space, is a character of the text.
_SPACES = re.compile(r"[ \t\n\r\f]+")

PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points
_MARGIN = 56
_SIZE = 11  # font size (pt); one em per character: a CJK character's width
_LEADING = 16
_PER_LINE = (PAGE_WIDTH - 2 * _MARGIN) // _SIZE
_PER_PAGE = (PAGE_HEIGHT - 2 * _MARGIN) // _LEADING
PRODUCER = "Tiaojie plain renderer (not for print)"


class _Text(HTMLParser):
    """The page's words by line: block elements and <br> end a line, cells of a row are spaced."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._current: list[str] = []
        self._hidden = 0

    def _break(self) -> None:
        line = _SPACES.sub(" ", "".join(self._current)).strip()
        if line:
            self.lines.append(line)
        self._current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag in _BLOCKS:
            self._break()
        elif tag in ("td", "th"):
            self._current.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCKS:
            self._break()

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self._current.append(data)

    def close(self) -> None:
        super().close()
        self._break()


def text_lines(html: str) -> list[str]:
    """The words of `html` as the plain renderer prints them, one entry per line before wrapping."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return parser.lines


def _wrapped(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        out.extend(line[i : i + _PER_LINE] for i in range(0, len(line), _PER_LINE))
    return out


def _latin_width(char: str) -> int:
    return 250 if char == " " else 500


def _to_unicode(chars: list[str]) -> pydyf.Stream:
    """A ToUnicode CMap: code i+1 (two bytes) is chars[i] (UTF-16BE, a surrogate pair outside the BMP)."""
    entries = [f"<{i + 1:04X}> <{c.encode('utf-16-be').hex().upper()}>" for i, c in enumerate(chars)]
    body = [
        "/CIDInit /ProcSet findresource begin",
        "12 dict begin",
        "begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Tiaojie-Plain-UCS def",
        "/CMapType 2 def",
        "1 begincodespacerange <0000> <FFFF> endcodespacerange",
    ]
    for start in range(0, len(entries), 100):  # at most 100 entries per block (PDF 1.7, 9.10.3)
        chunk = entries[start : start + 100]
        body += [f"{len(chunk)} beginbfchar", *chunk, "endbfchar"]
    body += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return pydyf.Stream(["\n".join(body)], compress=True)


def plain_pdf(html: str) -> bytes:
    """PDF bytes holding the words of `html` (see the module's docstring)."""
    lines = _wrapped(text_lines(html)) or [""]
    chars = sorted({c for line in lines for c in line})
    code = {c: i + 1 for i, c in enumerate(chars)}

    pdf = pydyf.PDF()
    pdf.info["Producer"] = pydyf.String(PRODUCER)
    descriptor = pydyf.Dictionary(
        {
            "Type": "/FontDescriptor",
            "FontName": "/TiaojiePlain",
            "Flags": 4,
            "FontBBox": pydyf.Array([0, -120, 1000, 880]),
            "ItalicAngle": 0,
            "Ascent": 880,
            "Descent": -120,
            "CapHeight": 700,
            "StemV": 80,
        }
    )
    pdf.add_object(descriptor)
    cid_font = pydyf.Dictionary(
        {
            "Type": "/Font",
            "Subtype": "/CIDFontType2",
            "BaseFont": "/TiaojiePlain",
            "CIDSystemInfo": pydyf.Dictionary(
                {"Registry": pydyf.String("Adobe"), "Ordering": pydyf.String("Identity"), "Supplement": 0}
            ),
            "FontDescriptor": descriptor.reference,
            "DW": 1000,  # a CJK character is one em; a space a quarter, other Latin half (below)
            "W": pydyf.Array(
                [x for c in chars if ord(c) < 0x2E80 for x in (code[c], pydyf.Array([_latin_width(c)]))]
            ),
            "CIDToGIDMap": "/Identity",
        }
    )
    pdf.add_object(cid_font)
    to_unicode = _to_unicode(chars)
    pdf.add_object(to_unicode)
    font = pydyf.Dictionary(
        {
            "Type": "/Font",
            "Subtype": "/Type0",
            "BaseFont": "/TiaojiePlain",
            "Encoding": "/Identity-H",
            "DescendantFonts": pydyf.Array([cid_font.reference]),
            "ToUnicode": to_unicode.reference,
        }
    )
    pdf.add_object(font)
    resources = pydyf.Dictionary({"Font": pydyf.Dictionary({"F1": font.reference})})

    for start in range(0, len(lines), _PER_PAGE):
        content = pydyf.Stream(compress=True)
        content.begin_text()
        content.set_font_size("F1", _SIZE)
        content.set_text_matrix(1, 0, 0, 1, _MARGIN, PAGE_HEIGHT - _MARGIN)
        for n, line in enumerate(lines[start : start + _PER_PAGE]):
            if n:
                content.move_text_to(0, -_LEADING)
            content.show_text("<" + "".join(f"{code[c]:04X}" for c in line) + ">")
        content.end_text()
        pdf.add_object(content)
        pdf.add_page(
            pydyf.Dictionary(
                {
                    "Type": "/Page",
                    "Parent": pdf.pages.reference,
                    "MediaBox": pydyf.Array([0, 0, PAGE_WIDTH, PAGE_HEIGHT]),
                    "Contents": content.reference,
                    "Resources": resources,
                }
            )
        )
    out = io.BytesIO()
    pdf.write(out, version=b"1.7", identifier=True, compress=True)
    return out.getvalue()
