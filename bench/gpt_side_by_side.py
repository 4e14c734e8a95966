#!/usr/bin/env python3
"""CPU training steps of cohort's baby GPT and PyTorch's, measured interleaved in one run.

The model is bench/gpt_reference.py's (imported from there): 4 layers, 4 heads, embedding 128,
context 64, vocabulary 65 by default, batch 12, fp32, dropout 0, AdamW (lr 1e-3; both decay the
weight matrices, and only them, by --weight-decay), random tokens, no gradient clipping (cohort
bench has none). One PyTorch step = forward, cross-entropy, backward, AdamW step; its warm-up
steps are not timed. cohort's step is `cohort bench --model gpt ...`'s "us/step".
Rows: --threads (default 1 and 2), torch.set_num_threads equal to cohort's --threads-per-worker.
For T > 1 threads a third contender runs the same global batch as cohort's data-parallel harness
runs it on T cores: T workers of one thread each, batch / T sequences each, shared gradients (every
step averages the T gradients, so each step is the whole batch's gradient, as in one worker).
Each round runs every contender once; the medians over rounds are printed with their ratios, one
markdown table row per thread count.

--gemm-floor adds a third contender: the matrix products of one training step of that model,
timed with torch.mm on the same threads (forward: qkv, attention output projection, fc1, fc2 of
every layer and the LM head; backward: the input and the weight gradient of each), so a step can
be read against the time of its GEMMs. The attention's batched products (QK^T, PV and their four
backward products per layer) are not in the floor; their time is printed on a line of their own.

    python3 bench/gpt_side_by_side.py [--cohort build/launch/cohort] [--rounds 5] [--steps 50]
        [--threads 1,2] [--gemm-floor]

If cohort fails (a build without the GPT, say), its stderr is printed once and the table carries
the PyTorch numbers alone. PyTorch is a benchmark baseline only, never a dependency: when `torch`
does not import here, the script runs itself again with the interpreter of --venv (default
.torch-venv), which scripts/torch-venv.sh creates. Not part of the test suite.
"""
import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt_reference  # noqa: E402  (the model; imports no torch by itself)


class CohortFailed(Exception):
    pass


