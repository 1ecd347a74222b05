#!/usr/bin/env bash
# The code gates CI runs before the tests, also for developers (and pre-commit runs the same tools):
# lint, formatting, types (mypy on models, flows, documents, runtime, ops, api) and the import contracts between layers.
# All settings live in pyproject.toml. Runs every gate, prints its findings, exits non-zero if any failed.
# Needs the test tools: bash scripts/install.sh --test
set -uo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
for tool in ruff mypy lint-imports; do
  if [ ! -x "$BIN/$tool" ]; then
    echo "$BIN/$tool is missing: run  bash scripts/install.sh --test" >&2
    exit 2
  fi
done

failed=()
gate() {
  local name="$1"
  shift
  echo
  echo "==== gate: $name ($*)"
  if "$@"; then
    echo "==== gate: $name: passed"
  else
    echo "==== gate: $name: FAILED"
    failed+=("$name")
  fi
}

gate "ruff check" "$BIN/ruff" check .
gate "ruff format" "$BIN/ruff" format --check .
gate "mypy" "$BIN/mypy"
gate "import contracts" "$BIN/lint-imports" --no-logo

echo
if [ "${#failed[@]}" -gt 0 ]; then
  echo "GATES FAILED: ${failed[*]}"
  exit 1
fi
echo "All gates passed."
