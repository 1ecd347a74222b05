"""Hostile text is escaped and fetches nothing; the fetcher serves only data: and documents/static/."""

from __future__ import annotations

import http.server
import io
import itertools
import threading
from collections.abc import Iterator
from typing import Any, Self

import pytest
import weasyprint
from pypdf import PdfReader

from documents.render import (
    KINDS,
    STATIC_DIR,
    StaticOnlyURLFetcher,
    URLRefused,
    html_to_pdf,
    render_html,
)
from tests.documents.examples import example
from tests.support.pdf import pdf_text

PASSWD_MARK = "root:x:0:0"

# Fields that are not free text (enums, dates, amounts, the verification code): left alone.
STRUCTURED_KEYS = {
    "role",
    "kind",
    "verify_code",
    "verify_base_url",
    "birth_date",
    "age",
    "received_at",
    "received_on",
    "accepted_on",
    "due_on",
    "issued_on",
    "held_at",
    "ended_at",
    "due_date",
    "deadline",
    "signed_on",
    "terminated_on",
    "agreement_on",
    "visited_on",
    "stage_due_on",
    "reply_by",
    "generated_at",
    "amount",
    "amount_involved",
    "headcount",
    "session_no",
    "overdue_days",
    "open",
    "overdue",
    "mass",
    "days_overdue",
    "performed",
    "all_performed",
    "is_mass",
    "ink_only",
    # issue 19: the notices' times and the 送达回证's dates and codes
    "scheduled_at",
    "ends_at",
    "previous_at",
    "variant",
    "addressee_kind",
    "status",
    "delivered_on",
    "document_issued_on",
    # the clock notice's dates and what it is about
    "effective_on",
    "event",
    "unit",
    "days",
    # issue 20: the enforcement documents' dates and sums
    "last_day",
    "held_on",
    "agreed_on",
    "ended_on",
    "paid",
    "outstanding",
    "amount_figures",
    "seq",
}


class CountingServer:
    """A real HTTP server on 127.0.0.1 that counts every request it gets."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                body = b"<svg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/>"
                self.send_response(200)
                self.send_header("Content-Type", "image/svg+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[CountingServer]:
    with CountingServer() as running:
        yield running


class SpyFetcher(StaticOnlyURLFetcher):
    """Our fetcher, recording every URL WeasyPrint asks for and whether it was refused."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        self.asked.append(url)
        try:
            return super().fetch(url, headers)
        except URLRefused:
            self.refused.append(url)
            raise


def payloads(port: int) -> list[str]:
    return [
        '<script>alert("x")</script>',
        "</td></tr></table></div><p>",
        '<img src="file:///etc/passwd">',
        '<link rel=attachment href="file:///etc/passwd">',
        '<a rel="attachment" href="file:///etc/passwd">passwd</a>',
        f'<img src="http://127.0.0.1:{port}/img">',
        f'<div style="background: url(http://127.0.0.1:{port}/css)">css</div>',
        f"<style>@import url(http://127.0.0.1:{port}/import);</style>",
        f"url(http://127.0.0.1:{port}/bare) {{{{ 7*7 }}}} {{% raw %}}",
    ]


def poison(value: Any, hostile: Iterator[str], key: str | None = None) -> Any:
    """Append a hostile snippet to every free-text string in the context, recursively.

    Snippets rotate (every field gets one, every snippet lands in many fields), which keeps the
    documents a sane length; the first fields visited get all of them in turn.
    """
    if key in STRUCTURED_KEYS:
        return value
    if isinstance(value, str):
        return value + next(hostile)
    if isinstance(value, dict):
        return {k: poison(v, hostile, k) for k, v in value.items()}
    if isinstance(value, list):
        return [poison(item, hostile, key) for item in value]
    return value


def embedded_files(pdf: bytes) -> dict:
    reader = PdfReader(io.BytesIO(pdf))
    files = dict(reader.attachments)
    for page in reader.pages:
        for annot in page.get("/Annots") or []:
            obj = annot.get_object()
            if obj.get("/Subtype") == "/FileAttachment":
                files[str(obj.get("/FS"))] = obj
    return files


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_text_in_every_field_is_escaped_and_fetches_nothing(kind: str, server, tmp_path) -> None:
    context = poison(example(kind), itertools.cycle(payloads(server.port)))
    html = render_html(kind, context)

    # Escaped: none of the payload's markup survives as markup.
    for raw in ("<script", "<img", "<link", "<a ", "<style", "</td></tr></table></div><"):
        assert raw not in html, f"{kind}: raw {raw!r} in HTML"
    assert "&lt;script&gt;" in html
    # Data is not a template (every field gets it: a short document may print none of the rotated one).
    assert "{{ 7*7 }}" in render_html(kind, poison(example(kind), itertools.repeat("{{ 7*7 }}")))
    assert "&lt;img src=&#34;file:///etc/passwd&#34;&gt;" in html

    spy = SpyFetcher()
    pdf = html_to_pdf(html, url_fetcher=spy)
    assert all(u.startswith(("data:", STATIC_DIR.as_uri())) for u in spy.asked if u not in spy.refused)
    assert spy.asked == [], f"{kind}: fetched {spy.asked}"
    assert server.hits == [], f"{kind}: HTTP server was hit: {server.hits}"
    assert embedded_files(pdf) == {}
    text = pdf_text(pdf)
    assert PASSWD_MARK not in text
    assert PASSWD_MARK.encode() not in pdf
    assert 'alert("x")' in text  # shown as text, harmlessly


