"""Summarise a py-spy `--format raw` (collapsed stacks) file: inclusive share per function.

    py-spy record --pid PID --duration 15 --format raw -o stacks.txt
    .venv/bin/python -m bench.spy_summary stacks.txt [--all] [--top 40]

By default only our code (frames outside site-packages and the stdlib) and a few library milestones are
listed, with the share of all samples whose stack passes through them, plus the top leaf functions."""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Callable


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("path")
    p.add_argument("--all", action="store_true", help="list library frames too")
    p.add_argument("--top", type=int, default=40)
    args = p.parse_args()
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    with open(args.path, encoding="utf-8") as lines:
        rows = list(lines)
    for line in rows:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        seen = set()
        for f in frames:
            name = re.sub(r":\d+\)$", ")", f)  # function (file) without the line number
            if name not in seen:
                seen.add(name)
                inclusive[name] += n
        leaf[re.sub(r":\d+\)$", ")", frames[-1])] += n

    def ours(name: str) -> bool:
        return bool(re.search(r"\((/work/main/)?(api|flows|models|documents)/", name))

    print(f"{total} samples")
    print("inclusive (stack passes through):")
    for name, n in inclusive.most_common():
        if args.all or ours(name):
            print(f"  {100 * n / total:5.1f}%  {name}")
    print("leaf (own time):")
    for name, n in leaf.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()


# --- Where a server's CPU goes per request (used by bench_intake when a target fails) -------------

# Stack regions, matched against each frame "function (file:line)". A sample belongs to the deepest
# frame that matches any rule (a driver call inside SQLAlchemy inside the intake is "database").
REGIONS: list[tuple[str, str]] = [
    (
        r"\((?:.*/)?(uvicorn|h11|httptools|asyncio|anyio|uvloop)/|\(<frozen|selectors\.py",
        "HTTP server, event loop, threads",
    ),
    (r"\((?:.*/)?(starlette|fastapi)/", "FastAPI/Starlette (routing, request, response)"),
    (r"\((?:.*/)?api/main\.py", "our ASGI wrappers (body limit, security headers)"),
    (r"\((?:.*/)?api/idempotency\.py", "Idempotency-Key wrapper"),
    (
        r"\((?:.*/)?(pydantic|pydantic_core)/|request_body_to_args|_validate_value|model_validate",
        "request validation (pydantic)",
    ),
    (
        r"\((?:.*/)?(api/security\.py|api/deps\.py|models/auth_session\.py|jwt/)",
        "authentication (token, session, user)",
    ),
    (r"\((?:.*/)?(api/routes/|models/public\.py)", "our route and response"),
    (r"\((?:.*/)?(flows|models|documents)/", "intake rules in Python (place, risk, deadline, number, audit)"),
    (
        r"^(do_execute|do_executemany|do_execute_no_params|do_commit|do_begin|connect) \("
        r"|psycopg2|sqlite3",
        "database driver: statements and commit",
    ),
    (r"\((?:.*/)?sqlalchemy/|\((?:.*/)?sqlmodel/", "SQLAlchemy (statements, ORM)"),
    (r"jsonable_encoder|serialize_response|\(json/|orjson|render \(", "response serialization (JSON)"),
    (r"\((?:.*/)?bench/bare_app\.py", "bare endpoint"),
]


def regions(path: str) -> dict[str, int]:
    """Samples per region of a py-spy raw file."""
    compiled = [(re.compile(p), label) for p, label in REGIONS]
    out: Counter[str] = Counter()
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            label = "other"
            for frame in stack.split(";"):
                for rx, name in compiled:
                    if rx.search(frame):
                        label = name
                        break
            out[label] += int(count)
    return dict(out)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its threads) from /proc."""
    import os
    from pathlib import Path

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def profile_load(pid: int, out: str, load: Callable[[], int]) -> tuple[dict[str, float], float] | None:
    """Run `load` (returns the number of requests) while py-spy samples `pid` (threads holding the
    GIL, i.e. Python at work); returns CPU ms per request by region and the total CPU ms per request,
    or None when py-spy cannot attach (no ptrace permission)."""
    import shutil
    import subprocess
    import sys
    import time
    from pathlib import Path

    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        return None
    proc = subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--gil",
            "--rate",
            "250",
            "--format",
            "raw",
            "-o",
            out,
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # attached
    if proc.poll() is not None:
        return None
    cpu0 = cpu_seconds(pid)
    n = load()
    cpu = cpu_seconds(pid) - cpu0
    proc.send_signal(2)  # SIGINT: py-spy writes the file and exits
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return None
    if not Path(out).exists():
        return None
    counts = regions(out)
    total = sum(counts.values()) or 1
    per_request = 1000 * cpu / max(n, 1)
    return {k: per_request * v / total for k, v in counts.items()}, per_request
