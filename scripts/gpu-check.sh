#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: build the kernel tests with CUDA, run them, then run them again
# under compute-sanitizer (memcheck for out-of-bounds and misaligned accesses, racecheck and
# synccheck for the shared-memory reductions). Exits non-zero on the first failure.
#   usage: scripts/gpu-check.sh [build-dir]   (default: build-cuda)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build-cuda}"
sanitizer="$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)"

if ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-check: no NVIDIA GPU visible (nvidia-smi -L failed); run this on a GPU machine" >&2
  exit 1
fi
nvidia-smi -L

# CMake < 3.26 does not know nvcc's C++20 flag; naming it is harmless on newer versions.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOHORT_ENABLE_CUDA=ON \
  -DCMAKE_CUDA20_STANDARD_COMPILE_OPTION=-std=c++20 >/dev/null
cmake --build "$build" --target kernels_tests -j"$(nproc)"

tests="$build/tests/kernels_tests"
echo "== kernels_tests"
"$tests" --gtest_brief=1
for tool in memcheck racecheck synccheck; do
  echo "== compute-sanitizer --tool $tool"
  "$sanitizer" --tool "$tool" --error-exitcode 1 "$tests" --gtest_brief=1 --gtest_filter='Cuda*'
done
echo "gpu-check: all passed"
