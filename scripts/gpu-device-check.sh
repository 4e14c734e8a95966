#!/usr/bin/env bash
# The GPU machine's half of the GPU check (scripts/gpu-pack.sh prepares the other): runs prebuilt
# files only, every stage bounded by `timeout`, a failing stage never stopping the next, and
# writes what it finds under OUT (at most six files, for a transport that returns few):
#   summary.txt   one line per stage: PASS / FAIL / SKIP, its seconds, and what failed
#   log.txt       every stage's output
#   gtest.tar.gz  the GoogleTest XML of every test binary
#   bench.jsonl   step times (cohort bench --metrics) and the 1-worker / 4-worker runs' epochs
#   train.jsonl   the 4-workers-on-one-GPU run's --metrics; report.html its report
# Before any stage: the libraries. The programs link no CUDA library; the CUDA modules (lib/) name
# cudart, cuBLAS, cuDNN and NCCL by soname, and each is looked for wherever such a machine keeps
# it: the loader's own paths, $COHORT_CUDA_LIBRARY_PATH, $CUDA_HOME, /usr/local/cuda*/lib64 and lib,
# and the Python environment's nvidia-* wheels (site-packages/nvidia/*/lib). What the machine
# lacks otherwise comes from the pack's lib-fallback/. Then `ldd` on every packed file: anything
# still missing fails the pack stage by name, and `cohort info --load-cuda` says which file each
# CUDA library resolved to.
# Stages, in order, within about 7 minutes: environment; every GPU test; step times in the goal
# configurations (Adam, fp32 without TF32, dropout 0; CUDA graphs on and off) and of the baby GPT
# (AdamW, batch 12 and 64); 4 workers sharing the GPU against 1 (20 epochs each, the median of the
# last 10); compute-sanitizer on our own kernels first, then cuDNN's, while time is left (SKIP
# where the sanitizer cannot attach).
#   usage: gpu-device-check.sh [--pack DIR] [--out DIR] [--dry-run] [--budget SECONDS]
# --dry-run (also what happens without a GPU): resolves the libraries, checks that every file of
# the pack loads, trains one CPU epoch with --report from the pack, and prints each stage's
# command, then skips it. CI runs the dry run on a pack with this machine's CUDA folders, oneDNN
# and Chart.js hidden (tests/install/gpu-pack-check.sh).
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
programs=(cohort kernels_tests memory_tests tensor_tests train_tests parallel_tests nn_tests StepBench)
files=()
for program in "${programs[@]}"; do files+=("$(find_program "$program")"); done
for module in "$pack"/lib/libcohort_cuda_*.so; do [ -e "$module" ] && files+=("$module"); done
[ -f "$pack/share/chart.min.js" ] && export COHORT_CHARTJS="$pack/share/chart.min.js"

