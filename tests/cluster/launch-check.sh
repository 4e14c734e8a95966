#!/usr/bin/env bash
# cohort launch: a job under mpirun kept going when it loses a rank or a host.
#   launch-check.sh COHORT CASE
# CASE (on the emulated cluster, scripts/emulated-cluster.sh --no-mpirun):
#   cut           3 hosts x 1 worker; host3's link cut mid-run: the supervisor restarts on host1 +
#                 host2 from the newest checkpoint, the job ends with exit 0, its test accuracy is
#                 within 0.5 points of the same job uninterrupted, at most one checkpoint interval
#                 is trained again, and nothing is left running in any host
#   kill-grow     a rank on host3 SIGKILLed while discovery reports host1 + host2 (restart on 2
#                 hosts), then host3 reported again and a rank on host2 killed: the job grows back
#                 to 3 hosts and finishes
# CASE (on this machine, mpirun on localhost):
#   refusals      bad input exits 2 at once, a NaN exits 1; neither is restarted; launch's own
#                 bad flags exit 2
#   max-restarts  a job whose rank keeps being killed stops after --max-restarts with one line
#   signal        SIGTERM to the supervisor: the job stops at a sync point with a checkpoint, exit
#                 143, no restart
# Exit 0 pass, 1 fail, 77 skip (no namespaces here, no mpirun, or cohort without MPI).
set -uo pipefail
cohort=$1
case_name=$2
here=$(cd "$(dirname "$0")" && pwd)
cluster="$here/../../scripts/emulated-cluster.sh"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/cohort-launch.XXXXXX")
cluster_pid=""
trap '[ -n "$cluster_pid" ] && kill -TERM "$cluster_pid" 2>/dev/null && wait "$cluster_pid"; pkill -KILL -f "cohort (launch|train) .*$scratch"; rm -rf "$scratch"' EXIT
cd "$scratch"

fail() { echo "FAIL ($case_name): $*" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "mpirun is not on PATH"; exit 77; }
"$cohort" info | grep -q ", mpi" || { echo "cohort was built without MPI"; exit 77; }
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
local_mpi=(--mpirun-arg=--oversubscribe --mpirun-arg=--bind-to --mpirun-arg=none --mpirun-arg=--mca
           --mpirun-arg=btl --mpirun-arg=self,vader,tcp)

# A learnable CSV whose accuracy levels off (the label is the quadrant of the first 2 features), so
# an interrupted job and an uninterrupted one end at the same accuracy (98.1-98.5% after 200 epochs
# on 1, 2 or 3 replicas).
python3 - <<'PY'
import os, random
rng = random.Random(7)
os.makedirs("data", exist_ok=True)
for name, rows in (("train.csv", 3000), ("test.csv", 2000)):
    with open(f"data/{name}", "w") as f:
        for _ in range(rows):
            x = [round(rng.random(), 4) for _ in range(32)]
            f.write(",".join([str(2 * (x[0] > 0.5) + (x[1] > 0.5))] + [str(v) for v in x]) + "\n")
PY
job="--data csv --data-dir $scratch/data --device cpu --threads-per-worker 1 --hidden 32 --batch-size 16
     --optimizer sgd --mpi-timeout 5 --checkpoint-every 20 --quiet"

ranks() { pgrep -f "^[^ ]*cohort train .*$scratch" | wc -l; }
# cohort train processes in one host of the running cluster.
ranks_in() { for pid in $(ip netns pids "c$cluster_pid-$1" 2>/dev/null); do
                 tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "cohort train" && echo "$pid"; done; }
