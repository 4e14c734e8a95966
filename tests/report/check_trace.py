#!/usr/bin/env python3
"""Checks a cohort --trace file against the run's --metrics file:
  * the Chrome trace-event schema (traceEvents; complete events with name, ph, ts, dur, pid, tid;
    instant events; metadata naming every process and thread);
  * one worker's spans never overlap (each starts after the previous one ended);
  * per worker, the spans' total seconds of each kind agree with the --metrics 'worker' events'
    seconds (summed over epochs) within 5% (or 1 ms, for totals too small for 5% to mean much);
    under mpirun the metrics are rank 0's, so rank 0's tracks (pid 0) are compared, and every
    rank in RANKS must have tracks.

usage: check_trace.py TRACE.json METRICS.jsonl [RANKS]"""
import collections
import json
import sys

KINDS = {"data wait": "data_wait_seconds", "compute": "compute_seconds",
         "averaging wait": "averaging_wait_seconds", "averaging": "averaging_seconds"}


def main():
    trace = json.load(open(sys.argv[1]))
    metrics = [json.loads(line) for line in open(sys.argv[2])]
    events = trace["traceEvents"]
    assert isinstance(events, list) and events, "no traceEvents"
    names = {(e["pid"], e.get("tid")) for e in events if e["ph"] == "M"}
    spans = collections.defaultdict(list)
    instants = 0
    for e in events:
        assert e["ph"] in ("M", "X", "i"), e
        if e["ph"] == "M":
            assert e["name"] in ("process_name", "thread_name", "thread_sort_index") and "args" in e, e
            continue
        for key in ("name", "ts", "pid", "tid", "cat", "args"):
            assert key in e, f"{key} missing: {e}"
        assert (e["pid"], e["tid"]) in names and (e["pid"], None) in names, f"unnamed track: {e}"
        if e["ph"] == "i":
            instants += 1
            continue
        assert e["dur"] >= 0 and e["ts"] >= 0, e
        spans[(e["pid"], e["tid"])].append(e)
    assert instants > 0, "no epoch-end instants"
    totals = collections.defaultdict(float)
    for track, items in spans.items():
        items.sort(key=lambda e: e["ts"])
        for before, after in zip(items, items[1:]):
            # 1 µs of slack: timestamps are printed to the nanosecond, rounded.
            assert after["ts"] >= before["ts"] + before["dur"] - 1.0, f"overlap on {track}: {before} / {after}"
        for e in items:
            if track[0] == 0:
                totals[(track[1], e["name"])] += e["dur"] / 1e6
    ranks = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    assert {pid for pid, _ in spans} == set(range(ranks)), f"tracks of ranks {sorted({p for p, _ in spans})}, expected {ranks}"
    expected = collections.defaultdict(float)
    workers = set()
    for m in metrics:
        if m["event"] == "worker":
            workers.add(m["worker"])
            for kind, key in KINDS.items():
                expected[(m["worker"], kind)] += m[key]
    assert workers, "no worker events in the metrics"
    for worker in sorted(workers):
        for kind in KINDS:
            want, got = expected[(worker, kind)], totals[(worker, kind)]
            assert abs(got - want) <= max(0.05 * want, 0.001), f"worker {worker} {kind}: trace {got:.6f} s, metrics {want:.6f} s"
        print(f"worker {worker}: " + ", ".join(f"{kind} {totals[(worker, kind)]:.4f} s" for kind in KINDS))
    print(f"{sum(len(v) for v in spans.values())} spans on {len(spans)} tracks, {instants} instants: consistent")


if __name__ == "__main__":
    main()
