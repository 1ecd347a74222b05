"""Spreadsheets in and out: the expert bank import (CSV / XLSX) and the case ledger (台账, XLSX).

Import: the header row names the Expert fields by code or by Chinese label; every data row is checked
with `models.schemas.ExpertCreate`; good rows are inserted in one transaction, bad rows and duplicates
are reported with the line number the user sees in the file (1 = the first line). Reading a file
(here and for the town dictionary, flows/towns.py) stops with a 422 (`InvalidInput`) at row
MAX_IMPORT_ROWS + 1 or after PARSE_BUDGET_SECONDS, whichever comes first; callers on the web run it in a
worker thread so the event loop keeps answering meanwhile.

Ledger: one row per case registered in [from, to] (China-local intake date), streamed with openpyxl's
write-only mode from the database in id-ordered batches, so 100k cases stay within a few MB of memory.
User text that a spreadsheet would read as a formula (= + - @ …) is written as a text cell with Excel's
quote prefix (the stored "'" of a typed apostrophe), never as a formula.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
import time
import unicodedata
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from models.agreement import Agreement, AgreementTerm
from models.audit import record
from models.case import Case
from models.case_queries import registered_between
from models.db import id_of, session_scope, utcnow
from models.deadlines import china_date, is_overdue
from models.enums import (
    Category,
    Channel,
    EscalationLevel,
    ExpertKind,
    PanelRole,
    PartyRole,
    RiskLevel,
    Stage,
)
from models.expert import Expert, PanelMember
from models.lifecycle import InvalidInput
from models.mediation_session import MediationSession
from models.money import fits_float, format_amount
from models.party import Party
from models.schemas import ExpertCreate
from models.settings import get_settings
from models.town import check_towns
from models.tz import CHINA
from models.validation import ValidationError, clean_text, printable

# =============================================================================================
# Import of the expert bank
# =============================================================================================

# Field code → the Chinese column label of the contract: the expert command's titles.
FIELD_LABELS: dict[str, str] = {
    code: str(ExpertCreate.model_fields[code].title)
    for code in (
        "name",
        "kind",
        "organization",
        "towns",
        "specialties",
        "max_active_cases",
        "id_number",
        "phone",
        "village",
        "room",
        "active",
    )
}
REQUIRED_FIELDS = ("name", "kind")
LIST_FIELDS = ("towns", "specialties")

# Other headings people actually use in their own sheets (normalised: see _norm_header).
_HEADER_ALIASES: dict[str, str] = {
    "专家姓名": "name",
    "名称": "name",
    "专家类别": "kind",
    "类型": "kind",
    "专家类型": "kind",
    "人员类别": "kind",
    "工作单位": "organization",
    "所在单位": "organization",
    "单位名称": "organization",
    "镇街": "towns",
    "服务镇街道": "towns",
    "服务区域": "towns",
    "服务范围": "towns",
    "专业特长": "specialties",
    "擅长领域": "specialties",
    "专长领域": "specialties",
    "擅长": "specialties",
    "最大案件数": "max_active_cases",
    "在办案件上限": "max_active_cases",
    "最大承办案件数": "max_active_cases",
    "身份证": "id_number",
    "身份证号码": "id_number",
    "公民身份号码": "id_number",
    "手机": "phone",
    "手机号": "phone",
    "手机号码": "phone",
    "联系电话": "phone",
    "村": "village",
    "村社区": "village",
    "村居": "village",
    "调解工作室": "room",
    "工作室": "room",
    "在岗": "active",
    "是否启用": "active",
}

_KIND_ALIASES: dict[str, ExpertKind] = {
    "调解员": ExpertKind.mediator,
    "专职调解员": ExpertKind.mediator,
    "兼职调解员": ExpertKind.mediator,
    "部门": ExpertKind.department,
    "职能部门": ExpertKind.department,
    "新乡贤": ExpertKind.elder,
    "行业调解": ExpertKind.industry,
    "行业性专业调解组织": ExpertKind.industry,
    "心理咨询": ExpertKind.psychologist,
    "警察": ExpertKind.police,
    "社区民警": ExpertKind.police,
}

_CATEGORY_ALIASES: dict[str, Category] = {
    "婚姻": Category.marriage_family,
    "家庭": Category.marriage_family,
    "婚姻家事": Category.marriage_family,
    "邻里": Category.neighbor,
    "宅基地": Category.housing_land,
    "房屋": Category.housing_land,
    "合同": Category.contract,
    "损害": Category.damages,
    "人身损害": Category.damages,
    "劳动": Category.labor,
    "劳资": Category.labor,
    "欠薪": Category.labor,
    "劳动纠纷": Category.labor,
    "征地": Category.land_acquisition,
    "拆迁": Category.land_acquisition,
    "医疗": Category.medical,
    "医患纠纷": Category.medical,
    "物业": Category.property_mgmt,
    "交通": Category.traffic,
    "山林": Category.forest_land,
    "村务": Category.village_affairs,
    "三资": Category.village_affairs,
    "消费": Category.consumer,
}

_TRUE = {"是", "在岗", "y", "yes", "true", "1", "√", "启用", "有效"}
_FALSE = {"否", "不在岗", "离岗", "n", "no", "false", "0", "×", "停用", "无效"}

_LIST_SPLIT = re.compile(r"[;；、,，\n]+")
_HEADER_SCAN_ROWS = 5  # a sheet may start with a title row or two above the header

# An expert bank or a town dictionary of a county is hundreds to a few thousand rows; a sheet beyond this
# is a mistake (a whole column filled down) or hostile, and is refused before its rows are parsed.
MAX_IMPORT_ROWS = 10_000
# The largest legitimate file (10 000 rows, all 11 columns filled, XLSX) takes 2.3 s of CPU to read and
# check here: 30 s leaves ten times that for a busy server, bounds what one upload (wide rows, a zip of
# little but markup) can hold of a worker thread and the CPU, and answers before a proxy's usual 60 s.
PARSE_BUDGET_SECONDS = 30.0


@dataclass
class ImportReport:
    accepted: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    expert_ids: list[int] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    rows: int = 0


class _FileProblem(Exception):
    """The file as a whole cannot be read: reported as one error on line 1."""


@dataclass
class _Candidate:
    line: int
    data: ExpertCreate


def _nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def _norm_header(value: Any) -> str:
    if value is None:
        return ""
    text = _nfkc(str(value)).lower()
    text = re.sub(r"\(.*?\)|\[.*?\]|【.*?】", "", text)  # notes: 专长（多个用、分隔）
    return re.sub(r"[\s*＊:：]", "", text)


_HEADER_INDEX: dict[str, str] = {
    **{code: code for code in FIELD_LABELS},
    **{_norm_header(label): code for code, label in FIELD_LABELS.items()},
    **{_norm_header(alias): code for alias, code in _HEADER_ALIASES.items()},
}


def _column_name(code: str, heading: str | None) -> str:
    """The column as the reason names it: the contract's label, plus the file's own heading if different."""
    label = FIELD_LABELS[code]
    heading = (heading or "").strip()
    return label if not heading or heading == label else f"{label}（{heading}）"


# --- Reading the file -------------------------------------------------------------------------


def _is_xlsx(path: Path, head: bytes) -> bool:
    return head.startswith(b"PK\x03\x04") or path.suffix.lower() in {".xlsx", ".xlsm"}


class _Guard:
    """The row limit and the time budget of one read: `check` is called for every row read, blank or not."""

    def __init__(self, max_rows: int, budget: float) -> None:
        self.max_rows = max_rows
        self.budget = budget
        self.deadline = time.monotonic() + budget

    def too_many(self, rows: int, *, at_least: bool) -> InvalidInput:
        counted = f"本文件至少 {rows} 行" if at_least else f"工作表共 {rows} 行"
        return InvalidInput(
            f"文件超过 {self.max_rows} 行的上限（{counted}，含空白行），未导入任何内容："
            "请删除多余的行后重试，或分批导入",
            field="file",
        )

    def check(self, line: int) -> None:
        if line > self.max_rows:
            raise self.too_many(line, at_least=True)
        if time.monotonic() > self.deadline:
            raise InvalidInput(
                f"文件解析超过 {self.budget:g} 秒的时限（已读到第 {line} 行），未导入任何内容："
                "请删除多余的行和列，或另存为 CSV 后重试",
                field="file",
            )


def _read_rows(
    path: Path, *, max_rows: int = MAX_IMPORT_ROWS, budget: float = PARSE_BUDGET_SECONDS
) -> Iterator[tuple[int, list[Any]]]:
    """(line number as the user sees it, cell values) for every row of the file; `InvalidInput` past
    `max_rows` rows or `budget` seconds."""
    guard = _Guard(max_rows, budget)
    with path.open("rb") as fh:
        head = fh.read(4)
    if _is_xlsx(path, head):
        yield from _xlsx_rows(path, guard)
    else:
        yield from _csv_rows(path, guard)


def _declared_rows(archive: zipfile.ZipFile, member: str) -> int | None:
    """The last row of the sheet's <dimension>, which precedes its rows: read without parsing them."""
    from openpyxl.utils.cell import range_boundaries
    from openpyxl.xml.constants import SHEET_MAIN_NS
    from openpyxl.xml.functions import iterparse

    with archive.open(member) as src:
        for _event, element in iterparse(src, events=("start",)):
            if element.tag == f"{{{SHEET_MAIN_NS}}}dimension":
                try:
                    return range_boundaries(element.get("ref", ""))[3]
                except (ValueError, TypeError):
                    return None
            if element.tag == f"{{{SHEET_MAIN_NS}}}sheetData":
                return None
    return None