wait_for() {  # SECONDS COMMAND...: until the command succeeds
    local limit=$1; shift
    for _ in $(seq 1 $((limit * 10))); do "$@" && return 0; sleep 0.1; done
    return 1
}
has_checkpoint() { [ -n "$(ls "$scratch/ckpt" 2>/dev/null)" ]; }
no_ranks() { [ "$(ranks)" -eq 0 ]; }
has_ranks_in() { [ -n "$(ranks_in "$1")" ]; }
has_restarts() { [ "$(cat "$1" 2>/dev/null | grep -c '"event":"restart"')" -ge "$2" ]; }  # METRICS COUNT
accuracy() { python3 -c "import json,sys; print([json.loads(l) for l in open(sys.argv[1])][-1]['test_accuracy'])" "$1"; }

in_cluster() {  # HOSTS CUT... -- COMMAND: the cluster script in the background
    local hosts=$1; shift
    local extra=()
    while [ "$1" != -- ]; do extra+=("$1"); shift; done
    shift
    bash "$cluster" --hosts "$hosts" --no-mpirun --timeout 300 "${extra[@]}" -- "$@" >out.txt 2>err.txt &
    cluster_pid=$!
}
check_nothing_left() {
    ip netns list | grep "^c$cluster_pid-" && fail "namespaces left behind"
    [ "$(ranks)" -eq 0 ] || fail "a rank outlived the job"
    grep -q "processes left in the hosts: 0$" err.txt || fail "the job left processes in the hosts: $(tail -1 err.txt)"
}
cluster_case_prerequisites() { bash "$cluster" --check >check.txt 2>&1 || { cat check.txt; exit 77; }; }

# The supervised job on the cluster's head node: launch-job.sh NAME [launch flags...]; checkpoints
# in NAME/, metrics in NAME.jsonl, the supervisor's output in NAME.out / NAME.err.
cat >launch-job.sh <<JOB
#!/usr/bin/env bash
name=\$1; shift
exec "$cohort" launch --hostfile "\$COHORT_CLUSTER_HOSTFILE" --probe-timeout 3 "\$@" -- train $(echo $job) --epochs 200 \
    --checkpoint-dir "$scratch/\$name" --metrics "$scratch/\$name.jsonl" >"$scratch/\$name.out" 2>"$scratch/\$name.err"
JOB

# Reads a supervised job's metrics: its restarts and final accuracy; checks what every restart says.
summarise() {  # METRICS CHECKPOINT_EVERY
    python3 - "$1" "$2" <<'PY'
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
restarts = [r for r in records if r["event"] == "restart"]
done = [r for r in records if r["event"] == "done"]
assert done, "the job never finished"
for r in restarts:
    assert r["checkpoint"], f"restart {r['restart']} resumed from no checkpoint"
    # (unknown when the failed job's ranks named no iteration: a rank killed outright)
    redone = r["iterations_redone"]
    assert (redone is None and r["iteration_failed"] is None) or 0 <= redone <= int(sys.argv[2]), \
        f"restart {r['restart']}: {redone} iterations redone"
    print(f"restart {r['restart']}: lost {r['lost_hosts'] or 'a rank'}; {r['replicas_before'] if 'replicas_before' in r else '?'} -> "
          f"{r['replicas']} replicas on {r['hosts']}; {r['iterations_redone']} iterations redone; training again "
          f"{r['seconds_from_failure']:.1f} s after the failure was reported")
print(f"restarts {len(restarts)} replicas {[r['replicas'] for r in restarts]} accuracy {done[-1]['test_accuracy']}")
PY
}

