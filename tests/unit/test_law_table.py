"""The citation table (models/law.py) against the statute texts of ../shared/law: every verifiable entry's
words stand, verbatim, inside the article it names; the others are marked and explain why."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from models.law import ARTICLES, SOURCES, chinese_number

LAW_DIR = Path(__file__).resolve().parents[3] / "shared" / "law"
# An article starts a line: "第二十二条 单位之间…" (the files put one space after the number).
HEADING = re.compile(r"^(第[一二三四五六七八九十百零]+条)\s", re.MULTILINE)


def articles_of(path: Path) -> dict[str, str]:
    """Article number → its text (up to the next article's heading), read straight from the file."""
    text = path.read_text(encoding="utf-8")
    starts = list(HEADING.finditer(text))
    out: dict[str, str] = {}
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        # Several excerpts may hold the same number (another instrument's quote): keep the first.
        out.setdefault(match.group(1), text[match.end() : end])
    return out


needs_texts = pytest.mark.skipif(not LAW_DIR.is_dir(), reason=f"statute texts not found at {LAW_DIR}")


@needs_texts
@pytest.mark.parametrize("key", sorted(k for k, a in ARTICLES.items() if a.verifiable))
def test_words_stand_verbatim_in_the_article_they_cite(key: str) -> None:
    entry = ARTICLES[key]
    assert entry.source is not None, f"{key}: no file for {entry.title}"
    path = LAW_DIR / entry.source
    assert path.is_file(), path
    article = articles_of(path).get(entry.number)
    assert article is not None, f"{key}: {entry.number} is not in {entry.source}"
    paragraphs = [p.strip() for p in article.split("\n") if p.strip()]
    for words in entry.paragraphs:
        # Whole paragraphs (款) of that very article; an item (项) may be cited without its closing mark.
        whole = words in paragraphs
        item = entry.item is not None and any(
            p.endswith(f"{words}；") or p.endswith(f"{words}。") for p in paragraphs
        )
        assert whole or item, f"{key}: {words!r} is not a paragraph of {entry.number} in {entry.source}"
    if entry.para:
        assert paragraphs[entry.para - 1] == entry.paragraphs[0], f"{key}: not 第{entry.para}款"


def test_unverifiable_entries_are_the_2002_rules_and_say_so() -> None:
    unverifiable = {k: a for k, a in ARTICLES.items() if not a.verifiable}
    assert unverifiable, "the 2002 规定 entries are expected here"
    for key, entry in unverifiable.items():
        assert entry.title == "人民调解工作若干规定", key
        assert entry.source is None and "shared/law" in entry.note, key
        assert entry.title not in SOURCES


def test_2002_rules_33_is_quoted_as_it_stands() -> None:
    # DESIGN.md: 2002 规定 Art. 33 "一般在一个月内调结"; nothing about ending mediation when it runs out.
    words = ARTICLES["rules2002_33"].text
    assert "一般在一个月内调结" in words and "终止" not in words


def test_article_numbers_match_their_label() -> None:
    assert [chinese_number(n) for n in (4, 10, 17, 20, 22, 33, 100, 195, 205, 358)] == [
        "四",
        "十",
        "十七",
        "二十",
        "二十二",
        "三十三",
        "一百",
        "一百九十五",
        "二百零五",
        "三百五十八",
    ]
    assert ARTICLES["labor_14_3"].cite_short == "《劳动争议调解仲裁法》第十四条第三款"
    assert ARTICLES["rules2002_22_2"].cite_short == "《人民调解工作若干规定》第二十二条第（二）项"
