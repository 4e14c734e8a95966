#!/usr/bin/env python3
"""Test accuracy against replicas for the learning-rate scaling flags.

Trains Fashion-MNIST on the CPU with `cohort train` for every row (replicas x mode x
--lr-scaling x warm-up), batch 128 per replica, and prints one Markdown table: test accuracy
after the last epoch (mean over seeds, and each seed's), and the difference to one worker. Not
part of the test suite: about 6 minutes on 2 cores for MLP 784-256-10 and three seeds.

  python3 bench/lr_scaling_sweep.py [--cohort build/launch/cohort] [--model-flags "--hidden 256"]
                                    [--optimizer adam] [--seeds 3] [--replicas 2,4,8]
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import tempfile


def accuracy(cohort, flags, seed):
    with tempfile.TemporaryDirectory() as scratch:
        metrics = os.path.join(scratch, "m.jsonl")
        command = [cohort, "train", "--device", "cpu", "--threads-per-worker", "1", "--quiet", "--seed", str(seed),
                   "--metrics", metrics] + flags
        subprocess.run(command, check=True)
        records = [json.loads(line) for line in open(metrics)]
    return [r["test_accuracy"] for r in records if r["event"] == "epoch"][-1] * 100


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cohort", default="build/launch/cohort")
    parser.add_argument("--model-flags", default="--hidden 256")
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--replicas", default="2,4,8")
    parser.add_argument("--frequency", type=int, default=5)
    args = parser.parse_args()
    common = shlex.split(args.model_flags) + ["--optimizer", args.optimizer]

    rows = [("1", "single", "none", "", ["--workers", "1"])]
    for replicas in [int(r) for r in args.replicas.split(",")]:
        for scaling in ["none", "sqrt", "linear"]:
            for warmup in ["", "1"]:
                flags = ["--workers", str(replicas), "--averaging-frequency", str(args.frequency), "--lr-scaling", scaling]
                if warmup:
                    flags += ["--warmup-epochs", warmup]
                rows.append((str(replicas), f"averaging, K = {args.frequency}", scaling, warmup, flags))
    for scaling in ["none", "sqrt", "linear"]:
        for warmup in ["", "1"]:
            flags = ["--workers", "4", "--training-mode", "shared-gradients", "--lr-scaling", scaling]
            if warmup:
                flags += ["--warmup-epochs", warmup]
            rows.append(("4", "shared gradients", scaling, warmup, flags))

    seeds = list(range(1, args.seeds + 1))
    print("| replicas × batch 128 | mode | `--lr-scaling` | `--warmup-epochs` | test accuracy (mean) | "
          "vs 1 × 128 | seeds " + ", ".join(str(s) for s in seeds) + " |")
    print("|---|---|---|---|---|---|---|")
    baseline = None
    for replicas, mode, scaling, warmup, flags in rows:
        values = [accuracy(args.cohort, common + flags, seed) for seed in seeds]
        mean = statistics.mean(values)
        baseline = mean if baseline is None else baseline
        delta = "—" if mean == baseline and replicas == "1" else f"{mean - baseline:+.2f}".replace("-", "−")
        print(f"| {replicas} | {mode} | {scaling} | {warmup or '—'} | {mean:.2f} | {delta} | "
              + " / ".join(f"{v:.2f}" for v in values) + " |", flush=True)


if __name__ == "__main__":
    main()
