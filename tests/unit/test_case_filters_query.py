"""The case list's filters read from a page's query string (api/deps.case_filters_from_query)."""

from __future__ import annotations

from api.deps import case_filters_from_query
from models.case_queries import CaseFilters
from models.enums import Category, Stage


def test_known_values_are_kept_and_text_is_cleaned() -> None:
    filters = case_filters_from_query(
        {"stage": "registered", "category": "labor", "town": "  城关镇 ", "q": " 张三 ", "overdue": "0"}
    )
    assert filters == CaseFilters(
        stage=Stage.registered, category=Category.labor, town="城关镇", q="张三", overdue=False
    )


def test_values_that_name_nothing_are_dropped_not_refused() -> None:
    filters = case_filters_from_query(
        {"stage": "nope", "category": "", "town": "\x00", "q": "a\x00b", "overdue": "yes"}
    )
    assert filters == CaseFilters()
