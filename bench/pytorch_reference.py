#!/usr/bin/env python3
"""Step time of cohort against PyTorch on the same machine, in one run.

For each batch size: the MLP 784-1024-1024-10 (ReLU, no dropout) with Adam (lr 1e-3), fp32
without TF32, one training step = forward, cross-entropy, backward, optimizer step. PyTorch is
timed eagerly and, on a GPU, captured as a CUDA graph; cohort is timed by `cohort bench` with the
same model and batch. Prints one table row per batch: ours, theirs, and the ratios.

    python3 bench/pytorch_reference.py [--cohort build/launch/cohort] [--device cuda|cpu]
        [--batches 64,256,1024] [--steps 200] [--repeats 5]

Not yet run on a GPU: its output belongs in docs/BENCHMARKS.md once it has been.
"""
import argparse
import re
import statistics
import subprocess
import time

import torch


def make_model(device):
    torch.manual_seed(1)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 1024), torch.nn.ReLU(),
        torch.nn.Linear(1024, 1024), torch.nn.ReLU(),
        torch.nn.Linear(1024, 10)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, capturable=(device == "cuda"))
    return model, optimizer


def synchronize(device):
    if device == "cuda":
        torch.cuda.synchronize()


def time_steps(run_step, device, steps, repeats):
    """Median over repeats of microseconds per step."""
    results = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        for _ in range(steps):
            run_step()
        synchronize(device)
        results.append(1e6 * (time.perf_counter() - start) / steps)
    return statistics.median(results)


def pytorch_eager(batch, device, steps, repeats):
    model, optimizer = make_model(device)
    x = torch.randn(batch, 784, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()

    for _ in range(20):
        step()
    return time_steps(step, device, steps, repeats)


def pytorch_graph(batch, steps, repeats):
    model, optimizer = make_model("cuda")
    x = torch.randn(batch, 784, device="cuda")
    y = torch.randint(0, 10, (batch,), device="cuda")
    loss_fn = torch.nn.CrossEntropyLoss()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up on a side stream, as the CUDA-graph docs require
        for _ in range(20):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            optimizer.step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        loss_fn(model(x), y).backward()
        optimizer.step()
    return time_steps(graph.replay, "cuda", steps, repeats)


def cohort_step(binary, batch, device, steps, repeats):
    command = [binary, "bench", "--device", device, "--batch-size", str(batch), "--hidden", "1024,1024",
               "--dropout", "0", "--optimizer", "adam", "--lr", "0.001", "--steps", str(steps),
               "--repeats", str(repeats), "--warmup", "20"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    match = re.search(r"([0-9.]+) us/step", output)
    if not match:
        raise RuntimeError("no timing in cohort bench output: " + output)
    return float(match.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", default="build/launch/cohort")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batches", default="64,256,1024")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    print(f"device {args.device}" + (f" ({torch.cuda.get_device_name()})" if args.device == "cuda" else "")
          + f", torch {torch.__version__}, fp32 without TF32, Adam, MLP 784-1024-1024-10; medians in us/step")
    print(f"{'batch':>6} {'cohort':>10} {'torch eager':>12} {'torch graph':>12} {'eager/cohort':>13} {'graph/cohort':>13}")
    for batch in (int(b) for b in args.batches.split(",")):
        ours = cohort_step(args.cohort, batch, args.device, args.steps, args.repeats)
        eager = pytorch_eager(batch, args.device, args.steps, args.repeats)
        graph = pytorch_graph(batch, args.steps, args.repeats) if args.device == "cuda" else float("nan")
        print(f"{batch:>6} {ours:>10.1f} {eager:>12.1f} {graph:>12.1f} {eager / ours:>13.2f} {graph / ours:>13.2f}")


if __name__ == "__main__":
    main()