def _xlsx_rows(path: Path, guard: _Guard) -> Iterator[tuple[int, list[Any]]]:
    # openpyxl's load_workbook(read_only=True) parses every sheet that lacks a <dimension> — as openpyxl's
    # own write-only files do — to its end before returning (33 s for 1.5M blank rows): the first sheet
    # is read here with openpyxl's reader parts instead, so the guard sees every row as it is parsed.
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.styles.stylesheet import apply_stylesheet
    from openpyxl.utils.exceptions import InvalidFileException
    from openpyxl.worksheet._reader import WorkSheetParser

    try:
        reader = ExcelReader(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, SyntaxError) as exc:
        raise _FileProblem(f"无法读取 XLSX 文件（{type(exc).__name__}），请确认文件未损坏") from exc
    line = 0
    try:
        try:
            reader.read_manifest()
            reader.read_strings()
            reader.read_workbook()
            apply_stylesheet(reader.archive, reader.wb)
            sheet = next(
                (
                    rel.target
                    for _sheet, rel in reader.parser.find_sheets()
                    if rel.target in reader.valid_files and "chartsheet" not in rel.Type
                ),
                None,
            )
            if sheet is None:
                raise _FileProblem("XLSX 文件中没有工作表")
            declared = _declared_rows(reader.archive, sheet)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, SyntaxError) as exc:
            raise _FileProblem(f"无法读取 XLSX 文件（{type(exc).__name__}），请确认文件未损坏") from exc
        if declared is not None and declared > guard.max_rows:
            raise guard.too_many(declared, at_least=False)
        wb = reader.wb
        with reader.archive.open(sheet) as src:
            parser = WorkSheetParser(
                src,
                reader.shared_strings,
                data_only=True,
                epoch=wb.epoch,
                date_formats=wb._date_formats,
                timedelta_formats=wb._timedelta_formats,
            )
            for line, cells in parser.parse():
                guard.check(line)
                if not cells:
                    continue
                values: list[Any] = [None] * max(c["column"] for c in cells)
                for c in cells:
                    values[c["column"] - 1] = c["value"]
                yield line, values
    except SyntaxError as exc:  # ElementTree's ParseError (lxml's XMLSyntaxError) while reading the sheet
        # The sheet's XML is parsed as it is read: a U+FFFE or U+FFFF in a cell (written by a program
        # that does not check, as our ledger once did) is not XML, and nothing past it can be read.
        raise _FileProblem(
            f"XLSX 文件第{line + 1}行附近含有 XML 不允许的字符（如 U+FFFE）或已损坏，无法读取；"
            "请删除该字符或另存为 CSV 后重新导入",
            line + 1,
        ) from exc
    finally:
        reader.archive.close()


