#!/usr/bin/env bash
# Builds the CPU test suite with ThreadSanitizer and runs the threaded modules (memory, tensor,
# train, parallel, launch). OpenMP/OpenBLAS are pinned to one thread per worker: libgomp is not
# instrumented, so its own team synchronisation would be reported falsely.
#   scripts/tsan-check.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-tsan}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOHORT_SANITIZE_THREAD=ON \
      -DCOHORT_ENABLE_CUDA=OFF -DCOHORT_ENABLE_MPI=OFF -DCOHORT_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target memory_tests tensor_tests train_tests parallel_tests cohort
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
status=0
for module in memory tensor train parallel; do
  echo "== $module (ThreadSanitizer)"
  "$build/tests/${module}_tests" --gtest_brief=1 || status=1
done
exit $status
