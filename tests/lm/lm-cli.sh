#!/usr/bin/env bash
# Language models through the real `cohort` binary: a short GPT run held to a loss bound on the
# corpus scripts/setup.sh prepares, generate (seeded, refusals), evaluate (the run's own number),
# every training mode with its outputs, mpirun against threads, and bad text input.
#   lm-cli.sh COHORT CORPUS CASE
# CASE: loss-bound | generate | evaluate | modes | mpirun | bad-input
# Exit 0 pass, 1 fail, 77 skip (no corpus for loss-bound, no mpirun).
set -uo pipefail
cohort=$1
corpus=$2
case_name=$3
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/cohort-lm.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"

fail() { echo "FAIL ($case_name): $*" >&2; exit 1; }

# shellcheck source=../cli-support.sh
source "$here/../cli-support.sh"  # expect_error

# A small text of its own (play-shaped lines), so cases other than loss-bound need no corpus.
for i in $(seq 1 400); do
    printf 'FIRST CITIZEN:\nWe are accounted poor citizens, the patricians good.\n\nSECOND CITIZEN:\nWould you proceed especially against Caius Marcius?\n\n'
done >text.txt
base="--model gpt --data text --layers 2 --heads 2 --embed 32 --context 16 --batch-size 8 --eval-iters 4 --device cpu
      --threads-per-worker 1 --optimizer adamw --weight-decay 0.1 --grad-clip 1 --quiet"
tiny="$base --data-file text.txt"

final_val_loss() { grep '"event":"epoch"' "$1" | tail -1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["test_loss"])'; }

case "$case_name" in
loss-bound)
    # The baby GPT at half its depth and width and two fifths of its steps. A character bigram model
    # ends near 2.45 on Shakespeare; the bound asks for more than that.
    [ -s "$corpus" ] || { echo "no corpus at $corpus (scripts/setup.sh prepares it)"; exit 77; }
    "$cohort" train --model gpt --data text --data-file "$corpus" --layers 2 --heads 4 --embed 64 --context 32 \
        --max-iters 800 --eval-interval 400 --eval-iters 10 --optimizer adamw --lr 3e-3 --min-lr 3e-4 --warmup-steps 40 \
        --beta2 0.99 --weight-decay 0.1 --grad-clip 1 --device cpu --metrics run.jsonl --quiet || fail "training failed"
    loss=$(final_val_loss run.jsonl)
    echo "validation loss after 800 iterations: $loss (bound 2.35; uniform over the vocabulary: 4.42)"
    python3 -c "import sys; sys.exit(0 if $loss < 2.35 else 1)" || fail "validation loss $loss is not below 2.35"
    ;;
generate)
    "$cohort" train $tiny --max-iters 1000 --eval-interval 500 --lr 3e-3 --save lm.safetensors || fail "training failed"
    "$cohort" generate --load lm.safetensors --prompt "FIRST" --tokens 200 --seed 3 >a.txt || fail "generate failed"
    "$cohort" generate --load lm.safetensors --prompt "FIRST" --tokens 200 --seed 3 >b.txt || fail "generate failed"
    "$cohort" generate --load lm.safetensors --prompt "FIRST" --tokens 200 --seed 4 >c.txt || fail "generate failed"
    cmp -s a.txt b.txt || fail "the same seed gave different text"
    cmp -s a.txt c.txt && fail "another seed gave the same text"
    head -c 5 a.txt | grep -q "^FIRST" || fail "the text does not start with the prompt"
    [ "$(wc -c <a.txt)" -ge 205 ] || fail "fewer than 200 characters came out"
    grep -q "CITIZEN" a.txt || fail "200 characters after 1,000 steps hold no CITIZEN: $(head -c 300 a.txt)"
    expect_error 2 "U+00E9" "$cohort" generate --load lm.safetensors --prompt "poor é"
    expect_error 2 "--temperature" "$cohort" generate --load lm.safetensors --temperature 0
    "$cohort" train --data synthetic --epochs 1 --hidden 16 --quiet --save mlp.safetensors || fail "mlp training failed"
    expect_error 2 "is not a language model's" "$cohort" generate --load mlp.safetensors
    ;;
evaluate)
    # The head tied to the embedding: the checkpoint says so, and evaluate rebuilds it.
    "$cohort" train $tiny --tie-embeddings --max-iters 100 --eval-interval 50 --save lm.safetensors --metrics run.jsonl ||
        fail "training failed"
    trained=$(final_val_loss run.jsonl)
    "$cohort" evaluate --load lm.safetensors --data-file text.txt --format json >eval.json || fail "evaluate failed"
    python3 - "$trained" <<'PY' || fail "evaluate differs from the run's last validation"
import json, sys
result = json.load(open("eval.json"))
trained = float(sys.argv[1])
assert abs(result["loss"] - trained) < 1e-5 * max(1.0, trained), (result["loss"], trained)
assert abs(result["bits_per_token"] - result["loss"] / 0.6931471805599453) < 1e-9
assert result["tokens"] == 4 * 8 * 16, result["tokens"]
print(f"evaluate: loss {result['loss']:.6f} = the run's {trained:.6f}")
PY
    tr 'a-z' 'A-Z' <text.txt >upper.txt
    expect_error 2 "is not the checkpoint's" "$cohort" evaluate --load lm.safetensors --data-file upper.txt
    expect_error 2 "give --data-file" "$cohort" evaluate --load lm.safetensors
    ;;
