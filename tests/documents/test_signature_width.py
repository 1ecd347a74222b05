"""Issue 19 point 5: a long organisation name does not squeeze the signature column. The 回执's signature
table is read back with `pdftotext -layout`: its header "签名（盖章或按指印）" breaks where it breaks beside a
short name (a squeezed column showed it a character a line), however long the name beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from documents.render import render_pdf
from tests.documents.examples import example
from tests.support.pdf import pdf_text

SHORT = "瑞安市鼎泰建设工程有限公司"
LONG = "瑞安市鼎泰建设工程有限公司塘下镇罗凤小学扩建工程项目部劳务分包第三作业班组"


def _renamed(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(SHORT, LONG)
    if isinstance(value, dict):
        return {k: _renamed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v) for v in value]
    return value


def _layout(context: dict, tmp_path: Path, name: str) -> list[str]:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(render_pdf("respondent_notice", context))
    return [" ".join(line.split()) for line in pdf_text(path, layout=True).splitlines()]


def _header_cells(lines: list[str]) -> list[str]:
    """The first line of each signature table's 签名（盖章或按指印） header cell, as wide as its column."""
    return [part for line in lines for part in line.split(" ") if part.startswith("签名（")]


def test_a_long_name_leaves_the_signature_column_its_width(tmp_path: Path) -> None:
    # The 回执's signature row names the respondent (and the third party) in one cell.
    context = example("respondent_notice")
    assert SHORT in str(context)  # the example names the company: the test renames it
    short = _header_cells(_layout(context, tmp_path, "short"))
    long = _header_cells(_layout(_renamed(context), tmp_path, "long"))
    # The column keeps its width: the header breaks where it broke with a short name, never a character a
    # line (how a squeezed column looked).
    assert short and long and set(long) == set(short), (short, long)
    assert min(len(cell) for cell in long) >= 6
    assert LONG in "".join(_layout(_renamed(context), tmp_path, "again")).replace(" ", "")
