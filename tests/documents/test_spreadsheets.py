"""Expert bank import (CSV / XLSX) and the case ledger (台账), on the real database and flows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlmodel import select

from documents.spreadsheets import LEDGER_COLUMNS, MAX_IMPORT_ROWS, export_ledger, import_experts
from flows.agreement import issue_agreement
from flows.intake import accept_case, register_case
from flows.panel_selection import confirm_panel
from flows.process import apply_transition
from flows.sessions import record_session, schedule_session
from flows.towns import read_towns_file
from models.audit import AuditEvent
from models.case import Case
from models.db import session_scope
from models.expert import Expert
from models.lifecycle import InvalidInput
from models.schemas import CaseCreate
from models.settings import get_settings
from models.user import User
from tests.factories import act, add_expert, add_user, expert_bank, neighbor_case, person_id, wage_case
from tests.support.clock import CHINA, at

HEADINGS = [h for h, _ in LEDGER_COLUMNS]


def bad_checksum(id_number: str) -> str:
    last = id_number[-1]
    return id_number[:-1] + ("0" if last != "0" else "1")


def write_csv(
    path: Path, rows: list[list[str]], *, bom: bool = False, sep: str = ",", encoding: str = "utf-8"
) -> Path:
    text = "\n".join(sep.join(r) for r in rows) + "\n"
    data = text.encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    wb.create_sheet("第二页").append(["ignored"])
    wb.save(path)
    return path


def _replace_in_zip(path: Path, old: str, new: str) -> None:
    """Rewrite an XLSX with `old` replaced by `new` in every XML part (to plant what no writer writes)."""
    import zipfile

    with zipfile.ZipFile(path) as src:
        parts = [(info, src.read(info)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in parts:
            out.writestr(
                info, data.replace(old.encode(), new.encode()) if info.filename.endswith(".xml") else data
            )


def bank(engine) -> list[Expert]:
    with session_scope(engine) as session:
        return list(session.exec(select(Expert).order_by(Expert.id)).all())


CODE_HEADER = ["name", "kind", "organization", "towns", "specialties", "max_active_cases", "id_number"]
CN_HEADER = ["姓名", "类别", "单位", "服务镇街", "专长", "最大在办案件数", "身份证号"]


# --- Import ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bom", [True, False])
def test_import_csv_code_headers_with_and_without_bom(engine, tmp_path, bom) -> None:
    path = write_csv(
        tmp_path / "bank.csv",
        [
            CODE_HEADER,
            [
                "王调解",
                "mediator",
                "玉海街道人民调解委员会",
                "玉海街道;安阳街道",
                "labor;neighbor",
                "6",
                person_id(1),
            ],
            ["周律师", "lawyer", "浙江某律师事务所", "", "contract、labor", "8", ""],
        ],
        bom=bom,
    )
    report = import_experts(engine, path)
    assert report.errors == []
    assert report.accepted == 2
    experts = bank(engine)
    assert [e.name for e in experts] == ["王调解", "周律师"]  # no BOM glued to the first heading
    wang, zhou = experts
    assert wang.kind == "mediator" and wang.towns == ["玉海街道", "安阳街道"]
    assert wang.specialties == ["labor", "neighbor"] and wang.max_active_cases == 6
    assert wang.id_number == person_id(1) and wang.active is True
    assert zhou.towns == [] and zhou.specialties == ["contract", "labor"] and zhou.id_number is None


@pytest.mark.postgres
def test_import_towns_column_takes_quanshi_for_every_town(engine, tmp_path) -> None:
    """全市 in the towns column is every town (kept as none named, as the expert form's empty field),
    not a town called 全市 that no case's town matches."""
    path = write_csv(
        tmp_path / "bank.csv",
        [
            CN_HEADER,
            ["全市专家", "律师", "某律所", "全市", "合同纠纷", "5", ""],
            ["全市与塘下", "乡贤", "", "全 市、塘下镇", "邻里纠纷", "3", ""],
            ["塘下专家", "乡贤", "", "塘下镇", "邻里纠纷", "3", ""],
        ],
    )
    report = import_experts(engine, path)
    assert report.accepted == 3 and report.errors == []
    assert [(e.name, e.towns) for e in bank(engine)] == [
        ("全市专家", []),
        ("全市与塘下", []),
        ("塘下专家", ["塘下镇"]),
    ]


def test_import_chinese_headers_labels_and_tab_separated(engine, tmp_path) -> None:
    path = write_csv(
        tmp_path / "bank.tsv",
        [
            [*CN_HEADER, "电话", "村社", "调解室", "是否在岗"],
            [
                "陈乡贤",
                "乡贤",
                "",
                "塘下镇",
                "邻里纠纷；房屋宅基地",
                "3",
                person_id(2),
                "13905771234",
                "罗凤村",
                "老陈调解室",
                "是",
            ],
            [
                "人社局劳动监察大队",
                "事权部门",
                "瑞安市人力资源和社会保障局",
                "",
                "劳动争议、村务/三资",
                "20",
                "",
                "",
                "",
                "",
                "否",
            ],
        ],
        sep="\t",
        bom=True,
    )
    report = import_experts(engine, path)
    assert report.errors == [] and report.accepted == 2
    chen, dept = bank(engine)
    assert chen.kind == "elder" and chen.specialties == ["neighbor", "housing_land"]
    assert chen.village == "罗凤村" and chen.room == "老陈调解室" and chen.phone == "13905771234"
    assert dept.kind == "department" and dept.specialties == ["labor", "village_affairs"]
    assert dept.active is False and dept.max_active_cases == 20


def test_import_xlsx_first_sheet_typed_cells(engine, tmp_path) -> None:
    path = write_xlsx(
        tmp_path / "bank.xlsx",
        [
            ["专家库名单（2026年）"],  # a title row above the header is tolerated
            [*CN_HEADER, "电话"],
            ["吴法官", "法官", "瑞安市人民法院", None, "合同纠纷", 4, person_id(3), 13905770001],
            [None, None, None, None, None, None, None, None],  # a blank row is skipped silently
            ["李心理", "psychologist", None, "塘下镇、飞云街道", "marriage_family", 2.0, None, None],
            ["错号", "律师", None, None, None, 3, 3.3038119850312e17, None],  # a number-formatted ID
        ],
    )
    report = import_experts(engine, path)
    assert report.accepted == 2
    assert len(report.errors) == 1
    line, reason = report.errors[0]
    assert line == 6 and "身份证号" in reason and "文本" in reason
    wu, li = bank(engine)
    assert wu.kind == "judge" and wu.specialties == ["contract"] and wu.phone == "13905770001"
    assert wu.max_active_cases == 4 and wu.id_number == person_id(3)
    assert li.towns == ["塘下镇", "飞云街道"] and li.max_active_cases == 2


def test_bad_rows_are_reported_with_line_numbers_and_good_rows_kept(engine, tmp_path) -> None:
    path = write_csv(
        tmp_path / "bank.csv",
        [
            CN_HEADER,
            ["好人甲", "人民调解员", "", "玉海街道", "labor", "5", person_id(10)],  # 2 ok
            ["坏号码", "律师", "", "", "", "5", bad_checksum(person_id(11))],  # 3 checksum
            ["怪类别", "大师", "", "", "", "5", ""],  # 4 unknown kind
            ["", "mediator", "", "", "", "5", ""],  # 5 missing name
            ["负数", "mediator", "", "", "", "-1", ""],  # 6 negative cap
            ["非数字", "mediator", "", "", "", "很多", ""],  # 7 not an integer
            ["怪专长", "mediator", "", "", "邻里纠纷、炒股", "5", ""],  # 8 unknown specialty
            ["好人乙", "elder", "", "塘下镇", "neighbor", "", ""],  # 9 ok, default cap
        ],
    )
    report = import_experts(engine, path)
    assert report.accepted == 2
    reasons = dict(report.errors)
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8]
    assert reasons[3] == "身份证号：身份证号校验位不正确"
    assert reasons[4].startswith("类别：无法识别“大师”") and "人民调解员" in reasons[4]
    assert reasons[5] == "姓名：不能为空"
    assert reasons[6] == "最大在办案件数：不能小于 0"
    assert reasons[7].startswith("最大在办案件数：应为整数")
    assert reasons[8].startswith("专长：无法识别“炒股”")
    assert all(r.isascii() is False for r in reasons.values())
    assert [(e.name, e.max_active_cases) for e in bank(engine)] == [("好人甲", 5), ("好人乙", 5)]


