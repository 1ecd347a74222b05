"""The justice bureau's spreadsheets: the people's mediation statistics and the monthly 以案定补 ledger.

They print what models/statistics.py and models/subsidy.py counted and compute none of it. User text that
a spreadsheet would read as a formula is written as a quoted text cell (documents/spreadsheets.py rule)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from documents.spreadsheets import FORMULA_TRIGGERS, MAX_CELL
from models.enums import Category, Channel, Satisfaction
from models.money import fits_float, format_amount
from models.statistics import Statistics, Tally
from models.validation import printable

STATISTICS_TITLE = "人民调解工作统计表"
LEDGER_TITLE = "以案定补月度台账"
MONEY_FORMAT = "#,##0.00"
PERCENT_FORMAT = "0.0%"

TALLY_COLUMNS = (
    "收案（件）",
    "受理调解（件）",
    "调解成功（件）",
    "调解不成（件）",
    "调解成功率",
    "协议金额（元）",
    "群体性纠纷（件）",
    "防止民转刑（件）",
    "满意度回访（件）",
    "满意率",
)


def _cell(ws: Any, row: int, column: int, value: Any, *, money: bool = False, percent: bool = False) -> None:
    cell = ws.cell(row=row, column=column)
    if isinstance(value, str):
        value = printable(value)[:MAX_CELL]
        cell.value = value
        if value.startswith(FORMULA_TRIGGERS):
            cell.data_type = "s"  # text, never a formula
            cell.quotePrefix = True
        return
    if isinstance(value, Decimal) and not fits_float(value):
        cell.value = format_amount(value)
        return
    cell.value = value
    if money:
        cell.number_format = MONEY_FORMAT
    if percent:
        cell.number_format = PERCENT_FORMAT


def _row(
    ws: Any, row: int, values: Sequence[Any], *, money: Iterable[int] = (), percent: Iterable[int] = ()
) -> None:
    money, percent = set(money), set(percent)
    for column, value in enumerate(values, start=1):
        _cell(ws, row, column, value, money=column in money, percent=column in percent)


def _tally_values(t: Tally) -> list[Any]:
    return [
        t.received,
        t.mediated,
        t.succeeded,
        t.not_succeeded,
        t.success_rate,
        t.amount_agreed,
        t.mass,
        t.criminal_prevented,
        t.answered,
        t.satisfaction_rate,
    ]


def _heading(ws: Any, title: str, subtitle: str, columns: Sequence[str]) -> None:
    from openpyxl.styles import Font

    _row(ws, 1, [title])
    ws.cell(row=1, column=1).font = Font(bold=True, size=14)
    _row(ws, 2, [subtitle])
    _row(ws, 3, list(columns))
    for column in range(1, len(columns) + 1):
        ws.cell(row=3, column=column).font = Font(bold=True)
    ws.column_dimensions["A"].width = 20


def statistics_workbook(stats: Statistics, *, center_name: str) -> bytes:
    """One sheet per breakdown (by category, by channel, satisfaction), each with a 合计 row."""
    from openpyxl import Workbook

    wb = Workbook()
    period = f"统计范围：{stats.scope}；登记日期 {stats.date_from} 至 {stats.date_to}"
    title = f"{center_name}{STATISTICS_TITLE}"
    for index, (sheet, heading, breakdown, enum) in enumerate(
        (
            ("按纠纷类型", "纠纷类型", stats.by_category, Category),
            ("按来源渠道", "来源渠道", stats.by_channel, Channel),
        )
    ):
        ws = wb.active if index == 0 else wb.create_sheet()
        ws.title = sheet
        _heading(ws, title, period, [heading, *TALLY_COLUMNS])
        row = 4
        for code, tally in breakdown.items():
            label = enum(code).label if code in {m.value for m in enum} else code
            _row(ws, row, [label, *_tally_values(tally)], money=[7], percent=[6, 11])
            row += 1
        _row(ws, row, ["合计", *_tally_values(stats.total)], money=[7], percent=[6, 11])
    ws = wb.create_sheet("当事人满意度")
    _heading(ws, title, period, ["满意度", "件数"])
    row = 4
    for level in Satisfaction:
        _row(ws, row, [level.label, stats.total.satisfaction[level.value]])
        row += 1
    _row(ws, row, ["回访答复合计", stats.total.answered])
    _row(ws, row + 1, ["满意率（非常满意、满意、基本满意）", stats.total.satisfaction_rate], percent=[2])
    _row(ws, row + 2, ["平均结案天数", stats.total.average_days])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


LEDGER_COLUMNS = (
    "调解员",
    "案号",
    "镇街",
    "纠纷类型",
    "建议档次",
    "核定档次",
    "补贴金额（元）",
    "审核进度",
    "不予补贴原因",
    "可发放",
)


def subsidy_ledger_workbook(rows: Sequence[dict[str, Any]], *, month: str, center_name: str) -> bytes:
    """The month's ledger, grouped by mediator with a 小计 row each and a 合计 (payable sums only)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "以案定补台账"
    _heading(ws, f"{center_name}{LEDGER_TITLE}", f"结案月份：{month}", LEDGER_COLUMNS)
    row = 4
    total = Decimal(0)
    by_mediator: dict[str, list[dict[str, Any]]] = {}
    for item in rows:
        by_mediator.setdefault(item["mediator"], []).append(item)
    for mediator, items in by_mediator.items():
        subtotal = Decimal(0)
        for item in items:
            values = [
                mediator,
                item["case_no"],
                item["town"],
                item["category"],
                item["proposed_grade"],
                item["grade"],
                item["amount"],
                item["status"],
                "；".join(item["exclusions"]),
                "是" if item["payable"] else "否",
            ]
            _row(ws, row, values, money=[7])
            subtotal += item["amount"] if item["payable"] else Decimal(0)
            row += 1
        _row(ws, row, [f"{mediator} 小计（可发放）", None, None, None, None, None, subtotal], money=[7])
        total += subtotal
        row += 1
    _row(ws, row, ["合计（可发放）", None, None, None, None, None, total], money=[7])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
