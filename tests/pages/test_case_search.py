"""The case list's search box and its count at scale (issue 13 item 5): a typed case number finds that
case, words are found in the summary and the parties' names (literally: % and _ are characters), on
PostgreSQL the search can use its two-character index, and the page's count stops at a cap."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text
from sqlmodel import Session, col

import api.pages.cases as case_pages
from flows import intake
from models.case import Case
from models.case_queries import CaseFilters, _text_match, find_cases, number_query, search_sql
from models.db import session_scope, utcnow
from models.party import Party
from models.schemas import CaseCreate
from models.user import User
from tests.factories import neighbor_case, person_id

pytestmark = pytest.mark.postgres  # its SQL/locking/storage differs between the databases


def _register(engine, body: dict) -> tuple[int, str]:
    with session_scope(engine, write=True) as session:
        clerk = session.exec(select(User).where(User.username == "clerk")).scalar_one()
        case = intake.register_case(
            session=session, data=CaseCreate.model_validate(body), actor=clerk, now=utcnow()
        )
        session.flush()
        return case.id, case.case_no


def _parties(applicant: str, respondent: str, seq: int) -> list[dict]:
    return [
        {"role": "applicant", "kind": "person", "name": applicant, "id_number": person_id(seq)},
        {"role": "respondent", "kind": "person", "name": respondent, "id_number": person_id(seq + 1)},
    ]


def _listed(client, q: str) -> tuple[int, list[str]]:
    page = client.get("/cases", params={"q": q}).text
    count = re.search(r"共 <b>(\d+)</b> 件", page)
    assert count, page[:500]
    # Each row names its case more than once (link, title): the numbers in order of first mention.
    return int(count.group(1)), list(dict.fromkeys(re.findall(r"瑞调〔\d{4}〕\d+号", page)))


def test_number_query_reads_what_people_type() -> None:
    assert number_query("17") == (None, 17)
    assert number_query("00017") == (None, 17)
    assert number_query("瑞调〔2026〕00017号") == (2026, 17)
    assert number_query("〔2025〕3号") == (2025, 3)
    for words in ("第1号", "工资", "陈阿大", "17楼", "2026年"):
        assert number_query(words) is None, words


def test_search_by_number_name_and_word(engine, browser_for) -> None:
    first = _register(
        engine, neighbor_case(summary="屋檐滴水引发争执。", parties=_parties("王翠花", "赵大", 301))
    )
    second = _register(
        engine,
        neighbor_case(summary="拖欠工资三个月，涨幅100%未兑现。", parties=_parties("孙立", "钱多多", 303)),
    )
    third = _register(
        engine, neighbor_case(summary="借款到期未还。", parties=_parties("周工资", "吴一", 305))
    )
    clerk = browser_for("clerk")
    seq = int(re.search(r"〔\d{4}〕0*(\d+)号", second[1]).group(1))
    year = re.search(r"〔(\d{4})〕", second[1]).group(1)
    # The number as printed, with its zeros dropped, and the wrong year.
    assert _listed(clerk, second[1]) == (1, [second[1]])
    assert _listed(clerk, str(seq)) == (1, [second[1]])
    assert _listed(clerk, f"瑞调〔{int(year) - 1}〕{seq:05d}号")[0] == 0
    # A word in one summary and in another case's party name: both cases, newest first.
    assert _listed(clerk, "工资") == (2, [third[1], second[1]])
    # Names of two and three characters; a name that is nobody's.
    assert _listed(clerk, "翠花") == (1, [first[1]])
    assert _listed(clerk, "钱多多") == (1, [second[1]])
    assert _listed(clerk, "李四")[0] == 0
    # % and _ are what they are, not wildcards (before: "%" listed every case).
    assert _listed(clerk, "%") == (1, [second[1]])
    assert _listed(clerk, "_")[0] == 0
    # The JSON list searches the same way.
    with Session(engine) as session:
        clerk_user = session.exec(select(User).where(User.username == "clerk")).scalar_one()
        found = find_cases(session, clerk_user, CaseFilters(q="钱多多"), now=utcnow(), limit=10)
        assert [c.case_no for c in found.rows] == [second[1]] and found.total == 1 and not found.more


def test_page_count_stops_at_the_cap(engine, browser_for, monkeypatch) -> None:
    numbers = [_register(engine, neighbor_case(summary=f"第{i}件相邻纠纷。"))[1] for i in range(5)]
    clerk = browser_for("clerk")
    monkeypatch.setattr(case_pages, "LIST_COUNT_CAP", 3)
    monkeypatch.setattr(case_pages, "PAGE_SIZE", 2)
    page = clerk.get("/cases").text
    assert "共 <b>3</b> 件以上" in page and "第 1 页" in page
    # The pager goes on past the cap: page 3 lists the fifth (oldest) case.
    assert "page=2" in page
    last = clerk.get("/cases", params={"page": 3}).text
    assert numbers[0] in last and numbers[4] not in last
    # Under the cap the count is exact.
    monkeypatch.setattr(case_pages, "LIST_COUNT_CAP", 10)
    assert "共 <b>5</b> 件，第 1/3 页" in clerk.get("/cases").text
    # The JSON list always counts every case (the contract's total).
    with Session(engine) as session:
        user = session.exec(select(User).where(User.username == "clerk")).scalar_one()
        capped = find_cases(session, user, CaseFilters(), now=utcnow(), limit=2, count_cap=3)
        exact = find_cases(session, user, CaseFilters(), now=utcnow(), limit=2)
    assert (capped.total, capped.more) == (3, True)
    assert (exact.total, exact.more) == (5, False)


def test_postgres_search_uses_the_two_character_index(engine, users) -> None:
    """The generated conditions match the indexes of migration 0017 (with sequential scans off, the
    planner takes an index whenever one fits the expression)."""
    if engine.dialect.name != "postgresql":
        return
    _register(engine, neighbor_case(summary="拖欠工资三个月。", parties=_parties("孙立", "钱多多", 311)))
    with Session(engine) as session:
        session.execute(text("SET LOCAL enable_seqscan = off"))
        queries = {
            "ix_cases_summary_bigrams": select(Case.id).where(search_sql("工资", session)),
            "ix_parties_name_bigrams": select(Party.case_id).where(
                _text_match(col(Party.name), "钱多多", "postgresql")
            ),
            "ix_cases_seq": select(Case.id).where(search_sql("00017", session)),
        }
        for index, stmt in queries.items():
            sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
            plan = "\n".join(r[0] for r in session.execute(text("EXPLAIN " + sql)))
            assert index in plan, plan
