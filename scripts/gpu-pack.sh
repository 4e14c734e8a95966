#!/usr/bin/env bash
# Packs everything a GPU check needs into .gpu-pack/ (git-ignored), so the GPU machine runs
# prebuilt binaries and never configures or builds: the test binaries, `cohort`, the bench tools,
# the device-side script (scripts/gpu-device-check.sh) and the shared libraries such a machine may
# lack (Boost.Program_options, Google Benchmark, Open MPI's C++ bindings; used there only if its
# own are missing). The CUDA code is compiled for sm_90 (H100/H200) as SASS plus compute_90 PTX.
#   usage: scripts/gpu-pack.sh [build-dir]      (default: build, the README's Release build)
# Prints the command to run on the GPU machine. Goal: the pack stays under 40 MiB.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
pack="$root/.gpu-pack"

if [ ! -x /usr/local/cuda/bin/nvcc ]; then
  echo "gpu-pack: the CUDA toolkit is not at /usr/local/cuda; a GPU pack needs it to compile the CUDA backend" >&2
  exit 1
fi
# CMake's "90" is sm_90 SASS and compute_90 PTX together.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOHORT_ENABLE_CUDA=ON \
  -DCOHORT_CUDA_ARCHITECTURES=90 >/dev/null
grep -q '^COHORT_CUDA_ARCHITECTURES:STRING=90$' "$build/CMakeCache.txt" || { echo "gpu-pack: not built for sm_90" >&2; exit 1; }
tests=(kernels_tests memory_tests tensor_tests train_tests parallel_tests nn_tests)
benches=(StepBench ParallelBench TraceBench)
targets=(cohort "${tests[@]}" "${benches[@]}")
cmake --build "$build" --target "${targets[@]}" -j"$(nproc)"

rm -rf "$pack"
mkdir -p "$pack/bin" "$pack/lib-fallback"
cp "$build/launch/cohort" "$pack/bin/"
for t in "${tests[@]}"; do cp "$build/tests/$t" "$pack/bin/"; done
for b in "${benches[@]}"; do cp "$build/bench/$b" "$pack/bin/"; done
cp "$root/scripts/gpu-device-check.sh" "$pack/"
# Libraries an Ubuntu GPU machine with CUDA, cuDNN, NCCL, Open MPI and OpenBLAS may not have in
# these versions; the CUDA libraries, OpenBLAS and libc/libstdc++ are the machine's own.
for binary in "$pack"/bin/*; do
  ldd "$binary" | awk '/=> \// {print $3}'
done | sort -u | grep -E 'libboost_program_options|libbenchmark|libmpi_cxx|libgtest|libgmock' | while read -r library; do
  cp -L "$library" "$pack/lib-fallback/$(basename "$library")"
done
strip --strip-unneeded "$pack"/bin/* 2>/dev/null || true
{
  echo "built $(date -u +%Y-%m-%dT%H:%MZ) from $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  /usr/local/cuda/bin/nvcc --version | tail -1
} >"$pack/BUILD"

size=$(du -sm "$pack" | cut -f1)
echo "gpu-pack: $pack is ${size} MiB ($(ls "$pack/bin" | wc -l) programs, $(ls "$pack/lib-fallback" | wc -l) fallback libraries)"
[ "$size" -le 40 ] || echo "gpu-pack: warning: over the 40 MiB goal" >&2
cat <<'HINT'
On the GPU machine, from the repository root (carry the ignored folder .gpu-pack along):
  bash .gpu-pack/gpu-device-check.sh --pack .gpu-pack --out "$OUT"
Everything it writes goes under $OUT: summary.txt first, then log.txt, gtest.tar.gz, bench.jsonl,
train.jsonl and report.html. Without a GPU, --dry-run checks the pack and skips every stage.
HINT