def test_reason_names_a_code_heading_too(engine, tmp_path) -> None:
    path = write_csv(
        tmp_path / "bank.csv",
        [
            [*CODE_HEADER, "phone"],
            ["甲", "mediator", "", "", "", "5", bad_checksum(person_id(12)), "12345"],
            ["乙", "mediator", "", "", "", "5", "", ""],
        ],
    )
    report = import_experts(engine, path)
    assert report.accepted == 1
    [(line, reason)] = report.errors
    assert line == 2
    assert "身份证号（id_number）：身份证号校验位不正确" in reason and "电话（phone）：" in reason


def test_duplicates_in_file_and_against_bank(engine, tmp_path) -> None:
    add_expert(engine, name="老专家", kind="mediator", organization="玉海街道调委会", id_number=person_id(20))
    add_expert(engine, name="王五", kind="lawyer", organization="某律所")
    path = write_csv(
        tmp_path / "bank.csv",
        [
            CODE_HEADER,
            ["老专家改名", "mediator", "", "", "", "5", person_id(20)],  # 2 same ID as the bank
            ["王五", "lawyer", "某律所", "", "", "5", ""],  # 3 same name + org as the bank
            ["新人", "mediator", "甲单位", "", "", "5", person_id(21)],  # 4 ok
            ["新人二", "mediator", "", "", "", "5", person_id(21)],  # 5 same ID as line 4
            ["新人", "mediator", "甲单位", "", "", "5", ""],  # 6 same name + org as line 4
            ["新人", "mediator", "甲单位", "", "", "5", person_id(22)],  # 7 namesake, another ID: ok
            ["王五", "lawyer", "另一律所", "", "", "5", ""],  # 8 namesake elsewhere: ok
        ],
    )
    report = import_experts(engine, path)
    reasons = dict(report.errors)
    assert sorted(reasons) == [2, 3, 5, 6]
    assert "专家库" in reasons[2] and "身份证号" in reasons[2]
    assert "专家库" in reasons[3] and "王五" in reasons[3]
    assert "第4行" in reasons[5] and "第4行" in reasons[6]
    assert report.accepted == 3
    assert len(bank(engine)) == 5
    # Importing the same file again adds nobody.
    again = import_experts(engine, path)
    assert again.accepted == 0 and len(again.errors) == 7
    assert len(bank(engine)) == 5


