#!/usr/bin/env bash
# Checkpoints as users meet them, through the real `cohort` binary: exact resume after SIGKILL,
# refusals, evaluate, divergence, signals, a full disk, and NumPy reading a checkpoint.
#   checkpoint-cli.sh COHORT CASE
# CASE: replicas-change-averaging | replicas-change-shared-gradients | replicas-change-outer |
#       resume-one-worker | resume-two-workers | resume-gpt | resume-gpt-shared-gradients | resume-shared-gradients | resume-mpirun |
#       refusals | root-cause | train-longer | evaluate-lenet | evaluate-small | divergence | signals | signals-mpirun |
#       full-disk | outputs-first | fifo-input | numpy
# Exit 0 pass, 1 fail, 77 skip (mpirun, NumPy or a mount namespace absent).
set -uo pipefail
cohort=$1
case_name=$2
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/cohort-checkpoints.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"

fail() { echo "FAIL ($case_name): $*" >&2; exit 1; }
python=python3
small="--data synthetic --device cpu --threads-per-worker 1 --batch-size 32 --quiet"

# shellcheck source=../cli-support.sh
source "$here/../cli-support.sh"  # expect_error

newest_checkpoint() { ls "$1"/checkpoint-i*.safetensors 2>/dev/null | sort | tail -1; }

