#pragma once
// --trace PATH: the workers' spans (parallel/TraceRecorder) as Chrome trace-event JSON, which
// chrome://tracing and Perfetto load: one process per rank (pid = rank), one thread per worker
// (tid = worker), complete events ("ph": "X") for data wait, compute, averaging wait, averaging,
// evaluation and snapshots, instant events ("ph": "i") for epoch ends; with overlapped gradient
// averaging, one more thread per worker (tid = workers + worker) with its communication thread's
// "gradient averaging" spans. Under mpirun every rank's
// tracks are gathered to rank 0, which writes the file; times are microseconds since each rank's
// start of training (taken right after the ranks met, so the ranks' clocks line up to the skew of
// one barrier). Written at the end of the run (stopped or failed runs included), atomically.
#include <string>

#include "parallel/Communicator.h"
#include "parallel/TraceRecorder.h"

namespace cohort::launch {

struct TraceLabels {
    int rank = 0;
    std::string host;
    std::string device;  // of this rank's workers, e.g. "cpu" or "cuda:0"
};

// The trace events of this rank's recorder, without the enclosing array: "{...},{...}".
std::string traceEvents(const parallel::TraceRecorder& recorder, const TraceLabels& labels);

// Collective over `processes` when it has several: rank 0 writes every rank's events to `path`.
void writeTrace(const std::string& path, const parallel::TraceRecorder& recorder, const TraceLabels& labels,
                parallel::ProcessGroup* processes);

}  // namespace cohort::launch
