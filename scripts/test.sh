#!/usr/bin/env bash
# Sets everything up, runs the checks (lint, format, types, the import rule), then the test suite (a real embedded
# PostgreSQL, the emulator over real HTTP). Arguments go to pytest: `bash scripts/test.sh -m unit`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
# The end-to-end test looks at the Dagster UI in headless Chromium; install it from the system's packages when this
# user can (CI runs as root). Without it the suite cannot prove the UI, so it stops here and says why.
has_chromium() { command -v chromium || command -v chromium-browser || command -v google-chrome; } >/dev/null 2>&1
if ! has_chromium; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 || true
  fi
  if ! has_chromium; then
    echo "scripts/test.sh: Chromium is missing and could not be installed (as root: apt-get install chromium);" \
      "the end-to-end test needs it to check the Dagster UI" >&2
    exit 1
  fi
fi
echo "== ruff check" && .venv/bin/ruff check .
echo "== ruff format --check" && .venv/bin/ruff format --check .
echo "== mypy discord_sync" && .venv/bin/mypy
echo "== lint-imports" && .venv/bin/lint-imports
exec .venv/bin/python -m pytest "$@"