wait_for_checkpoint() {  # $1: directory, $2: pid of the run
    for _ in $(seq 1 600); do
        [ -n "$(newest_checkpoint "$1")" ] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# Sleeps a random time up to CAP_MS milliseconds and up to half the time since STARTED (date +%s%N),
# so a kill after it still comes while a run that has become faster is running.
sleep_before_kill() {  # $1: STARTED, $2: CAP_MS
    local half_ms=$((($(date +%s%N) - $1) / 2000000))
    local delay_ms=$((RANDOM % ((half_ms < $2 ? half_ms : $2) + 1)))
    sleep "$((delay_ms / 1000)).$(printf '%03d' $((delay_ms % 1000)))"
}

# A straight run and the same run killed with SIGKILL at a random point after its first
# checkpoint, then resumed: the final model files and every metrics value must be equal. The kill
# comes at most 1 s after that checkpoint and within the first half of the straight run's time, so
# a run that got faster is still killed while it runs.
resume_case() {
    local launcher=$1 flags=$2 base=${3:-"$small --hidden 512,512 --epochs 2"}
    local run="$launcher $cohort train $base $flags --checkpoint-every 25 --keep-checkpoints 2"
    local started=$(date +%s%N)
    $run --checkpoint-dir straight --save straight.final --metrics straight.jsonl || fail "straight run failed"
    local straight_ns=$(($(date +%s%N) - started))
    $run --checkpoint-dir killed --metrics killed.jsonl &
    local pid=$!
    wait_for_checkpoint killed "$pid" || fail "no checkpoint appeared before the run ended"
    sleep_before_kill "$(($(date +%s%N) - straight_ns))" 1000  # half the straight run's time
    if [ -n "$launcher" ]; then pkill -KILL -P "$pid"; fi  # the ranks; mpirun then ends
    kill -KILL "$pid" 2>/dev/null
    wait "$pid"
    local status=$?
    [ "$status" -ne 0 ] || fail "the run finished before it was killed; nothing was resumed"
    grep -q '"event":"done"' killed.jsonl && fail "the killed run wrote its done event"
    local from=from.safetensors
    cp "$(newest_checkpoint killed)" "$from"  # the resumed run prunes the directory
    $run --checkpoint-dir killed --resume killed --save resumed.final --metrics resumed.jsonl || fail "resume failed"
    cmp -s straight.final resumed.final || fail "final checkpoints differ (resumed from $from)"
    $python "$here/metrics_after.py" straight.jsonl "$from" >expected.txt || fail "metrics_after.py"
    $python "$here/metrics_after.py" resumed.jsonl >actual.txt || fail "metrics_after.py"
    [ -s actual.txt ] || fail "the resumed run reported nothing"
    diff expected.txt actual.txt >diff.txt || fail "metrics differ after resuming from $from: $(head -5 diff.txt)"
    echo "resumed from $from: $(wc -l <actual.txt) metrics records and the final model bitwise equal"
}

# A small GPT on a text of its own (play-shaped lines): 1,000 iterations in two validation intervals.
gpt_text() {
    for i in $(seq 1 300); do
        printf 'FIRST CITIZEN:\nWe are accounted poor citizens, the patricians good.\n\nSECOND CITIZEN:\nAgainst Caius Marcius?\n\n'
    done >text.txt
}
gpt="--model gpt --data text --data-file text.txt --layers 2 --heads 2 --embed 32 --context 16 --batch-size 8 --eval-iters 4
     --max-iters 1000 --eval-interval 500 --device cpu --threads-per-worker 1 --optimizer adamw --weight-decay 0.1
     --grad-clip 1 --quiet"

# A run that changes its number of replicas twice: 2 workers, killed in its second epoch after a
# checkpoint; resumed on 3, killed in the third epoch; finished on 1. Every epoch's samples must be
# the data set's (give or take the batches a regrouped position trains on again or the last
# partial round), the loss must fall, and a resumed run must say where it continues from. The kill
# comes at most 0.9 s after the epoch's first checkpoint and within half the time the run took to
# reach it (at most an epoch, and at least one more epoch is left), so a faster run is still
# killed while it runs.
replicas_change_case() {
    local flags="$small --hidden 512,512 $1 --checkpoint-every 10 --checkpoint-dir ckpt --epochs 4"
    local workers pid status started
    for workers in 2 3; do
        local resume="" epoch=$((workers - 1))  # killed in 0-based epoch 1, then 2
        [ "$workers" = 3 ] && resume="--resume ckpt"
        started=$(date +%s%N)
        $cohort train $flags --workers "$workers" $resume --metrics "metrics$workers.jsonl" >"run$workers.txt" 2>&1 &
        pid=$!
        for _ in $(seq 1 1200); do
            case "$(newest_checkpoint ckpt)" in *-e000$epoch.safetensors) break ;; esac
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        sleep_before_kill "$started" 900
        kill -KILL "$pid" 2>/dev/null
        wait "$pid"
        status=$?
        [ "$status" -ne 0 ] || fail "the $workers-worker run finished before it was killed: $(cat "run$workers.txt")"
    done
    $cohort train $flags --workers 1 --resume ckpt --save final.safetensors --metrics metrics1.jsonl >run1.txt 2>&1 ||
        fail "the 1-worker resume failed: $(cat run1.txt)"
    local longer=${flags/--quiet/}
    $cohort train ${longer/--epochs 4/--epochs 5} --workers 3 --resume "$(newest_checkpoint ckpt)" >said.txt 2>&1 ||
        fail "the 3-worker resume of the last checkpoint failed: $(cat said.txt)"
    grep -q "the checkpoint was written by 1 replica(s), this job has 3: iteration [0-9]* continues as [0-9]*" said.txt ||
        fail "a resume on another replica count does not say so: $(head -8 said.txt)"
    $python - metrics2.jsonl metrics3.jsonl metrics1.jsonl <<'PY' || fail "the regrouped runs are wrong"
import json, sys
runs = [[json.loads(line) for line in open(path)] for path in sys.argv[1:]]
assert "replicas_changed_from" not in runs[0][0]
assert runs[1][0]["replicas_changed_from"]["replicas"] == 2, runs[1][0].get("replicas_changed_from")
assert runs[2][0]["replicas_changed_from"]["replicas"] == 3, runs[2][0].get("replicas_changed_from")
train = runs[0][0]["data"]["train"]
samples, losses = {}, {}
for records in runs:
    for r in records:
        if r["event"] == "worker":
            samples[r["epoch"]] = samples.get(r["epoch"], 0) + r["samples"]
        if r["event"] == "epoch":
            losses[r["epoch"]] = r["train_loss"]
assert sorted(losses) == [1, 2, 3, 4], f"epochs reported: {sorted(losses)}"
for epoch, count in samples.items():
    # an epoch of R replicas skips up to R - 1 batches; a regrouped position redoes up to R' - 1
    assert abs(count - train) <= 3 * 32, f"epoch {epoch}: {count} samples of {train}"
assert losses[4] < losses[1], f"the loss did not fall: {losses}"
done = [r for r in runs[2] if r["event"] == "done"]
assert done and done[0]["epochs"] == 4, done
print(f"epochs 1-4 (2, 2->3, 3->1, 1 replicas): samples {[samples[e] for e in sorted(samples)]} of {train}; "
      f"train loss {['%.4f' % losses[e] for e in sorted(losses)]}")
PY
}

