#!/usr/bin/env python3
"""Averaging across hosts, measured on the emulated cluster and predicted by `cohort plan`.

For each layout (hosts x ranks per host x workers) and link (1 and 10 Gbit/s), runs
`cohort plan --probe --json` on the cluster (the link fitted between the real ranks, the step
measured with every rank stepping at once), then `cohort train` for each averaging frequency K,
and prints Markdown tables: measured samples/s and seconds per averaging point against the plan's
prediction, with the error per row; hierarchical (threads inside a host first) against flat (one
rank per worker) at the same replica count; shared gradients with the allreduce overlapped with
the backward pass or not. Needs root (network namespaces; scripts/emulated-cluster.sh). Not part
of the test suite: about 10 minutes on 2 cores, and its timings need an otherwise idle machine.

  sudo python3 bench/cluster_scaling.py [--cohort build/launch/cohort] [--epochs 2] [--quick]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CLUSTER = os.path.join(HERE, "..", "scripts", "emulated-cluster.sh")
# The default MLP (784-1024-1024-10, Adam, optimizer state averaged too), on generated data so
# that reading files plays no part; one BLAS thread per worker (every host shares this machine).
BATCH = 128
COMMON = ["--device", "cpu", "--threads-per-worker", "1", "--data", "synthetic"]


def with_common(extra):
    """The common flags, then `extra`; the batch is BATCH unless `extra` names one."""
    batch = [] if "--batch-size" in extra else ["--batch-size", str(BATCH)]
    return COMMON + batch + list(extra)
# Shared gradients: the default MLP, whose first layer (43% of the parameters) can only be reduced
# after the whole backward pass, and a deeper one whose buckets have backward work to hide behind.
OVERLAP_MODELS = [("default MLP, 1 MiB buckets", []),
                  ("MLP 784-1024x4-10, batch 256, 256 KiB buckets",
                   ["--hidden", "1024,1024,1024,1024", "--batch-size", "256", "--bucket-size", "256K"])]


def cluster(hosts, slots, link, command, timeout=900):
    full = ["bash", CLUSTER, "--hosts", str(hosts), "--slots", str(slots), "--link", link, "--timeout", str(timeout), "--"]
    result = subprocess.run(full + command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}): {' '.join(command)}\n{result.stderr[-3000:]}")
    return result.stdout


def plan(cohort, hosts, slots, workers, link, extra):
    out = cluster(hosts, slots, link, [cohort, "plan", "--probe", "--json", "--workers", str(workers)] + with_common(extra))
    return json.loads(out[out.index("{"):])


def train(cohort, hosts, slots, workers, link, k, epochs, extra):
    with tempfile.TemporaryDirectory() as scratch:
        metrics = os.path.join(scratch, "m.jsonl")
        cluster(hosts, slots, link, [cohort, "train", "--workers", str(workers), "--averaging-frequency", str(k),
                                     "--epochs", str(epochs), "--quiet", "--metrics", metrics] + with_common(extra))
        records = [json.loads(line) for line in open(metrics)]
    last = max(r["epoch"] for r in records if r["event"] == "epoch")
    epoch = next(r for r in records if r["event"] == "epoch" and r["epoch"] == last)
    worker = next(r for r in records if r["event"] == "worker" and r["epoch"] == last and r["worker"] == 0)
    point = worker["averaging_seconds"] / worker["averagings"] if worker["averagings"] else 0.0
    wait = worker["averaging_wait_seconds"] / worker["averagings"] if worker["averagings"] else 0.0
    batch = int(extra[extra.index("--batch-size") + 1]) if "--batch-size" in extra else BATCH
    steps = worker["samples"] / batch
    return {"samples_per_second": epoch["samples_per_sec"], "point_seconds": point, "wait_seconds": wait,
            "step_seconds": worker["compute_seconds"] / steps if steps else 0.0}


def predicted(plan_json, k):
    for row in plan_json["rows"]:
        if row["averaging_frequency"] == k:
            return row
    sys.exit(f"the plan has no row for K = {k}")


def error(measured, predicted_value):
    return (predicted_value - measured) / measured * 100.0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cohort", default=os.path.join(HERE, "..", "build", "launch", "cohort"))
    parser.add_argument("--epochs", type=int, default=2, help="the last epoch's speed is reported")
    parser.add_argument("--quick", action="store_true", help="1 Gbit/s only, K = 5 only")
    args = parser.parse_args()
    cohort = os.path.abspath(args.cohort)
    links = ["1gbit"] if args.quick else ["1gbit", "10gbit"]
    frequencies = [5] if args.quick else [1, 5, 25]

    rows = []
    print("| layout | link | K | measured samples/s | predicted | error | measured s/point | predicted s/point | "
          "measured step ms | predicted step ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")

    def measure(label, hosts, slots, workers, link, ks, extra=()):
        p = plan(cohort, hosts, slots, workers, link, list(extra))
        for k in ks:
            m = train(cohort, hosts, slots, workers, link, k, args.epochs, list(extra))
            row = predicted(p, k)
            err = error(m["samples_per_second"], row["samples_per_second"])
            rows.append((label, link, k, m, row, err))
            print(f"| {label} | {link} | {k} | {m['samples_per_second']:.0f} | {row['samples_per_second']:.0f} | "
                  f"{err:+.1f}% | {m['point_seconds']:.4f} (+{m['wait_seconds']:.4f} wait) | "
                  f"{row['seconds_per_averaging_point']:.4f} | {1e3 * m['step_seconds']:.1f} | "
                  f"{1e3 * p['step_seconds']:.1f} |", flush=True)
        return p

    for link in links:
        measure("2 hosts x 1 worker", 2, 1, 1, link, frequencies)
    # The same 4 replicas, hierarchical (2 worker threads per rank) and flat (2 ranks per host).
    measure("2 hosts x 2 workers (hierarchical)", 2, 1, 2, "1gbit", [5])
    measure("2 hosts x 2 ranks x 1 worker (flat)", 2, 2, 1, "1gbit", [5])

    print("\nShared gradients, 2 hosts x 1 worker, 1 Gbit/s, the gradient allreduce overlapped with the "
          "backward pass or not (runs interleaved):\n")
    print("| model | overlap | samples/s (median of 3) | runs | gain |")
    print("|---|---|---|---|---|")
    for label, model in OVERLAP_MODELS:
        runs = {"true": [], "false": []}
        for _ in range(3):
            for overlap in runs:
                flags = ["--training-mode", "shared-gradients", "--dropout", "0", "--overlap-gradients", overlap] + model
                runs[overlap].append(train(cohort, 2, 1, 1, "1gbit", 1, args.epochs, flags)["samples_per_second"])
        on, off = statistics.median(runs["true"]), statistics.median(runs["false"])
        for overlap, median in (("true", on), ("false", off)):
            gain = f"{(on / off - 1) * 100:+.1f}%" if overlap == "true" else ""
            print(f"| {label} | {overlap} | {median:.0f} | {', '.join(f'{r:.0f}' for r in runs[overlap])} | {gain} |",
                  flush=True)

    worst = max(abs(r[5]) for r in rows)
    print(f"\nlargest prediction error: {worst:.1f}% over {len(rows)} configurations")


if __name__ == "__main__":
    main()
