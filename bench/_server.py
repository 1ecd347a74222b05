"""Serve one benchmark app under uvicorn: `python -m bench._server {tiaojie|bare} DB_URL PORT`.

No relay thread is started, so nothing runs the outbox here: the request records its input and
returns, as in server mode where workers run the flows elsewhere."""

from __future__ import annotations

import sys


def main() -> None:
    kind, url, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    import uvicorn

    from models.db import make_engine

    engine = make_engine(url)
    if kind == "tiaojie":
        from api.main import create_app
        from models.db import use_engine

        use_engine(engine)
        app = create_app(engine)
    elif kind == "bare":
        from bench.bare_app import create_bare_app

        app = create_bare_app(engine)
    else:
        raise SystemExit(f"unknown app {kind}")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