case "$case_name" in
replicas-change-averaging) replicas_change_case "--averaging-frequency 5 --average-updaters false --lr-scaling sqrt" ;;
replicas-change-shared-gradients) replicas_change_case "--training-mode shared-gradients" ;;
replicas-change-outer) replicas_change_case "--averaging-frequency 5 --outer-optimizer nesterov" ;;
resume-gpt) gpt_text; resume_case "" "--workers 1" "$gpt" ;;
resume-gpt-shared-gradients) gpt_text; resume_case "" "--workers 2 --training-mode shared-gradients" "$gpt" ;;
resume-one-worker) resume_case "" "--workers 1 --dropout 0.2" ;;
resume-two-workers) resume_case "" "--workers 2 --averaging-frequency 5" ;;
resume-shared-gradients) resume_case "" "--workers 2 --training-mode shared-gradients" ;;
resume-mpirun)
    command -v mpirun >/dev/null || exit 77
    "$cohort" info | grep -q ", mpi" || exit 77
    root=""
    [ "$(id -u)" -eq 0 ] && root="--allow-run-as-root"
    resume_case "mpirun -np 2 $root --oversubscribe --bind-to none --mca btl self,vader,tcp" \
        "--workers 1 --averaging-frequency 5"
    ;;
refusals)
    small="$small --epochs 1"
    $cohort train $small --hidden 512,512 --save model.safetensors || fail "training failed"
    expect_error 2 "--hidden differs" $cohort train $small --hidden 256,512 --resume model.safetensors
    small="$small --hidden 512,512"
    expect_error 2 "--lr differs" $cohort train $small --lr 0.01 --resume model.safetensors
    head -c 5000 model.safetensors >truncated.safetensors
    expect_error 2 "truncated" $cohort train $small --resume truncated.safetensors
    cp model.safetensors flipped.safetensors
    size=$(stat -c %s flipped.safetensors)
    printf '\x5a' | dd of=flipped.safetensors bs=1 seek=$((size - 1000)) conv=notrunc status=none
    cmp -s model.safetensors flipped.safetensors && fail "the byte flip changed nothing"
    expect_error 2 "checksum mismatch" $cohort train $small --resume flipped.safetensors
    $python - model.safetensors future.safetensors <<'PY' || fail "could not write a future version"
import json, struct, sys, zlib
blob = open(sys.argv[1], "rb").read()
(length,) = struct.unpack("<Q", blob[:8])
header = blob[8:8 + length].decode().replace('"format_version":"1"', '"format_version":"9"')
key = '"crc32.header":"'
at = header.index(key) + len(key)
header = header[:at] + "00000000" + header[at + 8:]
header = header[:at] + "%08x" % zlib.crc32(header.encode()) + header[at + 8:]
open(sys.argv[2], "wb").write(blob[:8] + header.encode() + blob[8 + length:])
PY
    expect_error 2 "newer cohort (format version 9" $cohort train $small --resume future.safetensors
    mkdir emptydir
    expect_error 2 "no valid checkpoint in emptydir" $cohort train $small --resume emptydir
    expect_error 2 "--checkpoint-every needs --checkpoint-dir" $cohort train $small --checkpoint-every 5
    expect_error 2 "--keep-checkpoints must be at least 1" $cohort train $small --checkpoint-dir d --keep-checkpoints 0
    echo "refusals: changed --hidden, changed --lr, truncated, flipped byte, future version"
    ;;