def _decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode 文本" (UTF-16, tab-separated)
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise _FileProblem("UTF-16 文件无法解码，请另存为“CSV UTF-8”或 XLSX") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Excel on Chinese Windows saves "CSV" in GBK; accept it rather than turn the user away.
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise _FileProblem("文件不是 UTF-8 编码的 CSV，请另存为“CSV UTF-8”或 XLSX") from exc


def _sniff_delimiter(text: str) -> str:
    first = next((line for line in io.StringIO(text, newline=None) if line.strip()), "")
    return "\t" if first.count("\t") > first.count(",") else ","


def _csv_rows(path: Path, guard: _Guard) -> Iterator[tuple[int, list[Any]]]:
    text = _decode(path.read_bytes())
    if "\x00" in text:
        raise _FileProblem("文件含有二进制内容，不是 CSV 或 XLSX")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    consumed = 0
    try:
        for values in reader:
            line = consumed + 1  # a quoted multi-line cell: the record's first line
            consumed = reader.line_num
            guard.check(line)
            yield line, values
    except csv.Error as exc:
        raise _FileProblem(f"第{consumed + 1}行附近 CSV 格式有误：{exc}") from exc


# --- One row → ExpertCreate -----------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str | None:
    if _blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _split(value: Any) -> list[str]:
    text = _text(value)
    if text is None:
        return []
    seen: dict[str, None] = {}
    for part in _LIST_SPLIT.split(text):
        part = part.strip()
        if part:
            seen.setdefault(part, None)
    return list(seen)


def _kind(value: str) -> ExpertKind:
    value = _nfkc(value)
    for candidate in (value, value.lower()):
        try:
            return ExpertKind.from_code_or_label(candidate)
        except ValueError:
            pass
    if value in _KIND_ALIASES:
        return _KIND_ALIASES[value]
    raise ValueError(f"无法识别“{value}”，应为 {'、'.join(k.label for k in ExpertKind)} 之一（或其代码）")