modes)
    for mode in "--workers 2 --averaging-frequency 5" "--workers 2 --training-mode shared-gradients" \
                "--workers 2 --averaging-frequency 5 --outer-optimizer nesterov"; do
        rm -f run.jsonl
        "$cohort" train $tiny $mode --max-iters 60 --eval-interval 30 --metrics run.jsonl --report run.html \
            --trace run.trace.json || fail "$mode failed"
        first=$(grep '"event":"epoch"' run.jsonl | head -1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["test_loss"])')
        last=$(final_val_loss run.jsonl)
        python3 -c "import sys; sys.exit(0 if $last < $first else 1)" || fail "$mode: validation loss $first -> $last"
        grep -q '"iterations":60' run.jsonl || fail "$mode: no epoch event at iteration 60"
        [ -s run.html ] && [ -s run.trace.json ] || fail "$mode: no report or trace"
        echo "$mode: validation loss $first -> $last"
    done
    "$cohort" plan --model gpt --layers 2 --heads 2 --embed 32 --context 16 --vocabulary 20 --batch-size 8 \
        --workers 2 --hosts 4 --latency 50us --bandwidth 1gbit --steps 3 --warmup 1 --repeats 1 --train-samples 0 \
        >plan.txt || fail "plan failed: $(cat plan.txt)"
    grep -qi "averaging-frequency\|recommend" plan.txt || fail "plan printed no recommendation: $(cat plan.txt)"
    # Resumed on another number of replicas, a language model keeps its iteration count.
    "$cohort" train $tiny --workers 2 --max-iters 60 --eval-interval 30 --checkpoint-dir ck || fail "the 2-worker run failed"
    "$cohort" train ${tiny/--quiet/} --workers 3 --max-iters 90 --eval-interval 30 --checkpoint-dir ck --resume ck \
        --metrics grown.jsonl >grown.txt || fail "the 3-worker resume failed: $(cat grown.txt)"
    grep -q "written by 2 replica(s), this job has 3: iteration 60 continues as 60" grown.txt ||
        fail "the resume does not say it continues from iteration 60: $(grep checkpoint grown.txt)"
    grep -q '"iterations":90' grown.jsonl || fail "no epoch event at iteration 90"
    echo "2 -> 3 replicas: $(grep 'continues as' grown.txt)"
    # Another evaluation interval is another length of "epoch", which a position is counted in.
    expect_error 2 "--eval-interval differs" "$cohort" train $tiny --workers 3 --max-iters 90 --eval-interval 45 --resume ck
    ;;
mpirun)
    command -v mpirun >/dev/null || exit 77
    "$cohort" info | grep -q ", mpi" || exit 77
    root=""
    [ "$(id -u)" -eq 0 ] && root="--allow-run-as-root"
    flags="$tiny --max-iters 40 --eval-interval 20 --averaging-frequency 4"
    "$cohort" train $flags --workers 2 --save threads.safetensors || fail "two workers failed"
    mpirun -np 2 $root --oversubscribe --bind-to none --mca btl self,vader,tcp "$cohort" train $flags --workers 1 \
        --save ranks.safetensors >mpi.txt 2>&1 || fail "mpirun -np 2 failed: $(cat mpi.txt)"
    python3 - threads.safetensors ranks.safetensors <<'PY' || fail "2 ranks x 1 worker differ from 2 workers"
import json, struct, sys
def tensors(path):
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    return {k: blob[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in header.items() if k != "__metadata__"}
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
assert set(a) == set(b) and all(a[k] == b[k] for k in a), [k for k in a if a.get(k) != b.get(k)]
print(f"{len(a)} tensors bitwise equal")
PY
    ;;
bad-input)
    : >empty.txt
    expect_error 2 "empty" "$cohort" train $base --data-file empty.txt
    printf 'short' >short.txt
    expect_error 2 "short.txt" "$cohort" train $base --data-file short.txt
    { head -c 3000 text.txt; printf '\xff\xfe'; head -c 3000 text.txt; } >broken.txt
    expect_error 2 "invalid UTF-8 at byte 3000" "$cohort" train $base --data-file broken.txt
    "$cohort" train $base --data-file broken.txt --tokenizer byte --max-iters 10 --eval-interval 10 || fail "byte tokenizer refused bytes"
    expect_error 2 "--data-file" "$cohort" train --model gpt --data text --quiet
    expect_error 2 "--model gpt trains on text" "$cohort" train --model gpt --data synthetic --quiet
    expect_error 2 "not a multiple of --eval-interval" "$cohort" train $tiny --max-iters 100 --eval-interval 30
    expect_error 2 "not a multiple of --heads" "$cohort" train --model gpt --data text --data-file text.txt --embed 30 --heads 4
    expect_error 2 "--data text trains a language model" "$cohort" train --data text --data-file text.txt --quiet
    expect_error 2 "--tokenizer" "$cohort" train $tiny --tokenizer words
    expect_error 2 "--min-lr" "$cohort" train $tiny --min-lr 0.5
    ;;
*) fail "unknown case" ;;
esac
echo "ok: $case_name"