root-cause)
    # A refused resume names the setting the user changed, not one that follows from it: LeNet's
    # own batch size and dropout, SGD's own learning rate, the parameter count.
    $cohort train $small --epochs 1 --hidden 64 --save mlp.safetensors || fail "training failed"
    expect_error 2 "--model differs" $cohort train $small --epochs 1 --model lenet --resume mlp.safetensors
    expect_error 2 "--optimizer differs" $cohort train $small --epochs 1 --hidden 64 --optimizer sgd --resume mlp.safetensors
    expect_error 2 "--hidden differs" $cohort train $small --epochs 1 --hidden 32 --resume mlp.safetensors
    echo "root-cause: --model, --optimizer and --hidden named, not what follows from them"
    ;;
train-longer)
    # --epochs may grow on resume: the run goes on to the new last epoch, says so, and its metrics'
    # run record carries the checkpoint's --epochs; fewer epochs are refused.
    $cohort train $small --hidden 64 --epochs 1 --checkpoint-dir one --metrics one.jsonl || fail "training failed"
    $cohort train $small --hidden 64 --epochs 3 --checkpoint-dir one --resume one --metrics longer.jsonl \
        >/dev/null 2>err.txt || fail "training longer was refused: $(cat err.txt)"
    $cohort train --data synthetic --device cpu --threads-per-worker 1 --batch-size 32 --hidden 64 --epochs 4 \
        --checkpoint-dir one --resume one >console.txt 2>&1 || fail "training longer again failed: $(cat console.txt)"
    grep -q "training longer: --epochs 3 -> 4" console.txt || fail "the run does not say it trains longer: $(cat console.txt)"
    grep -q '"epochs_extended_from":1' longer.jsonl || fail "the run record lacks epochs_extended_from"
    [ "$(grep -c '"event":"epoch"' longer.jsonl)" -eq 2 ] || fail "the longer run did not train epochs 2 and 3"
    grep -q '"event":"done"' longer.jsonl || fail "the longer run did not finish"
    expect_error 2 "--epochs differs" $cohort train $small --hidden 64 --epochs 2 --resume one
    echo "train-longer: 1 -> 3 -> 4 epochs resumed, fewer refused"
    ;;
