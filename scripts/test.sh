#!/usr/bin/env bash
# Sets everything up and runs the whole test suite (a real embedded PostgreSQL, the emulator over real HTTP).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
