#!/usr/bin/env bash
# One command: install everything the tests need and run the whole suite.
# SQLite always; PostgreSQL too when TIAOJIE_TEST_POSTGRES_URL is set, e.g.
#   TIAOJIE_TEST_POSTGRES_URL=postgresql+psycopg2://postgres@127.0.0.1:5432/test
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
exec .venv/bin/python -m pytest "$@"
