"""The `tiaojie` command run as operators run it: a subprocess against its own data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import load_workbook

from models.validation import make_id_number

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


def test_user_add_with_short_password_fails_with_one_chinese_line(tiaojie: Runner) -> None:
    result = tiaojie("user", "add", "x", "--role", "staff", "--password-stdin", stdin="short\n")
    assert result.returncode != 0
    line = _one_line(result.stderr)
    assert _has_chinese(line) and "密码" in line
    assert "Traceback" not in result.stderr


def test_sweep_with_now(tiaojie: Runner) -> None:
    result = tiaojie("sweep", "--now", "2030-01-01T00:00:00+08:00")
    assert result.returncode == 0, result.stderr


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
