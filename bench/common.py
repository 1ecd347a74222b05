"""Shared bits of the benchmarks: environment, results, timing, servers, PostgreSQL scratch databases.

`setup_env()` must run before anything imports `prefect`, `models` or `flows` (settings are read once).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "out"
PG_ADMIN_URL = os.environ.get("TIAOJIE_BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
# A fixed, known secret: the benchmark servers are throwaway and local.
BENCH_SECRET = "bench-secret-key-not-for-production-0123456789"


def setup_env(workdir: Path | None = None) -> Path:
    """Point our data dir and Prefect's home at a scratch folder, as tests/conftest.py does."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix="tiaojie-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ["TIAOJIE_DATA_DIR"] = str(workdir / "data")
    os.environ.setdefault("TIAOJIE_SECRET_KEY", BENCH_SECRET)
    os.environ["PREFECT_HOME"] = str(workdir / "prefect")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "90"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.pop("PREFECT_API_URL", None)  # embedded: runtime.prefect_env.serve_embedded_api serves it
    # As runtime.prefect_env.configure(): never Prefect's own child server.
    os.environ["PREFECT_SERVER_EPHEMERAL_ENABLED"] = "false"
    (workdir / "data").mkdir(exist_ok=True)
    return workdir


@dataclass
class Result:
    """One benchmark's outcome: the figures, and each target as a ratio against a same-run baseline."""

    name: str
    title: str
    figures: list[tuple[str, str]] = field(default_factory=list)
    checks: list[dict] = field(default_factory=list)  # {label, measured, baseline, ratio, target, passed}
    notes: list[str] = field(default_factory=list)

    def fig(self, label: str, value: str) -> None:
        self.figures.append((label, value))
        print(f"  {label:<52} {value}", flush=True)

    def check(
        self,
        label: str,
        *,
        measured: str,
        baseline: str,
        ratio: float | None,
        target: str,
        passed: bool | None,
    ) -> None:
        self.checks.append(
            dict(label=label, measured=measured, baseline=baseline, ratio=ratio, target=target, passed=passed)
        )
        verdict = "n/a" if passed is None else ("PASS" if passed else "FAIL")
        ratio_s = f"{ratio:.2f}x" if ratio is not None else "-"
        print(f"  => {label}: {measured} vs {baseline} = {ratio_s}  (target {target})  {verdict}", flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Result:
        data = json.loads(text)
        data["figures"] = [tuple(f) for f in data["figures"]]
        return cls(**data)


def header(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)
    print(f"  (load average at start: {loadavg()} on {os.cpu_count()} cores)", flush=True)


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def pct(values: list[float], q: float) -> float:
    """Percentile by linear interpolation (q in 0..100)."""
    data = sorted(values)
    if not data:
        return float("nan")
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def median(values: list[float]) -> float:
    return statistics.median(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def rss_mb(pid: int, *, children: bool = False) -> float:
    """Resident memory of a process (and, with `children`, of its descendants) in MB, from /proc."""

    def one(p: int) -> float:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    total = one(pid)
    if children:
        total += sum(one(c) for c in descendants(pid))
    return total


def descendants(pid: int) -> list[int]:
    """Every descendant process id of `pid` (from /proc/*/stat's parent ids)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m bench._server KIND URL PORT` under uvicorn in a subprocess; stopped by its pid."""

    def __init__(self, kind: str, url: str, *, workdir: Path) -> None:
        self.kind, self.url, self.port = kind, url, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"server-{kind}-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        import httpx

        self._logf = open(self.log, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench._server", self.kind, self.url, str(self.port)],
            cwd=ROOT,
            stdout=self._logf,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.kind} server did not start: {self.log.read_text()[-2000:]}")

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._logf.close()


class PgDatabase:
    """A scratch PostgreSQL database `tiaojie_bench_<what>_<random>`, dropped on exit."""

    def __init__(self, what: str, *, keep: bool = False) -> None:
        from sqlalchemy.engine import make_url

        self.keep = keep
        self.name = f"tiaojie_bench_{what}_{uuid.uuid4().hex[:8]}"
        self.url = make_url(PG_ADMIN_URL).set(database=self.name).render_as_string(hide_password=False)

    def _admin(self):
        from sqlalchemy import create_engine

        return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")

    def __enter__(self) -> PgDatabase:
        from sqlalchemy import text

        admin = self._admin()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        admin.dispose()
        return self

    def __exit__(self, *exc: object) -> None:
        from sqlalchemy import text

        if self.keep:
            return
        admin = self._admin()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin.dispose()


def postgres_available() -> bool:
    try:
        import psycopg2
        from sqlalchemy.engine import make_url

        u = make_url(PG_ADMIN_URL)
        psycopg2.connect(
            host=u.host, port=u.port, user=u.username, dbname=u.database, connect_timeout=3
        ).close()
        return True
    except Exception:
        return False


def make_staff(engine, username: str = "bench_clerk") -> None:
    """The clerk, and the town dictionary a deployed center has (the intake checks the town against it;
    with none, every intake would read the whole, empty dictionary to say so)."""
    from sqlmodel import Session

    from models.town import Town
    from tests.factories import add_user

    add_user(engine, username, "staff", display_name="陈晓")
    with Session(engine) as session:
        if session.get(Town, 1) is None:
            towns = ("塘下镇", "莘塍街道", "汀田街道", "飞云街道", "仙降街道", "马屿镇", "陶山镇", "湖岭镇")
            for i, name in enumerate(towns):
                session.add(Town(name=name, position=i, villages=["罗凤村"] if name == "塘下镇" else []))
            session.commit()


def login(base: str, username: str = "bench_clerk") -> dict[str, str]:
    import httpx

    from tests.factories import PASSWORD

    r = httpx.post(f"{base}/api/v1/auth/token", data={"username": username, "password": PASSWORD}, timeout=30)
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}
