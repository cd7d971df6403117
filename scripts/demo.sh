#!/usr/bin/env bash
# Sets everything up and runs the product on a ready demo: the Dagster UI on http://127.0.0.1:3000, the HTTP API
# on http://127.0.0.1:8080/api/docs (a demo admin key is printed), an embedded PostgreSQL, the Discord emulator
# and a `demo` tenant whose first sync starts by itself. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
exec .venv/bin/discord-sync demo "$@"
