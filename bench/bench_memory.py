"""Memory: RSS of `tiaojie serve` (embedded mode), its embedded Prefect server included, after 10,000
requests.

`tiaojie serve` runs as users run it (embedded: the relay threads run the flows; Prefect's API runs
on a thread of serve itself since 2026-11-26, a child process before), on a fresh SQLite database
with a clerk, a leader and a town dictionary. The requests mix what a day at the window looks like:
intakes (each runs the intake flow: related cases, the 受理登记表 PDF), acceptances (受理通知书), the
JSON case list and case file, and the pages (workbench, case list, case page, dashboard). RSS is read
from /proc: the serve process and its descendants (none now), before and after. Target: serve +
embedded Prefect ≤ 400 MB. Also shown, to say where memory goes: each process's RSS split into
anonymous memory, the font files WeasyPrint mapped and other files (/proc/PID/smaps); the RSS of fresh
interpreters after importing the app and the flows (import weight), WeasyPrint, after rendering
serve's warm-up document and after creating Prefect's API app in the same interpreter (serve's floor),
and of one importing Prefect's server app alone (the old child's floor). `--mem-arena-max N` runs
serve with MALLOC_ARENA_MAX=N instead of its own limit of 2 (runtime.memory): the arena effect, A/B.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.common import ROOT, Result, descendants, free_port, header, make_staff, rss_mb

TARGET_MB = 400
BIN = Path(sys.executable).parent

_IMPORTS = """
import os, sys
def rss():
    for line in open(f"/proc/{os.getpid()}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
base = rss()
import api.main, flows.registry, api.cli  # noqa: E401
app = rss()
import weasyprint  # noqa: F401
weasy = rss()
from documents.render import html_to_pdf
from runtime.relay import _WARM_UP_HTML
from runtime.memory import release_free_memory
html_to_pdf(_WARM_UP_HTML)  # what serve's warm-up renders: fonts loaded, the big CJK ones included
release_free_memory()
rendered = rss()
from bench.bench_memory import smaps
fonts = smaps(os.getpid())["fonts"]
from prefect.server.api.server import create_app
create_app(ephemeral=True, final=True)  # what serve runs on a thread (runtime.prefect_env)
with_api = rss()
print(f"{base:.0f} {app:.0f} {weasy:.0f} {rendered:.0f} {fonts:.0f} {with_api:.0f}")
"""

# What the embedded Prefect server is before it serves anything: a fresh interpreter importing its app.
_PREFECT_SERVER_IMPORTS = """
import os
def rss():
    for line in open(f"/proc/{os.getpid()}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
import prefect.server.api.server  # noqa: F401
print(f"{rss():.0f}")
"""


def _fresh(code: str) -> list[float]:
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=os.environ.copy()
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return [float(x) for x in out.stdout.split()]


def smaps(pid: int) -> dict[str, float]:
    """Where a process's resident memory is (MB): anonymous (malloc, Python objects, thread stacks), the
    font files WeasyPrint mapped (file pages: shared with the page cache, but resident), other files
    (shared libraries, Python extension modules)."""
    out = {"anon": 0.0, "fonts": 0.0, "files": 0.0}
    name = ""
    try:
        text = Path(f"/proc/{pid}/smaps").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        first = line.split(maxsplit=5)
        if "-" in first[0] and not first[0].endswith(":"):
            name = first[5] if len(first) > 5 else ""
        elif line.startswith("Rss:"):
            kb = int(first[1])
            if not name.startswith("/"):
                out["anon"] += kb / 1024
            elif "/fonts/" in name:
                out["fonts"] += kb / 1024
            else:
                out["files"] += kb / 1024
    return out


def _where(pid: int) -> str:
    parts = smaps(pid)
    return f"anon {parts['anon']:.0f}, fonts {parts['fonts']:.0f}, other files {parts['files']:.0f}"


def _breakdown(pid: int) -> list[tuple[str, float, str]]:
    rows = []
    for child in descendants(pid):
        try:
            cmd = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80]
        except OSError:
            continue
        rows.append((cmd, rss_mb(child), _where(child)))
    return rows


def run(
    *, quick: bool = False, mem_requests: int | None = None, mem_arena_max: int | None = None, workdir: Path
) -> Result:
    n = mem_requests or (600 if quick else 10_000)
    header(f"memory: RSS of tiaojie serve (embedded) after {n:,} requests")
    res = Result("memory", "Memory of tiaojie serve (embedded)")
    from models.db import make_engine
    from models.migrate import upgrade
    from tests.factories import PASSWORD, add_user, neighbor_case

    db = workdir / "memory.db"
    url = f"sqlite:///{db}"
    upgrade(url)
    eng = make_engine(url)
    make_staff(eng)
    add_user(eng, "bench_leader", "leader", level=1, display_name="基准测试领导")
    eng.dispose()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_URL")}
    env.update(TIAOJIE_DATABASE_URL=url, PREFECT_LOGGING_LEVEL="WARNING")
    env.pop("MALLOC_ARENA_MAX", None)
    if mem_arena_max:  # A/B of serve's own arena limit (runtime.memory): glibc's default is 8 per core
        env["MALLOC_ARENA_MAX"] = str(mem_arena_max)
    res.fig("malloc arenas (MALLOC_ARENA_MAX)", env.get("MALLOC_ARENA_MAX", "2, serve's own limit"))
    log = workdir / "serve.log"
    measured: tuple[float, float] | None = None  # serve + children: at start, after the requests
    with open(log, "w") as logf:
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [str(BIN / "tiaojie"), "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=logf,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 900  # Prefect's server boots first (minutes on a busy machine)
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"tiaojie serve did not start: {log.read_text()[-2000:]}")
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            res.fig("tiaojie serve listening (embedded Prefect started)", f"{time.monotonic() - t0:.1f} s")
            start_main, start_kids = rss_mb(proc.pid), rss_mb(proc.pid, children=True) - rss_mb(proc.pid)
            res.fig("RSS at start: serve / embedded Prefect", f"{start_main:.0f} MB / {start_kids:.0f} MB")
            res.fig("  serve at start: where", _where(proc.pid))
            made = _requests(base, n, PASSWORD, neighbor_case())
            time.sleep(3)  # the relay finishes the last flows
            main = rss_mb(proc.pid)
            kids = rss_mb(proc.pid, children=True) - main
            res.fig("requests", made)
            res.fig(f"RSS after {n:,} requests: serve", f"{main:.0f} MB")
            res.fig("  serve: where", _where(proc.pid))
            for cmd, mb, where in _breakdown(proc.pid):
                cmd = " ".join(cmd.split())
                res.fig(f"  child {cmd[:40]}", f"{mb:.0f} MB ({where})")
            total = main + kids
            measured = (start_main + start_kids, total)
            res.check(
                "memory: serve + embedded Prefect",
                measured=f"{total:.0f} MB ({main:.0f} + {kids:.0f})",
                baseline=f"at start {start_main + start_kids:.0f} MB",
                ratio=total / TARGET_MB,
                target=f"<= {TARGET_MB} MB",
                passed=total <= TARGET_MB,
            )
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    py, app, weasy, rendered, fonts, with_api = _fresh(_IMPORTS)
    (prefect_server,) = _fresh(_PREFECT_SERVER_IMPORTS)
    res.fig(
        "import weight (fresh interpreter)",
        f"python {py:.0f} MB; + app, flows, Prefect {app:.0f} MB; + WeasyPrint {weasy:.0f} MB",
    )
    res.fig("  + one document rendered (warm-up)", f"{rendered:.0f} MB, of it font files {fonts:.0f} MB")
    res.fig("  Prefect's server app imported, alone", f"{prefect_server:.0f} MB")
    res.fig(
        "  + Prefect's API app in the same interpreter", f"{with_api:.0f} MB (serve's floor: nothing served)"
    )
    res.fig(
        "  (as two processes, before 2026-11-26)",
        f"{rendered + prefect_server:.0f} MB = a rendering app {rendered:.0f} + Prefect {prefect_server:.0f}",
    )
    if measured is not None and measured[1] > TARGET_MB:
        res.note(
            f"why not <= {TARGET_MB} MB: one interpreter that renders the documents (WeasyPrint with the "
            f"CJK fonts, {fonts:.0f} MB of them font files) and holds Prefect's API weighs {with_api:.0f} MB "
            f"before it serves anything; serve holds {measured[0]:.0f} MB at start (Prefect's API started "
            f"with its database migrated, the web app, the relay's and the scheduler's first runs) and "
            f"{measured[1]:.0f} MB after the requests. Not built: documents rendered in another process (a "
            "bare WeasyPrint process is 136 MB, and starting one per document takes >= 0.6 s of the 2 s "
            "ready target; bench/README.md section 8)"
        )
    return res


def _requests(base: str, n: int, password: str, body: dict) -> str:
    """n requests: 1 in 50 an intake, 1 in 50 an acceptance, the rest reads (JSON and pages)."""
    counts: dict[str, int] = {}
    errors = 0
    with httpx.Client(base_url=base, timeout=120) as api, httpx.Client(base_url=base, timeout=120) as page:
        token = api.post("/api/v1/auth/token", data={"username": "bench_clerk", "password": password})
        api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        form = page.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf, form.text[:300]
        page.post(
            "/login", data={"username": "bench_clerk", "password": password, "csrf_token": csrf.group(1)}
        )
        ids: list[int] = [api.post("/api/v1/cases", json=body).json()["id"]]
        accepted = 0
        for i in range(n):
            cid = ids[i % len(ids)]
            kind = i % 50
            if kind == 0:
                r, name = api.post("/api/v1/cases", json=body), "intake"
                if r.status_code == 201:
                    ids.append(r.json()["id"])
            elif kind == 1 and accepted < len(ids) - 1:
                r, name = api.post(f"/api/v1/cases/{ids[accepted]}/accept", json={}), "accept"
                accepted += 1
            elif kind % 5 == 0:
                r, name = page.get("/workbench"), "page /workbench"
            elif kind % 5 == 1:
                r, name = page.get("/cases"), "page /cases"
            elif kind % 5 == 2:
                r, name = page.get(f"/cases/{cid}"), "page /cases/{id}"
            elif kind % 5 == 3:
                r, name = api.get("/api/v1/cases"), "GET /api/v1/cases"
            else:
                r, name = api.get(f"/api/v1/cases/{cid}"), "GET /api/v1/cases/{id}"
            counts[name] = counts.get(name, 0) + 1
            errors += r.status_code >= 400
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + f"; errors {errors}"


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mem-requests", type=int, help="requests before reading RSS (memory; default 10000)")
    p.add_argument(
        "--mem-arena-max",
        type=int,
        help="MALLOC_ARENA_MAX for serve (memory; A/B of its limit of 2; glibc: 16)",
    )
