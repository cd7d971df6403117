#!/usr/bin/env bash
# Run the benchmarks from the repository root with the project's venv: bash bench/run.sh [--quick] [--write]
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m bench.run "$@"