def _category(value: str) -> Category:
    value = _nfkc(value)
    for candidate in (value, value.lower()):
        try:
            return Category.from_code_or_label(candidate)
        except ValueError:
            pass
    if value in _CATEGORY_ALIASES:
        return _CATEGORY_ALIASES[value]
    raise ValueError(f"无法识别“{value}”，应为 {'、'.join(c.label for c in Category)} 中的类别（或其代码）")


def _int(value: Any) -> int:
    if isinstance(value, bool):
        value = str(value)
    elif isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError("应为整数")
    text = _nfkc(str(value))
    try:
        return int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"应为整数，而不是“{text}”") from None
        if number.is_integer():
            return int(number)
        raise ValueError(f"应为整数，而不是“{text}”") from None


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _nfkc(str(value)).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"应填“是”或“否”，而不是“{text}”")


def _digits(value: Any, *, what: str) -> str | None:
    """ID and phone numbers: a number-formatted cell must not silently lose digits."""
    if _blank(value):
        return None
    if isinstance(value, float):
        if not value.is_integer() or abs(value) >= 1e15:
            raise ValueError(f"单元格为数字格式，{what}的末几位可能已丢失，请将该列设为文本后重新填写")
        value = int(value)
    return str(value).strip()


_PARSERS = {
    "kind": lambda v: _kind(str(v)).value,
    "specialties": lambda v: list(dict.fromkeys(_category(s).value for s in _split(v))),
    "towns": _split,
    "max_active_cases": _int,
    "active": _bool,
    "id_number": lambda v: _digits(v, what="身份证号"),
    "phone": lambda v: _digits(v, what="电话号码"),
}


def _pydantic_reason(err: ErrorDetails) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "value_error":
        message = str(ctx.get("error") or err.get("msg", ""))
        return message.removeprefix("Value error, ")
    return {
        "missing": "必填",
        "greater_than_equal": f"不能小于 {ctx.get('ge')}",
        "greater_than": f"应大于 {ctx.get('gt')}",
        "less_than_equal": f"不能大于 {ctx.get('le')}",
        "less_than": f"应小于 {ctx.get('lt')}",
        "string_too_long": f"不能超过 {ctx.get('max_length')} 个字",
        "too_long": f"最多 {ctx.get('max_length')} 项",
        "int_parsing": "应为整数",
        "int_from_float": "应为整数",
        "bool_parsing": "应填“是”或“否”",
        "enum": "不在可选值之中",
        "string_type": "应为文字",
        "list_type": "应为列表",
    }.get(kind, err.get("msg", "格式有误"))


def _parse_row(values: list[Any], columns: dict[str, int], headings: dict[str, str]) -> ExpertCreate | str:
    """The validated expert, or one reason naming the columns at fault."""
    problems: list[str] = []
    data: dict[str, Any] = {}
    for code, index in columns.items():
        raw = values[index] if index < len(values) else None
        if code in REQUIRED_FIELDS:
            if _blank(raw):
                problems.append(f"{_column_name(code, headings[code])}：不能为空")
                continue
        elif _blank(raw):
            continue  # optional: the schema's default (empty list, 5 cases, active)
        if isinstance(raw, str):
            try:  # the text rule of every request body, before a parser quotes the cell back
                clean_text(raw)
            except ValidationError as exc:
                problems.append(f"{_column_name(code, headings[code])}：{exc.message}")
                continue
        try:
            parser = _PARSERS.get(code)
            data[code] = parser(raw) if parser else _text(raw)
        except ValueError as exc:
            problems.append(f"{_column_name(code, headings[code])}：{exc}")
    if problems:
        return "；".join(problems)
    try:
        return ExpertCreate.model_validate(data)
    except PydanticValidationError as exc:
        seen: dict[str, None] = {}
        for err in exc.errors():
            loc = err.get("loc") or ()
            code = str(loc[0]) if loc else ""
            column = _column_name(code, headings.get(code)) if code in FIELD_LABELS else (code or "该行")
            seen.setdefault(f"{column}：{_pydantic_reason(err)}", None)
        return "；".join(seen)


