"""The `tiaojie` command run as operators run it: a subprocess against its own data directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from models.db import make_engine
from models.escalation import Escalation
from models.validation import make_id_number
from tests.factories import add_user, load_case, neighbor_case, register
from tests.support.clock import at

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("tiaojie")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "api.cli"]
CENTER = "瑞安市社会矛盾纠纷调处化解中心"


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIAOJIE_", "PREFECT_API_URL"))}
    env.update(
        {
            "TIAOJIE_DATA_DIR": str(data_dir),
            "TIAOJIE_SECRET_KEY": "cli-test-secret",
            "PREFECT_HOME": str(data_dir / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PYTHONIOENCODING": "utf-8",
            "TIAOJIE_PASSWORD_HASH_COST": "fast",  # as in tests/conftest.py
            "TIAOJIE_FLOW_RUNNER": "inline",  # the engine is not the subject (tests/conftest.py)
        }
    )
    return env


Runner = Callable[..., subprocess.CompletedProcess]


@pytest.fixture(scope="module")
def tiaojie(tmp_path_factory: pytest.TempPathFactory) -> Runner:
    """`tiaojie ARGS…` on a data dir initialised once for the module."""
    data_dir = tmp_path_factory.mktemp("cli-data")

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*COMMAND, *args],
            check=False,
            input=stdin,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=_env(data_dir),
            timeout=120,
        )

    result = run("init")
    assert result.returncode == 0, result.stderr
    assert "数据库已就绪" in result.stdout
    return run


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_user_add_reads_password_from_stdin(tiaojie: Runner) -> None:
    result = tiaojie(
        "user", "add", "clerk01", "--role", "staff", "--password-stdin", stdin="correct-horse-battery\n"
    )
    assert result.returncode == 0, result.stderr
    assert "clerk01" in result.stdout and result.stderr == ""


def test_user_add_reviewer_of_a_town_and_of_the_county(tiaojie: Runner) -> None:
    """`--role reviewer --town T`: a 司法所's reviewer; without `--town`: the 司法局's."""
    for args in (("sfs01", "--town", "塘下镇"), ("county01",)):
        name, *town = args
        result = tiaojie(
            "user",
            "add",
            name,
            "--role",
            "reviewer",
            *town,
            "--password-stdin",
            stdin="correct-horse-battery\n",
        )
        assert result.returncode == 0, result.stderr
        assert f"{name}（reviewer" in result.stdout


def test_user_add_with_short_password_fails_with_one_chinese_line(tiaojie: Runner) -> None:
    result = tiaojie("user", "add", "x", "--role", "staff", "--password-stdin", stdin="short\n")
    assert result.returncode != 0
    line = _one_line(result.stderr)
    assert _has_chinese(line) and "密码" in line
    assert "Traceback" not in result.stderr


def test_sweep_with_now(tmp_path: Path, sqlite_template: Path) -> None:
    """The sweep at a given moment escalates what is overdue then, prints it, and stores it."""
    # Its own database (a migrated copy), as the ledger test counts this module's cases.
    shutil.copy(sqlite_template, tmp_path / "tiaojie.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'tiaojie.db'}")

    def tiaojie(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*COMMAND, *args], check=False, capture_output=True, text=True, cwd=ROOT, env=_env(tmp_path)
        )

    try:
        clerk = add_user(engine, "clerk", "staff")
        director = add_user(engine, "director", "leader", level=1)
        town_leader = add_user(engine, "town", "leader", level=2, town="塘下镇")
        # Registered Monday 2 Nov 2026; deciding on it takes at most 3 working days: Thu 5 Nov ends the
        # period (24:00), so the ladder climbs at 6 Nov 00:00 and again 7 days later, 13 Nov 00:00.
        cid = register(engine, neighbor_case(), actor_id=clerk, now=at(2026, 11, 2, 9))
        case_no = load_case(engine, cid).case_no

        quiet = tiaojie("sweep", "--now", "2026-11-05T23:59:00+08:00")
        assert quiet.returncode == 0, quiet.stderr
        assert quiet.stdout == "没有需要督办的案件\n"

        result = tiaojie("sweep", "--now", "2026-11-14T00:00:00+08:00")
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [
            f"案件 {case_no}（id={cid}）：0 → 1  “登记”阶段超过期限，升级为中心主任督办",
            f"案件 {case_no}（id={cid}）：1 → 2  “登记”阶段超过期限（逾期第2个督办周期，约14日），"
            "升级为镇街领导督办",
        ]
        with Session(engine) as session:
            rows = session.exec(select(Escalation).where(Escalation.case_id == cid).order_by(Escalation.id))
            assert [(r.from_level, r.to_level, r.period_index, r.assignee_id) for r in rows] == [
                (0, 1, 0, director),
                (1, 2, 1, town_leader),
            ]
        assert load_case(engine, cid).escalation_level == 2
    finally:
        engine.dispose()


def test_experts_import_csv_keeps_good_rows_and_reports_bad_ones(tiaojie: Runner, tmp_path: Path) -> None:
    good = make_id_number("330381", seq=501)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    path = tmp_path / "bank.csv"
    path.write_bytes(
        "\ufeff姓名,类别,单位,服务镇街,专长,最大在办案件数,身份证号\n"
        f"命令行甲,人民调解员,玉海街道调委会,玉海街道,劳动争议;邻里纠纷,5,{good}\n"
        f"命令行乙,律师,某律所,,合同纠纷,5,{bad}\n"
        "命令行丙,乡贤,,塘下镇,neighbor,3,\n".encode()
    )
    result = tiaojie("experts", "import", str(path))
    assert result.returncode == 0, result.stderr
    assert "导入 2 名专家，1 行有误" in result.stdout
    assert "第 3 行：身份证号：身份证号校验位不正确" in result.stdout

    # The same file again: everyone is a duplicate, nothing accepted → non-zero, one line on stderr.
    again = tiaojie("experts", "import", str(path))
    assert again.returncode != 0
    assert "没有导入任何专家" in _one_line(again.stderr)
    assert "第 2 行：重复" in again.stdout


def test_experts_import_xlsx(tiaojie: Runner, tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["name", "kind", "organization", "specialties", "max_active_cases"])
    wb.active.append(["表格专家", "judge", "瑞安市人民法院", "contract", 4])
    path = tmp_path / "bank.xlsx"
    wb.save(path)
    result = tiaojie("experts", "import", str(path))
    assert result.returncode == 0, result.stderr
    assert "导入 1 名专家，0 行有误" in result.stdout


def test_experts_import_nothing_accepted_fails(tiaojie: Runner, tmp_path: Path) -> None:
    path = tmp_path / "nothing.csv"
    path.write_text("foo,bar\n1,2\n", encoding="utf-8")
    result = tiaojie("experts", "import", str(path))
    assert result.returncode != 0
    assert _has_chinese(_one_line(result.stderr))
    assert "第 1 行：" in result.stdout


def test_experts_import_over_the_row_limit_fails(tiaojie: Runner, tmp_path: Path) -> None:
    from documents.spreadsheets import MAX_IMPORT_ROWS

    path = tmp_path / "huge.csv"
    path.write_text("姓名,类别\n" + ",\n" * (MAX_IMPORT_ROWS - 1) + "超限专家,mediator\n", encoding="utf-8")
    result = tiaojie("experts", "import", str(path))
    assert result.returncode == 1
    assert f"文件超过 {MAX_IMPORT_ROWS} 行的上限" in _one_line(result.stderr)
    assert "导入" not in result.stdout
    # Its last row alone then imports: the refused file added nothing (else this would be a duplicate).
    alone = tmp_path / "alone.csv"
    alone.write_text("姓名,类别\n超限专家,mediator\n", encoding="utf-8")
    again = tiaojie("experts", "import", str(alone))
    assert again.returncode == 0, again.stderr
    assert "导入 1 名专家，0 行有误" in again.stdout


def test_experts_import_missing_file_fails(tiaojie: Runner, tmp_path: Path) -> None:
    result = tiaojie("experts", "import", str(tmp_path / "absent.csv"))
    assert result.returncode != 0
    assert "找不到文件" in _one_line(result.stderr)


def test_export_ledger(tiaojie: Runner, tmp_path: Path) -> None:
    out = tmp_path / "out" / "台账.xlsx"
    result = tiaojie("export", "ledger", "--out", str(out), "--from", "2026-01-01", "--to", "2026-12-31")
    assert result.returncode == 0, result.stderr
    assert "已导出 0 件案件" in result.stdout
    ws = load_workbook(out).active
    assert ws["A1"].value == CENTER + "矛盾纠纷调解案件台账"
    assert ws["A2"].value == "案件编号"


def test_export_ledger_with_reversed_dates_fails_with_one_line(tiaojie: Runner, tmp_path: Path) -> None:
    out = tmp_path / "bad.xlsx"
    result = tiaojie("export", "ledger", "--out", str(out), "--from", "2026-12-31", "--to", "2026-01-01")
    assert result.returncode != 0
    assert "晚于" in _one_line(result.stderr)
    assert not out.exists()


def test_parties_rehash_after_a_key_change(tmp_path: Path, sqlite_template: Path) -> None:
    """Parties written under the test process's key are found again under the server's key only after
    `tiaojie parties rehash`: it rewrites every keyed hash with the key the command runs with."""
    import hashlib
    import hmac

    from models.party import Party

    shutil.copy(sqlite_template, tmp_path / "tiaojie.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'tiaojie.db'}")
    number = make_id_number("330381", date(1985, 3, 12), 441)
    try:
        clerk = add_user(engine, "clerk", "staff")
        body = neighbor_case()
        body["parties"][0].update(id_number=number, phone="13912340041")
        cid = register(engine, body, actor_id=clerk, now=at(2026, 11, 2, 9))
        key = hmac.new(b"cli-test-secret", b"tiaojie-party-lookup-v1", hashlib.sha256).digest()

        def under_cli_key(kind: str, value: str) -> str:
            return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

        def hashes() -> tuple[str | None, str | None]:
            with Session(engine) as session:
                party = session.exec(select(Party).where(Party.case_id == cid).order_by(Party.id)).first()
                assert party is not None
                return party.id_number_hash, party.phone_hash

        expected = (under_cli_key("id_number", number), under_cli_key("phone", "13912340041"))
        assert hashes() != expected  # written under this process's key
        result = subprocess.run(
            [*COMMAND, "parties", "rehash"],
            check=False,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=_env(tmp_path),
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == "已按当前密钥重新计算 2 名当事人的证件号、电话检索摘要\n"
        assert hashes() == expected
    finally:
        engine.dispose()
