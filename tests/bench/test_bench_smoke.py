"""Smoke test of the benchmarks: the quickest mode of intake and sweep runs and yields numbers and ratios.

Timing targets are judged by `python -m bench.run`, not here: this only checks the benchmarks work."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

from bench.common import Result

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, name: str, *extra: str) -> Result:
    out = tmp_path / f"{name}.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--child",
            name,
            "--quick",
            "--result-file",
            str(out),
            "--workdir",
            str(tmp_path / name),
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return Result.from_json(out.read_text())


def _assert_ratios(res: Result) -> None:
    assert res.figures
    assert res.checks
    judged = [c for c in res.checks if c["passed"] is not None]
    assert judged, res.checks
    for c in res.checks:
        assert c["ratio"] is not None and math.isfinite(c["ratio"]) and c["ratio"] > 0, c


def test_intake_quick(tmp_path: Path) -> None:
    res = _run(tmp_path, "intake", "--requests", "60", "--concurrency", "2")
    _assert_ratios(res)
    labels = [label for label, _ in res.figures]
    assert any("bare" in label for label in labels) and any("POST /api/v1/cases" in label for label in labels)
    assert any("outbox" in note for note in res.notes)


def test_sweep_quick(tmp_path: Path) -> None:
    res = _run(tmp_path, "sweep", "--cases", "20000", "--reps", "1")
    _assert_ratios(res)
    figures = dict(res.figures)
    assert figures["sweep #2 right after (must escalate nothing)"].endswith("escalations 0")
    assert "escalations 100" in figures["sweep #1 (escalates, writes, rolled back)"]
