#!/usr/bin/env bash
# README command 1: set up (if needed), build, and run the default training job
# (MLP on Fashion-MNIST, GPU if present, else CPU). Extra arguments go to `cohort train`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${COHORT_BUILD_DIR:-build}/launch/cohort" train "$@"
