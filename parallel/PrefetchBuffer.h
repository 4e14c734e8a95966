#pragma once
// PrefetchBuffer: one worker's batches, prepared ahead by its own loader thread.
//
// The loader fills up to `slots` batches in advance. Their memory comes from a cyclic workspace
// (ResetPolicy::EndOfBufferReached) of exactly `slots` batch-sized pieces, in pinned host memory
// when the worker is on a GPU: the bump pointer wraps around the block and overwrites a slot only
// after the worker released it. With zero slots the worker loads synchronously (debugging).
// A loader error is rethrown to the worker by next(); stop() ends the loader promptly.
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "memory/Memory.h"
#include "src/data/Batch.h"

namespace cohort::parallel {

struct PrefetchedBatch {
    data::Batch batch;            // features/labels point into the cyclic workspace
    std::int64_t sequence = 0;    // position in the loader's sequence (0, 1, 2, ...)
};

class PrefetchBuffer {
public:
    // fill(sequence, batch) writes batch number `sequence` of the worker's stream into `batch`
    // (capacity batchCapacity rows) and returns false when there are no more batches.
    using FillFunction = std::function<bool(std::int64_t sequence, data::Batch& batch)>;

    PrefetchBuffer(int slots, std::size_t batchCapacity, std::size_t featureSize, memory::MemoryLocation location,
                   FillFunction fill, std::size_t labelSize = 1);
    // What a buffer of these sizes holds: its workspace of `slots` batches (with zero slots, the
    // one batch it loads into), for memory predictions.
    static memory::MemoryDemand memoryFor(int slots, std::size_t batchCapacity, std::size_t featureSize,
                                          memory::MemoryLocation location, std::size_t labelSize = 1);
    ~PrefetchBuffer();
    PrefetchBuffer(const PrefetchBuffer&) = delete;
    PrefetchBuffer& operator=(const PrefetchBuffer&) = delete;

    // The next batch, waiting for the loader if needed; false when the stream ended. The batch
    // stays valid until release().
    bool next(PrefetchedBatch& batch);
    void release();
    void stop();
    double waitSeconds() const { return waitSeconds_; }

private:
    void loaderMain();

    int slots_;
    std::size_t capacity_, featureSize_, labelSize_;
    memory::MemoryLocation location_;
    FillFunction fill_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<PrefetchedBatch> ring_;  // `slots` entries: a fixed queue, no allocation per batch
    std::size_t head_ = 0, count_ = 0;
    int outstanding_ = 0;  // filled but not released
    bool finished_ = false, stopping_ = false;
    std::exception_ptr error_;
    std::thread loader_;
    double waitSeconds_ = 0.0;
    // Synchronous mode (slots == 0): one buffer owned here.
    std::vector<float> syncFeatures_;
    std::vector<std::int32_t> syncLabels_;
    std::int64_t syncSequence_ = 0;
};

}  // namespace cohort::parallel
