#!/usr/bin/env bash
# Regenerates the hashed locks in requirements/ from pyproject.toml's ranges: run it after changing a dependency,
# and commit the result. The image installs requirements/runtime.txt; scripts/setup.sh (and so CI) installs
# requirements/test.txt. Both are resolved for CPython 3.11 on Linux x86_64, where the image and CI run.
# uv resolves (it is only needed here); plain pip installs the locks with --require-hashes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
UV="${UV:-uv}"
common=(--generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28
        --no-header --quiet)
# The test lock is the superset; the runtime lock is constrained to it, so both pin the same versions.
"$UV" pip compile pyproject.toml "${common[@]}" --extra docker --extra k8s --extra test --extra demo \
  --output-file requirements/test.txt
"$UV" pip compile pyproject.toml "${common[@]}" --extra docker --extra k8s --constraint requirements/test.txt \
  --output-file requirements/runtime.txt
