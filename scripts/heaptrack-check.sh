#!/usr/bin/env bash
# Heap allocations per training iteration, measured by heaptrack on `cohort train` for 1 and for
# 3 epochs: the difference divided by the extra iterations must stay well under one. With
# --model gpt among the flags it trains a small GPT on a text of its own instead, for 300 and for
# 900 iterations (its "epochs" are evaluation intervals of 300).
#   scripts/heaptrack-check.sh [cohort-binary] [extra train flags...]
# Exit 0 pass, 1 fail, 77 skipped (no heaptrack or no data set).
set -euo pipefail
binary=${1:-build/launch/cohort}
shift || true
command -v heaptrack >/dev/null && command -v heaptrack_print >/dev/null || { echo "heaptrack not installed: skipped"; exit 77; }
[ -d /usr/share/datasets/fashion-mnist ] || { echo "dataset-fashion-mnist not installed: skipped"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--device cpu --hidden 64 --threads-per-worker 1 --quiet "$@")
length() { echo "--epochs $1"; }
if [[ " $* " == *" --model gpt "* ]]; then
  for i in $(seq 1 300); do printf 'FIRST CITIZEN:\nWe are accounted poor citizens, the patricians good.\n\n'; done >"$work/text.txt"
  flags=(--device cpu --threads-per-worker 1 --quiet --data text --data-file "$work/text.txt" --layers 2 --heads 2 --embed 32
         --context 16 --batch-size 8 --eval-iters 2 --optimizer adamw --weight-decay 0.1 --grad-clip 1 "$@")
  length() { echo "--max-iters $(( $1 * 300 )) --eval-interval 300"; }
fi
# COHORT_HEAPTRACK_OUTSIDE=FUNCTION: count only allocations whose call stack does not pass through
# FUNCTION (dnnl_primitive_execute: oneDNN builds a small argument map per primitive execution and
# frees it before returning, bookkeeping of the library's own, not working memory); those are
# reported beside.
outside=${COHORT_HEAPTRACK_OUTSIDE:-}
count() {  # epochs -> "allocations iterations"
  # shellcheck disable=SC2046
  heaptrack -o "$work/run$1" "$binary" train "${flags[@]}" $(length "$1") --metrics "$work/m$1.jsonl" >/dev/null 2>&1
  local calls iterations
  if [ -n "$outside" ]; then
    heaptrack_print "$work/run$1".zst --print-flamegraph "$work/stacks$1" --flamegraph-cost-type allocations >/dev/null 2>&1
    calls=$(awk -v lib="$outside" '{ n = $NF; if (index($0, lib)) inside += n; else out += n }
                                   END { printf "%d", out; printf "inside %s: %d\n", lib, inside > "/dev/stderr" }' "$work/stacks$1")
  else
    calls=$(heaptrack_print "$work/run$1".zst 2>/dev/null | sed -n 's/^calls to allocation functions: \([0-9]*\).*/\1/p')
  fi
  iterations=$(sed -n 's/.*"event":"done".*"iterations":\([0-9]*\).*/\1/p' "$work/m$1.jsonl")
  echo "$calls $iterations"
}
read -r calls1 iterations1 < <(count 1)
read -r calls3 iterations3 < <(count 3)
per=$(awk -v a="$calls1" -v b="$calls3" -v i="$iterations1" -v j="$iterations3" 'BEGIN { printf "%.3f", (b - a) / (j - i) }')
echo "heap allocations: 1 epoch $calls1 ($iterations1 iterations), 3 epochs $calls3 ($iterations3 iterations): $per per extra iteration"
awk -v p="$per" 'BEGIN { exit !(p < 0.5) }' || { echo "FAIL: heap allocations grow with iterations"; exit 1; }
echo "PASS"
