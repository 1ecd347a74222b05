"""Render printed documents: plain context dict → Jinja2 HTML → WeasyPrint → PDF bytes.

Safety:
- every template is autoescaped (the Environment has `autoescape=True`, not by file extension);
  the only unescaped HTML on a page is the QR code and the chart, both generated here from numbers
  and escaped text;
- WeasyPrint fetches resources only through `StaticOnlyURLFetcher`: `data:` URLs and files inside
  documents/static/. Files elsewhere (file:///etc/passwd), http(s), ftp and every other scheme are
  refused, so no hostile text can read the disk or reach the network (SSRF);
- attachments (`<link rel=attachment>`, `<a rel=attachment>`) are dropped from the laid-out document
  before the PDF is written, so even an allowed URL is never embedded as a file.

Speed: the parsed print.css and the FontConfiguration are built once per process and reused
(bench/bench_pdf.py compares against WeasyPrint alone). Threads: one document renders at a time
(see _RENDER_LOCK for why a lock and not a renderer per thread).

Verification codes and why the QR code does not carry the sha256: see documents.verification.
"""

from __future__ import annotations

import mimetypes
import os
import threading
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import segno
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from documents.chart import bar_chart_svg
from documents.money import amount_in_chinese_capitals
from documents.plain import plain_pdf
from documents.shapes import KIND_SHAPES, KIND_TITLES
from documents.verification import verify_url
from models.money import format_amount
from models.numerals import chinese_number
from models.settings import get_settings
from models.tz import CHINA
from models.validation import printable

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"
STYLESHEET = STATIC_DIR / "print.css"
STATIC_BASE_URL = STATIC_DIR.as_uri() + "/"
KINDS: tuple[str, ...] = tuple(KIND_SHAPES)


class URLRefused(ValueError):
    """A URL outside data: and documents/static/ was asked for."""


class StaticOnlyURLFetcher(URLFetcher):
    """Serve `data:` URLs and files under `static_dir`; refuse everything else.

    WeasyPrint 70 calls `fetch(url, headers)` for stylesheets, images, fonts and attachments; an
    exception here makes WeasyPrint skip the resource with a warning.
    """

    def __init__(self, static_dir: Path = STATIC_DIR) -> None:
        super().__init__(allowed_protocols=("data", "file"), allow_redirects=False)
        self.static_dir = Path(os.path.realpath(static_dir))

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> URLFetcherResponse:
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme == "data":
            # urllib's DataHandler decodes it in memory; no I/O.
            return super().fetch(url, headers)
        if scheme == "file":
            return self._fetch_static_file(url)
        raise URLRefused(f"refused URL (only data: and static files): {url[:200]}")

    def _fetch_static_file(self, url: str) -> URLFetcherResponse:
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise URLRefused(f"refused URL (remote file host): {url[:200]}")
        path = Path(os.path.realpath(unquote(parts.path)))
        # realpath resolves "..", symlinks and //, so the prefix test cannot be walked around.
        if not path.is_relative_to(self.static_dir) or not path.is_file():
            raise URLRefused(f"refused URL (outside documents/static): {url[:200]}")
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(
            path.as_uri(), body=path.read_bytes(), headers={"Content-Type": content_type}
        )


# --- formatting filters -------------------------------------------------------------------------


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.astimezone(CHINA).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    return _as_date(datetime.fromisoformat(value)) if "T" in value else date.fromisoformat(value)


def _as_datetime(value: datetime | str) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.astimezone(CHINA) if moment.tzinfo else moment


# Blanks to write a date in by hand: ideographic spaces, which HTML does not collapse (plain spaces
# collapsed to one and left "年 月 日" with no room to write).
_BLANK_DATE = "\u3000\u3000\u3000年\u3000\u3000月\u3000\u3000日"


def clause(text: str | None) -> str:
    """Free text ending a sentence the template closes itself: its own closing mark dropped ("。。")."""
    return (text or "").strip().rstrip("。．.；;，,、 ")


def cn_date(value: date | datetime | str | None, blank: str = _BLANK_DATE) -> str:
    """2026-11-12 → "2026年11月12日"; missing → a blank date line to fill in by hand."""
    if not value:  # None, "" or a missing optional field (jinja2 Undefined)
        return blank
    day = _as_date(value)
    return f"{day.year}年{day.month}月{day.day}日"


def cn_datetime(value: datetime | str | None) -> str:
    """→ "2026年11月12日 9时30分" (Beijing time)."""
    if not value:
        return _BLANK_DATE + "\u3000\u3000时\u3000\u3000分"
    moment = _as_datetime(value)
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment.hour}时{moment.minute:02d}分"


def paragraphs(text: str | None) -> Markup:
    """Plain text → escaped <p> per line (autoescape still applies to each line)."""
    if not text:
        return Markup("")
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return Markup("").join(Markup('<p class="para">{}</p>').format(line) for line in lines)


def gender_age(party: Mapping[str, Any]) -> str:
    bits = []
    if party.get("gender"):
        bits.append(str(party["gender"]))
    if party.get("birth_date"):
        bits.append(cn_date(party["birth_date"]) + "出生")
    elif party.get("age") is not None:
        bits.append(f"{party['age']}岁")
    if party.get("ethnicity"):
        bits.append(str(party["ethnicity"]))
    return "，".join(bits)


def qr_svg(url: str) -> Markup:
    """An inline SVG QR code (error correction M) of `url`; sized by CSS (.qr svg)."""
    qr = segno.make(url, error="m", micro=False)
    # The URL is encoded in the module matrix, not as text, so the SVG carries no user text.
    return Markup(qr.svg_inline(scale=1, border=2, omitsize=True, dark="#000"))


