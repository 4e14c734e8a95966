#!/usr/bin/env bash
# Packs everything a GPU check needs, so the GPU machine runs prebuilt files and never configures
# or builds: the test programs, `cohort`, the bench tools (bin/), the CUDA modules (lib/, where the
# programs look for them), the device-side script, Chart.js for --report (share/), and the
# libraries such a machine may lack (lib-fallback/: Boost.Program_options, Google Benchmark,
# GoogleTest, oneDNN with its OpenCL loader; gpu-device-check.sh uses each only where the
# machine's own is missing). The programs link no CUDA library; the modules name the CUDA
# libraries by soname and the device script finds them wherever that machine keeps them.
#   usage: scripts/gpu-pack.sh [--build DIR] [--pack DIR]
#     --build  a Release build with the CUDA backend for sm_90 [build, the README's build]. An
#              existing build is used as it is configured, never reconfigured: one that is not
#              Release, CUDA, sm_90 is refused with the setting that differs. A folder that does
#              not exist yet is configured so.
#     --pack   where the pack goes [.gpu-pack, git-ignored]
# Prints the command to run on the GPU machine. Goal: the pack stays under 40 MiB.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build"
pack="$root/.gpu-pack"
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --pack) pack=$2; shift 2 ;;
    *) echo "usage: scripts/gpu-pack.sh [--build DIR] [--pack DIR]" >&2; exit 2 ;;
  esac
done
fail() { echo "gpu-pack: $*" >&2; exit 1; }

[ -x /usr/local/cuda/bin/nvcc ] || fail "the CUDA toolkit is not at /usr/local/cuda; a GPU pack needs it to compile the CUDA modules"
if [ ! -f "$build/CMakeCache.txt" ]; then
  # CMake's "90" is sm_90 SASS and compute_90 PTX together (H100, H200).
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOHORT_ENABLE_CUDA=ON \
    -DCOHORT_CUDA_ARCHITECTURES=90 >/dev/null
fi
cache_says() { grep -q "^$1=$2\$" "$build/CMakeCache.txt"; }
cache_says CMAKE_BUILD_TYPE:STRING Release || fail "$build is not a Release build (CMAKE_BUILD_TYPE); use --build with another folder"
cache_says COHORT_CUDA_ARCHITECTURES:STRING 90 || fail "$build is not built for sm_90 (COHORT_CUDA_ARCHITECTURES); use --build with another folder"
[ -n "$(find "$build/lib" -name 'libcohort_cuda_kernels.so' 2>/dev/null)" ] || cache_says COHORT_ENABLE_CUDA:BOOL ON ||
  fail "$build has no CUDA backend (COHORT_ENABLE_CUDA)"

tests=(kernels_tests memory_tests tensor_tests train_tests parallel_tests nn_tests)
benches=(StepBench ParallelBench TraceBench)
modules=(cohort_cuda_memory cohort_cuda_kernels cohort_cuda_nccl)
cmake --build "$build" --target cohort "${tests[@]}" "${benches[@]}" "${modules[@]}" -j"$(nproc)" >/dev/null

rm -rf "$pack"
mkdir -p "$pack/bin" "$pack/lib" "$pack/lib-fallback" "$pack/share"
cp "$build/launch/cohort" "$pack/bin/"
for t in "${tests[@]}"; do cp "$build/tests/$t" "$pack/bin/"; done
for b in "${benches[@]}"; do cp "$build/bench/$b" "$pack/bin/"; done
cp "$build"/lib/libcohort_cuda_*.so "$pack/lib/"
cp "$root/scripts/gpu-device-check.sh" "$pack/"
chartjs=$(grep '^COHORT_CHARTJS:' "$build/CMakeCache.txt" | cut -d= -f2)
[ -f "${chartjs:-}" ] || chartjs=/usr/share/javascript/chart.js/chart.min.js
[ -f "$chartjs" ] || fail "Chart.js is not at $chartjs (install libjs-chart.js)"
cp "$chartjs" "$pack/share/chart.min.js"

# Libraries an Ubuntu GPU image with CUDA, cuDNN, NCCL, Open MPI and OpenBLAS may lack (the
# CUDA libraries, OpenBLAS, Open MPI and libc/libstdc++ are the machine's own). oneDNN (38 MiB)
# travels compressed.
for file in "$pack"/bin/* "$pack"/lib/*; do
  ldd "$file" | awk '/=> \// {print $3}'
done | sort -u | grep -E 'libboost_program_options|libbenchmark|libgtest|libgmock|libdnnl|libOpenCL' | while read -r library; do
  name=$(basename "$library")
  if [ "${name#libdnnl}" != "$name" ]; then gzip -9 -c "$library" >"$pack/lib-fallback/$name.gz"
  else cp -L "$library" "$pack/lib-fallback/$name"; fi
done
strip --strip-unneeded "$pack"/bin/* "$pack"/lib/* 2>/dev/null || true
{
  echo "built $(date -u +%Y-%m-%dT%H:%MZ) from $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  /usr/local/cuda/bin/nvcc --version | tail -1
} >"$pack/BUILD"

size=$(du -sm "$pack" | cut -f1)
echo "gpu-pack: $pack is ${size} MiB ($(ls "$pack/bin" | wc -l) programs, $(ls "$pack/lib" | wc -l) CUDA modules, $(ls "$pack/lib-fallback" | wc -l) fallback libraries)"
[ "$size" -le 40 ] || echo "gpu-pack: warning: over the 40 MiB goal" >&2
cat <<HINT
On the GPU machine, from the repository root (carry the ignored folder $(basename "$pack") along):
  bash $(basename "$pack")/gpu-device-check.sh --pack $(basename "$pack") --out "\$OUT"
Everything it writes goes under \$OUT: summary.txt first, then log.txt, gtest.tar.gz, bench.jsonl,
train.jsonl and report.html. Without a GPU, --dry-run checks the pack and skips every stage.
HINT