outputs-first)
    # Every output is checked before the data loads: a folder that does not exist, and (in a
    # private mount namespace, as root) a read-only file system. Exit 2, one line, in under a
    # second; the data directory named here does not exist, so a run that loaded data first would
    # name it instead.
    late="--data csv --data-dir /nonexistent-data-folder --device cpu --quiet --epochs 1"
    for flag in --save --trace --report --metrics; do
        start=$(date +%s%N)
        expect_error 2 "$flag missing/out" $cohort train $late $flag missing/out
        [ $(( ($(date +%s%N) - start) / 1000000 )) -lt 1000 ] || fail "$flag: refused after more than a second"
        grep -q "does not exist" err.txt || fail "$flag: the missing folder is not named: $(cat err.txt)"
    done
    touch afile
    expect_error 2 "--checkpoint-dir afile exists and is not a folder" $cohort train $late --checkpoint-dir afile
    [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null && unshare --mount true 2>/dev/null || exit 77
    mkdir ro full
    cat >inside.sh <<INSIDE
set -u
mount -t tmpfs -o ro,size=64k readonly ro || exit 77
mount -t tmpfs -o size=64k small full || exit 77
$(declare -f fail expect_error)
case_name=$case_name
for flag in --save --trace --report --metrics; do
    expect_error 2 "\$flag ro/out cannot be written" $cohort train $late \$flag ro/out
    grep -q "Read-only file system" err.txt || fail "\$flag: the reason is not named: \$(cat err.txt)"
done
expect_error 2 "--checkpoint-dir ro/checkpoints cannot be written" $cohort train $late --checkpoint-dir ro/checkpoints
expect_error 2 "--checkpoint-dir ro cannot be written" $cohort train $late --checkpoint-dir ro
# A disk that fills up at the end: --save fails (exit 1) and says where the trained model is.
$cohort train $small --hidden 256 --epochs 1 --checkpoint-dir kept --save full/model.safetensors >out.txt 2>err.txt
code=\$?
[ "\$code" -eq 1 ] || fail "a --save that cannot be written at the end exited \$code: \$(cat err.txt)"
grep -q "the trained model is in the checkpoint kept/checkpoint-" err.txt || fail "the message does not say where the model is: \$(cat err.txt)"
INSIDE
    unshare --mount --propagation private bash inside.sh || exit $?
    echo "outputs-first: missing folders and a read-only file system refused before the data, a late --save names its checkpoint"
    ;;
fifo-input)
    # A FIFO as --resume or --load waits in open() for a writer; one SIGINT or SIGTERM ends it.
    mkfifo pipe
    for sig in INT TERM; do
        for command in "train $small --resume pipe" "evaluate --load pipe --data synthetic --device cpu"; do
            $cohort $command >out.txt 2>err.txt &
            pid=$!
            # Until it waits in open() for the FIFO's writer (slow under a sanitizer).
            for _ in $(seq 1 200); do [ "$(cat /proc/$pid/wchan 2>/dev/null)" = wait_for_partner ] && break; sleep 0.05; done
            kill -$sig "$pid"
            for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
            kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid"; fail "$command: one SIG$sig did not end it"; }
            wait "$pid"
            code=$?
            want=$([ $sig = INT ] && echo 130 || echo 143)
            [ "$code" -eq "$want" ] || fail "$command: SIG$sig exited $code, wanted $want"
            [ "$(wc -l <err.txt)" -eq 1 ] && grep -q "SIG$sig while waiting for --" err.txt || fail "$command: $(cat err.txt)"
        done
    done
    echo "fifo-input: one SIGINT or SIGTERM ends a wait for a FIFO's writer (train --resume, evaluate --load)"
    ;;
evaluate-lenet)
    # Fashion-MNIST when installed (a test accuracy short of 100% makes the comparison bite).
    data="--data fashion-mnist"
    [ -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ] || [ -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte ] ||
        data="--data synthetic"
    $cohort train $data --device cpu --model lenet --epochs 1 --quiet --save lenet.safetensors \
        --metrics train.jsonl || fail "training LeNet failed"
    $cohort evaluate --load lenet.safetensors $data --device cpu --format json --metrics eval.jsonl \
        >eval.json || fail "evaluate failed"
    $cohort evaluate --load lenet.safetensors $data --device cpu >table.txt || fail "evaluate (table) failed"
    grep -q "confusion matrix" table.txt || fail "no confusion matrix in the table"
    $python - train.jsonl eval.json eval.jsonl <<'PY' || fail "evaluate does not reproduce the training run"
import json, sys
train = [json.loads(line) for line in open(sys.argv[1])]
epoch = [e for e in train if e["event"] == "epoch"][-1]
result = json.load(open(sys.argv[2]))
assert json.loads(open(sys.argv[3]).readline()) == result
correct = sum(result["confusion"][i][i] for i in range(result["classes"]))
assert correct == round(epoch["test_accuracy"] * result["samples"]), (correct, epoch["test_accuracy"])
assert "%.6f" % result["accuracy"] == "%.6f" % epoch["test_accuracy"], (result["accuracy"], epoch["test_accuracy"])
assert "%.9g" % result["loss"] == "%.9g" % epoch["test_loss"], (result["loss"], epoch["test_loss"])
assert len(result["per_class_accuracy"]) == result["classes"] == 10
print("evaluate reproduces test accuracy %.4f and loss %.9g" % (result["accuracy"], result["loss"]))
PY
    expect_error 2 "needs --load" $cohort evaluate --data synthetic
    expect_error 2 "truncated" $cohort evaluate --load <(head -c 100 lenet.safetensors) --data synthetic
    ;;
