"""A real uvicorn server on 127.0.0.1 (free port) with the embedded relay, and headless Debian Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from api.main import create_app
from runtime.serve import start_embedded_scheduler
from tests.servers import app_in_thread

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def live_server(engine: Engine) -> Iterator[str]:
    scheduler = start_embedded_scheduler(engine)
    # The relay starts Prefect (first run ≈ 20 s, longer on a busy machine) before any flow runs.
    assert scheduler.relay.ready.wait(240), "Prefect did not start"
    with app_in_thread(create_app(engine)) as url:
        yield url
    scheduler.stop()


@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is required at /usr/bin/chromium for the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_as(chromium, live_server):
    """A fresh browser context logged in through the login form."""
    contexts = []

    def login(username: str, password: str):
        context = chromium.new_context(
            viewport={"width": 1400, "height": 900}, locale="zh-CN", accept_downloads=True
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        page.goto(f"{live_server}/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert "/login" not in page.url, page.content()[:500]
        return page

    yield login
    for context in contexts:
        context.close()
