"""Prefect's own settings: its home under our data dir, no analytics, a generous start-up timeout for
the temporary local server on slow machines. The entry points (`tiaojie …`) call `configure()` before
anything imports Prefect; importing a flow module changes no environment."""

from __future__ import annotations

import os

from models.settings import get_settings


def configure() -> None:
    home = (get_settings().data_dir / "prefect").resolve()
    if "PREFECT_HOME" not in os.environ:
        home.mkdir(parents=True, exist_ok=True)
        os.environ["PREFECT_HOME"] = str(home)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")
