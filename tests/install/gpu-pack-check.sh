#!/usr/bin/env bash
# The GPU pack as a GPU machine would see it, dry: packs the build (scripts/gpu-pack.sh), then
# runs the device script's dry run in a mount namespace (scripts/without-libraries.sh) where this
# machine's CUDA toolkit folders, oneDNN and Chart.js are hidden, and the CUDA libraries appear
# only where a Python environment's nvidia-* wheels keep them (site-packages/nvidia/cu13/lib). A
# pack that works only here — a library it does not carry, a path only this machine has, the
# CUDA libraries looked for in one place — fails its pack stage by name.
#   usage: tests/install/gpu-pack-check.sh SOURCE_DIR BUILD_DIR CUDA_LIBRARY_FOLDER [CUDA_FOLDER...]
# Exit 0 pass, 1 fail, 77 skipped (built without CUDA, or no mount namespace here).
set -uo pipefail
source=$1 build=$2 cuda_lib=$3
shift 3
hide=("$@")
if [ ! -d "$build/lib" ] || ! ls "$build"/lib/libcohort_cuda_*.so >/dev/null 2>&1; then
  echo "built without the CUDA modules: skipped"
  exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/cohort-gpu-pack.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; [ -f "$work/out/summary.txt" ] && cat "$work/out/summary.txt"; [ -f "$work/out/log.txt" ] && tail -30 "$work/out/log.txt"; exit 1; }

bash "$source/scripts/gpu-pack.sh" --build "$build" --pack "$work/pack" || fail "gpu-pack.sh failed"
size=$(du -sm "$work/pack" | cut -f1)
[ "$size" -le 40 ] || fail "the pack is $size MiB (goal: 40 MiB)"

# oneDNN and its real file, Chart.js's folder, the toolkit's folders; the CUDA libraries reappear
# as a wheel's.
for library in /usr/lib/x86_64-linux-gnu/libdnnl.so*; do [ -e "$library" ] && hide+=("$library" "$(readlink -f "$library")"); done
hide+=(/usr/share/javascript/chart.js)
mkdir -p "$work/site/nvidia/cu13/lib"
code=0
PYTHONPATH="$work/site" bash "$source/scripts/without-libraries.sh" --bind "$cuda_lib:$work/site/nvidia/cu13/lib" "${hide[@]}" -- \
  bash "$work/pack/gpu-device-check.sh" --pack "$work/pack" --out "$work/out" --dry-run >"$work/dry.txt" 2>&1 || code=$?
[ "$code" -eq 77 ] && { cat "$work/dry.txt"; exit 77; }
cat "$work/out/summary.txt"
[ "$code" -eq 0 ] || fail "the dry run exited $code"
grep -q "^pack  *PASS" "$work/out/summary.txt" || fail "the pack stage did not pass"
grep -q "library libcudart.so.13: from $work/site/nvidia/cu13/lib\|library libcudart.so.[0-9]*: from $work/site/nvidia" "$work/out/log.txt" ||
  fail "the CUDA runtime was not found in the wheel's folder"
grep -q "libdnnl.so.2: the pack's (unpacked)" "$work/out/log.txt" || fail "oneDNN did not come from the pack"
grep -q "libcohort_cuda_kernels.so: $work/pack/lib/libcohort_cuda_kernels.so" "$work/out/log.txt" ||
  fail "the kernels module was not loaded from the pack"
grep -q "cublas .* $work/site/nvidia/cu13/lib/libcublas.so" "$work/out/log.txt" || fail "cuBLAS did not resolve to the wheel's folder"
echo "ok: the pack ($size MiB) starts with the machine's CUDA, oneDNN and Chart.js hidden"