# Folders that may hold the CUDA libraries, most specific first.
cuda_folders() {
  local entry python_paths
  IFS=: read -ra entry <<<"${COHORT_CUDA_LIBRARY_PATH:-}"
  printf '%s\n' "${entry[@]}"
  for home in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda /usr/local/cuda-*; do
    [ -n "$home" ] && printf '%s\n' "$home/lib64" "$home/lib" "$home/targets/x86_64-linux/lib"
  done
  python_paths=$(python3 -c 'import nvidia; print("\n".join(nvidia.__path__))' 2>/dev/null)
  for folder in $python_paths; do printf '%s\n' "$folder"/*/lib; done
}

# Makes every packed file's libraries resolvable: the CUDA ones from the folders above, the rest
# from lib-fallback/ (linked or unpacked into a folder of its own, so that only what is missing is
# taken from the pack). Several passes: an added library may need another (oneDNN needs OpenCL).
# "FILE: LIBRARY" for each library a packed file needs and the loader cannot load: not found, or
# found but unusable (a truncated or foreign file: "error while loading shared libraries").
missing_libraries() {
  for file in "${files[@]}"; do
    ldd "$file" 2>&1 | awk -v f="$(basename "$file")" '
      /not found/ {print f": "$1}
      /error while loading shared libraries:/ {sub(/.*shared libraries: /, ""); sub(/:.*/, ""); n = split($0, p, "/"); print f": "p[n]}'
  done | sort -u
}
fallback=$(mktemp -d)
resolve_libraries() {
  local pass name folder found
  for pass in 1 2 3 4; do
    local names
    names=$(missing_libraries | awk '{print $2}' | sort -u)
    [ -z "$names" ] && return
    for name in $names; do
      found=""
      while read -r folder; do
        if [ -n "$folder" ] && [ -e "$folder/$name" ]; then found=$folder; break; fi
      done < <(cuda_folders)
      if [ -n "$found" ]; then
        case ":${LD_LIBRARY_PATH:-}:" in *":$found:"*) ;; *) export LD_LIBRARY_PATH="$found${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;; esac
        echo "library $name: from $found" >>"$log"
      elif [ -e "$pack/lib-fallback/$name" ]; then
        ln -sf "$pack/lib-fallback/$name" "$fallback/$name"; echo "library $name: the pack's" >>"$log"
      elif [ -e "$pack/lib-fallback/$name.gz" ]; then
        gzip -dc "$pack/lib-fallback/$name.gz" >"$fallback/$name"; echo "library $name: the pack's (unpacked)" >>"$log"
      fi
    done
    case ":${LD_LIBRARY_PATH:-}:" in *":$fallback:"*) ;; *) export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$fallback" ;; esac
  done
}
resolve_libraries
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

# The pack itself (this part runs in the dry run too): every file's libraries resolve, every
# program starts, the CUDA modules load, and a CPU epoch writes its --report.
problems=""
still_missing=$(missing_libraries | tr '\n' ';')
[ -n "$still_missing" ] && problems="missing libraries: $still_missing"
for program in "${programs[@]}"; do
  path=$(find_program "$program")
  case "$program" in
    cohort) "$path" --version >>"$log" 2>&1 || problems="$problems $program does not start;" ;;
    *_tests) "$path" --gtest_list_tests >/dev/null 2>>"$log" || problems="$problems $program does not start;" ;;
    *) "$path" --benchmark_list_tests >/dev/null 2>>"$log" || problems="$problems $program does not start;" ;;
  esac
done
if ls "$pack"/lib/libcohort_cuda_*.so >/dev/null 2>&1 || [ -d "$pack/lib" ]; then
  "$cohort" info --load-cuda >"$xml/info.txt" 2>&1
  cat "$xml/info.txt" >>"$log"
  grep -q "cannot load\|was not found" "$xml/info.txt" && problems="$problems $(grep -m1 "cannot load\|was not found" "$xml/info.txt" | cut -c1-200);"
fi
"$cohort" train --device cpu --data synthetic --epochs 1 --hidden 32 --quiet --report "$xml/report.html" >>"$log" 2>&1 &&
  [ -s "$xml/report.html" ] || problems="$problems a CPU epoch with --report failed;"
record pack "$([ -z "$problems" ] && echo PASS || echo FAIL)" 0 "$problems"

stage environment 20 "nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv; nvidia-smi -L; echo LD_LIBRARY_PATH=\$LD_LIBRARY_PATH; cat '$xml/info.txt'; '$cohort' info"
tests=""
for module in kernels memory tensor train parallel nn; do
  path=$(find_program "${module}_tests")
  tests="$tests '$path' --gtest_brief=1 --gtest_output=xml:$xml/$module.xml || failed=1;"
done
stage gpu-tests 200 "failed=0; $tests exit \$failed"

