#include "parallel/TraceRecorder.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace cohort::parallel {

const char* toString(SpanKind kind) {
    switch (kind) {
        case SpanKind::DataWait: return "data wait";
        case SpanKind::Compute: return "compute";
        case SpanKind::AveragingWait: return "averaging wait";
        case SpanKind::Averaging: return "averaging";
        case SpanKind::Evaluation: return "evaluation";
        case SpanKind::Snapshot: return "snapshot";
        case SpanKind::EpochEnd: return "epoch end";
        case SpanKind::GradientAveraging: return "gradient averaging";
    }
    return "unknown";
}

TraceRecorder::TraceRecorder(int workers, std::int64_t spansPerWorker, Clock::time_point origin)
    : origin_(origin), tracks_(std::size_t(std::max(workers, 0))), communication_(tracks_.size()) {
    if (workers < 1 || spansPerWorker < 1) {
        throw std::invalid_argument("a trace needs at least one worker and one span per worker, got " +
                                    std::to_string(workers) + " and " + std::to_string(spansPerWorker));
    }
    for (Track& track : tracks_) track.spans.reserve(std::size_t(spansPerWorker));
}

}  // namespace cohort::parallel