case "$case_name" in
cut)
    cluster_case_prerequisites
    in_cluster 3 -- bash launch-job.sh straight
    wait "$cluster_pid" || fail "the uninterrupted 3-host job failed: $(cat straight.err err.txt)"
    has_restarts straight.jsonl 1 && fail "the uninterrupted job restarted"
    in_cluster 3 --cut host3@4 -- bash launch-job.sh cut
    job_pid=$cluster_pid
    wait "$job_pid"
    status=$?
    grep "^cohort launch" cut.err
    [ "$status" = 0 ] || fail "the job ended with exit $status: $(tail -5 cut.err) $(tail -2 err.txt)"
    cut_at=$(grep -o "link down after [0-9.]* s (at [0-9.]*)" err.txt | grep -o "at [0-9.]*" | cut -c4-)
    [ -n "$cut_at" ] || fail "the link was never cut (the job ended first?)"
    summary=$(summarise cut.jsonl 20) || fail "$summary"
    grep -q '"iterations_redone":null' cut.jsonl && fail "the restart does not say how many iterations were done again"
    echo "$summary"
    echo "$summary" | grep -q "^restarts 1 replicas \[2\]" || fail "wanted one restart on 2 replicas"
    python3 - cut.jsonl "$cut_at" <<'PY' || fail "too slow"
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if '"event":"restart"' in l][0]
print(f"from the cut to training again: {r['seconds_from_failure'] + r['failed_at'] - float(sys.argv[2]):.1f} s (--mpi-timeout 5)")
PY
    grep -q "cohort launch: lost host3" cut.err || fail "the supervisor's line does not name host3: $(grep '^cohort launch' cut.err)"
    straight=$(accuracy straight.jsonl) cut=$(accuracy cut.jsonl)
    python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'test accuracy {100*b:.2f}% after the cut, {100*a:.2f}% uninterrupted'); sys.exit(abs(a - b) > 0.005)" \
        "$straight" "$cut" || fail "the accuracy differs by more than 0.5 points"
    check_nothing_left
    ;;
kill-grow)
    cluster_case_prerequisites
    printf 'host1\nhost2\n' >hosts.txt
    in_cluster 3 -- bash launch-job.sh grow --host-discovery "cat $scratch/hosts.txt"
    wait_for 60 has_ranks_in host3 || fail "no rank started on host3: $(cat err.txt)"
    sleep 2
    kill -KILL $(ranks_in host3)
    wait_for 60 has_restarts grow.jsonl 1 || fail "no restart after host3's rank was killed: $(tail -5 grow.err)"
    printf 'host1\nhost2\nhost3\n' >hosts.txt  # host3 is back
    sleep 2
    kill -KILL $(ranks_in host2)
    wait "$cluster_pid"
    status=$?
    grep "^cohort launch" grow.err
    [ "$status" = 0 ] || fail "the job ended with exit $status: $(tail -5 grow.err)"
    summary=$(summarise grow.jsonl 20) || fail "$summary"
    echo "$summary"
    echo "$summary" | grep -q "^restarts 2 replicas \[2, 3\]" || fail "wanted restarts on 2, then 3 replicas"
    # The job's report (its whole record, every attempt) lists the restarts and marks them on its
    # charts; rendered in headless Chromium where there is one.
    "$cohort" report grow.jsonl -o grow.html >/dev/null || fail "cohort report failed on the restarted job's metrics"
    browser=$(command -v chromium || command -v chromium-browser || true)
    if [ -n "$browser" ]; then
        dom=$(timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --virtual-time-budget=3000 \
              --dump-dom "file://$scratch/grow.html" 2>/dev/null)
        grep -q "2 restart(s)" <<<"$dom" || fail "the report does not list the restarts"
        check=$(sed -n 's|.*<pre id="report-check"[^>]*>\(.*\)</pre>.*|\1|p' <<<"$dom")
        python3 -c "import json,sys; c = json.loads(sys.argv[1]); assert not c['errors'] and c['drawn'] == c['charts'] > 0, c; print('report:', c)" \
            "$check" || fail "the report did not render cleanly: $check"
    fi
    check_nothing_left
    ;;
