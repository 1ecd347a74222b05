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
        item = entry.item is not None and any(p.endswith((f"{words}；", f"{words}。")) for p in paragraphs)
        assert whole or item, f"{key}: {words!r} is not a paragraph of {entry.number} in {entry.source}"
    if entry.para:
        assert paragraphs[entry.para - 1] == entry.paragraphs[0], f"{key}: not 第{entry.para}款"


# 民法典 第511条 is not in ../shared/law's excerpt: its words as published (2020年5月28日), typed by hand.
CIVIL_CODE = {
    "第五百一十一条": [
        "（三）履行地点不明确，给付货币的，在接受货币一方所在地履行；交付不动产的，在不动产所在地履行；"
        "其他标的，在履行义务一方所在地履行。",
    ],
}


def test_unverifiable_entries_are_the_2002_rules_and_say_so() -> None:
    unverifiable = {k: a for k, a in ARTICLES.items() if not a.verifiable}
    assert unverifiable, "the 2002 规定 entries are expected here"
    for key, entry in unverifiable.items():
        assert entry.source is None and "shared/law" in entry.note, key
        if entry.title == "中华人民共和国民法典":
            paragraphs = CIVIL_CODE[entry.number]
            assert any(p.removeprefix("（三）").rstrip("。") == entry.text for p in paragraphs), key
            continue
        assert entry.title == "人民调解工作若干规定", key
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


# --- 2002 规定: checked against the published text, typed here by hand ---------------------------
# 司法部《人民调解工作若干规定》(司法部令第75号, 2002年9月26日) as published; ../shared/law does not hold
# it. Chapter 3 in order: 第二十条 the scope, 第二十一条 where, 第二十二条 what may not be accepted,
# 第二十三条 on application or on the committee's own initiative, 第二十四条 accepting and telling the
# routes. So acceptance is 第二十三条, not 第二十条 (the doubt noted in models/law.py).
RULES_2002 = {
    "第二十条": [
        "人民调解委员会调解的民间纠纷，包括发生在公民与公民之间、公民与法人和其他社会组织之间涉及民事权利义务争议的各种纠纷。"
    ],
    "第二十二条": [
        "人民调解委员会不得受理调解下列纠纷：",
        "（一）法律、法规规定只能由专门机关管辖处理的，或者法律、法规禁止采用民间调解方式解决的；",
        "（二）人民法院、公安机关或者其他行政机关已经受理或者解决的。",
    ],
    "第二十三条": [
        "人民调解委员会根据纠纷当事人的申请，受理调解纠纷；当事人没有申请的，也可以主动调解，但当事人表示异议的除外。",
        "当事人申请调解纠纷，可以书面申请，也可以口头申请。",
        "受理调解纠纷，应当进行登记。",
    ],
    "第二十四条": [
        "当事人申请调解纠纷，符合条件的，人民调解委员会应当及时受理调解。",
        "不符合受理条件的，应当告知当事人按照法律、法规规定提请有关机关处理或者向人民法院起诉；随时有可能"
        "激化的，应当在采取必要的缓解疏导措施后，及时提交有关机关处理。",
    ],
    "第三十三条": ["人民调解委员会调解纠纷，一般在一个月内调结。"],
}


@pytest.mark.parametrize(
    "key", sorted(k for k, a in ARTICLES.items() if not a.verifiable and a.title == "人民调解工作若干规定")
)
def test_2002_entries_stand_in_the_published_text(key: str) -> None:
    entry = ARTICLES[key]
    paragraphs = RULES_2002[entry.number]
    for words in entry.paragraphs:
        item = entry.item is not None and any(
            p.removeprefix(f"（{chinese_number(entry.item)}）").rstrip("；。") == words for p in paragraphs
        )
        assert words in paragraphs or item, f"{key}: {words!r} is not in {entry.number}"
    if entry.para:
        assert paragraphs[entry.para - 1] == entry.paragraphs[0], f"{key}: not 第{entry.para}款"


def test_acceptance_is_article_23_not_20() -> None:
    acceptance = ARTICLES["rules2002_23"]
    assert acceptance.cite_short == "《人民调解工作若干规定》第二十三条第一款"
    assert "主动调解" in acceptance.text and "rules2002_20" not in ARTICLES
    assert ARTICLES["rules2002_33"].text == "人民调解委员会调解纠纷，一般在一个月内调结。"


# --- No citation outside the table ---------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
_NUM = "一二三四五六七八九十百零〇\\d"
# An article number, alone or in a list: 第二十五条, 第25条, 第二十三、二十四条, 第23、24条.
ARTICLE = re.compile(rf"第[{_NUM}]+(?:[、，,至和及—–-]+第?[{_NUM}]+)*条")
# Ordinals that cite nothing (an audit chain's first tampered row), exempt by their exact words.
NOT_CITATIONS = ("指出第一条被篡改的记录",)


def _cites(text: str) -> bool:
    for words in NOT_CITATIONS:
        text = text.replace(words, "")
    return ARTICLE.search(text) is not None