def _find_header(
    rows: Iterator[tuple[int, list[Any]]],
) -> tuple[int, dict[str, int], dict[str, str], list[str]]:
    """Scan the first rows for the header; return (its line, field → column index, headings, ignored)."""
    for _ in range(_HEADER_SCAN_ROWS):
        try:
            line, values = next(rows)
        except StopIteration:
            break
        columns: dict[str, int] = {}
        headings: dict[str, str] = {}
        ignored: list[str] = []
        duplicated: list[str] = []
        for index, value in enumerate(values):
            code = _HEADER_INDEX.get(_norm_header(value))
            if code is None:
                if not _blank(value):
                    ignored.append(str(value).strip())
                continue
            if code in columns:
                duplicated.append(FIELD_LABELS[code])
                continue
            columns[code] = index
            headings[code] = str(value).strip()
        if not columns:
            continue  # a title row above the header, or a blank line
        if duplicated:
            raise _FileProblem(f"表头中“{'、'.join(duplicated)}”列重复", line)
        missing = [f"{FIELD_LABELS[c]}（{c}）" for c in REQUIRED_FIELDS if c not in columns]
        if missing:
            raise _FileProblem(f"表头缺少必填列：{'、'.join(missing)}", line)
        return line, columns, headings, ignored
    raise _FileProblem(
        "未找到表头：第一行应列出字段名，如 姓名、类别、单位、服务镇街、专长、最大在办案件数、身份证号"
        "（或 name、kind、organization、towns、specialties、max_active_cases、id_number）"
    )


# --- Duplicates -------------------------------------------------------------------------------


def _org_key(value: str | None) -> str:
    return _nfkc(value or "")


class _Seen:
    """Who is already in the bank or earlier in the file: by ID number, and by name + organization."""

    def __init__(self) -> None:
        self.by_id: dict[str, str] = {}
        self.by_name_org: dict[tuple[str, str], list[tuple[str | None, str]]] = defaultdict(list)

    def add(self, expert_id_number: str | None, name: str, org: str | None, where: str) -> None:
        if expert_id_number:
            self.by_id.setdefault(expert_id_number.upper(), where)
        self.by_name_org[(_nfkc(name), _org_key(org))].append((expert_id_number, where))

    def clash(self, data: ExpertCreate) -> str | None:
        id_number = (data.id_number or "").upper()
        if id_number and id_number in self.by_id:
            return f"身份证号与{self.by_id[id_number]}重复"
        for other_id, where in self.by_name_org.get((_nfkc(data.name), _org_key(data.organization)), []):
            # Two ID numbers that differ are two people who share a name; otherwise it is the same person.
            if id_number and other_id and other_id.upper() != id_number:
                continue
            unit = f"单位“{data.organization}”" if data.organization else "均未填单位"
            return f"姓名“{data.name}”与{where}同名且{unit}，疑为同一人"
        return None


def import_experts(
    engine: Engine,
    path: Path,
    *,
    actor_id: int | None = None,
    actor_name: str = "cli",
    budget: float = PARSE_BUDGET_SECONDS,
) -> ImportReport:
    """Import an expert bank from CSV or XLSX; see the module docstring and CONTRACT.md.

    A file over MAX_IMPORT_ROWS rows, or still being parsed after `budget` seconds, raises
    `InvalidInput` and imports nothing."""
    path = Path(path)
    report = ImportReport()
    candidates: list[_Candidate] = []
    try:
        rows = _read_rows(path, budget=budget)
        _header_line, columns, headings, report.ignored_columns = _find_header(rows)
        for line, values in rows:
            if all(_blank(v) for v in values):
                continue
            report.rows += 1
            parsed = _parse_row(values, columns, headings)
            if isinstance(parsed, str):
                report.errors.append((line, parsed))
            else:
                candidates.append(_Candidate(line, parsed))
    except _FileProblem as exc:
        line = exc.args[1] if len(exc.args) > 1 else 1
        report.errors.append((line, str(exc.args[0])))
        candidates = []

    with session_scope(engine, write=True) as session:
        seen = _Seen()
        for expert_id, name, org, id_number in session.execute(
            sa_select(col(Expert.id), col(Expert.name), col(Expert.organization), col(Expert.id_number))
        ):
            seen.add(id_number, name, org, f"专家库中已有的专家（id={expert_id}）")
        to_insert: list[tuple[_Candidate, Expert]] = []
        for candidate in candidates:
            try:  # towns served: names from the admin's dictionary, as on the expert form
                candidate.data.towns = check_towns(session, candidate.data.towns)
            except InvalidInput as exc:
                report.errors.append((candidate.line, f"服务镇街：{exc.message}"))
                continue
            clash = seen.clash(candidate.data)
            if clash:
                report.errors.append((candidate.line, f"重复：{clash}，未导入"))
                continue
            seen.add(
                candidate.data.id_number,
                candidate.data.name,
                candidate.data.organization,
                f"第{candidate.line}行",
            )
            expert = Expert(**candidate.data.model_dump(mode="json"))
            session.add(expert)
            to_insert.append((candidate, expert))
        session.flush()
        report.expert_ids = [id_of(expert) for _, expert in to_insert]
        report.accepted = len(to_insert)
        report.errors.sort(key=lambda e: e[0])
        record(
            session,
            actor_id=actor_id,
            actor_name=actor_name,
            action="expert.import",
            entity="expert",
            entity_id=None,
            after={
                "file": path.name,
                "rows": report.rows,
                "accepted": report.accepted,
                "rejected": len(report.errors),
                "expert_ids": report.expert_ids,
                "ignored_columns": report.ignored_columns,
            },
        )
    return report


