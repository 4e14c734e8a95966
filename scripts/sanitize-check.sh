#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer (clang, CPU only): builds the test suite and the
# fuzz targets with libFuzzer into one build directory, runs the CPU test suite there (any report
# fails the run), then runs every fuzz target for a bounded time, two at a time, and prints each
# one's executions per second and in total. A crash, leak, timeout or unexpected exception in a
# fuzz target fails the run; the input that caused it is kept under <build>/fuzz-findings/ (copy it
# into tests/fuzz/regressions/<target>/ once fixed: ctest replays it from then on).
#   scripts/sanitize-check.sh [build-dir]      COHORT_FUZZ_SECONDS (20), COHORT_SANITIZE_TESTS (1)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-asan}
seconds=${COHORT_FUZZ_SECONDS:-20}
compiler=$(command -v clang++-14 || command -v clang++ || true)
if [ -z "$compiler" ]; then echo "sanitize-check: clang++ not found (scripts/setup.sh installs it)" >&2; exit 1; fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
      -DCMAKE_CXX_COMPILER="$compiler" -DCOHORT_SANITIZE_ADDRESS=ON -DCOHORT_FUZZ=ON \
      -DCOHORT_ENABLE_CUDA=OFF -DCOHORT_ENABLE_MPI=OFF -DCOHORT_BUILD_BENCH=OFF -DCOHORT_INSTALL=OFF >/dev/null
nice cmake --build "$build" -j "$(nproc)"

# allocator_may_return_null: an allocation the machine cannot hold returns null, as it does
# without ASan, so the refusal it leads to (exit 2, memory::OutOfMemoryError) is what is tested.
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
if [ "${COHORT_SANITIZE_TESTS:-1}" = 1 ]; then
  echo "== CPU test suite (ASan + UBSan)"
  # Left out: the end-to-end acceptance runs, the CLI's kill-and-resume runs and its LeNet
  # train-then-evaluate run, the CLI runs that change the replica count (minutes each under ASan;
  # tests/parallel/ResumeTest.cpp and ReplicaChangeTest.cpp run the same resume logic here, and evaluate-small evaluates a small model), the style, browser,
  # install and GPU-pack checks (no code of ours beyond what the rest covers), the --maxphysicalbytes
  # bisection (ASan's shadow memory and quarantine make the resident set another quantity; the
  # --maxbytes one runs), and the language model's loss bound (800 iterations of a GPT: about two
  # minutes under ASan at -O1 once the attention's products are our own instrumented code rather
  # than OpenBLAS's; LanguageModel.modes, .generate and the attention and GPT unit tests run the
  # same kernels here). Everything else runs, the fuzz replays included.
  (cd "$build" && ctest --output-on-failure -j "$(nproc)" --timeout 900 -LE acceptance \
       -E '^(Install\.|Style\.|Report\.browser|GpuCheck\.|Checkpoints\.resume-|Checkpoints\.replicas-change-|Checkpoints\.evaluate-lenet|BudgetPrediction\.EveryMaxPhysicalBytes|LanguageModel\.loss-bound)') || status=1
fi

echo "== fuzz targets, ${seconds} s each (ASan + UBSan + libFuzzer)"
findings="$build/fuzz-findings"
rm -rf "$findings" "$build/fuzz-logs"
mkdir -p "$findings" "$build/fuzz-logs"
run_target() {  # target: fuzzes a scratch copy of the seed corpus; the repository is never written
  local target=$1 work="$build/fuzz-work/$1"
  rm -rf "$work" && mkdir -p "$work"
  cp -r "tests/fuzz/corpus/$target/." "$work/"
  local extra=()
  if [ -d "tests/fuzz/regressions/$target" ]; then extra+=("tests/fuzz/regressions/$target"); fi
  mkdir -p "$findings/$target"
  "$build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -malloc_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$findings/$target/" \
      "$work" "${extra[@]}" >"$build/fuzz-logs/$target.log" 2>&1
}
targets=(idx csv cifar10 modelfile config bytesize checkpoint text)
pids=() names=()
for target in "${targets[@]}"; do
  run_target "$target" & pids+=($!) names+=("$target")
  if ((${#pids[@]} >= $(nproc))); then
    wait "${pids[0]}" || echo "fuzz_${names[0]} failed" >>"$build/fuzz-logs/failed"
    pids=("${pids[@]:1}") names=("${names[@]:1}")
  fi
done
for i in "${!pids[@]}"; do wait "${pids[$i]}" || echo "fuzz_${names[$i]} failed" >>"$build/fuzz-logs/failed"; done
printf '%-12s %12s %10s %8s  %s\n' target executions "exec/s" corpus result
for target in "${targets[@]}"; do
  log="$build/fuzz-logs/$target.log"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  corpus=$(sed -n 's/.*DONE .*corp: \([0-9]*\).*/\1/p' "$log" | tail -1)
  result=ok
  if grep -q "^fuzz_$target failed" "$build/fuzz-logs/failed" 2>/dev/null; then
    result="FAILED (log: $log; input: $(ls "$findings/$target" | head -1))"
    status=1
    echo "---- fuzz_$target" >&2
    grep -E "ERROR|fuzz target:|SUMMARY|==[0-9]+==" "$log" | head -20 >&2 || true
  fi
  printf '%-12s %12s %10s %8s  %s\n' "$target" "${runs:-?}" "${rate:-?}" "${corpus:-?}" "$result"
done
exit $status
