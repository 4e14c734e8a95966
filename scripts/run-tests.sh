#!/usr/bin/env bash
# README command 2: set up (if needed), build, and run the whole test suite through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cd "${COHORT_BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" --timeout 900