# =============================================================================================
# The case ledger (台账)
# =============================================================================================

LEDGER_TITLE = "矛盾纠纷调解案件台账"

# (heading, column width in characters)
LEDGER_COLUMNS: list[tuple[str, float]] = [
    ("案件编号", 20),
    ("登记日期", 12),
    ("来源渠道", 11),
    ("纠纷类别", 11),
    ("镇街", 11),
    ("村社", 11),
    ("申请人", 22),
    ("被申请人", 22),
    ("简要案情", 44),
    ("涉案金额", 14),
    ("涉及人数", 9),
    ("是否群体性", 10),
    ("风险等级", 10),
    ("当前阶段", 11),
    ("受理日期", 12),
    ("专班主持人", 11),
    ("调解次数", 9),
    ("调解结果", 10),
    ("协议金额", 14),
    ("结案日期", 12),
    ("督办层级", 13),
    ("是否超期", 9),
]

BATCH_SIZE = 1000
MAX_NAMES = 10  # 申请人 of a mass dispute: the first ten, then “等N人”
MAX_CELL = 32767  # Excel's limit on a cell's text
# Text a spreadsheet would take for a formula, or for DDE (OWASP "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")

_CASE_COLUMNS = (
    col(Case.id),
    col(Case.case_no),
    col(Case.created_at),
    col(Case.channel),
    col(Case.category),
    col(Case.town),
    col(Case.village),
    col(Case.summary),
    col(Case.amount_involved),
    col(Case.headcount),
    col(Case.is_mass),
    col(Case.risk_level),
    col(Case.stage),
    col(Case.accepted_at),
    col(Case.outcome),
    col(Case.closed_at),
    col(Case.escalation_level),
    col(Case.stage_due_at),
    col(Case.clock_paused_since),
)


def _china_date(moment: datetime | None) -> date | None:
    return china_date(moment) if moment is not None else None


def _label(enum: type, value: Any) -> str | None:
    if value is None or value == "":
        return None
    try:
        return enum(str(value)).label
    except ValueError:
        return str(value)


def _names(names: list[str]) -> str | None:
    if not names:
        return None
    if len(names) <= MAX_NAMES:
        return "、".join(names)
    return "、".join(names[:MAX_NAMES]) + f"等{len(names)}人"


def _batch_details(session: Session, ids: list[int]) -> dict[str, dict[int, Any]]:
    parties: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for case_id, role, name in session.execute(
        sa_select(col(Party.case_id), col(Party.role), col(Party.name))
        .where(col(Party.case_id).in_(ids))
        .order_by(col(Party.case_id), col(Party.id))
    ):
        parties[case_id][role].append(name)
    leads: dict[int, str] = {}
    for case_id, name in session.execute(
        sa_select(col(PanelMember.case_id), col(Expert.name))
        .join(Expert, col(Expert.id) == PanelMember.expert_id)
        .where(
            col(PanelMember.case_id).in_(ids),
            col(PanelMember.active),
            col(PanelMember.role) == PanelRole.lead.value,
        )
        .order_by(col(PanelMember.case_id), col(PanelMember.seated_at))
    ):
        leads[case_id] = name  # the latest seated lead (after a recusal, the replacement)
    sessions: dict[int, int] = dict(
        session.execute(
            sa_select(col(MediationSession.case_id), func.count())
            .where(col(MediationSession.case_id).in_(ids), col(MediationSession.held_at).is_not(None))
            .group_by(col(MediationSession.case_id))
        ).all()
    )
    amounts: dict[int, Decimal | None] = dict(
        session.execute(
            sa_select(col(Agreement.case_id), func.sum(AgreementTerm.amount))
            .join(AgreementTerm, col(AgreementTerm.agreement_id) == Agreement.id)
            .where(col(Agreement.case_id).in_(ids))
            .group_by(col(Agreement.case_id))
        ).all()
    )
    return {"parties": parties, "leads": leads, "sessions": sessions, "amounts": amounts}


def _ledger_conditions(
    date_from: date | None, date_to: date | None, scope: ColumnElement[bool] | None
) -> list[ColumnElement[bool]]:
    return ([] if scope is None else [scope]) + registered_between(date_from, date_to)