evaluate-small)
    # evaluate on a small MLP and synthetic data (quick enough to run under the sanitizers too,
    # where evaluate-lenet is left out): it reproduces the training run's last test accuracy.
    $cohort train $small --hidden 64 --epochs 1 --save small.safetensors --metrics train.jsonl || fail "training failed"
    $cohort evaluate --load small.safetensors --data synthetic --device cpu --format json >eval.json || fail "evaluate failed"
    $python - train.jsonl eval.json <<'PY' || fail "evaluate does not reproduce the training run"
import json, sys
epoch = [json.loads(line) for line in open(sys.argv[1]) if '"event":"epoch"' in line][-1]
result = json.load(open(sys.argv[2]))
assert "%.6f" % result["accuracy"] == "%.6f" % epoch["test_accuracy"], (result["accuracy"], epoch["test_accuracy"])
print("evaluate reproduces test accuracy %.4f" % result["accuracy"])
PY
    ;;
divergence)
    small="$small --hidden 512,512 --epochs 2"
    expect_error 1 "diverged" $cohort train $small --workers 2 --optimizer sgd --lr 1e30 --lr-schedule constant \
        --checkpoint-dir nan --checkpoint-every 1
    grep -Eq "loss became (NaN|infinite) at iteration [0-9]+" err.txt || fail "no iteration named: $(cat err.txt)"
    grep -q "worker [0-9] failed" err.txt || fail "no worker named: $(cat err.txt)"
    grep -q "(epoch 1, iteration" err.txt || fail "no epoch named: $(cat err.txt)"
    grep -Eq "last good checkpoint nan/checkpoint-i|no checkpoint was written yet" err.txt || fail "no checkpoint named: $(cat err.txt)"
    iteration=$(grep -Eo "at iteration [0-9]+" err.txt | head -1 | grep -Eo "[0-9]+")
    [ "$iteration" -le 10 ] || fail "divergence reported late (iteration $iteration)"
    for file in nan/checkpoint-i*.safetensors; do  # none holds a non-finite value
        [ -e "$file" ] || continue
        "$cohort" evaluate --load "$file" --data synthetic --device cpu --quiet || fail "$file does not load"
        if $python -c "import numpy" 2>/dev/null; then $python "$here/read_with_numpy.py" "$file" 784,512 >/dev/null || fail "$file: non-finite"; fi
    done
    echo "divergence: $(cat err.txt)"
    ;;
signals)
    small="$small --hidden 512,512"
    for signal in INT TERM; do
        rm -rf "run-$signal"
        $cohort train $small --epochs 20 --checkpoint-dir "run-$signal" --metrics "run-$signal.jsonl" 2>"err-$signal.txt" &
        pid=$!
        wait_for_checkpoint "run-$signal" "$pid" || true
        sleep 0.3
        kill -"$signal" "$pid"
        wait "$pid"
        status=$?
        want=$([ "$signal" = INT ] && echo 130 || echo 143)
        [ "$status" -eq "$want" ] || fail "SIG$signal: exit $status, wanted $want ($(cat "err-$signal.txt"))"
        [ "$(wc -l <"err-$signal.txt")" -eq 1 ] || fail "SIG$signal: stderr is not one line: $(cat "err-$signal.txt")"
        grep -q "stopped by SIG$signal" "err-$signal.txt" || fail "SIG$signal: $(cat "err-$signal.txt")"
        tail -1 "run-$signal.jsonl" | grep -q '"event":"stopped"' || fail "SIG$signal: the metrics do not end with a stopped event"
        checkpoint=$($python -c "import json,sys; print(json.loads(open(sys.argv[1]).readlines()[-1])['checkpoint'])" "run-$signal.jsonl")
        [ -f "$checkpoint" ] || fail "SIG$signal: the stopped event names no checkpoint file ($checkpoint)"
        $cohort evaluate --load "$checkpoint" --data synthetic --device cpu --quiet || fail "SIG$signal: $checkpoint does not load"
    done
    # A second signal does not wait for the step.
    $cohort train $small --epochs 20 2>err-twice.txt &
    pid=$!
    sleep 1
    kill -INT "$pid"
    kill -INT "$pid"
    start=$SECONDS
    wait "$pid"
    status=$?
    [ "$status" -eq 130 ] || fail "two SIGINTs: exit $status"
    [ $((SECONDS - start)) -le 5 ] || fail "two SIGINTs: took $((SECONDS - start)) s"
    echo "signals: SIGINT 130, SIGTERM 143, checkpoints loadable, metrics end with a stopped event"
    ;;
