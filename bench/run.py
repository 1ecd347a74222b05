"""Run the benchmarks and print each figure, its ratio against a same-run baseline, and PASS/FAIL.

    .venv/bin/python -m bench.run [NAME ...] [--quick] [--postgres]

NAME is any of intake, sweep, dashboard, orchestration, actions (default: all). Each benchmark runs in
its own child process (a clean interpreter: no Prefect server or 1M-row leftovers between them) and
hands its result back as JSON; a summary table closes the run. See bench/README.md.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCHMARKS = {
    "intake": "bench.bench_intake",
    "sweep": "bench.bench_sweep",
    "dashboard": "bench.bench_dashboard",
    "orchestration": "bench.bench_orchestration",
    "actions": "bench.bench_actions",
    "server": "bench.bench_server",
    "pages": "bench.bench_pages",
    "memory": "bench.bench_memory",
    "ready": "bench.bench_ready",  # document ready after the action, embedded and server mode
}
ALIASES = {"action": "actions", "action-latency": "actions", "orch": "orchestration"}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("names", nargs="*", help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    p.add_argument("--quick", action="store_true", help="CI-sized runs (50k cases, fewer requests/calls)")
    p.add_argument(
        "--postgres",
        action="store_true",
        help="also run intake and actions on PostgreSQL (dashboard always uses PostgreSQL)",
    )
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--result-file", help=argparse.SUPPRESS)
    p.add_argument("--workdir", help="scratch folder (default: a new temp dir)")
    for module in BENCHMARKS.values():
        mod = importlib.import_module(module)
        if hasattr(mod, "add_args"):
            mod.add_args(p)
    return p


def _child(args: argparse.Namespace) -> int:
    from bench.common import setup_env

    workdir = setup_env(Path(args.workdir) if args.workdir else None)
    mod = importlib.import_module(BENCHMARKS[args.child])
    import inspect

    wanted = inspect.signature(mod.run).parameters
    kwargs = {k: v for k, v in vars(args).items() if k in wanted and k != "workdir"}
    result = mod.run(workdir=workdir, **kwargs)
    Path(args.result_file).write_text(result.to_json())
    return 0


def _summary(results: list, failed_to_run: list[str]) -> bool:
    rows = [("benchmark", "check", "measured", "baseline", "ratio", "target", "result")]
    ok = True
    for res in results:
        for c in res.checks:
            verdict = "n/a" if c["passed"] is None else ("PASS" if c["passed"] else "FAIL")
            ok = ok and c["passed"] is not False
            rows.append(
                (
                    res.name,
                    c["label"],
                    c["measured"],
                    c["baseline"],
                    f"{c['ratio']:.2f}x" if c["ratio"] is not None else "-",
                    c["target"],
                    verdict,
                )
            )
    for name in failed_to_run:
        rows.append((name, "(did not run)", "-", "-", "-", "-", "ERROR"))
        ok = False
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print("\n=== summary ===")
    for i, r in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    return ok


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.child:
        return _child(args)
    names = [ALIASES.get(n, n) for n in (args.names or list(BENCHMARKS))]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser().error(f"unknown benchmark(s): {', '.join(unknown)}")
    from bench.common import Result

    passthrough = [a for a in (argv if argv is not None else sys.argv[1:]) if a not in args.names]
    results: list[Result] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tiaojie-bench-") as tmp:
        for name in names:
            result_file = Path(tmp) / f"{name}.json"
            workdir = Path(args.workdir) / name if args.workdir else Path(tmp) / name
            t0 = time.perf_counter()
            rc = subprocess.call(
                [
                    sys.executable,
                    "-m",
                    "bench.run",
                    "--child",
                    name,
                    "--result-file",
                    str(result_file),
                    "--workdir",
                    str(workdir),
                    *[a for a in passthrough if not a.startswith("--workdir")],
                ]
            )
            print(f"  ({name}: {time.perf_counter() - t0:.0f} s wall)", flush=True)
            if rc != 0 or not result_file.exists():
                failed.append(name)
                continue
            results.append(Result.from_json(result_file.read_text()))
    ok = _summary(results, failed)
    mode = "quick" if args.quick else "full"
    print(f"\n({mode} mode; ratios are against baselines measured in this same run)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
