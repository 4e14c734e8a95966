#!/usr/bin/env bash
# The CPU product ships as one executable: `cohort` links no CUDA library (the CUDA code is in
# modules loaded only when a GPU is used, memory/CudaModule.h). Checked here:
#   - `cohort info` on this machine (no NVIDIA driver) stays under 40 MiB resident;
#   - a copy of `cohort` with the CUDA toolkit's folders hidden (scripts/without-libraries.sh)
#     starts, trains on the CPU, says how it finds GPUs, refuses --device cuda with one line
#     (exit 2), and `info --load-cuda` names the library its modules cannot find.
#   usage: tests/install/without-cuda-check.sh COHORT_BINARY [CUDA_FOLDER...]
# Exit 0 pass, 1 fail, 77 skipped (no mount namespace here: not root).
set -euo pipefail
cohort=$1
shift
cuda_folders=("$@")
[ "${#cuda_folders[@]}" -gt 0 ] || cuda_folders=(/usr/local/cuda)
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work=$(mktemp -d "${TMPDIR:-/tmp}/cohort-without-cuda.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# Peak resident set of a command, in KiB (the command's own output goes to $work/out).
peak_kib() {
  python3 -c 'import resource, subprocess, sys
code = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1], "w"), stderr=subprocess.STDOUT).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if code == 0 else -code)' "$work/out" "$@"
}

echo "== cohort info: resident set"
if [ -e /dev/nvidiactl ] || [ -e /proc/driver/nvidia/version ]; then
  echo "an NVIDIA driver is present: the 40 MiB goal is for machines without one (skipped)"
else
  kib=$(peak_kib "$cohort" info)
  [ "$kib" -gt 0 ] || { cat "$work/out"; fail "cohort info failed"; }
  echo "peak resident $((kib / 1024)) MiB"
  [ "$kib" -le $((40 * 1024)) ] || fail "cohort info peaked at $((kib / 1024)) MiB resident (goal: 40 MiB)"
  grep -q "^cuda: not loaded (no NVIDIA driver" "$work/out" || { cat "$work/out"; fail "info does not say the CUDA modules stay unloaded"; }
fi

echo "== a copy of cohort with ${cuda_folders[*]} hidden"
cp "$cohort" "$work/cohort"
cat >"$work/inside.sh" <<'INSIDE'
set -u
cohort=$1 work=$2
fail() { echo "FAIL: $*"; exit 1; }
if ldd "$cohort" | grep -E 'libcuda|libcublas|libcudnn|libnccl|not found'; then fail "the executable needs a library that is absent"; fi
"$cohort" info >"$work/info" 2>&1 || { cat "$work/info"; fail "cohort info exited $?"; }
grep -q "^cuda devices: 0" "$work/info" || { cat "$work/info"; fail "info does not report 0 CUDA devices"; }
"$cohort" train --device auto --data synthetic --epochs 1 --hidden 64 >"$work/train" 2>&1 || { cat "$work/train"; fail "CPU training failed"; }
grep -q "^done: test accuracy" "$work/train" || { cat "$work/train"; fail "CPU training did not finish"; }
grep -q "no CUDA device visible, training on the CPU\|on host" "$work/train" || { cat "$work/train"; fail "training did not say it runs on the CPU"; }
code=0
"$cohort" train --device cuda --data synthetic --epochs 1 >"$work/cuda" 2>&1 || code=$?
[ "$code" -eq 2 ] || { cat "$work/cuda"; fail "--device cuda exited $code, expected 2"; }
[ "$(wc -l <"$work/cuda")" -eq 1 ] && grep -q "no CUDA device" "$work/cuda" || { cat "$work/cuda"; fail "--device cuda: not one line naming the cause"; }
"$cohort" info --load-cuda >"$work/load" 2>&1 || { cat "$work/load"; fail "info --load-cuda exited $?"; }
grep -q "libcohort_cuda_kernels.so: cannot load the CUDA module .*libcudart.so" "$work/load" || { cat "$work/load"; fail "info --load-cuda does not name the missing CUDA runtime"; }
echo "ok: trains on the CPU, --device cuda refused: $(cat "$work/cuda")"
INSIDE
bash "$root/scripts/without-libraries.sh" "${cuda_folders[@]}" -- bash "$work/inside.sh" "$work/cohort" "$work"
