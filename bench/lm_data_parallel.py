#!/usr/bin/env python3
"""Data-parallel language-model training: shared gradients vs plain averaging vs outer Nesterov.

Four replicas (--workers 4 in one process; the result does not depend on how replicas are split
into processes) train the same small GPT on the corpus scripts/setup.sh prepares, each mode on
the same tokens (replicas x iterations x batch x context), AdamW with clipping, cosine to a tenth:

  shared gradients (allreduce every step), averaging every K = 10, 50, 100, and the outer
  optimizer (DiLoCo: Nesterov, lr 0.7, momentum 0.9) at the same K.

Printed as a markdown table: final validation loss (the same 240 fixed windows for every mode)
and the bytes each replica averages per token it trains on (parameters and, as --average-updaters
does by default, AdamW's two moments at each averaging point; gradients every step for shared
gradients), from the run's metrics.

    python3 bench/lm_data_parallel.py [--cohort build/launch/cohort] [--iterations 1000]

Not part of the test suite (about two minutes on two cores).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

MODEL = ["--model", "gpt", "--layers", "2", "--heads", "4", "--embed", "64", "--context", "32"]


def run(cohort, corpus, iterations, mode_flags, metrics):
    command = [cohort, "train", *MODEL, "--data", "text", "--data-file", corpus, "--batch-size", "12",
               "--max-iters", str(iterations), "--eval-interval", str(iterations), "--eval-iters", "20",
               "--optimizer", "adamw", "--lr", "2e-3", "--min-lr", "2e-4", "--warmup-steps", "50", "--beta2", "0.99",
               "--weight-decay", "0.1", "--grad-clip", "1", "--workers", "4", "--threads-per-worker", "1",
               "--device", "cpu", "--metrics", metrics, *mode_flags]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    parameters = int(re.search(r"([0-9]+) parameters", output).group(1))
    events = [json.loads(line) for line in open(metrics)]
    loss = [e for e in events if e.get("event") == "epoch"][-1]["test_loss"]
    # The metrics sample about ten averaging points per epoch; every point averages the same bytes.
    points = [e["bytes"] for e in events if e.get("event") == "averaging"]
    return loss, parameters, points[0] if points else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cohort", default="build/launch/cohort")
    parser.add_argument("--corpus", default="data/shakespeare/plays.txt")
    parser.add_argument("--iterations", type=int, default=1000, help="iterations of each replica")
    args = parser.parse_args()
    tokens_per_replica = args.iterations * 12 * 32
    modes = [("shared gradients", ["--training-mode", "shared-gradients"], 1)]
    for k in (10, 50, 100):
        modes.append((f"averaging, K = {k}", ["--averaging-frequency", str(k)], k))
    for k in (10, 50, 100):
        modes.append((f"outer Nesterov, K = {k}", ["--averaging-frequency", str(k), "--outer-optimizer", "nesterov",
                                                 "--outer-lr", "0.7", "--outer-momentum", "0.9"], k))
    print(f"4 replicas x {args.iterations} iterations x 12 windows x 32 tokens = {4 * tokens_per_replica:,} tokens per mode")
    print("| mode | validation loss | bytes averaged per replica per token |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for name, flags, k in modes:
            metrics = os.path.join(scratch, "run.jsonl")
            if os.path.exists(metrics):
                os.remove(metrics)
            loss, parameters, per_point = run(args.cohort, args.corpus, args.iterations, flags, metrics)
            # Shared gradients: every step's gradients (4-byte floats); else each point's bytes.
            averaged = parameters * 4 * args.iterations if k == 1 else per_point * (args.iterations // k)
            print(f"| {name} | {loss:.4f} | {averaged / tokens_per_replica:.1f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
