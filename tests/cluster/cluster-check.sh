#!/usr/bin/env bash
# mpirun across hosts, on the emulated cluster (scripts/emulated-cluster.sh: network namespaces,
# 1 Gbit/s links, Open MPI's TCP transport between hosts).
#   cluster-check.sh COHORT CASE
# CASE:
#   equivalence   -np 2 on 2 hosts x 1 worker == 2 workers in one process, bitwise (final model)
#   link-down     host2's link goes down mid-run: every rank exits non-zero within
#                 --mpi-timeout + 5 s, rank 0's line names rank 1 on host2, nothing is left
#   data-differs  host2 sees a data set with another sample count: exit 2, every rank's line
#                 names host2
#   data-missing  host2 has no data files: exit 2, every rank's line names host2 and the file
#   teardown      the cluster script stopped by SIGTERM mid-job leaves no namespace or process
# Exit 0 pass, 1 fail, 77 skip (no namespaces here, no mpirun, or cohort without MPI).
set -uo pipefail
cohort=$1
case_name=$2
here=$(cd "$(dirname "$0")" && pwd)
cluster="$here/../../scripts/emulated-cluster.sh"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/cohort-cluster.XXXXXX")
cluster_pid=""
trap '[ -n "$cluster_pid" ] && kill -TERM "$cluster_pid" 2>/dev/null && wait "$cluster_pid"; rm -rf "$scratch"' EXIT
cd "$scratch"

fail() { echo "FAIL ($case_name): $*" >&2; exit 1; }
bash "$cluster" --check >check.txt 2>&1 || { cat check.txt; exit 77; }
command -v mpirun >/dev/null || { echo "mpirun is not on PATH"; exit 77; }
"$cohort" info | grep -q ", mpi" || { echo "cohort was built without MPI"; exit 77; }

# The ranks of this check's jobs: cohort processes whose arguments name its scratch folder.
ranks() { pgrep -f "^[^ ]*cohort train .*$scratch" | wc -l; }

# A small CSV data set: 64 features, 10 classes, labels from the features (learnable).
make_csv() {  # DIR TRAIN_ROWS TEST_ROWS
    mkdir -p "$1"
    python3 - "$1" "$2" "$3" <<'PY'
import random, sys
out, train, test = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(7)
for name, rows in (("train.csv", train), ("test.csv", test)):
    with open(f"{out}/{name}", "w") as f:
        for _ in range(rows):
            x = [round(rng.random(), 4) for _ in range(64)]
            label = int(sum(x[:8]) * 10 / 8) % 10
            f.write(",".join([str(label)] + [str(v) for v in x]) + "\n")
PY
}
make_csv data 600 100
small="--data csv --data-dir $scratch/data --device cpu --threads-per-worker 1 --hidden 32 --batch-size 16 --optimizer sgd --quiet"

# The cluster script in the background (its namespaces are named after its process id); the
# caller waits for $cluster_pid. Output goes to out.txt and err.txt.
start_cluster() {
    bash "$cluster" "$@" >out.txt 2>err.txt &
    cluster_pid=$!
}
run_cluster() {
    start_cluster "$@"
    wait "$cluster_pid"
}
# Whatever happened, the cluster must be gone: no namespace of its own, no rank anywhere.
check_nothing_left() {
    ip netns list | grep "^c$cluster_pid-" && fail "namespaces left behind"
    [ -e "/etc/netns/c$cluster_pid-host1" ] && fail "/etc/netns entries left behind"
    [ "$(ranks)" -eq 0 ] || fail "a rank outlived the job"
    grep -q "processes left in the hosts: 0$" err.txt || fail "the job left processes in the hosts: $(tail -1 err.txt)"
}

# Tensors of a safetensors file equal in name, shape and bytes (the headers' settings differ).
same_tensors() {
    python3 - "$1" "$2" <<'PY'
import json, struct, sys
def tensors(path):
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    body = blob[8 + n:]
    return {k: (v["dtype"], v["shape"], body[v["data_offsets"][0]:v["data_offsets"][1]])
            for k, v in header.items() if k != "__metadata__"}
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
if set(a) != set(b):
    sys.exit(f"tensor names differ: {sorted(set(a) ^ set(b))}")
bad = [k for k in a if a[k] != b[k]]
if bad:
    sys.exit(f"tensors differ: {bad}")
print(f"{len(a)} tensors bitwise equal")
PY
}