def _ledger_rows(
    session: Session,
    *,
    date_from: date | None,
    date_to: date | None,
    now: datetime,
    scope: ColumnElement[bool] | None = None,
) -> Iterator[list[Any]]:
    conditions = _ledger_conditions(date_from, date_to, scope)
    last_id = 0
    while True:
        batch = session.execute(
            sa_select(*_CASE_COLUMNS)
            .where(col(Case.id) > last_id, *conditions)
            .order_by(col(Case.id))
            .limit(BATCH_SIZE)
        ).all()
        if not batch:
            return
        last_id = batch[-1].id
        details = _batch_details(session, [r.id for r in batch])
        for r in batch:
            parties = details["parties"].get(r.id, {})
            amount = details["amounts"].get(r.id)
            yield [
                r.case_no,
                _china_date(r.created_at),
                _label(Channel, r.channel),
                _label(Category, r.category),
                r.town,
                r.village,
                _names(parties.get(PartyRole.applicant.value, [])),
                _names(parties.get(PartyRole.respondent.value, [])),
                r.summary,
                Decimal(r.amount_involved) if r.amount_involved is not None else None,
                r.headcount,
                "是" if r.is_mass else "否",
                _label(RiskLevel, r.risk_level),
                _label(Stage, r.stage),
                _china_date(r.accepted_at),
                details["leads"].get(r.id),
                details["sessions"].get(r.id, 0),
                _label(Stage, r.outcome),
                Decimal(amount) if amount is not None else None,
                _china_date(r.closed_at),
                _label(EscalationLevel, r.escalation_level),
                "是" if is_overdue(r, now) else "否",
            ]
        if len(batch) < BATCH_SIZE:
            return


# The performance ledger (issue 20), a second sheet: one row per case and obligee of a money term, the
# same columns as the case page's 履行台账 (models.enforcement.ledger).
PERFORMANCE_COLUMNS: list[tuple[str, float]] = [
    ("案件编号", 20),
    ("权利人", 14),
    ("条款", 12),
    ("约定金额", 14),
    ("已付金额", 14),
    ("最近付款日期", 13),
    ("尚欠金额", 14),
    ("履行保障步骤", 48),
]


def _performance_rows(session: Session, conditions: list[ColumnElement[bool]]) -> Iterator[list[Any]]:
    """Per case (in the ledger's scope) and obligee: agreed, paid, last paid, outstanding, the steps."""
    from models.enforcement import ledger

    last_id = 0
    while True:
        # Driven by the signed agreements (the cases' scope applied through the join).
        batch = session.execute(
            sa_select(col(Agreement.case_id).label("id"), col(Case.case_no))
            .select_from(Agreement)
            .join(Case, col(Case.id) == Agreement.case_id)
            .where(col(Agreement.case_id) > last_id, col(Agreement.signed_at).is_not(None), *conditions)
            .order_by(col(Agreement.case_id))
            .limit(BATCH_SIZE)
        ).all()
        if not batch:
            return
        last_id = batch[-1].id
        for case_id, case_no in batch:
            for row in ledger(session, case_id):
                yield [
                    case_no,
                    row["obligee"],
                    "、".join(f"第{n}项" for n in row["seqs"]),
                    row["agreed"],
                    row["paid"],
                    row["last_paid_on"],
                    row["outstanding"],
                    "；".join(f"{s['on'].isoformat()} {s['label']}" for s in row["steps"]) or None,
                ]
        if len(batch) < BATCH_SIZE:
            return


def _clean_text(value: str) -> str:
    # Not openpyxl's ILLEGAL_CHARACTERS_RE: it lets U+FFFE, U+FFFF and lone surrogates through, and one
    # of them, stored before input refused it, made the whole file unreadable for every reader.
    value = printable(value)
    return value if len(value) <= MAX_CELL else value[: MAX_CELL - 1] + "…"


class _CellMaker:
    """Turns ledger values into write-only cells with their number formats and the text guard."""

    MONEY_COLUMNS = frozenset({9, 18})
    DATE_FORMAT = "yyyy-mm-dd"
    MONEY_FORMAT = "#,##0.00"

    def __init__(self, ws: Any, money_columns: frozenset[int] | None = None) -> None:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Alignment

        self.ws = ws
        if money_columns is not None:
            self.MONEY_COLUMNS = money_columns
        self.Cell = WriteOnlyCell
        self.wrap = Alignment(wrap_text=True, vertical="top")
        self.right = Alignment(horizontal="right", vertical="top")

    def text(self, value: str) -> Any:
        value = _clean_text(value)
        if not value.startswith(FORMULA_TRIGGERS):
            return value
        cell = self.Cell(self.ws, value=value)
        cell.data_type = "s"  # a text cell, never a formula
        cell.quotePrefix = True  # what Excel stores for a typed leading apostrophe: stays text on edit
        return cell

    def money(self, value: Decimal) -> Any:
        if not fits_float(value):
            # Past 15 significant digits a number cell would hold another amount (openpyxl writes a
            # float, Excel keeps 15 digits): the exact figures as right-aligned text instead.
            cell = self.Cell(self.ws, value=format_amount(value))
            cell.data_type = "s"
            cell.alignment = self.right
            return cell
        cell = self.Cell(self.ws, value=value)
        cell.number_format = self.MONEY_FORMAT
        return cell

    def row(self, values: list[Any]) -> list[Any]:
        out: list[Any] = []
        for index, value in enumerate(values):
            if isinstance(value, str):
                out.append(self.text(value))
            elif isinstance(value, date):
                cell = self.Cell(self.ws, value=value)
                cell.number_format = self.DATE_FORMAT
                out.append(cell)
            elif index in self.MONEY_COLUMNS and value is not None:
                out.append(self.money(value))
            else:
                out.append(value)
        return out


