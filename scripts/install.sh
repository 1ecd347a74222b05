#!/usr/bin/env bash
# Install Tiaojie on a fresh Debian/Ubuntu machine: system packages (CJK serif font, HarfBuzz subsetting
# for fast PDFs, poppler for PDF checks, Chromium for browser tests), a virtualenv, pinned Python deps.
# Usage: bash scripts/install.sh [--test]   (as root, or as a user allowed to sudo for apt-get)
#   without --test: runtime only (requirements.lock); --test adds tests and gates (requirements-dev.lock).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES="fonts-noto-cjk fonts-babelstone-han libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0 poppler-utils"
if [ "${1:-}" = "--test" ]; then APT_PACKAGES="$APT_PACKAGES chromium libzbar0"; fi
missing=""
for pkg in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  echo ">> apt-get install$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
# Runtime and test/dev tools are locked separately so a production install carries no test tools.
# With --test both locks go into one pip call, so pip checks that they agree.
LOCKS=(-r requirements.lock)
if [ "${1:-}" = "--test" ]; then LOCKS+=(-r requirements-dev.lock); fi
echo ">> pip install ${LOCKS[*]}"
.venv/bin/python -m pip install -q "${LOCKS[@]}"
.venv/bin/python -m pip install -q --no-deps -e .
