"""Prefect's own settings: its home under our data dir, no analytics, a generous start-up timeout for
the temporary local server on slow machines. The entry points (`tiaojie …`) call `configure()` before
anything imports Prefect; importing a flow module changes no environment."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from typing import Any

from models.settings import get_settings


def configure() -> None:
    home = (get_settings().data_dir / "prefect").resolve()
    if "PREFECT_HOME" not in os.environ:
        home.mkdir(parents=True, exist_ok=True)
        os.environ["PREFECT_HOME"] = str(home)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")
    # Read by Prefect's settings when it is imported: they shape the API `tiaojie serve` runs in its own
    # process (and the child Prefect starts if that failed). They change nothing for a client.
    for name, value in EMBEDDED_SERVER_ENV.items():
        os.environ.setdefault(name, value)


# Run in the child instead of `python -m uvicorn …`: the same server, plus a watchdog thread that stops it
# once the process that started it is gone (kill -9 runs no atexit hook, and Prefect registers nothing
# else). A watched parent pid, not PR_SET_PDEATHSIG: that signal fires when the starting *thread* exits,
# and Prefect starts the server from whichever thread first needs it.
_WATCHDOG = """
import os, runpy, signal, sys, threading, time
parent = int(sys.argv[1])
sys.argv = ["uvicorn", *sys.argv[2:]]
def watch():
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(10)
    os._exit(1)
threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()
runpy.run_module("uvicorn", run_name="__main__", alter_sys=True)
"""


class _WatchedSubprocess:
    """Prefect's server module's view of `subprocess`: Popen of `python -m uvicorn` gets the watchdog."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def Popen(self, args: Any, *rest: Any, **kwargs: Any) -> Any:  # subprocess's name
        args = list(args)
        if args[1:3] == ["-m", "uvicorn"]:
            args = [args[0], "-c", _WATCHDOG, str(os.getpid()), *args[3:]]
        return self._real.Popen(args, *rest, **kwargs)


# What the temporary server of embedded mode does without (an operator's own setting wins): no
# automations (triggers and their actions), no event history written or streamed, no log stream, no task
# run records (written from the event stream beside the API's own writes, they made its SQLite database
# answer flow-run creations with 503s: 10 of 24 runs of four threads, none without them; see
# _OneWriterAtATime). Our database holds the truth and embedded mode has no UI to show them. Flow run
# states and retries still go through it; task retries are the task engine's own. `configure()` puts
# them in the environment, where Prefect's settings (and a child server's, which inherits it with the
# malloc arena limit of runtime.memory) read them.
EMBEDDED_SERVER_ENV = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_EVENT_LOGGER_ENABLED": "false",
    "PREFECT_SERVER_EVENTS_STREAM_OUT_ENABLED": "false",
    "PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED": "false",
}


def guard_embedded_server() -> None:
    """Make Prefect's temporary server (embedded mode) die with this process, however it ends."""
    import prefect.server.api.server as server_module

    if not isinstance(server_module.subprocess, _WatchedSubprocess):
        server_module.subprocess = _WatchedSubprocess(server_module.subprocess)  # type: ignore[assignment]


class _ServerThread:
    """Prefect's `SubprocessASGIServer` keeps a Popen of its server as `server_process`; this is that
    handle for a server run in a thread of this process (poll, terminate, wait and kill as Popen's)."""

    returncode: int | None = None
    stdout = None
    stderr = None

    def __init__(self, server: Any, thread: threading.Thread) -> None:
        self._server, self._thread = server, thread

    def poll(self) -> int | None:
        return None if self._thread.is_alive() else 0

    def terminate(self) -> None:
        self._server.should_exit = True

    def kill(self) -> None:
        self._server.force_exit = True
        self._server.should_exit = True

    def wait(self, timeout: float | None = None) -> int:
        self._thread.join(timeout)
        if self._thread.is_alive():
            import subprocess

            raise subprocess.TimeoutExpired("prefect-api", timeout or 0)
        self.returncode = 0
        return 0