signals-mpirun)
    # SIGTERM to one rank (not rank 0) stops the whole job at one sync point, with a checkpoint.
    command -v mpirun >/dev/null || exit 77
    "$cohort" info | grep -q ", mpi" || exit 77
    root=""
    [ "$(id -u)" -eq 0 ] && root="--allow-run-as-root"
    mpirun -np 2 $root --oversubscribe --bind-to none --mca btl self,vader,tcp \
        $cohort train $small --hidden 512,512 --epochs 20 --workers 1 --averaging-frequency 2 --checkpoint-dir job \
        --metrics job.jsonl 2>err-job.txt &
    pid=$!
    wait_for_checkpoint job "$pid" || fail "no checkpoint appeared"
    sleep 0.5
    ranks=$(pgrep -P "$pid" -f "cohort train" | sort -n)
    [ "$(echo "$ranks" | wc -w)" -eq 2 ] || fail "expected two ranks under mpirun, found: $ranks"
    kill -TERM "$(echo "$ranks" | tail -1)"
    start=$SECONDS
    wait "$pid"
    status=$?
    [ "$status" -ne 0 ] || fail "the job ended with 0"
    [ $((SECONDS - start)) -le 30 ] || fail "the job took $((SECONDS - start)) s to stop"
    tail -1 job.jsonl | grep -q '"event":"stopped"' || fail "rank 0's metrics do not end with a stopped event: $(tail -2 job.jsonl)"
    checkpoint=$($python -c "import json,sys; print(json.loads(open(sys.argv[1]).readlines()[-1])['checkpoint'])" job.jsonl)
    [ -f "$checkpoint" ] || fail "no checkpoint named by the stopped event"
    grep -q "stopped by a signal to another rank" err-job.txt || fail "rank 0 did not say why it stopped: $(cat err-job.txt)"
    echo "signals under mpirun: one rank's SIGTERM stopped the job (exit $status), checkpoint $checkpoint"
    ;;
full-disk)
    [ -w /dev/full ] || exit 77
    small="$small --hidden 64"
    expect_error 1 "No space left on device" $cohort train $small --epochs 1 --metrics /dev/full
    expect_error 2 "not a regular file" $cohort train $small --epochs 1 --save /dev/full
    # An existing metrics file survives a run that fails before its first line, and is never an input.
    echo '{"event":"done","old":true}' >old.jsonl
    expect_error 2 "does not exist" $cohort train --device cpu --quiet --hidden 64 --epochs 1 --data-dir /nonexistent --metrics old.jsonl
    grep -q '"old":true' old.jsonl || fail "a failed run destroyed the old metrics file"
    echo 'epochs=1' >config.ini
    expect_error 2 "is one of this run's inputs" $cohort train $small --config config.ini --metrics config.ini
    $cohort train $small --epochs 1 --save model.safetensors || fail "training failed"
    expect_error 2 "is one of this run's inputs" $cohort train $small --epochs 1 --resume model.safetensors --save model.safetensors
    ls -a | grep -q partial && fail "a temporary metrics file was left behind"
    echo "full disk: exit 1 with one line; old files kept; inputs never overwritten"
    ;;
numpy)
    python=/usr/bin/python3
    [ -x "$python" ] && $python -c "import numpy" 2>/dev/null || exit 77
    $cohort train $small --epochs 1 --hidden 64,32 --save model.safetensors || fail "training failed"
    $python "$here/read_with_numpy.py" model.safetensors 784,64 || fail "NumPy could not read the checkpoint"
    ;;
*) echo "unknown case $case_name" >&2; exit 2 ;;
esac
