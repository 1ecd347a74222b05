#!/usr/bin/env bash
# One command: install everything the tests need and run the whole suite, then report line coverage.
# SQLite always; PostgreSQL too, for the tests marked `postgres`, when TIAOJIE_TEST_POSTGRES_URL is set, e.g.
#   TIAOJIE_TEST_POSTGRES_URL=postgresql+psycopg2://postgres@127.0.0.1:5432/test
# The suite runs on every core (pytest-xdist, cores + 1 workers; TIAOJIE_TEST_WORKERS=N to choose, 0 for one
# process); an idle worker takes tests from a busy one (worksteal), so one long file does not finish alone.
# Coverage follows the workers and the servers the tests start.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
BIN=.venv/bin
"$BIN/coverage" erase
status=0
# One worker more than cores: much of the suite waits on real processes, servers and the browser.
WORKERS="${TIAOJIE_TEST_WORKERS:-$(($(nproc) + 1))}"
"$BIN/coverage" run -m pytest -n "$WORKERS" --dist worksteal "$@" || status=$?
"$BIN/coverage" combine -q || true
for layer in models flows documents runtime ops api; do
  echo "line coverage of $layer/: $("$BIN/coverage" report --include="$layer/*" --format=total 2>/dev/null || echo '?')%"
done
exit "$status"
