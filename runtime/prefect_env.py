"""Prefect's own settings (its home under our data dir, no analytics, no child server of its own) and the
Prefect API that `tiaojie serve` runs in its own process in embedded mode. The entry points (`tiaojie …`)
call `configure()` before anything imports Prefect; importing a flow module changes no environment.
Only Prefect's public names are used: its settings, `create_app` (what `prefect server start` serves)
and `prefect.context.refresh_global_settings_context`."""

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
    # Never Prefect's temporary server (a child process its client starts when no PREFECT_API_URL is set):
    # it could outlive a `kill -9` of serve. A flow run with no API to talk to fails at once, saying so.
    os.environ["PREFECT_SERVER_EPHEMERAL_ENABLED"] = "false"
    # Read by Prefect's settings when it is imported: they shape the API `tiaojie serve` runs in its own
    # process. They change nothing for a client.
    for name, value in EMBEDDED_SERVER_ENV.items():
        os.environ.setdefault(name, value)


# What the API of embedded mode does without (an operator's own setting wins): no
# automations (triggers and their actions), no event history written or streamed, no log stream, no task
# run records (written from the event stream beside the API's own writes, they made its SQLite database
# answer flow-run creations with 503s: 10 of 24 runs of four threads, none without them; see
# _OneWriterAtATime). Our database holds the truth and embedded mode has no UI to show them. Flow run
# states and retries still go through it; task retries are the task engine's own. `configure()` puts
# them in the environment, where Prefect's settings read them.
EMBEDDED_SERVER_ENV = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_EVENT_LOGGER_ENABLED": "false",
    "PREFECT_SERVER_EVENTS_STREAM_OUT_ENABLED": "false",
    "PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED": "false",
}


class _EmbeddedApi:
    """Prefect's API served by this process: the uvicorn server, its thread and its URL."""

    def __init__(self, server: Any, thread: threading.Thread, url: str) -> None:
        self.server, self.thread, self.url = server, thread, url


_embedded: _EmbeddedApi | None = None
_embedded_lock = threading.Lock()


def serve_embedded_api() -> str:
    """Serve Prefect's API (the app of Prefect's temporary server: no UI, embedded services only) on a
    thread of this process, once, and point this process's Prefect client at it; returns its URL.

    Why not Prefect's own child process (what its client starts when no PREFECT_API_URL is set): it
    imports the same FastAPI, SQLAlchemy and pydantic again and held 230–250 MB beside serve, and it can
    outlive a `kill -9` of serve. In this process its own modules add about 50 MB and its work 50 more
    (bench.run memory). Flow and task runs, states and retries go through the same API as before.

    The client finds it through PREFECT_API_URL, set in this process's environment, and Prefect's global
    settings, read again from it (`prefect.context.refresh_global_settings_context`): a thread that holds
    no settings context of its own, whenever it started, reads the global ones."""
    global _embedded
    import socket
    import time

    import httpx
    import uvicorn
    from prefect.context import refresh_global_settings_context
    from prefect.server.api.server import create_app
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    with _embedded_lock:
        if _embedded is not None:
            return _embedded.url
        # Bound here and handed to uvicorn: the port is ours from the start, no free-port race.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        app = _OneWriterAtATime(create_app(ephemeral=True, final=True))
        # No log config: uvicorn's dictConfig would reconfigure the process's logging (see api/cli.py).
        config = uvicorn.Config(app, log_config=None, log_level="error", lifespan="on")
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="tiaojie-prefect-api", daemon=True
        )
        thread.start()
        url = f"http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
        with httpx.Client(timeout=5) as client:
            while True:
                if not thread.is_alive():
                    sock.close()
                    raise RuntimeError("Prefect's API stopped while starting")
                try:
                    if client.get(f"{url}/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    server.should_exit = True
                    raise RuntimeError("Prefect's API did not answer in time")
                time.sleep(0.05)
        _embedded = _EmbeddedApi(server, thread, url)
        os.environ["PREFECT_API_URL"] = url
        refresh_global_settings_context()
        return url


def embedded_api_url() -> str | None:
    """The URL of the Prefect API this process serves (serve_embedded_api), None when it serves none."""
    return _embedded.url if _embedded is not None else None


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
    """Where this process's Prefect client sends its requests: PREFECT_API_URL, the operator's Prefect
    server (server mode) or the API this process serves (embedded mode, once it answers); None before."""
    from prefect.settings import PREFECT_API_URL

    configured = PREFECT_API_URL.value()
    return str(configured).rstrip("/") if configured else None


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
    rather than at the first flow run: the first action after start has its documents in seconds. The
    returned thread ends when the API answers or failed to start; if it failed, flow runs fail with
    Prefect's "No Prefect API URL provided" (configure() allows Prefect no child server of its own)."""

    def boot() -> None:
        try:
            url = serve_embedded_api()
            # Where to look at the runs (the Prefect API has no UI here); the tests read it too.
            print(  # noqa: T201 - a console line for people and tests, not a log record
                f"tiaojie: Prefect API {url}（本进程内）", file=sys.stderr, flush=True
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
    """Wait for start_embedded_server's start to finish, if one is under way: a flow run before that finds
    no API to talk to."""
    if _boot is not None:
        _boot.join(timeout)


def stop_embedded_server(timeout: float = 10) -> None:
    """Stop the Prefect API this process serves, if any (clean shutdown of `tiaojie serve`), and point
    Prefect's client nowhere again."""
    global _embedded
    with _embedded_lock:
        embedded, _embedded = _embedded, None
    if embedded is None:
        return
    embedded.server.should_exit = True
    embedded.thread.join(timeout)
    if os.environ.get("PREFECT_API_URL") == embedded.url:
        from prefect.context import refresh_global_settings_context

        del os.environ["PREFECT_API_URL"]
        refresh_global_settings_context()
