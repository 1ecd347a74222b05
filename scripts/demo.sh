#!/usr/bin/env bash
# One command: install, create the embedded SQLite database with demo data, start http://127.0.0.1:8000
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export TIAOJIE_DATA_DIR="${TIAOJIE_DATA_DIR:-./var}"
.venv/bin/tiaojie init --demo
exec .venv/bin/tiaojie serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
