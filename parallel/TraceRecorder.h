#pragma once
// TraceRecorder: where each worker's time goes, span by span (launch/TraceWriter turns it into a
// Chrome trace). Each worker appends only to its own track, preallocated to a fixed number of
// spans: no lock and no allocation while training, and a bounded size however long the run.
// Spans past a track's capacity are counted, not kept.
//
// The worker loop records with the same timestamps it adds into its WorkerStatistics, so a
// track's totals per kind equal the --metrics per-worker seconds (data wait, compute, averaging
// wait, averaging).
//
// In shared-gradients mode with overlapped gradient averaging, each worker's communication
// thread records its buckets' averages on a track of its own (the worker's communication track,
// reserved by the worker before its thread starts), so they show beside the backward pass they
// overlap. Their time is part of the worker's compute spans, as the averaging is part of its step.
#include <chrono>
#include <cstdint>
#include <vector>

namespace cohort::parallel {

enum class SpanKind : std::uint8_t {
    DataWait,       // waiting for the prefetch buffer's next batch
    Compute,        // forward, loss, backward and update (or gradients only, before a fused point)
    AveragingWait,  // at an averaging point, until every replica has arrived
    Averaging,      // averaging parameters, optimizer state and statistics
    Evaluation,     // the test set, at an epoch end (worker 0 of the reporting process)
    Snapshot,       // copying the run's state for a checkpoint, and writing it
    EpochEnd,       // an instant: the epoch's training is over
    GradientAveraging,  // a bucket of gradients averaged by a communication thread (its own track)
};
const char* toString(SpanKind kind);

struct Span {
    SpanKind kind = SpanKind::Compute;
    std::int32_t epoch = 0;       // 1-based
    std::int64_t iteration = 0;   // the worker's optimizer steps when the span ended
    double begin = 0.0, end = 0.0;  // seconds since the recorder's origin
};

class TraceRecorder {
public:
    using Clock = std::chrono::steady_clock;
    TraceRecorder(int workers, std::int64_t spansPerWorker, Clock::time_point origin = Clock::now());

    // Called by worker `worker` only, from its own thread.
    void record(int worker, SpanKind kind, int epoch, std::int64_t iteration, Clock::time_point begin,
                Clock::time_point end) {
        append(tracks_[std::size_t(worker)], kind, epoch, iteration, begin, end);
    }

    // Worker `worker`'s communication track: reserved (as large as a worker's track) by the worker,
    // before its communication thread starts; then recorded by that thread only.
    void reserveCommunicationTrack(int worker) {
        communication_[std::size_t(worker)].spans.reserve(tracks_[std::size_t(worker)].spans.capacity());
    }
    void recordCommunication(int worker, SpanKind kind, int epoch, std::int64_t iteration, Clock::time_point begin,
                             Clock::time_point end) {
        append(communication_[std::size_t(worker)], kind, epoch, iteration, begin, end);
    }

    int workers() const { return int(tracks_.size()); }
    const std::vector<Span>& spans(int worker) const { return tracks_[std::size_t(worker)].spans; }
    std::int64_t dropped(int worker) const { return tracks_[std::size_t(worker)].dropped; }
    // Whether the worker has a communication track, its spans and how many it could not keep.
    bool hasCommunicationTrack(int worker) const { return communication_[std::size_t(worker)].spans.capacity() > 0; }
    const std::vector<Span>& communicationSpans(int worker) const { return communication_[std::size_t(worker)].spans; }
    std::int64_t communicationDropped(int worker) const { return communication_[std::size_t(worker)].dropped; }
    Clock::time_point origin() const { return origin_; }

private:
    struct Track {
        std::vector<Span> spans;  // reserved once; never reallocates
        std::int64_t dropped = 0;
    };
    double seconds(Clock::time_point at) const { return std::chrono::duration<double>(at - origin_).count(); }
    void append(Track& track, SpanKind kind, int epoch, std::int64_t iteration, Clock::time_point begin,
                Clock::time_point end) {
        if (track.spans.size() == track.spans.capacity()) {
            ++track.dropped;
            return;
        }
        track.spans.push_back({kind, epoch, iteration, seconds(begin), seconds(end)});
    }

    Clock::time_point origin_;
    std::vector<Track> tracks_;
    std::vector<Track> communication_;  // one per worker, empty until reserved
};

}  // namespace cohort::parallel
