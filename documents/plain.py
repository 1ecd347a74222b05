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
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

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
PAGE_BREAK = "\f"  # in text_lines: the next line starts a new page
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_FORCED_BREAK = re.compile(r"(?<![\w-])(break-before:\s*page|page-break-before:\s*always)")


@cache
def _page_breaks(stylesheet: Path) -> tuple[frozenset[str], frozenset[str]]:
    """The classes print.css starts a new page before: (every one, every one after the first), read from
    its `.a { break-before: page }` and `.a + .a { break-before: page }` rules, so that a document whose
    pages count (the 卷宗's stamps, a tear-off slip) has as many pages here as printed."""
    every: set[str] = set()
    after_first: set[str] = set()
    css = re.sub(r"/\*.*?\*/", "", stylesheet.read_text(encoding="utf-8"), flags=re.S)
    for selectors, declarations in _RULE.findall(css):
        if not _FORCED_BREAK.search(declarations):
            continue
        for selector in selectors.split(","):
            if m := re.fullmatch(r"\s*\.([\w-]+)\s*", selector):
                every.add(m[1])
            elif (m := re.fullmatch(r"\s*\.([\w-]+)\s*\+\s*\.([\w-]+)\s*", selector)) and m[1] == m[2]:
                after_first.add(m[1])
    return frozenset(every), frozenset(after_first)


class _Text(HTMLParser):
    """The page's words by line: block elements and <br> end a line, cells of a row are spaced."""

    def __init__(self, stylesheet: Path) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._current: list[str] = []
        self._hidden = 0
        self._every, self._after_first = _page_breaks(stylesheet)
        self._seen: set[str] = set()

    def _page_break(self, classes: set[str]) -> None:
        if classes & self._every or classes & self._after_first & self._seen:
            self._break()
            if self.lines and self.lines[-1] != PAGE_BREAK:
                self.lines.append(PAGE_BREAK)
        self._seen |= classes

    def _break(self) -> None:
        line = _SPACES.sub(" ", "".join(self._current)).strip()
        if line:
            self.lines.append(line)
        self._current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = set((dict(attrs).get("class") or "").split())
        if classes:
            self._page_break(classes)
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


def text_lines(html: str, stylesheet: Path) -> list[str]:
    """The words of `html` as the plain renderer prints them, one entry per line before wrapping; the page
    breaks `stylesheet` (print.css) forces as PAGE_BREAK entries."""
    parser = _Text(stylesheet)
    parser.feed(html)
    parser.close()
    return parser.lines


def _pages(lines: list[str]) -> list[list[str]]:
    """Lines wrapped to the page's width, then cut into pages at forced breaks and at the page's foot."""
    pages: list[list[str]] = [[]]
    for line in lines:
        if line == PAGE_BREAK:
            pages.append([])
            continue
        while line:
            cut = _PER_LINE
            # pdftotext joins a line ending in "-" to the next without the hyphen (RY38-A95P-…, a code).
            while cut > 1 and len(line) > cut and line[cut - 1] == "-":
                cut -= 1
            if len(pages[-1]) == _PER_PAGE:
                pages.append([])
            pages[-1].append(line[:cut])
            line = line[cut:]
    return pages


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


def plain_pdf(html: str, stylesheet: Path) -> bytes:
    """PDF bytes holding the words of `html`, with the page breaks `stylesheet` forces (see the module's
    docstring)."""
    pages = _pages(text_lines(html, stylesheet))
    chars = sorted({c for page in pages for line in page for c in line})
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

    for page in pages:
        content = pydyf.Stream(compress=True)
        content.begin_text()
        content.set_font_size("F1", _SIZE)
        content.set_text_matrix(1, 0, 0, 1, _MARGIN, PAGE_HEIGHT - _MARGIN)
        for n, line in enumerate(page):
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
