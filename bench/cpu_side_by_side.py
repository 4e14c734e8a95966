#!/usr/bin/env python3
"""CPU training steps of cohort and PyTorch side by side, measured interleaved in one run.

Rows: the MLP 784-1024-1024-10 and LeNet (conv 5x5x20 + ReLU, max-pool 2, conv 5x5x50 + ReLU,
max-pool 2, dense 500 + ReLU, dense 10), Adam (lr 1e-3), dropout 0, random data, fp32, at the
batch sizes and thread counts given (torch.set_num_threads equal to cohort's
--threads-per-worker). For LeNet cohort runs twice: its float convolutions through oneDNN (the
build's default when it has oneDNN) and through its own im2col path (COHORT_CPU_CONVOLUTION=im2col).
Each round runs every contender once; the medians over rounds are printed with the ratios.

    python3 bench/cpu_side_by_side.py [--cohort build/launch/cohort] [--rounds 5] [--steps 100]

PyTorch is a benchmark baseline only, never a dependency: when `torch` does not import here,
the script runs itself again with the interpreter of --venv (default .torch-venv), which
scripts/torch-venv.sh creates. Not part of the test suite.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

ROWS = [("mlp", 64, 1), ("mlp", 256, 2), ("lenet", 256, 2), ("lenet", 64, 2)]


def cohort_step(binary, model, batch, threads, steps, convolution=None):
    command = [binary, "bench", "--device", "cpu", "--model", model, "--batch-size", str(batch), "--dropout", "0",
               "--optimizer", "adam", "--lr", "0.001", "--threads-per-worker", str(threads), "--steps", str(steps),
               "--repeats", "1", "--warmup", "10"]
    if model == "mlp":
        command += ["--hidden", "1024,1024"]
    env = dict(os.environ)
    if convolution:
        env["COHORT_CPU_CONVOLUTION"] = convolution
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    match = re.search(r"([0-9.]+) us/step", output)
    if not match:
        raise RuntimeError("no timing in cohort bench output: " + output)
    return float(match.group(1)) / 1000.0


def torch_model(torch, model):
    torch.manual_seed(1)
    nn = torch.nn
    if model == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                             nn.Linear(1024, 10))
    return nn.Sequential(nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))


def torch_step(torch, model, batch, threads, steps):
    torch.set_num_threads(threads)
    network = torch_model(torch, model)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    x = torch.randn(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss_fn(network(x), y).backward()
        optimizer.step()

    for _ in range(10):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return 1000.0 * (time.perf_counter() - start) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", default="build/launch/cohort")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--venv", default=".torch-venv")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        python = os.path.join(args.venv, "bin", "python")
        if os.path.exists(python) and not os.environ.get("COHORT_SIDE_BY_SIDE_IN_VENV"):
            os.environ["COHORT_SIDE_BY_SIDE_IN_VENV"] = "1"  # once: the venv's torch must import
            os.execv(python, [python] + sys.argv)
        sys.exit(f"torch does not import here and {python} does not exist: run scripts/torch-venv.sh {args.venv}")
    print(f"torch {torch.__version__}, {os.cpu_count()} hardware threads; medians over {args.rounds} rounds of "
          f"{args.steps} steps, ms/step")
    print("| step | PyTorch | cohort (oneDNN conv) | cohort (im2col conv) | PyTorch / cohort | PyTorch / cohort im2col |")
    print("|---|---|---|---|---|---|")
    for model, batch, threads in ROWS:
        theirs, ours, own = [], [], []
        for _ in range(args.rounds):
            ours.append(cohort_step(args.cohort, model, batch, threads, args.steps))
            if model == "lenet":
                own.append(cohort_step(args.cohort, model, batch, threads, args.steps, "im2col"))
            theirs.append(torch_step(torch, model, batch, threads, args.steps))
        t, o = statistics.median(theirs), statistics.median(ours)
        i = statistics.median(own) if own else float("nan")
        name = ("MLP 784-1024-1024-10" if model == "mlp" else "LeNet") + f", batch {batch}, {threads} thread" + \
               ("s" if threads > 1 else "")
        print(f"| {name} | {t:.1f} ms | {o:.1f} ms | {'—' if not own else f'{i:.1f} ms'} | {t / o:.2f} | "
              f"{'—' if not own else f'{t / i:.2f}'} |", flush=True)


if __name__ == "__main__":
    main()