def _template_citations(path: Path) -> list[str]:
    text = re.sub(r"\{#.*?#\}", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    return [line.strip()[:120] for line in text.splitlines() if _cites(line)]


def _model_citations(path: Path) -> list[str]:
    """Article numbers inside string literals (comments and docstrings explain code; they print nothing)."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        f"line {node.lineno}: {node.value[:100]}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and _cites(node.value)
    ]


def test_no_article_is_cited_outside_the_table() -> None:
    """Printed documents, the pages' templates (shown to users), models/ and api/ strings (field
    descriptions, messages, OpenAPI summaries): a citation there is built from models/law.py."""
    found: dict[str, list[str]] = {}
    templates = [ROOT / "documents" / "templates", ROOT / "api" / "templates"]
    for path in sorted(p for folder in templates for p in folder.rglob("*.html")):
        if hits := _template_citations(path):
            found[str(path.relative_to(ROOT))] = hits
    modules = sorted((ROOT / "models").glob("*.py")) + sorted((ROOT / "api").rglob("*.py"))
    for path in modules:
        if path.relative_to(ROOT).as_posix() == "models/law.py":
            continue
        if hits := _model_citations(path):
            found[str(path.relative_to(ROOT))] = hits
    assert not found, f"citations typed outside models/law.py: {found}"


def test_pages_show_citations_from_the_table() -> None:
    """The pages' Jinja globals are the table itself, so a page's citation reads as the table has it."""
    from api.html import env

    footer = env.from_string("{{ law.pml_4.cite_short }}").render()
    assert footer == "《人民调解法》第四条"
    rights = env.from_string('{{ cite_together("pml_23", "pml_24") }}').render()
    assert rights == "《人民调解法》第二十三条、第二十四条"
    both = env.from_string('{{ cite_together("pml_20", "invited_15") }}').render()
    assert both == "《人民调解法》第二十条，《最高人民法院关于人民法院特邀调解的规定》第十五条"


def test_the_scan_finds_a_typed_citation(tmp_path: Path) -> None:
    """The scan itself: a template or a model string with an article number is caught, a comment is not."""
    template = tmp_path / "t.html"
    template.write_text("{# 人民调解法 第26条 #}<p>依照《人民调解法》第二十六条</p>", encoding="utf-8")
    assert _template_citations(template) == ["<p>依照《人民调解法》第二十六条</p>"]
    module = tmp_path / "m.py"
    module.write_text(
        '"""第33条."""\n# 第33条\nX = "民法典第一百九十五条"\nY = "人民调解法第二十三、二十四条"\n'
        'Z = "指出第一条被篡改的记录"\n',
        encoding="utf-8",
    )
    found = _model_citations(module)
    assert found == ["line 3: 民法典第一百九十五条", "line 4: 人民调解法第二十三、二十四条"]


def test_no_document_promises_an_end_at_the_deadline() -> None:
    for path in (ROOT / "documents" / "templates").glob("*.html"):
        assert "期限届满将终止调解" not in path.read_text(encoding="utf-8"), path.name


# --- Routes after a failed mediation (人民调解法 第26条), matched to the regime ----------------------


def _routes(category: str, referral_kind: str | None = None, orgs: bool = False) -> list:
    from models.law import termination_routes

    return termination_routes(
        category=category,
        referral_kind=referral_kind,
        court_name="瑞安市人民法院",
        town="湖岭镇",
        all_organizations=orgs,
    )


def test_no_administrative_review_between_private_parties() -> None:
    from models.enums import Category

    for category in Category:
        for route in _routes(category.value):
            assert "行政复议" not in route.name + route.body + route.note, category


def test_forest_and_land_go_to_the_government_first() -> None:
    forest = _routes("forest_land")
    assert "人民政府" in forest[0].body and "湖岭镇人民政府" in forest[0].body
    assert [a.cite_short for a in forest[0].bases] == ["《森林法》第二十二条", "《土地管理法》第十四条"]
    assert "起诉" in forest[0].note  # the court only after the government's decision (第三款)
    assert _routes("forest_land", orgs=True)[0].body == "县级以上人民政府"  # 单位之间 (第一款)
    assert [a.cite_short for a in _routes("housing_land")[0].bases] == ["《土地管理法》第十四条"]


def test_labor_medical_and_court_cases_get_their_own_routes() -> None:
    labor = _routes("labor")
    assert [r.name for r in labor] == ["申请劳动争议仲裁"] and labor[0].basis is ARTICLES["labor_27"]
    medical = _routes("medical")
    assert [a.cite_short for r in medical for a in r.bases] == [
        "《医疗纠纷预防和处理条例》第四十条第一款",
        "《医疗纠纷预防和处理条例》第四十三条",
    ]
    entrusted = _routes("neighbor", "court_post_filing")
    assert "转入审判程序" in entrusted[0].name and entrusted[0].basis is ARTICLES["invited_21"]
    assert all("起诉" not in r.name for r in entrusted)  # the court already has the case
