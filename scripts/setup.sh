#!/usr/bin/env bash
# Creates .venv with Python 3.11+ and installs the project with its test extras. Sourced by demo.sh and test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "discord-sync needs Python 3.11 or newer as '$PYTHON' (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Reinstalls only when pyproject.toml or the lock changed, so a second run takes a moment.
stamp=.venv/.installed-$(cat pyproject.toml requirements/test.txt | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # Every dependency, test tools included, at the versions and hashes of the lock (scripts/lock.sh writes it);
  # then the project itself, editable and without dependencies, so nothing unpinned comes in.
  .venv/bin/python -m pip install --quiet --require-hashes -r requirements/test.txt
  .venv/bin/python -m pip install --quiet --no-deps -e .
  .venv/bin/python -m pip check
  touch "$stamp"
fi
