#!/usr/bin/env bash
# README command 2: set up (if needed), build, and run the whole test suite through ctest, then
# again under ASan + UBSan with the fuzz targets (scripts/sanitize-check.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
status=0
(cd "${COHORT_BUILD_DIR:-build}" && ctest --output-on-failure -j "$(nproc)" --timeout 900) || status=1
# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer, then every fuzz target for a
# bounded time (COHORT_SANITIZE=0 skips both; docs/BAD-INPUT.md).
if [ "${COHORT_SANITIZE:-1}" = 1 ]; then bash scripts/sanitize-check.sh || status=1; fi
exit $status
