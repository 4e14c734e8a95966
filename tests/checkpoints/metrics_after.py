#!/usr/bin/env python3
"""Prints the deterministic part of a --metrics file as sorted JSON lines, optionally only the
events after a checkpoint's position (what a run resumed from that checkpoint reports).

usage: metrics_after.py METRICS [CHECKPOINT]

Timing fields (seconds, rates, waits) and memory events are left out: they measure the machine,
not the training. Everything else must be equal, bit for bit, between an uninterrupted run and a
resumed one."""
import json
import struct
import sys

TIMING = {"seconds", "samples_per_sec", "compute_seconds", "data_wait_seconds", "averaging_wait_seconds",
          "averaging_seconds"}


def checkpoint_state(path):
    with open(path, "rb") as file:
        (length,) = struct.unpack("<Q", file.read(8))
        header = json.loads(file.read(length))
    return json.loads(header["__metadata__"]["state"])


def main():
    events = [json.loads(line) for line in open(sys.argv[1])]
    state = checkpoint_state(sys.argv[2]) if len(sys.argv) > 2 else None
    for event in events:
        kind = event["event"]
        if kind not in ("epoch", "worker", "averaging", "done"):
            continue
        if state is not None:
            if kind in ("epoch", "worker") and event["epoch"] <= state["epoch"]:
                continue  # epochs are numbered from 1; state["epoch"] epochs were over
            if kind == "averaging" and event["iteration"] <= state["iteration"]:
                continue
        print(json.dumps({k: v for k, v in event.items() if k not in TIMING}, sort_keys=True))


if __name__ == "__main__":
    main()
