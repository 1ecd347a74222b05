"""The bureau's spreadsheets keep user text as text: a mediator's or a case's name that a spreadsheet
would read as a formula stays a quoted text cell (documents/spreadsheets.py rule), amounts stay numbers."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

from openpyxl import load_workbook

from documents.bureau_workbooks import subsidy_ledger_workbook


def test_formula_text_stays_text_and_the_payable_sum_is_a_number() -> None:
    rows = [
        {
            "mediator": '=HYPERLINK("http://evil.example","点我")',
            "case_no": "@SUM(1+1)",
            "town": "塘下镇",
            "category": "邻里纠纷",
            "proposed_grade": "简易",
            "grade": "一般",
            "amount": Decimal("500"),
            "status": "司法局已审批，可发放",
            "exclusions": [],
            "payable": True,
        },
        {
            "mediator": '=HYPERLINK("http://evil.example","点我")',
            "case_no": "瑞调〔2026〕00002号",
            "town": "塘下镇",
            "category": "合同纠纷",
            "proposed_grade": "一般",
            "grade": "一般",
            "amount": Decimal("500"),
            "status": "已定档，待中心审核",
            "exclusions": ["案件评查不合格，评查问题尚未全部答复整改"],
            "payable": False,
        },
    ]
    content = subsidy_ledger_workbook(rows, month="2026-12", center_name="瑞安市矛调中心")
    sheet = load_workbook(io.BytesIO(content)).active
    first = sheet.cell(row=4, column=1)
    assert first.data_type == "s" and first.value.startswith("=HYPERLINK")
    assert sheet.cell(row=4, column=2).data_type == "s"
    # No formula anywhere in the file: the worksheet XML has no <f> element.
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert "<f>" not in archive.read("xl/worksheets/sheet1.xml").decode()
    values = list(sheet.iter_rows(values_only=True))
    assert values[5][0].endswith("小计（可发放）") and values[5][6] == 500  # only the payable one
    assert values[4][8] == "案件评查不合格，评查问题尚未全部答复整改" and values[4][9] == "否"
    assert values[-1][0] == "合计（可发放）" and values[-1][6] == 500
