"""The plain renderer (documents/plain.py) that the tests not about the printed page use: the words of
the document come back from pdftotext and pypdf as written, in the HTML's order, and nothing else."""

from __future__ import annotations

import io

import pypdf
import pytest

from documents.plain import PRODUCER, plain_pdf
from documents.render import STYLESHEET, html_to_pdf
from models.settings import get_settings
from tests.support.pdf import compact, pdf_pages, pdf_text

HTML = """<!doctype html><html><head><title>标题不印</title><style>p { color: red }</style>
<script>var x = "脚本不印";</script></head><body>
<h1>人民调解协议书</h1>
<table><tr><th>申请人</th><td>张三</td></tr><tr><th>被申请人</th><td>瑞安市&amp;某某&lt;公司&gt;</td></tr></table>
<p>罕见字：𠀾𪚥，以及 “引号” 与全角空格。</p>
<p>第一行<br>第二行</p>
</body></html>"""


def test_the_words_come_back_in_order_and_nothing_else() -> None:
    pdf = plain_pdf(HTML, STYLESHEET)
    lines = [line.strip() for line in pdf_text(pdf).splitlines() if line.strip()]
    assert [compact(line) for line in lines] == [
        "人民调解协议书",
        "申请人张三",
        "被申请人瑞安市&某某<公司>",
        "罕见字：𠀾𪚥，以及“引号”与全角空格。",
        "第一行",
        "第二行",
    ]
    assert lines[1] == "申请人 张三"  # the cells of a row, spaced
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert reader.metadata is not None and reader.metadata.producer == PRODUCER
    assert "𠀾𪚥" in reader.pages[0].extract_text()


def test_long_text_wraps_and_breaks_pages_without_losing_a_character() -> None:
    sentence = "甲方应于二〇二七年一月六日前向乙方支付拖欠的工资人民币叁万元整。"  # 32 characters
    pdf = plain_pdf("<p>" + sentence * 200 + "</p>", STYLESHEET)
    pages = pdf_pages(pdf)
    assert len(pages) > 3
    assert compact("".join(pages)) == sentence * 200


def test_a_code_with_hyphens_survives_any_wrap() -> None:
    code = "RY38-A95P-N9XM-4YHP"
    for lead in range(45):
        assert code in compact(pdf_text(plain_pdf(f"<p>{'验' * lead}{code}</p>", STYLESHEET))), lead


@pytest.mark.parametrize("renderer", ["plain", "weasyprint"])
def test_the_setting_chooses_the_renderer(renderer: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIAOJIE_DOCUMENT_RENDERER", renderer)
    get_settings.cache_clear()
    try:
        pdf = html_to_pdf(HTML)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    producer = pypdf.PdfReader(io.BytesIO(pdf)).metadata.producer
    assert (producer == PRODUCER) is (renderer == "plain"), producer
    assert "人民调解协议书" in compact(pdf_text(pdf))