def _serve_in_this_process() -> int:
    """Prefect's API (the temporary server's app: no UI, embedded services only) on a thread of this
    process, registered as the temporary server Prefect's client uses when no PREFECT_API_URL is set.

    Why not Prefect's own child process: it imports the same FastAPI, SQLAlchemy and pydantic again and
    held 230–250 MB beside serve; in this process its own modules add about 50 MB and its work 50 more
    (bench.run memory). Flow and task runs, states and retries go through the same API as before."""
    import time

    import httpx
    import uvicorn
    from prefect.server.api.server import SubprocessASGIServer, create_app
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    holder = SubprocessASGIServer()  # the instance Prefect's client asks for (port None)
    if holder.running:
        return int(holder.port or 0)
    port = holder.find_available_port()
    app = _OneWriterAtATime(create_app(ephemeral=True, final=True))
    # No log config: uvicorn's dictConfig would reconfigure the process's logging (see api/cli.py).
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, log_level="error", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="tiaojie-prefect-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
    with httpx.Client(timeout=5) as client:
        while True:
            if not thread.is_alive():
                raise RuntimeError("Prefect's API stopped while starting")
            try:
                if client.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                server.should_exit = True
                raise RuntimeError("Prefect's API did not answer in time")
            time.sleep(0.05)
    holder.port = port
    holder.server_process = _ServerThread(server, thread)  # type: ignore[assignment]
    holder.running = True
    return port


class _OneWriterAtATime:
    """ASGI middleware of the embedded API. Its database is SQLite: of two write requests at once, each
    in a deferred transaction, the second to write can get SQLITE_BUSY at once (a transaction that read
    before the other's commit cannot wait for it), which Prefect answers with a 503
    (is_client_retryable_exception). After a restart the relay's workers and the scheduler write together:
    hundreds of 503s, each retried by Prefect's client after 2, 4, 8, 16 then 32 s. So the writes (every
    request but a GET) take turns here, as SQLite makes them do anyway; a 503 that still happens says
    `Retry-After: 1`."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._lock: asyncio.Lock | None = None  # made in the server's event loop, at the first request

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_retry_after(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] == 503:
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"retry-after" for name, _value in headers):
                    message = {**message, "headers": [*headers, (b"retry-after", b"1")]}
            await send(message)

        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send_with_retry_after)
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await self.app(scope, receive, send_with_retry_after)


def api_url() -> str | None:
    """Where this process's Prefect client sends its requests: PREFECT_API_URL (server mode), or the
    embedded API once it runs; None while neither is known."""
    from prefect.settings import PREFECT_API_URL

    configured = PREFECT_API_URL.value()
    if configured:
        return str(configured).rstrip("/")
    server_module = sys.modules.get("prefect.server.api.server")
    if server_module is None:
        return None
    holder = server_module.SubprocessASGIServer._instances.get(None)
    return holder.api_url if holder is not None and holder.running else None


# How long the relay waits for Prefect's API to answer before it runs anything (`tiaojie serve` right
# after a restart, a `tiaojie worker` started before its Prefect server).
READY_SECONDS = 120.0


def wait_for_api(timeout: float = READY_SECONDS, *, stop: threading.Event | None = None) -> bool:
    """Wait until Prefect's API answers its readiness check (`/ready`: up, and its database reachable).
    False when it did not within `timeout`, or `stop` was set."""
    import time

    import httpx

    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=5) as client:
        while True:
            url = api_url()
            if url is not None:
                try:
                    if client.get(f"{url}/ready").status_code == 200:
                        return True
                except httpx.HTTPError:
                    pass
            if time.monotonic() >= deadline or (stop is not None and stop.wait(0.25)):
                return False
            if stop is None:
                time.sleep(0.25)


def start_embedded_server() -> threading.Thread:
    """Start Prefect's API now, in this process, in the background (`tiaojie serve` in embedded mode),
    instead of a child process at the first flow run: the first action after start has its documents
    in seconds. The returned thread ends when the API answers; if it failed, the first flow run starts
    Prefect's own temporary server (a child process) as before."""

    def boot() -> None:
        try:
            port = _serve_in_this_process()
            # Where to look at the runs (the Prefect API has no UI here); the tests read it too.
            print(  # noqa: T201 - a console line for people and tests, not a log record
                f"tiaojie: Prefect API http://127.0.0.1:{port}/api（本进程内）", file=sys.stderr, flush=True
            )
        except Exception:
            logging.getLogger("tiaojie.prefect").exception("Prefect's API did not start in this process")

    global _boot
    thread = threading.Thread(target=boot, name="tiaojie-prefect-boot", daemon=True)
    thread.start()
    _boot = thread
    return thread


_boot: threading.Thread | None = None


def wait_for_embedded_server(timeout: float | None = None) -> None:
    """Wait for start_embedded_server's start to finish, if one is under way: a flow run before that
    would start a second server (SubprocessASGIServer.start is not safe from two threads at once)."""
    if _boot is not None:
        _boot.join(timeout)


def stop_embedded_server() -> None:
    """Stop Prefect's temporary server if this process started it (clean shutdown of `tiaojie serve`)."""
    import sys

    server_module = sys.modules.get("prefect.server.api.server")
    if server_module is None:
        return
    for server in list(server_module.SubprocessASGIServer._instances.values()):
        server.stop()