# What input refuses (models.validation.clean_text) but older rows may hold: C0 and C1 controls, a
# direction override, noncharacters (U+FFFE is not XML), and a lone surrogate, which WeasyPrint cannot
# even encode (UnicodeEncodeError).
OLD_DIRT = "\x01\x0b\x1f\x7f\x85\u202e\ufdd0\ufffe\uffff\U0010ffff\ud800"


def test_text_stored_before_input_refused_it_prints_without_it(tmp_path) -> None:
    for kind in KINDS:
        html = render_html(kind, poison(example(kind), itertools.repeat(f"甲{OLD_DIRT}乙")))
        assert "甲乙" in html, kind
        assert not set(OLD_DIRT) & set(html), kind
    pdf = html_to_pdf(
        render_html("agreement", poison(example("agreement"), itertools.repeat(f"甲{OLD_DIRT}乙")))
    )
    assert "甲乙" in "".join(pdf_text(pdf).split())


def test_raw_html_resources_are_refused_by_our_fetcher(server, tmp_path) -> None:
    """Even HTML that bypassed the templates cannot reach the disk or the network."""
    html = (
        "<html><body><p>测试</p>"
        '<img src="file:///etc/passwd">'
        f'<img src="http://127.0.0.1:{server.port}/img">'
        f'<div style="background-image: url(http://127.0.0.1:{server.port}/css)">x</div>'
        '<link rel="attachment" href="file:///etc/passwd">'
        f'<link rel="stylesheet" href="http://127.0.0.1:{server.port}/style.css">'
        '<a rel="attachment" href="file:///etc/passwd">passwd</a>'
        '<img src="ftp://127.0.0.1/x">'
        "</body></html>"
    )
    spy = SpyFetcher()
    pdf = html_to_pdf(html, url_fetcher=spy)
    assert server.hits == []
    assert spy.asked, "WeasyPrint should have asked our fetcher"
    assert set(spy.asked) == set(spy.refused)
    assert embedded_files(pdf) == {}
    assert PASSWD_MARK not in pdf_text(pdf)


def test_control_plain_weasyprint_would_leak(server) -> None:
    """The checks above can fail: WeasyPrint's default fetcher hits the server and embeds /etc/passwd."""
    html = (
        f'<html><body><img src="http://127.0.0.1:{server.port}/img">'
        '<link rel="attachment" href="file:///etc/passwd"></body></html>'
    )
    pdf = weasyprint.HTML(string=html).write_pdf()
    assert server.hits == ["/img"]
    files = embedded_files(pdf)
    assert files
    assert any(PASSWD_MARK.encode() in content for contents in files.values() for content in contents)


def test_attachments_of_allowed_urls_are_not_embedded_either() -> None:
    """print.css and data: are fetchable, yet never embedded as files."""
    html = (
        "<html><body>"
        '<link rel="attachment" href="print.css">'
        '<a rel="attachment" href="data:text/plain,secret">附件</a>'
        '<a rel="attachment" href="print.css">附件2</a>'
        "</body></html>"
    )
    assert embedded_files(html_to_pdf(html)) == {}


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "file://localhost/etc/passwd",
        "FILE:///etc/passwd",
        "file:///etc/passwd?x=1",
        f"{STATIC_DIR.as_uri()}/../render.py",
        f"{STATIC_DIR.as_uri()}/%2e%2e/render.py",
        f"{STATIC_DIR.as_uri()}/../../../../etc/passwd",
        f"{STATIC_DIR.as_uri()}",
        f"file://evil.example{STATIC_DIR}/print.css",
        "ftp://127.0.0.1/x",
        "https://example.com/x.png",
        "gopher://127.0.0.1:70/",
        "javascript:alert(1)",
        "tiaojie-static:print.css",
    ],
)
def test_fetcher_refuses(url: str) -> None:
    with pytest.raises(URLRefused):
        StaticOnlyURLFetcher().fetch(url)


def test_fetcher_refuses_http_without_connecting(server) -> None:
    with pytest.raises(URLRefused):
        StaticOnlyURLFetcher().fetch(f"http://127.0.0.1:{server.port}/x")
    assert server.hits == []


def test_fetcher_refuses_a_symlink_out_of_static(tmp_path) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "ok.css").write_text("p{}")
    (static / "link.css").symlink_to("/etc/passwd")
    fetcher = StaticOnlyURLFetcher(static)
    assert fetcher.fetch((static / "ok.css").as_uri()).read() == b"p{}"
    with pytest.raises(URLRefused):
        fetcher.fetch((static / "link.css").as_uri())


def test_fetcher_serves_static_files_and_data_urls() -> None:
    fetcher = StaticOnlyURLFetcher()
    response = fetcher.fetch((STATIC_DIR / "print.css").as_uri())
    assert b"@page" in response.read()
    assert response.content_type == "text/css"
    response.close()
    assert fetcher.fetch("data:text/plain;base64,5rWL6K+V").read().decode() == "测试"