@lru_cache(maxsize=1)
def template_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,  # every template, whatever its extension
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(
        cn_date=cn_date,
        cn_datetime=cn_datetime,
        chinese_number=chinese_number,
        paragraphs=paragraphs,
        clause=clause,
        amount=format_amount,
        capitals=amount_in_chinese_capitals,
        gender_age=gender_age,
    )
    return env


class ContextError(ValueError):
    """The context misses a field that the kind requires (see documents.shapes)."""


def _check_context(kind: str, context: Mapping[str, Any]) -> None:
    shape = KIND_SHAPES[kind]
    missing = sorted(key for key in shape.__required_keys__ if key not in context)
    if missing:
        raise ContextError(f"{kind}: missing context fields {', '.join(missing)}")


def render_html(kind: str, context: Mapping[str, Any]) -> str:
    """The HTML of document `kind` (one of KINDS) from its context dict (see documents.shapes)."""
    if kind not in KIND_SHAPES:
        raise ValueError(f"unknown document kind {kind!r}; expected one of {', '.join(KINDS)}")
    _check_context(kind, context)
    extra: dict[str, Any] = {"kind": kind, "title": KIND_TITLES[kind]}
    if context.get("verify_code") and context.get("verify_base_url"):
        url = verify_url(context["verify_base_url"], context["verify_code"])
        extra.update(verify_url=url, qr_svg=qr_svg(url))
    if context.get("party_access"):
        # 一案一码: each addressee's own page, as a QR and in text for a party without a scanner.
        extra["party_access"] = [{**p, "qr_svg": qr_svg(p["url"])} for p in context["party_access"]]
    if kind == "agreement":
        # 2002 规定 第35条: 一式X份 = each party one copy, the committee one.
        extra["copies"] = len(context["parties"]) + 1
    if kind == "backlog_report":
        extra["chart_svg"] = bar_chart_svg(context["by_age"], series=(("open", "在办"), ("overdue", "超期")))
    template = template_environment().get_template(f"{kind}.html")
    # Text stored before input refused control characters and noncharacters prints without them.
    return printable(template.render({**context, **extra}))


class _Renderer:
    """WeasyPrint's state kept between documents: the FontConfiguration (a Pango font map with its
    FreeType faces, and the Pango layouts and attributes WeasyPrint caches on it) and print.css
    parsed against it. Not thread-safe: used under _RENDER_LOCK only."""

    def __init__(self) -> None:
        self.font_config = FontConfiguration()
        self.fetcher = StaticOnlyURLFetcher()
        self.stylesheet = CSS(
            filename=str(STYLESHEET), url_fetcher=self.fetcher, font_config=self.font_config
        )

    def pdf(self, html: str, fetcher: StaticOnlyURLFetcher | None) -> bytes:
        document = HTML(string=html, base_url=STATIC_BASE_URL, url_fetcher=fetcher or self.fetcher).render(
            font_config=self.font_config, stylesheets=[self.stylesheet]
        )
        # Never embed files: <link rel=attachment> lands in metadata, <a rel=attachment> in page links.
        document.metadata.attachments = []
        for page in document.pages:
            page.links = [link for link in page.links if link[0] != "attachment"]
        return document.write_pdf()


# One renderer per process, one document at a time. The relay renders on several threads, and a Pango
# font map is not thread-safe: shared unguarded it corrupted GLib's lists ("GLib-WARNING **: corrupted
# double-linked list detected", reproduced by 8 threads on 200 documents). The rest of WeasyPrint 70
# keeps no global state (its module dicts are filled at import; image and style caches are per document).
# Measured, 4 threads × 80 example documents, two rounds on this 2-core machine: a renderer per thread
# (thread-local) was no faster (111–116 s against 96–104 s wall, the same CPU: most of WeasyPrint holds
# the GIL) and peaked at 634–643 MB RSS against 291–292 MB (each font map loads and embeds its own copy
# of the CJK fonts). So: one renderer behind a lock.
# Only WeasyPrint is inside it; Jinja2, the QR code and the chart run before, in parallel.
_RENDER_LOCK = threading.Lock()
_renderer: _Renderer | None = None


def _locked_renderer() -> _Renderer:
    """The process's renderer; the caller holds _RENDER_LOCK."""
    global _renderer
    if _renderer is None:
        _renderer = _Renderer()
    return _renderer


def print_stylesheet() -> CSS:
    """documents/static/print.css, parsed once per process."""
    with _RENDER_LOCK:
        return _locked_renderer().stylesheet


def html_to_pdf(html: str, *, url_fetcher: StaticOnlyURLFetcher | None = None) -> bytes:
    """PDF bytes of `html`, styled by print.css, fetching only data: and static files.

    Safe from any thread: documents are rendered one at a time (see _RENDER_LOCK).
    `url_fetcher` exists for tests (a spy subclass); it must be a StaticOnlyURLFetcher.
    """
    if url_fetcher is not None and not isinstance(url_fetcher, StaticOnlyURLFetcher):
        raise TypeError("url_fetcher must be a StaticOnlyURLFetcher")
    if get_settings().document_renderer == "plain":
        return plain_pdf(html, STYLESHEET)
    with _RENDER_LOCK:
        return _locked_renderer().pdf(html, url_fetcher)


def render_pdf(kind: str, context: Mapping[str, Any]) -> bytes:
    """PDF bytes of document `kind` rendered from `context`."""
    return html_to_pdf(render_html(kind, context))


__all__ = [
    "KINDS",
    "STATIC_DIR",
    "ContextError",
    "StaticOnlyURLFetcher",
    "URLRefused",
    "cn_date",
    "html_to_pdf",
    "print_stylesheet",
    "render_html",
    "render_pdf",
]