refusals)
    echo "localhost slots=2" >hostfile
    launch=("$cohort" launch --hostfile hostfile "${local_mpi[@]}")
    expect_status() {  # STATUS TEXT COMMAND...: that exit, that text on stderr, no restart
        local want=$1 text=$2; shift 2
        "$@" >out.txt 2>err.txt
        local got=$?
        [ "$got" = "$want" ] || fail "exit $got, wanted $want: $* : $(tail -3 err.txt)"
        grep -q -- "$text" err.txt || fail "no '$text' in: $(tail -3 err.txt)"
        grep -q "restart 1" err.txt && fail "restarted: $*"
        echo "exit $got: $(grep -- "$text" err.txt | head -1)"
    }
    expect_status 2 "--epochs must be" "${launch[@]}" -- train $job --epochs 0 --checkpoint-dir ckpt
    expect_status 2 "not restarting" "${launch[@]}" -- train $job --epochs 0 --checkpoint-dir ckpt
    expect_status 1 "diverged" "${launch[@]}" -- train $job --epochs 5 --checkpoint-dir nan --lr 1e30 --lr-schedule constant
    grep -q "cohort launch: error: the job failed (exit 1) in a way a restart cannot fix" err.txt || fail "no line says why: $(tail -2 err.txt)"
    expect_status 2 "needs --hostfile" "$cohort" launch -- train $job --checkpoint-dir ckpt
    expect_status 2 "needs the job's --checkpoint-dir" "${launch[@]}" -- train $job
    expect_status 2 "put 'train' and its flags after --" "${launch[@]}" -- evaluate --load x
    expect_status 2 "--max-restarts must be >= 0" "${launch[@]}" --max-restarts -1 -- train $job --checkpoint-dir ckpt
    echo "# nothing" >empty
    expect_status 2 "names no host" "$cohort" launch --hostfile empty -- train $job --checkpoint-dir ckpt
    expect_status 2 "fewer than --min-hosts 2" "${launch[@]}" --min-hosts 2 -- train $job --checkpoint-dir ckpt
    ;;
max-restarts)
    echo "localhost slots=2" >hostfile
    "$cohort" launch --hostfile hostfile "${local_mpi[@]}" --max-restarts 1 --host-discovery "echo localhost:2" -- \
        train $job --epochs 100000 --checkpoint-dir "$scratch/ckpt" >out.txt 2>err.txt &
    pid=$!
    for round in 1 2; do
        wait_for 60 has_checkpoint || fail "no checkpoint: $(tail -3 err.txt)"
        sleep 1
        pkill -KILL -f "^[^ ]*cohort train .*$scratch" -n || fail "no rank to kill in round $round"
        [ "$round" = 1 ] && { wait_for 60 grep -q "restart 1 of 1" err.txt || fail "no restart: $(tail -3 err.txt)"; }
    done
    wait "$pid"
    status=$?
    [ "$status" = 1 ] || fail "exit $status, wanted 1"
    line=$(grep "^cohort launch: error:" err.txt) || fail "no line says why it stopped: $(tail -3 err.txt)"
    echo "$line"
    echo "$line" | grep -q "after 1 restart(s), the most --max-restarts allows" || fail "the line does not name --max-restarts"
    [ "$(ranks)" -eq 0 ] || fail "a rank outlived the job"
    ;;
signal)
    echo "localhost slots=2" >hostfile
    "$cohort" launch --hostfile hostfile "${local_mpi[@]}" -- train $job --epochs 100000 --checkpoint-dir "$scratch/ckpt" \
        >out.txt 2>err.txt &
    pid=$!
    wait_for 60 has_checkpoint || fail "no checkpoint: $(tail -3 err.txt)"
    sleep 1
    kill -TERM "$pid"
    wait "$pid"
    status=$?
    [ "$status" = 143 ] || fail "exit $status after SIGTERM, wanted 143: $(tail -3 err.txt)"
    grep -q "stopped by SIGTERM at epoch" err.txt || fail "the job did not stop at a sync point: $(tail -3 err.txt)"
    grep -q "cohort launch: stopped by SIGTERM" err.txt || fail "the supervisor did not say it stopped"
    grep -q "restart 1" err.txt && fail "restarted after a signal"
    wait_for 10 no_ranks || fail "a rank outlived the job"
    grep "stopped by SIGTERM" err.txt
    ;;
*)
    fail "unknown case"
    ;;
esac
echo "PASS ($case_name)"
