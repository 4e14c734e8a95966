#!/usr/bin/env python3
"""Accuracy against communication for parameter averaging with and without an outer optimizer.

Trains Fashion-MNIST on the CPU with `cohort train` for every row (replicas x averaging frequency K
x mode) and prints one Markdown table: test accuracy after 5 and 10 epochs, and the bytes each
replica sends into averaging per training sample (from the run's own metrics: averaging points
times bytes per point). Not part of the test suite: about 15 minutes on 2 cores.

  python3 bench/outer_optimizer_sweep.py [--cohort build/launch/cohort] [--epochs 10] [--seeds 1]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

MODEL = ["--hidden", "256", "--dropout", "0", "--batch-size", "128", "--optimizer", "adam", "--lr", "1e-3"]


def run(cohort, epochs, seed, extra):
    with tempfile.TemporaryDirectory() as scratch:
        metrics = os.path.join(scratch, "m.jsonl")
        command = [cohort, "train", "--device", "cpu", "--threads-per-worker", "1", "--epochs", str(epochs),
                   "--seed", str(seed), "--quiet", "--metrics", metrics] + MODEL + extra
        subprocess.run(command, check=True)
        records = [json.loads(line) for line in open(metrics)]
    run_record = records[0]
    replicas = run_record["job"]["replicas"]
    parameters = run_record["parameters"]
    accuracy = {r["epoch"]: r["test_accuracy"] for r in records if r["event"] == "epoch"}
    samples = sum(r["samples"] for r in records if r["event"] == "worker")  # worker 0 of rank 0
    points = sum(r["averagings"] for r in records if r["event"] == "worker" and r["worker"] == 0)
    per_point = [r["bytes"] for r in records if r["event"] == "averaging"]
    workers = run_record["job"]["workers"]
    samples_per_replica = samples / workers if samples else 0
    if "--training-mode" in extra:  # gradients (parameters' size) every step
        steps = max(r["iterations"] for r in records if r["event"] == "epoch")
        sent = steps * parameters * 4
    else:
        sent = points * (per_point[0] if per_point else 0)
    return accuracy, sent / samples_per_replica if samples_per_replica else 0.0, replicas


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cohort", default="build/launch/cohort")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--replicas", default="4,8")
    parser.add_argument("--frequencies", default="1,5,25,100")
    parser.add_argument("--outer-lrs", default="0.3,0.7,1.0")
    args = parser.parse_args()
    early = min(5, args.epochs)

    rows = [("1 worker", "—", "single", [])]
    for replicas in [int(r) for r in args.replicas.split(",")]:
        workers = ["--workers", str(replicas)]
        rows.append((f"{replicas} replicas", "every step", "shared gradients", workers + ["--training-mode", "shared-gradients"]))
        for k in [int(k) for k in args.frequencies.split(",")]:
            averaging = workers + ["--averaging-frequency", str(k)]
            rows.append((f"{replicas} replicas", str(k), "plain averaging (inner state averaged)", averaging))
            for lr in args.outer_lrs.split(","):
                rows.append((f"{replicas} replicas", str(k), f"outer Nesterov lr {lr}, momentum 0.9 (inner state own)",
                             averaging + ["--outer-optimizer", "nesterov", "--outer-lr", lr, "--average-updaters", "false"]))

    print(f"| replicas | K | mode | test acc. epoch {early} | test acc. epoch {args.epochs} | bytes averaged per replica per sample |")
    print("|---|---|---|---|---|---|")
    for label, k, mode, extra in rows:
        at_early, at_end, sent = [], [], 0.0
        for seed in range(1, args.seeds + 1):
            accuracy, sent, _ = run(args.cohort, args.epochs, seed, extra)
            at_early.append(100 * accuracy[early])
            at_end.append(100 * accuracy[args.epochs])
        spread = lambda values: f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
        print(f"| {label} | {k} | {mode} | {statistics.mean(at_early):.2f}{spread(at_early)} | "
              f"{statistics.mean(at_end):.2f}{spread(at_end)} | {sent:,.0f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