def test_import_writes_one_audit_event_with_counts(engine, tmp_path) -> None:
    path = write_csv(
        tmp_path / "bank.csv",
        [
            CODE_HEADER,
            ["甲", "mediator", "", "", "", "5", ""],
            ["乙", "bogus", "", "", "", "5", ""],
        ],
    )
    report = import_experts(engine, path)
    with session_scope(engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "expert.import")).all()
    assert len(events) == 1
    after = events[0].after
    assert after["accepted"] == 1 and after["rejected"] == 1 and after["rows"] == 2
    assert after["expert_ids"] == report.expert_ids and after["file"] == "bank.csv"


def test_unrecognisable_header_accepts_nothing(engine, tmp_path) -> None:
    path = write_csv(tmp_path / "bank.csv", [["foo", "bar"], ["王调解", "mediator"]])
    report = import_experts(engine, path)
    assert report.accepted == 0
    [(line, reason)] = report.errors
    assert line == 1 and "表头" in reason
    assert bank(engine) == []


def test_header_without_required_columns_and_unknown_columns(engine, tmp_path) -> None:
    path = write_csv(tmp_path / "bank.csv", [["姓名", "单位"], ["王调解", "某单位"]])
    report = import_experts(engine, path)
    assert report.accepted == 0 and report.errors == [(1, "表头缺少必填列：类别（kind）")]

    path = write_csv(tmp_path / "bank2.csv", [["姓名", "类别", "备注"], ["王调解", "mediator", "随便写"]])
    report = import_experts(engine, path)
    assert report.accepted == 1 and report.errors == [] and report.ignored_columns == ["备注"]