def export_ledger(
    engine: Engine,
    path: Path,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    now: datetime | None = None,
    actor_id: int | None = None,
    actor_name: str = "cli",
    scope: ColumnElement[bool] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write the case ledger to `path` (XLSX); return the number of cases written.

    `scope` limits it to the cases the requesting user may see (`models.access.case_filter`);
    `on_progress(done, total)` is called before the first batch and after each one."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    if date_from and date_to and date_from > date_to:
        raise InvalidInput(f"起始日期 {date_from} 晚于截止日期 {date_to}", field="date_from")
    now = now or utcnow()
    path = Path(path)
    settings = get_settings()
    title = printable(f"{settings.center_name}{LEDGER_TITLE}")
    period = f"{date_from or '最早'} 至 {date_to or '最新'}"

    wb = Workbook(write_only=True)
    wb.properties.title = title
    wb.properties.creator = "Tiaojie"
    wb.properties.description = f"登记日期：{period}；导出时间：{now.astimezone(CHINA):%Y-%m-%d %H:%M}"
    ws = wb.create_sheet("案件台账")
    last_col = get_column_letter(len(LEDGER_COLUMNS))
    for index, (_, width) in enumerate(LEDGER_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "B3"  # title and header stay; the case number stays on the left
    ws.merged_cells.add(f"A1:{last_col}1")
    ws.print_title_rows = "1:2"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = 8  # A3
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.oddFooter.center.text = f"登记日期：{period}    第 &P 页，共 &N 页"

    title_cell = WriteOnlyCell(ws, value=title)
    title_cell.font = Font(bold=True, size=16)
    title_cell.alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 30
    ws.append([title_cell])

    thin = Side(style="thin", color="808080")
    header = []
    for heading, _ in LEDGER_COLUMNS:
        cell = WriteOnlyCell(ws, value=heading)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
        header.append(cell)
    ws.append(header)

    maker = _CellMaker(ws)
    count = 0
    with Session(engine) as session:
        total = 0
        if on_progress is not None:
            conditions = _ledger_conditions(date_from, date_to, scope)
            total = session.execute(sa_select(func.count()).select_from(Case).where(*conditions)).scalar_one()
            on_progress(0, total)
        for values in _ledger_rows(session, date_from=date_from, date_to=date_to, now=now, scope=scope):
            ws.append(maker.row(values))
            count += 1
            if on_progress is not None and count % BATCH_SIZE == 0:
                on_progress(count, max(total, count))
    ws.auto_filter.ref = f"A2:{last_col}{count + 2}"

    perf = wb.create_sheet("履行台账")
    for index, (_, width) in enumerate(PERFORMANCE_COLUMNS, start=1):
        perf.column_dimensions[get_column_letter(index)].width = width
    perf.freeze_panes = "B2"
    perf_header = []
    for heading, _ in PERFORMANCE_COLUMNS:
        cell = WriteOnlyCell(perf, value=heading)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
        perf_header.append(cell)
    perf.append(perf_header)
    perf_maker = _CellMaker(perf, money_columns=frozenset({3, 4, 6}))
    with Session(engine) as session:
        for values in _performance_rows(session, _ledger_conditions(date_from, date_to, scope)):
            perf.append(perf_maker.row(values))

    # Write next to the target and move it into place: a failed export leaves no half-written file.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ledger-", suffix=".xlsx", dir=path.parent)
    os.close(fd)
    try:
        wb.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

    # Exporting a register with parties' names is an access to personal data: it is audited.
    with session_scope(engine, write=True) as session:
        record(
            session,
            actor_id=actor_id,
            actor_name=actor_name,
            action="ledger.export",
            entity="case",
            entity_id=None,
            after={
                "file": path.name,
                "from": date_from.isoformat() if date_from else None,
                "to": date_to.isoformat() if date_to else None,
                "cases": count,
            },
        )
    return count