def cohort_step(args, threads, workers=1):
    """ms per step from `cohort bench`, parsed as bench/cpu_side_by_side.py parses it; with workers > 1,
    `workers` workers of `threads` threads share gradients over batch / workers sequences each."""
    command = [args.cohort, "bench", "--device", "cpu", "--model", "gpt", "--layers", str(args.layers), "--heads",
               str(args.heads), "--embed", str(args.embed), "--context", str(args.context), "--vocabulary",
               str(args.vocabulary), "--batch-size", str(args.batch // workers), "--optimizer", "adamw", "--lr",
               "0.001", "--weight-decay", str(args.weight_decay), "--workers", str(workers), "--threads-per-worker",
               str(threads), "--steps", str(args.steps), "--repeats", "1", "--warmup", str(args.warmup)]
    if workers > 1:
        command += ["--training-mode", "shared-gradients"]
    try:
        done = subprocess.run(command, capture_output=True, text=True)
    except OSError as error:
        raise CohortFailed(f"{' '.join(command)}: {error}")
    if done.returncode != 0:
        raise CohortFailed(f"{' '.join(command)} exited with {done.returncode}:\n{done.stderr.strip()}")
    match = re.search(r"([0-9.]+) us/step", done.stdout)
    if not match:
        raise CohortFailed("no timing in cohort bench output: " + done.stdout + done.stderr)
    return float(match.group(1)) / 1000.0


def torch_step(torch, args, threads):
    """ms per PyTorch training step (AdamW included), after args.warmup untimed steps."""
    torch.set_num_threads(threads)
    model = gpt_reference.make_gpt(torch, args.vocabulary, args.context, args.layers, args.heads, args.embed, 1)
    optimizer = gpt_reference.make_optimizer(torch, model, 1e-3, 0.999, args.weight_decay)
    x = torch.randint(0, args.vocabulary, (args.batch, args.context))
    y = torch.randint(0, args.vocabulary, (args.batch, args.context))

    def step():
        optimizer.zero_grad(set_to_none=True)
        model.loss(x, y).backward()
        optimizer.step()

    for _ in range(args.warmup):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    return 1000.0 * (time.perf_counter() - start) / args.steps


def linear_gemms(args):
    """(M, K, N) of each forward Linear product Y[M, N] = X[M, K] W^T of one step."""
    rows, width = args.batch * args.context, args.embed
    layer = [(rows, width, 3 * width), (rows, width, width), (rows, width, 4 * width), (rows, 4 * width, width)]
    return layer * args.layers + [(rows, width, args.vocabulary)]


def gemm_operands(torch, args):
    """Operand pairs and outputs of the step's Linear GEMMs, laid out as nn.Linear's are: forward
    X @ W^T, backward dX = dY @ W and dW = dY^T @ X (transposed views, no copies)."""
    products = []
    for m, k, n in linear_gemms(args):
        x, w, dy = torch.randn(m, k), torch.randn(n, k), torch.randn(m, n)
        products += [(x, w.t(), torch.empty(m, n)), (dy, w, torch.empty(m, k)), (dy.t(), x, torch.empty(n, k))]
    return products


def attention_operands(torch, args):
    """The batched products of causal attention per layer: S = Q K^T, Y = P V; backward dP = dY V^T,
    dV = P^T dY, dQ = dS K, dK = dS^T Q (full T x T, as a plain implementation computes them)."""
    count, t, d = args.batch * args.heads, args.context, args.embed // args.heads
    q, k, v, dy = (torch.randn(count, t, d) for _ in range(4))
    p, ds = torch.randn(count, t, t), torch.randn(count, t, t)
    layer = [(q, k.transpose(1, 2)), (p, v), (dy, v.transpose(1, 2)), (p.transpose(1, 2), dy), (ds, k),
             (ds.transpose(1, 2), q)]
    return [(a, b, torch.empty(a.shape[0], a.shape[1], b.shape[2])) for a, b in layer] * args.layers


def time_products(torch, products, function, threads, args):
    torch.set_num_threads(threads)
    for _ in range(max(1, args.warmup)):
        for a, b, out in products:
            function(a, b, out=out)
    start = time.perf_counter()
    for _ in range(args.steps):
        for a, b, out in products:
            function(a, b, out=out)
    return 1000.0 * (time.perf_counter() - start) / args.steps


def cell(value, unit=" ms", digits=1):
    return "—" if value is None or math.isnan(value) else f"{value:.{digits}f}{unit}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", default="build/launch/cohort")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=50, help="timed steps per contender per round")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps before them")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts, one table row each")
    parser.add_argument("--gemm-floor", action="store_true", help="also time the step's GEMMs alone (torch.mm)")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--embed", type=int, default=128)
    parser.add_argument("--context", type=int, default=64)
    parser.add_argument("--vocabulary", type=int, default=65)
    parser.add_argument("--batch", type=int, default=12)
    parser.add_argument("--weight-decay", type=float, default=0.1, help="AdamW's, on the weight matrices (both sides)")
    parser.add_argument("--venv", default=".torch-venv")
    args = parser.parse_args()
    thread_counts = [int(t) for t in args.threads.split(",") if t]
    if args.rounds < 1 or args.steps < 1 or args.warmup < 0 or not thread_counts or min(thread_counts) < 1:
        parser.error("--rounds, --steps and every --threads must be >= 1, --warmup >= 0")
    torch = gpt_reference.import_torch(args.venv)

    m, c, v = args.batch * args.context, args.embed, args.vocabulary
    parameters = args.layers * (12 * c * c + 13 * c) + (v + args.context) * c + 2 * c + c * v + v
    gemm_flops = 3 * sum(2 * a * b * n for a, b, n in linear_gemms(args))
    print(f"torch {torch.__version__}, {os.cpu_count()} hardware threads; GPT {args.layers} layers, {args.heads} heads, "
          f"embed {c}, context {args.context}, vocabulary {v} ({parameters:,} parameters), batch {args.batch}; "
          f"medians over {args.rounds} rounds of {args.steps} steps after {args.warmup} warm-up, ms/step")
    if args.gemm_floor:
        print(f"GEMM floor: {3 * len(linear_gemms(args))} torch.mm per step (M = batch x context = {m}), "
              f"{gemm_flops / 1e9:.3f} GFLOP")
    print("| step | PyTorch eager | cohort | PyTorch / cohort | cohort, T workers x 1 thread | PyTorch / that | "
          "GEMM floor | cohort / floor | PyTorch / floor |")
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    cohort_ok = True
    notes = []
    for threads in thread_counts:
        theirs, ours, spread, floor, attention = [], [], [], [], []
        spread_ok = threads > 1 and args.batch % threads == 0
        products = gemm_operands(torch, args) if args.gemm_floor else None
        batched = attention_operands(torch, args) if args.gemm_floor else None
        for _ in range(args.rounds):
            if cohort_ok:
                try:
                    ours.append(cohort_step(args, threads))
                except CohortFailed as failure:
                    cohort_ok = False
                    print(f"cohort failed; PyTorch alone from here:\n{failure}", file=sys.stderr, flush=True)
            if cohort_ok and spread_ok:
                try:
                    spread.append(cohort_step(args, 1, threads))
                except CohortFailed as failure:
                    spread_ok = False
                    print(f"cohort with {threads} workers failed:\n{failure}", file=sys.stderr, flush=True)
            theirs.append(torch_step(torch, args, threads))
            if args.gemm_floor:
                floor.append(time_products(torch, products, torch.mm, threads, args))
                attention.append(time_products(torch, batched, torch.bmm, threads, args))
        t = statistics.median(theirs)
        o = statistics.median(ours) if ours and cohort_ok else None
        w = statistics.median(spread) if spread and spread_ok else None
        f = statistics.median(floor) if floor else None
        name = f"baby GPT, batch {args.batch}, {threads} thread" + ("s" if threads > 1 else "")
        ratio = lambda a, b: cell(a / b if a is not None and b is not None else None, "", 2)  # noqa: E731
        print(f"| {name} | {cell(t)} | {cell(o)} | {ratio(t, o)} | {cell(w)} | {ratio(t, w)} | {cell(f, ' ms', 2)} | "
              f"{ratio(o, f)} | {ratio(t, f)} |", flush=True)
        if f is not None:
            notes.append(f"{threads} thread{'s' if threads > 1 else ''}: GEMM floor {f:.2f} ms = "
                         f"{gemm_flops / f / 1e6:.1f} GFLOP/s; attention's {6 * args.layers} batched products "
                         f"(not in the floor) {statistics.median(attention):.2f} ms")
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