def test_empty_and_garbage_files(engine, tmp_path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    report = import_experts(engine, empty)
    assert report.accepted == 0 and [line for line, _ in report.errors] == [1]

    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    report = import_experts(engine, broken)
    assert report.accepted == 0 and [line for line, _ in report.errors] == [1]
    assert "XLSX" in report.errors[0][1]


def test_gbk_csv_from_chinese_excel_is_read(engine, tmp_path) -> None:
    path = write_csv(tmp_path / "bank.csv", [["姓名", "类别"], ["王调解", "人民调解员"]], encoding="gb18030")
    report = import_experts(engine, path)
    assert report.accepted == 1 and bank(engine)[0].name == "王调解"


def test_excel_unicode_text_export_utf16_tab_separated(engine, tmp_path) -> None:
    path = tmp_path / "bank.txt"
    path.write_bytes("姓名\t类别\t专长\r\n王调解\t人民调解员\t劳动争议\r\n".encode("utf-16"))
    report = import_experts(engine, path)
    assert report.errors == [] and report.accepted == 1
    assert bank(engine)[0].specialties == ["labor"]


def test_multiline_cell_keeps_line_numbers(engine, tmp_path) -> None:
    path = tmp_path / "bank.csv"
    path.write_text('name,kind,room\n甲,mediator,"第一\n调解室"\n乙,nonsense,\n', encoding="utf-8")
    report = import_experts(engine, path)
    assert report.accepted == 1
    assert [line for line, _ in report.errors] == [4]


def _no_import_event(engine) -> bool:
    with session_scope(engine) as session:
        return not session.exec(select(AuditEvent).where(AuditEvent.action == "expert.import")).all()


def test_row_limit_counts_blank_lines_and_refuses_the_whole_file(engine, tmp_path) -> None:
    # Exactly MAX_IMPORT_ROWS lines (header, one expert, blank lines): imported.
    rows = [["姓名", "类别"], ["王调解", "mediator"]] + [[",", ""]] * (MAX_IMPORT_ROWS - 2)
    at_limit = write_csv(tmp_path / "at_limit.csv", rows)
    assert len(at_limit.read_text().splitlines()) == MAX_IMPORT_ROWS
    report = import_experts(engine, at_limit)
    assert report.accepted == 1 and report.errors == []
    assert [e.name for e in bank(engine)] == ["王调解"]

    # One line more, the last one a good expert: nothing at all is imported, nor audited.
    over = write_csv(tmp_path / "over.csv", [*rows[:-1], [",", ""], ["李调解", "mediator"]])
    with pytest.raises(InvalidInput) as caught:
        import_experts(engine, over)
    assert f"文件超过 {MAX_IMPORT_ROWS} 行的上限" in caught.value.message
    assert f"本文件至少 {MAX_IMPORT_ROWS + 1} 行" in caught.value.message
    assert [e.name for e in bank(engine)] == ["王调解"]


def test_xlsx_row_limit_from_the_dimension_or_while_reading(engine, tmp_path) -> None:
    # A sheet that declares its size (Excel, WPS, openpyxl's normal mode): refused from <dimension>.
    wb = Workbook()
    wb.active.append(["姓名", "类别"])
    wb.active.append(["王调解", "mediator"])
    wb.active.cell(row=MAX_IMPORT_ROWS + 500, column=1, value=" ")
    declared = tmp_path / "declared.xlsx"
    wb.save(declared)
    with pytest.raises(InvalidInput) as caught:
        import_experts(engine, declared)
    assert f"工作表共 {MAX_IMPORT_ROWS + 500} 行" in caught.value.message

    # openpyxl's write-only files have no <dimension>: refused at the first row past the limit.
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(["姓名", "类别"])
    ws.append(["王调解", "mediator"])
    for _ in range(MAX_IMPORT_ROWS - 1):
        ws.append([" "])
    streamed = tmp_path / "streamed.xlsx"
    wb.save(streamed)
    with pytest.raises(InvalidInput) as caught:
        import_experts(engine, streamed)
    assert f"本文件至少 {MAX_IMPORT_ROWS + 1} 行" in caught.value.message
    assert bank(engine) == [] and _no_import_event(engine)

    # The same sheet one row shorter is read to its end.
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(["姓名", "类别"])
    ws.append(["王调解", "mediator"])
    for _ in range(MAX_IMPORT_ROWS - 2):
        ws.append([" "])
    ws_path = tmp_path / "fits.xlsx"
    wb.save(ws_path)
    assert import_experts(engine, ws_path).accepted == 1


def test_parse_time_budget_refuses_the_file(engine, tmp_path) -> None:
    path = write_csv(tmp_path / "bank.csv", [["姓名", "类别"], ["王调解", "mediator"]])
    with pytest.raises(InvalidInput) as caught:
        import_experts(engine, path, budget=0)
    assert caught.value.message.startswith("文件解析超过 0 秒的时限")
    assert bank(engine) == [] and _no_import_event(engine)
    assert import_experts(engine, path).accepted == 1  # the default budget is ample for it


def test_town_dictionary_file_has_the_same_row_limit(tmp_path) -> None:
    rows = [["镇街", "村社"]] + [
        [f"{'甲乙丙丁戊己庚辛壬癸'[i % 10]}镇", f"村{i}"] for i in range(MAX_IMPORT_ROWS)
    ]
    with pytest.raises(InvalidInput) as caught:
        read_towns_file(write_csv(tmp_path / "towns.csv", rows))
    assert f"文件超过 {MAX_IMPORT_ROWS} 行的上限" in caught.value.message
    towns = read_towns_file(write_csv(tmp_path / "fits.csv", rows[:MAX_IMPORT_ROWS]))
    assert sum(len(t.villages) for t in towns.items) == MAX_IMPORT_ROWS - 1


def test_forbidden_characters_are_refused_by_row_and_column(engine, tmp_path) -> None:
    """The import takes the text rule of every request body, and names the row and the column."""
    path = write_csv(
        tmp_path / "bank.csv",
        [
            CN_HEADER,
            ["好人甲", "人民调解员", "", "", "", "5", ""],  # 2 ok
            ["张\ufffe三", "人民调解员", "", "", "", "5", ""],  # 3 noncharacter in the name
            ["李四", "人民调解员", "瑞安\x01司法局", "", "", "5", ""],  # 4 C0 control in the unit
            ["王五", "mediator\U0010ffff", "", "", "", "5", ""],  # 5 in a coded column too
            ["赵六", "人民调解员", "\ufdd0", "", "", "5", ""],  # 6
            ["好人乙", "elder", "", "", "", "5", ""],  # 7 ok
        ],
    )
    report = import_experts(engine, path)
    reasons = dict(report.errors)
    assert sorted(reasons) == [3, 4, 5, 6] and report.accepted == 2
    assert reasons[3] == "姓名：含有非文字的码位（U+FFFE，Unicode 非字符），请删除后重新输入"
    assert reasons[4] == "单位：含有不可见的控制字符（U+0001），请删除后重新输入"
    assert reasons[5].startswith("类别：") and "U+10FFFF" in reasons[5]
    assert reasons[6].startswith("单位：") and "U+FDD0" in reasons[6]
    assert [e.name for e in bank(engine)] == ["好人甲", "好人乙"]


def test_xlsx_that_is_not_xml_is_one_reason_not_a_crash(engine, tmp_path) -> None:
    # openpyxl writes U+FFFE into the sheet unchecked (as our ledger once did): the file is not XML
    # past that cell, so nothing of it can be trusted; the reason names the row it stopped at.
    # openpyxl with lxml refuses to write it, so the character is put into the sheet's XML afterwards.
    path = write_xlsx(
        tmp_path / "bank.xlsx",
        [CN_HEADER, ["好人甲", "mediator"], ["好人乙", "mediator"], ["张MARK三", "mediator"]],
    )
    _replace_in_zip(path, "MARK", "\ufffe")
    report = import_experts(engine, path)
    assert report.accepted == 0 and bank(engine) == []
    ((line, reason),) = report.errors
    assert line == 4 and "U+FFFE" in reason and reason.startswith("XLSX 文件第4行附近")


# --- Ledger ---------------------------------------------------------------------------------


def _actor(session, user_id: int) -> User:
    return session.get(User, user_id)


def _register(engine, body: dict, user_id: int, now: datetime) -> int:
    with session_scope(engine, write=True) as session:
        case = register_case(
            session=session, data=CaseCreate.model_validate(body), actor=_actor(session, user_id), now=now
        )
        return case.id


def _step(engine, case_id: int, fn, user_id: int, **kw) -> None:
    act(engine, fn, case_id, actor_id=user_id, now=kw.pop("now", datetime.now(UTC)), **kw)


@pytest.fixture
def ledger_world(engine):
    """Cases driven through the real process: agreed with an agreement, failed and closed, a fresh one
    with hostile text, and two registered near midnight on either side of a China-date boundary."""
    experts = expert_bank(engine)
    clerk = add_user(engine, "clerk", "staff", display_name="陈晓")
    now = datetime.now(UTC)

    wage = _register(engine, wage_case(), clerk, now - timedelta(days=3))
    _step(engine, wage, accept_case, clerk, now=now - timedelta(days=3))
    _step(
        engine,
        wage,
        confirm_panel,
        clerk,
        now=now - timedelta(days=2),
        members=[
            {"expert_id": experts["mediator_yuhai"], "role": "lead"},
            {"expert_id": experts["lawyer"], "role": "legal_advisor"},
            {"expert_id": experts["department"], "role": "member"},
        ],
    )
    for i, outcome in enumerate(["continue", "agreed"]):
        ms = act(
            engine,
            schedule_session,
            wage,
            actor_id=clerk,
            now=now - timedelta(days=2),
            scheduled_at=now - timedelta(days=2, hours=-i),
            location=f"第{i + 1}调解室",
            duration_minutes=60,
        )
        act(
            engine,
            record_session,
            wage,
            actor_id=clerk,
            now=now - timedelta(days=1),
            session_id=ms.id,
            held_at=now - timedelta(days=1),
            attendees=["工人00", "公司代表"],
            notes="调解。",
            outcome=outcome,
            consent_to_continue=False,
        )
    _step(
        engine,
        wage,
        issue_agreement,
        clerk,
        data={
            "terms": [
                {
                    "obligor": "瑞安市某建设有限公司",
                    "obligee": "工人00",
                    "obligation": "支付工资",
                    "amount": Decimal("300000.00"),
                    "due_date": (now + timedelta(days=30)).astimezone(CHINA).date(),
                },
                {
                    "obligor": "瑞安市某建设有限公司",
                    "obligee": "工人01",
                    "obligation": "支付补偿",
                    "amount": Decimal("20000.50"),
                    "due_date": (now + timedelta(days=60)).astimezone(CHINA).date(),
                },
            ],
            "performance_method": "银行转账",
            "performance_place": "瑞安市",
        },
    )

    failed = _register(engine, neighbor_case(), clerk, now - timedelta(days=2))
    _step(engine, failed, accept_case, clerk)
    _step(
        engine,
        failed,
        confirm_panel,
        clerk,
        members=[
            {"expert_id": experts["mediator_tangxia"], "role": "lead"},
            {"expert_id": experts["elder_tangxia"], "role": "member"},
        ],
    )
    ms = act(
        engine,
        schedule_session,
        failed,
        actor_id=clerk,
        now=now,
        scheduled_at=now + timedelta(hours=5),
        location="塘下镇调解室",
        duration_minutes=60,
    )
    act(
        engine,
        record_session,
        failed,
        actor_id=clerk,
        now=now,
        session_id=ms.id,
        held_at=now,
        attendees=["陈阿大", "林小二"],
        notes="分歧较大。",
        outcome="failed",
        consent_to_continue=False,
    )
    with session_scope(engine, write=True) as session:
        case = session.get(Case, failed)
        apply_transition(session, case, "close", actor=None, now=now, note="终止调解告知书已送达")

    hostile = neighbor_case(summary='=HYPERLINK("http://evil.example","点我")', village="+罗凤村")
    hostile["parties"][0]["name"] = "@SUM(A1:A9)"
    hostile["parties"][1]["name"] = "-林小二"
    fresh = _register(engine, hostile, clerk, now)

    # 2026-03-01 23:30 and 2026-03-02 00:30 China time are both 2026-03-01 in UTC.
    late = _register(engine, neighbor_case(summary="三月一日深夜登记"), clerk, at(2026, 3, 1, 23, 30))
    early = _register(engine, neighbor_case(summary="三月二日凌晨登记"), clerk, at(2026, 3, 2, 0, 30))
    return {"wage": wage, "failed": failed, "fresh": fresh, "late": late, "early": early, "now": now}


def _read(path: Path):
    wb = load_workbook(path)
    ws = wb.active
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    return wb, ws, [dict(zip(HEADINGS, r, strict=False)) for r in rows]


def _case_no(engine, case_id: int) -> str:
    with session_scope(engine) as session:
        return session.get(Case, case_id).case_no


def test_ledger_round_trip(engine, ledger_world, tmp_path) -> None:
    out = tmp_path / "ledger.xlsx"
    count = export_ledger(engine, out)
    assert count == 5
    _wb, ws, rows = _read(out)
    assert ws.title == "案件台账"
    assert ws["A1"].value == get_settings().center_name + "矛盾纠纷调解案件台账"
    assert [c.value for c in ws[2]] == HEADINGS
    assert ws.freeze_panes == "B3"
    assert ws.column_dimensions["I"].width == 44
    assert len(rows) == 5

    by_no = {r["案件编号"]: r for r in rows}
    wage = by_no[_case_no(engine, ledger_world["wage"])]
    today = ledger_world["now"].astimezone(CHINA)
    assert wage["登记日期"].date() == (today - timedelta(days=3)).date()
    assert wage["来源渠道"] == "来访" and wage["纠纷类别"] == "劳动争议"
    assert wage["镇街"] == "玉海街道" and wage["村社"] == "滨江社区"
    assert wage["申请人"].startswith("工人00、工人01") and wage["申请人"].endswith("等17人")
    assert wage["被申请人"] == "瑞安市某建设有限公司"
    assert wage["涉案金额"] == 320000 and wage["涉及人数"] == 17
    assert wage["是否群体性"] == "是" and wage["风险等级"] == "高"
    assert wage["当前阶段"] == "达成协议" and wage["受理日期"] is not None
    assert wage["专班主持人"] == "王调解" and wage["调解次数"] == 2
    assert wage["调解结果"] == "达成协议" and wage["协议金额"] == pytest.approx(320000.50)
    assert wage["结案日期"] is None and wage["督办层级"] == "中心主任督办" and wage["是否超期"] == "否"
    # No ID numbers anywhere in the ledger.
    flat = " ".join(str(v) for r in rows for v in r.values() if v is not None)
    assert person_id(100) not in flat and person_id(201) not in flat

    failed = by_no[_case_no(engine, ledger_world["failed"])]
    assert failed["当前阶段"] == "结案" and failed["调解结果"] == "调解不成"
    assert failed["结案日期"].date() == today.date() and failed["专班主持人"] == "李调解"
    assert failed["调解次数"] == 1 and failed["协议金额"] is None and failed["督办层级"] == "承办"

    # Number formats: money and dates are typed cells, not text.
    row = next(r for r in ws.iter_rows(min_row=3) if r[0].value == wage["案件编号"])
    assert row[9].number_format == "#,##0.00" and row[1].number_format == "yyyy-mm-dd"


def test_ledger_overdue_as_of_now(engine, ledger_world, tmp_path) -> None:
    out = tmp_path / "ledger.xlsx"
    export_ledger(engine, out, now=ledger_world["now"] + timedelta(days=400))
    _, _, rows = _read(out)
    by_no = {r["案件编号"]: r for r in rows}
    assert by_no[_case_no(engine, ledger_world["fresh"])]["是否超期"] == "是"
    assert by_no[_case_no(engine, ledger_world["failed"])]["是否超期"] == "否"  # closed cases never are


def test_ledger_escapes_formula_injection(engine, ledger_world, tmp_path) -> None:
    out = tmp_path / "ledger.xlsx"
    export_ledger(engine, out)
    wb = load_workbook(out)
    ws = wb.active
    row = next(r for r in ws.iter_rows(min_row=3) if r[0].value == _case_no(engine, ledger_world["fresh"]))
    cells = dict(zip(HEADINGS, row, strict=False))
    for heading, text in [
        ("简要案情", '=HYPERLINK("http://evil.example","点我")'),
        ("村社", "+罗凤村"),
        ("申请人", "@SUM(A1:A9)"),
        ("被申请人", "-林小二"),
    ]:
        cell = cells[heading]
        assert cell.value == text, heading
        assert cell.data_type == "s", heading  # text, not a formula
        assert cell.quotePrefix is True, heading  # stays text if someone edits the cell
    # And no formula made it into the file at all.
    import zipfile

    with zipfile.ZipFile(out) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet


# Every class of code point XML 1.0 forbids or Unicode calls a noncharacter that a database can hold
# (PostgreSQL refuses NUL in text; neither stores a lone surrogate), and the C1 and direction controls
# input refuses with them. Text stored before intake refused them, or written around the API.
OLD_DIRT = "\x01\x08\x0b\x0c\x1b\x1f\x7f\x85\u202e\ufdd0\ufdef\ufffe\uffff\U0001fffe\U0010ffff"


@pytest.mark.postgres  # issue 24: on both databases
def test_ledger_strips_what_xml_forbids_from_text_stored_before(engine, tmp_path) -> None:
    """Issue 24: one U+FFFE pasted into a summary made the ledger unreadable ("not well-formed") for
    everyone whose scope held the case. Old rows with such text now export, the characters dropped."""
    from sqlalchemy import update

    from models.party import Party

    experts = expert_bank(engine)
    clerk = add_user(engine, "clerk", "staff")
    case_id = _register(engine, neighbor_case(), clerk, datetime.now(UTC))
    _step(engine, case_id, accept_case, clerk)
    _step(
        engine,
        case_id,
        confirm_panel,
        clerk,
        members=[{"expert_id": experts["mediator_yuhai"], "role": "lead"}],
    )
    nul = "\x00" if engine.dialect.name == "sqlite" else ""
    dirty = f"两户{OLD_DIRT}{nul}因屋檐\r\n滴水\t争执"
    with engine.begin() as conn:  # the database directly, as old data or another program could have it
        conn.execute(
            update(Case)
            .where(Case.id == case_id)
            .values(summary=dirty, town=f"玉海{OLD_DIRT}街道", village=f"滨江{nul}社区")
        )
        conn.execute(
            update(Party)
            .where(Party.case_id == case_id, Party.role == "applicant")
            .values(name=f"陈{OLD_DIRT}阿大")
        )
        conn.execute(
            update(Expert).where(Expert.id == experts["mediator_yuhai"]).values(name=f"王{OLD_DIRT}调解")
        )
    out = tmp_path / "ledger.xlsx"
    assert export_ledger(engine, out) == 1
    _wb, _ws, rows = _read(out)  # openpyxl parses the sheet: every cell is XML again
    (row,) = rows
    assert row["简要案情"] == "两户因屋檐\n滴水\t争执"
    assert (row["镇街"], row["村社"]) == ("玉海街道", "滨江社区")
    assert row["申请人"] == "陈阿大" and row["专班主持人"] == "王调解"


def test_ledger_date_filter_uses_china_local_intake_date(engine, ledger_world, tmp_path) -> None:
    out = tmp_path / "ledger.xlsx"
    assert export_ledger(engine, out, date_from=date(2026, 3, 1), date_to=date(2026, 3, 1)) == 1
    _, _, rows = _read(out)
    assert [r["简要案情"] for r in rows] == ["三月一日深夜登记"]
    assert rows[0]["登记日期"].date() == date(2026, 3, 1)

    assert export_ledger(engine, out, date_from=date(2026, 3, 2), date_to=date(2026, 3, 2)) == 1
    assert _read(out)[2][0]["简要案情"] == "三月二日凌晨登记"
    assert export_ledger(engine, out, date_to=date(2026, 3, 31)) == 2
    today = ledger_world["now"].astimezone(CHINA).date()
    assert export_ledger(engine, out, date_from=today - timedelta(days=3)) == 3
    assert export_ledger(engine, out, date_from=date(2020, 1, 1), date_to=date(2020, 12, 31)) == 0
    _, ws, rows = _read(out)
    assert rows == [] and [c.value for c in ws[2]] == HEADINGS
    with pytest.raises(InvalidInput):
        export_ledger(engine, out, date_from=date(2026, 3, 2), date_to=date(2026, 3, 1))


def _insert_plain_cases(engine, n: int) -> None:
    """`n` registered cases inserted directly (the ledger only reads them), numbered 1..n."""
    from sqlalchemy import insert

    now = datetime.now(UTC)
    rows = [
        {
            "case_no": f"测〔2026〕{i:05d}号",
            "center_code": "T",
            "case_year": 2026,
            "case_seq": i,
            "stage": "registered",
            "stage_seq": 1,
            "stage_entered_at": now,
            "category": "neighbor",
            "channel": "walk_in",
            "town": "塘下镇",
            "summary": f"第{i}件",
            "headcount": 1,
            "is_mass": False,
            "risk_level": "low",
            "clock": "people_mediation",
            "escalation_level": 0,
            "flagged": False,
            "police_reported": False,
            "clock_extension_days": 0,
            "clock_paused_days": 0,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for i in range(1, n + 1)
    ]
    with engine.begin() as conn:
        conn.execute(insert(Case), rows)


def test_ledger_reads_in_batches(engine, tmp_path) -> None:
    """Two and a half batches of cases: the export reads `cases` once per batch (and each detail table
    once per batch), never all at once, and still writes every case once, in id order."""
    import math
    import re

    from sqlalchemy import event

    from documents.spreadsheets import BATCH_SIZE

    n = 2 * BATCH_SIZE + BATCH_SIZE // 2
    _insert_plain_cases(engine, n)
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    out = tmp_path / "ledger.xlsx"
    try:
        assert export_ledger(engine, out) == n
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    case_reads = [s for s in statements if re.search(r"\bFROM cases\b", s) and "LIMIT" in s]
    party_reads = [s for s in statements if re.search(r"\bFROM parties\b", s)]
    assert len(case_reads) == len(party_reads) == math.ceil(n / BATCH_SIZE) == 3
    wb = load_workbook(out, read_only=True)
    numbers = [r[0] for r in wb.active.iter_rows(min_row=3, values_only=True)]
    assert numbers == [f"测〔2026〕{i:05d}号" for i in range(1, n + 1)]
    with session_scope(engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "ledger.export")).all()
    assert [e.after["cases"] for e in events] == [n]


@pytest.mark.postgres  # stored exactly on both databases (issue 24)
def test_ledger_amounts_are_exact_up_to_the_bound(engine, tmp_path) -> None:
    """A number cell holds 15 significant digits (openpyxl writes a float, Excel shows 15): amounts up to
    that are number cells; past it (99,999,999,999,999.99 元, the bound) the exact figures as text."""
    clerk = add_user(engine, "clerk", "staff")
    now = datetime.now(UTC)
    amounts = {"99999999999999.99": "bound", "12345678901234.5": "fifteen", "320000.50": "small"}
    ids = {
        label: _register(engine, neighbor_case(amount_involved=amount, summary=label), clerk, now)
        for amount, label in amounts.items()
    }
    out = tmp_path / "ledger.xlsx"
    assert export_ledger(engine, out) == 3
    _wb, ws, rows = _read(out)
    by_no = {r["案件编号"]: r for r in rows}
    cells = {label: by_no[_case_no(engine, case_id)]["涉案金额"] for label, case_id in ids.items()}
    assert cells == {"bound": "99,999,999,999,999.99", "fifteen": 12345678901234.5, "small": 320000.5}
    row = next(r for r in ws.iter_rows(min_row=3) if r[9].value == "99,999,999,999,999.99")
    assert row[9].data_type == "s" and row[9].alignment.horizontal == "right"