case "$case_name" in
equivalence)
    flags="$small --epochs 2 --averaging-frequency 3"
    "$cohort" train $flags --workers 2 --save one-process.safetensors >out1.txt 2>&1 || fail "one process failed: $(cat out1.txt)"
    run_cluster --hosts 2 --link 1gbit --timeout 300 -- "$cohort" train $flags --workers 1 --save two-hosts.safetensors ||
        fail "the 2-host job failed: $(cat err.txt)"
    grep -q "^cohort" err.txt && fail "a rank wrote to stderr: $(cat err.txt)"
    same_tensors one-process.safetensors two-hosts.safetensors || fail "2 hosts x 1 worker differ from 2 workers"
    check_nothing_left
    ;;
link-down)
    timeout_s=6
    started=$(date +%s.%N)
    start_cluster --hosts 2 --link 1gbit --timeout 300 --cut host2@4 -- \
        "$cohort" train $small --epochs 100000 --averaging-frequency 1 --mpi-timeout $timeout_s
    job=$cluster_pid
    # Watch the ranks (processes named cohort whose arguments name this scratch folder).
    last_seen=$started
    while kill -0 "$job" 2>/dev/null; do
        [ "$(ranks)" -gt 0 ] && last_seen=$(date +%s.%N)
        sleep 0.1
    done
    wait "$job"
    status=$?
    [ "$status" -ne 0 ] || fail "the job succeeded with its link down"
    cut_at=$(grep -o "link down after [0-9.]* s (at [0-9.]*)" err.txt | grep -o "at [0-9.]*" | cut -c4-)
    [ -n "$cut_at" ] || fail "the link was never cut (the job ended first?): $(cat err.txt)"
    line=$(grep "^cohort\[rank 0\]: error: " err.txt) || fail "rank 0 wrote no error line: $(cat err.txt)"
    echo "$line"
    echo "$line" | grep -q "lost rank 1 on host2" || fail "rank 0's line does not name rank 1 on host2"
    late=$(awk -v c="$cut_at" -v l="$last_seen" -v t="$timeout_s" 'BEGIN { d = l - c; printf "%.1f", d; exit !(d <= t + 5) }') ||
        fail "a rank was still running $late s after the cut (allowed: --mpi-timeout $timeout_s + 5 s)"
    echo "the last rank was gone $late s after the link went down (--mpi-timeout $timeout_s)"
    check_nothing_left
    ;;
data-differs|data-missing)
    if [ "$case_name" = data-differs ]; then make_csv other 300 100; else mkdir -p other; fi
    run_cluster --hosts 2 --link 1gbit --timeout 300 --mount "host2:$scratch/other:$scratch/data" -- \
        "$cohort" train $small --epochs 1
    status=$?
    [ "$status" -eq 2 ] || fail "exit $status, wanted 2: $(cat err.txt)"
    for rank in 0 1; do
        line=$(grep "^cohort\[rank $rank\]: error: " err.txt) || fail "rank $rank wrote no error line: $(cat err.txt)"
        [ "$(grep -c "^cohort\[rank $rank\]" err.txt)" -eq 1 ] || fail "rank $rank wrote more than one line"
        echo "$line"
        echo "$line" | grep -q "host2" || fail "rank $rank's line does not name host2"
        if [ "$case_name" = data-differs ]; then
            echo "$line" | grep -q "train-samples: rank 1 has '300', rank 0 has '600'" || fail "rank $rank's line does not say what differs"
        else
            echo "$line" | grep -q "rank 1 on host2: .*train.csv" || fail "rank $rank's line does not name the missing file"
        fi
    done
    grep -q "MPI_ABORT" err.txt && fail "the job was aborted instead of ending together"
    check_nothing_left
    ;;
teardown)
    start_cluster --hosts 3 --link 1gbit --timeout 300 -- "$cohort" train $small --epochs 100000
    job=$cluster_pid
    started=0
    for _ in $(seq 1 300); do
        [ "$(ranks)" -ge 3 ] && { started=1; break; }
        sleep 0.1
    done
    [ "$started" = 1 ] || fail "the 3 ranks never started: $(cat err.txt)"
    sleep 1  # into training (a rank starting itself again for OpenBLAS is briefly not counted)
    kill -TERM "$job"
    wait "$job"
    status=$?
    [ "$status" -eq 143 ] || fail "exit $status after SIGTERM, wanted 143"
    ip netns list | grep "^c$job-" && fail "namespaces left behind"
    sleep 0.5
    [ "$(ranks)" -eq 0 ] || fail "a rank outlived the cluster"
    ls /etc/netns 2>/dev/null | grep -q "^c$job-" && fail "/etc/netns entries left behind"
    cluster_pid=""
    ;;
*)
    fail "unknown case"
    ;;
esac
echo "PASS ($case_name)"
