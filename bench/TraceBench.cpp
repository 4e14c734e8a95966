// What --trace costs a worker per step, next to the step itself: a step records two spans (data
// wait, compute) and, at an averaging point, two more; each is two clock reads and one append to
// a preallocated track. Compare BM_TracePerStep with BM_MlpTrainingStep in StepBench (same
// machine, same run of both programs) for the overhead ratio.
//   ./build/bench/TraceBench
#include <benchmark/benchmark.h>

#include "parallel/TraceRecorder.h"

namespace {

using cohort::parallel::SpanKind;
using cohort::parallel::TraceRecorder;

// Four spans with their clock reads: the most a worker records in one step.
void BM_TracePerStep(benchmark::State& state) {
    TraceRecorder recorder(1, 4 * 1000000 + 64);
    std::int64_t iteration = 0;
    for (auto _ : state) {
        for (SpanKind kind : {SpanKind::DataWait, SpanKind::Compute, SpanKind::AveragingWait, SpanKind::Averaging}) {
            const auto begin = TraceRecorder::Clock::now();
            recorder.record(0, kind, 1, iteration, begin, TraceRecorder::Clock::now());
        }
        if (++iteration == 1000000) {  // keep appending, never count drops: a fresh recorder
            state.PauseTiming();
            recorder = TraceRecorder(1, 4 * 1000000 + 64);
            iteration = 0;
            state.ResumeTiming();
        }
    }
}
BENCHMARK(BM_TracePerStep);

}  // namespace

BENCHMARK_MAIN();
