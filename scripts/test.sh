#!/usr/bin/env bash
# Sets everything up and runs the whole test suite (a real embedded PostgreSQL, the emulator over real HTTP).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
# The end-to-end test looks at the Dagster UI in headless Chromium; install it from the system's packages when
# this user can (CI runs as root). Without it that one check skips and says why.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
    || echo "note: could not install chromium; the UI screenshot check will be skipped" >&2
fi
exec .venv/bin/python -m pytest "$@"
