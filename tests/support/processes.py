"""The environment of a `tiaojie` process a test starts: none of the suite's own TIAOJIE_/PREFECT_ settings
(the test database, the inline flow runner, the plain renderer, the session's Prefect API), its own data dir,
secret key and Prefect home under `tmp_path`, and what the test adds."""

from __future__ import annotations

import os
from pathlib import Path


def child_env(tmp_path: Path, secret_key: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIAOJIE_", "PREFECT_"))}
    env.update(
        TIAOJIE_DATA_DIR=str(tmp_path / "var"),
        TIAOJIE_SECRET_KEY=secret_key,
        PREFECT_HOME=str(tmp_path / "prefect"),
        **extra,
    )
    return env