bench="$out/bench.jsonl"
benches=""
# Each row: model, batch, then flags of its own (the baby GPT of the CPU comparison, AdamW).
for row in "mlp 256" "mlp 1024" "lenet 256" "mlp 64" "gpt 12 --optimizer adamw" "gpt 64 --optimizer adamw"; do
  set -- $row
  for graphs in true false; do
    benches="$benches '$cohort' bench --device cuda --model $1 --dropout 0 --batch-size $2 ${*:3} --cuda-graphs $graphs --steps 200 --warmup 20 --repeats 5 --metrics $xml/b.jsonl && cat $xml/b.jsonl >> '$bench' || failed=1;"
  done
done
stage step-times 110 "failed=0; $benches exit \$failed"

# Training samples/s, 1 worker then 4 workers sharing the one GPU: 20 epochs each (about 3,100
# steps of the single worker), the median of the last 10 (goal: 4 workers >= 2 x 1).
median_rate() { grep '"event":"epoch"' "$1" | tail -10 | grep -o '"samples_per_sec":[0-9.e+]*' | cut -d: -f2 | sort -g | awk '{v[NR]=$1} END {print (NR ? v[int((NR+1)/2)] : 0)}'; }
four_workers() {
  "$cohort" train --device cuda --data synthetic --epochs 20 --batch-size 64 --dropout 0 --workers 1 --quiet \
    --metrics "$xml/one.jsonl" || return 1
  "$cohort" train --device cuda --data synthetic --epochs 20 --batch-size 64 --dropout 0 --workers 4 --averaging-frequency 5 \
    --quiet --metrics "$out/train.jsonl" --report "$out/report.html" || return 1
  local one four
  one=$(median_rate "$xml/one.jsonl")
  four=$(median_rate "$out/train.jsonl")
  printf '{"event":"four-workers","one_worker_samples_per_sec":%s,"four_workers_samples_per_sec":%s}\n' "$one" "$four" | tee -a "$bench"
  awk -v four="$four" -v one="$one" 'BEGIN {printf "4 workers / 1 worker: %.2f\n", (one > 0 ? four / one : 0)}'
}
export -f median_rate four_workers
export cohort xml out bench
stage four-workers 150 four_workers

# compute-sanitizer: a probe first (a short GPU test under memcheck); where the sanitizer is absent
# or cannot attach to this machine's GPU, its stages SKIP with the reason instead of failing.
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
kernels=$(find_program kernels_tests)
sanitizer_usable=""
if [ "$gpu" -eq 1 ]; then
  if [ ! -x "$sanitizer" ]; then sanitizer_usable="compute-sanitizer not found"
  elif ! timeout 60 "$sanitizer" --tool memcheck --error-exitcode 1 "$kernels" --gtest_brief=1 --gtest_filter='CudaBackend.RejectsAnOrdinalThatIsNotVisible' >"$xml/probe.txt" 2>&1; then
    sanitizer_usable="the sanitizer cannot attach: $(grep -m1 -i 'error\|unable\|not supported' "$xml/probe.txt" | cut -c1-120)"
  fi
fi
sanitize() {  # name, limit, tool, filter
  if [ -n "$sanitizer_usable" ]; then record "$1" SKIP 0 "$sanitizer_usable"; return; fi
  stage "$1" "$2" "'$sanitizer' --tool $3 --error-exitcode 1 '$kernels' --gtest_brief=1 --gtest_filter='$4'"
}
# Our own kernels (elementwise, reductions, optimizers, averaging) before cuDNN's convolutions.
sanitize memcheck 100 memcheck 'CudaBackend*'
sanitize racecheck 50 racecheck '*Reduction*:*Average*:*SumOfSquares*:*ColumnSum*'
sanitize synccheck 50 synccheck '*Reduction*:*Average*:*SumOfSquares*:*ColumnSum*'
sanitize memcheck-cudnn 80 memcheck 'CudaConvolution*'

tar -czf "$out/gtest.tar.gz" -C "$xml" --exclude='*.jsonl' --exclude='*.html' . 2>/dev/null
rm -rf "$xml" "$fallback"
echo "total $((SECONDS - start)) s" | tee -a "$summary"
grep -q " FAIL " "$summary" && exit 1
exit 0
