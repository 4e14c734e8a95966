#!/usr/bin/env bash
# The GPU machine's half of the GPU check (scripts/gpu-pack.sh prepares the other): runs prebuilt
# binaries only, every stage bounded by `timeout`, a failing stage never stopping the next, and
# writes what it finds under OUT (at most six files, for a transport that returns few):
#   summary.txt   one line per stage: PASS / FAIL / SKIP, its seconds, and what failed
#   log.txt       every stage's output
#   gtest.tar.gz  the GoogleTest XML of every test binary
#   bench.jsonl   step times (cohort bench --metrics) and the 1-worker / 4-worker runs' summaries
#   train.jsonl   the 4-workers-on-one-GPU run's --metrics; report.html its report
# Stages, in order, within about 7 minutes: environment; every GPU test; step times in the goal
# configurations (Adam, fp32 without TF32, dropout 0; CUDA graphs on and off); 4 workers sharing
# the GPU against 1; compute-sanitizer on the CUDA kernel tests while time is left.
#   usage: gpu-device-check.sh [--pack DIR] [--out DIR] [--dry-run] [--budget SECONDS]
# --dry-run (also what happens without a GPU): checks that every binary of the pack starts and
# prints each stage's command, then skips it. CI runs the dry run against the normal build.
set -uo pipefail
pack=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${OUT:-$PWD/gpu-check-out}
dry=0
budget=420
while [ $# -gt 0 ]; do
  case "$1" in
    --pack) pack=$(cd "$2" && pwd); shift 2 ;;
    --out) out=$2; shift 2 ;;
    --dry-run) dry=1; shift ;;
    --budget) budget=$2; shift 2 ;;
    *) echo "gpu-device-check: unknown argument $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
log="$out/log.txt"
summary="$out/summary.txt"
: >"$log"
: >"$summary"
xml=$(mktemp -d)
start=$SECONDS
bin="$pack/bin"
[ -d "$bin" ] || bin="$pack"  # a build tree: programs found below
find_program() { for candidate in "$bin/$1" "$pack/tests/$1" "$pack/launch/$1" "$pack/bench/$1"; do [ -x "$candidate" ] && { echo "$candidate"; return; }; done; echo "$bin/$1"; }
cohort=$(find_program cohort)

# The machine's own libraries first; the pack's only for what is missing.
if ldd "$cohort" 2>/dev/null | grep -q "not found" && [ -d "$pack/lib-fallback" ]; then
  export LD_LIBRARY_PATH="$pack/lib-fallback${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
gpu=0
if [ "$dry" -eq 0 ] && nvidia-smi -L >/dev/null 2>&1; then gpu=1; fi

record() {  # stage, status, seconds, note
  printf '%-14s %-4s %5ss  %s\n' "$1" "$2" "$3" "$4" | tee -a "$summary"
}
left() { echo $((budget - (SECONDS - start))); }

# stage NAME LIMIT COMMAND...: runs COMMAND (a shell string) with a time limit, or skips it.
stage() {
  local name=$1 limit=$2 command=$3
  echo "== $name: $command" >>"$log"
  if [ "$gpu" -eq 0 ]; then
    record "$name" SKIP 0 "no GPU (dry run)"
    return
  fi
  local remaining
  remaining=$(left)
  if [ "$remaining" -lt 15 ]; then
    record "$name" SKIP 0 "out of time"
    return
  fi
  [ "$limit" -gt "$remaining" ] && limit=$remaining
  local begin=$SECONDS
  timeout --kill-after=5 "$limit" bash -c "$command" >>"$log" 2>&1
  local status=$?
  local note=""
  [ "$status" -eq 124 ] && note="timed out after ${limit}s"
  [ "$status" -ne 0 ] && [ -z "$note" ] && note="exit $status: $(tail -3 "$log" | tr '\n' ' ' | cut -c1-160)"
  record "$name" "$([ "$status" -eq 0 ] && echo PASS || echo FAIL)" $((SECONDS - begin)) "$note"
}

# The pack itself: every program starts (this part runs in the dry run too).
missing=""
for program in cohort kernels_tests memory_tests tensor_tests train_tests parallel_tests StepBench; do
  path=$(find_program "$program")
  case "$program" in
    cohort) "$path" --version >>"$log" 2>&1 || missing="$missing $program" ;;
    *_tests) "$path" --gtest_list_tests >/dev/null 2>>"$log" || missing="$missing $program" ;;
    *) "$path" --benchmark_list_tests >/dev/null 2>>"$log" || missing="$missing $program" ;;
  esac
done
record pack "$([ -z "$missing" ] && echo PASS || echo FAIL)" 0 "${missing:+does not start:$missing}"

stage environment 20 "nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv; nvidia-smi -L; ldconfig -p | grep -E 'libcudnn.so|libnccl.so|libcublas.so|libopenblas.so' ; ldd '$cohort' | grep -E 'not found|cudnn|nccl|cublas|boost' ; '$cohort' info"

tests=""
for module in kernels memory tensor train parallel nn; do
  path=$(find_program "${module}_tests")
  tests="$tests '$path' --gtest_brief=1 --gtest_output=xml:$xml/$module.xml || failed=1;"
done
stage gpu-tests 200 "failed=0; $tests exit \$failed"

bench="$out/bench.jsonl"
benches=""
for row in "mlp 256" "mlp 1024" "lenet 256" "mlp 64"; do
  set -- $row
  for graphs in true false; do
    benches="$benches '$cohort' bench --device cuda --model $1 --dropout 0 --batch-size $2 --cuda-graphs $graphs --steps 200 --warmup 20 --repeats 5 --metrics $xml/b.jsonl && cat $xml/b.jsonl >> '$bench' || failed=1;"
  done
done
stage step-times 90 "failed=0; $benches exit \$failed"

# samples/s of the last epoch, 1 worker then 4 workers on the one GPU (goal: 4 >= 2 x 1)
stage four-workers 90 "'$cohort' train --device cuda --data synthetic --epochs 2 --batch-size 64 --dropout 0 --workers 1 --metrics $xml/one.jsonl && grep '\"event\":\"epoch\"' $xml/one.jsonl | tail -1 >> '$bench' && '$cohort' train --device cuda --data synthetic --epochs 2 --batch-size 64 --dropout 0 --workers 4 --averaging-frequency 5 --metrics '$out/train.jsonl' --report '$out/report.html' && grep '\"event\":\"epoch\"' '$out/train.jsonl' | tail -1 >> '$bench'"

sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
kernels=$(find_program kernels_tests)
stage memcheck 120 "'$sanitizer' --tool memcheck --error-exitcode 1 '$kernels' --gtest_brief=1 --gtest_filter='Cuda*'"
stage racecheck 60 "'$sanitizer' --tool racecheck --error-exitcode 1 '$kernels' --gtest_brief=1 --gtest_filter='*Reduction*:*Average*:*SumOfSquares*:*ColumnSum*'"
stage synccheck 60 "'$sanitizer' --tool synccheck --error-exitcode 1 '$kernels' --gtest_brief=1 --gtest_filter='*Reduction*:*Average*:*SumOfSquares*:*ColumnSum*'"

tar -czf "$out/gtest.tar.gz" -C "$xml" . 2>/dev/null
rm -rf "$xml"
echo "total $((SECONDS - start)) s" | tee -a "$summary"
grep -q " FAIL " "$summary" && exit 1
exit 0
