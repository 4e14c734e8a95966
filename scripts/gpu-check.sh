#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: build the kernel, training and parallel tests with CUDA, run
# them (CUDA/cuDNN kernels against the CPU, CPU-vs-GPU training, captured vs plain steps, the
# one-GPU NCCL communicator), then the kernel tests again under compute-sanitizer (memcheck for
# out-of-bounds and misaligned accesses, racecheck and synccheck for the shared-memory
# reductions), then step times with CUDA graphs on and off. Exits non-zero on the first failure.
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
cmake --build "$build" --target kernels_tests train_tests parallel_tests cohort -j"$(nproc)"

tests="$build/tests/kernels_tests"
echo "== kernels_tests"
"$tests" --gtest_brief=1
echo "== train_tests (GPU training against the CPU, CUDA graphs)"
"$build/tests/train_tests" --gtest_brief=1 --gtest_filter='Gpu*:StepCapture*'
echo "== parallel_tests (one-GPU NCCL communicator)"
"$build/tests/parallel_tests" --gtest_brief=1 --gtest_filter='Nccl*'
for tool in memcheck racecheck synccheck; do
  echo "== compute-sanitizer --tool $tool"
  "$sanitizer" --tool "$tool" --error-exitcode 1 "$tests" --gtest_brief=1 --gtest_filter='Cuda*'
done
echo "== step times (Adam, fp32), CUDA graphs on then off"
for model in mlp lenet; do
  for batch in 64 256 1024; do
    for graphs in true false; do
      "$build/launch/cohort" bench --device cuda --model "$model" --batch-size "$batch" --cuda-graphs "$graphs" \
        --steps 200 --warmup 20 --repeats 5
    done
  done
done
echo "gpu-check: all passed"
