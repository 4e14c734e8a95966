#!/usr/bin/env bash
# The HTML report, the trace and the progress line of a real short run.
#   report-check.sh COHORT CASE [SCREENSHOT_DIR]
# CASE: browser  -- the report of a finished, a stopped and a failed run rendered in headless
#                   Chromium: every chart drew, no script error, no network request; screenshots
#                   saved in SCREENSHOT_DIR (skipped, exit 77, without chromium)
#       trace    -- the trace's schema and its agreement with --metrics (check_trace.py)
#       progress -- a pseudo-terminal sees the progress line; a pipe and --metrics do not
set -uo pipefail
cohort=$1
case_name=$2
shots=${3:-.}
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/cohort-report.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
fail() { echo "FAIL ($case_name): $*" >&2; exit 1; }
small="--data synthetic --device cpu --threads-per-worker 1 --batch-size 32 --hidden 256,128"

chromium_binary() { command -v chromium || command -v chromium-browser || command -v google-chrome || true; }

# $1: the report; prints the page's own check ({"charts":..,"drawn":..,"errors":[..],"blocked":[..]}).
page_check() {
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --virtual-time-budget=3000 \
        --dump-dom "file://$scratch/$1" 2>/dev/null | sed -n 's|.*<pre id="report-check"[^>]*>\(.*\)</pre>.*|\1|p'
}

expect_clean_page() {  # $1: report, $2: fewest charts
    local check
    check=$(page_check "$1")
    [ -n "$check" ] || fail "$1: the page did not run its check (script error before it?)"
    python3 - "$check" "$2" "$1" <<'PY' || fail "$1: $check"
import json, sys
check, least, name = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
assert check["errors"] == [], check["errors"]
assert check["blocked"] == [], f"network requests attempted: {check['blocked']}"
assert check["charts"] >= least, f"{check['charts']} charts, expected at least {least}"
assert check["drawn"] == check["charts"], f"only {check['drawn']} of {check['charts']} canvases hold pixels"
print(f"{name}: {check['charts']} charts drawn, no errors, no requests")
PY
}

screenshot() {  # $1: report, $2: png
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars \
        --window-size=1280,1900 --virtual-time-budget=3000 --screenshot="$2" "file://$scratch/$1" >/dev/null 2>&1
    [ -s "$2" ] || fail "no screenshot of $1"
}

case "$case_name" in
browser)
    browser=$(chromium_binary)
    [ -n "$browser" ] || { echo "skipped: no chromium (scripts/setup.sh installs Debian's chromium)"; exit 77; }
    $cohort train $small --epochs 3 --workers 2 --averaging-frequency 4 --quiet --metrics run.jsonl --report run.html ||
        fail "training failed"
    expect_clean_page run.html 6
    grep -q "Chart.js v3" run.html || fail "Chart.js is not inlined"
    grep -Eq '(src|href)="(https?:)?//' run.html && fail "the page names a remote resource"
    $cohort report run.jsonl -o again.html >/dev/null || fail "cohort report failed"
    cmp -s run.html again.html || fail "cohort report differs from the report the run wrote"
    mkdir -p "$shots"
    screenshot run.html "$shots/report-finished.png"
    # A stopped run and a failed run still get a report up to where they got.
    $cohort train $small --epochs 50 --quiet --metrics stopped.jsonl --report stopped.html 2>/dev/null &
    pid=$!
    for _ in $(seq 1 200); do grep -q '"event":"epoch"' stopped.jsonl 2>/dev/null && break; sleep 0.05; done
    kill -INT "$pid"
    wait "$pid"
    [ $? -eq 130 ] || fail "the stopped run did not exit 130"
    grep -q '"event":"stopped"' stopped.html || fail "the stopped run's report lacks its end"
    expect_clean_page stopped.html 3
    screenshot stopped.html "$shots/report-stopped.png"
    $cohort train $small --epochs 2 --quiet --optimizer sgd --lr 1e30 --lr-schedule constant --metrics failed.jsonl \
        --report failed.html 2>/dev/null
    [ $? -eq 1 ] || fail "the diverging run did not exit 1"
    grep -q '"event":"failed"' failed.html || fail "the failed run's report lacks its end"
    expect_clean_page failed.html 0
    echo "screenshots: $shots/report-finished.png, report-stopped.png"
    ;;
trace)
    $cohort train $small --epochs 2 --workers 2 --averaging-frequency 3 --quiet --metrics run.jsonl --trace run.trace.json ||
        fail "training failed"
    python3 "$here/check_trace.py" run.trace.json run.jsonl || fail "the trace disagrees"
    if command -v mpirun >/dev/null && $cohort info | grep -q ", mpi"; then  # one process per rank, gathered by rank 0
        root=""
        [ "$(id -u)" -eq 0 ] && root="--allow-run-as-root"
        mpirun -np 2 $root --oversubscribe --bind-to none --mca btl self,vader,tcp $cohort train $small --epochs 1 --workers 2 \
            --averaging-frequency 4 --quiet --metrics mpi.jsonl --trace mpi.trace.json || fail "training under mpirun failed"
        python3 "$here/check_trace.py" mpi.trace.json mpi.jsonl 2 || fail "the mpirun trace disagrees"
    fi
    $cohort train $small --epochs 1 --quiet --trace small.json --trace-steps 5 || fail "training with --trace-steps failed"
    python3 -c "
import json, sys
events = json.load(open('small.json'))['traceEvents']
spans = [e for e in events if e['ph'] == 'X']
assert len(spans) <= 4 * 5 + 64, len(spans)
assert any(e['name'] == 'trace full' for e in events), 'the dropped spans are not said'
print(f'--trace-steps 5: {len(spans)} spans kept')" || fail "--trace-steps does not bound the trace"
    ;;
progress)
    command -v script >/dev/null || { echo "skipped: no script(1)"; exit 77; }
    # A pseudo-terminal: script(1) runs the command with its stdout and stderr on one.
    script -qfec "$cohort train $small --epochs 2 --metrics tty.jsonl" /dev/null >tty.txt 2>&1 || fail "training on a pty failed"
    grep -q $'\r\e\\[Kepoch 1/2 ' tty.txt || fail "no progress line on the terminal: $(head -c 300 tty.txt | od -c | head)"
    grep -q "ETA" tty.txt || fail "the progress line has no ETA"
    grep -q "samples/s  loss" tty.txt || fail "the progress line lacks samples/s or the loss"
    grep -q "^epoch 2/2 \|epoch 2/2  train loss" tty.txt || fail "the epoch lines are missing on the terminal"
    # A pipe: epoch lines only.
    $cohort train $small --epochs 2 --metrics pipe.jsonl >out.txt 2>err.txt || fail "training into a pipe failed"
    grep -q "ETA" out.txt err.txt && fail "the progress line reached a pipe"
    grep -q $'\r' out.txt err.txt && fail "a carriage return reached a pipe"
    grep -q "ETA" tty.jsonl pipe.jsonl && fail "the progress line reached --metrics"
    grep -q "epoch 2/2  train loss" out.txt || fail "no epoch lines in the pipe"
    # --quiet on a terminal: no progress either.
    script -qfec "$cohort train $small --epochs 1 --quiet" /dev/null >quiet.txt 2>&1
    grep -q "ETA" quiet.txt && fail "--quiet still drew the progress line"
    echo "progress: drawn on a terminal, absent from pipes, --quiet and --metrics"
    ;;
*) echo "unknown case $case_name" >&2; exit 2 ;;
esac
