#pragma once
// DeviceStaging: a GPU worker's prefetched batches (pinned host slots of its PrefetchBuffer)
// copied to the device on the backend's staging queue (a second stream), so the copy of batch
// n+1 overlaps step n and the worker thread never waits for the device between steps.
//
// Two device buffers alternate. Batch n goes to buffer n % 2 once the step that last read that
// buffer (n - 2) is done — an ordering between the two streams, not a host wait — and the
// backend's following work waits for the copy. A pinned slot is released one step later, after
// its copy has read it (by then the copy has normally long finished), so the loader can refill
// it; with fewer than two prefetch slots (`releaseAtOnce`) the slot is released at once instead,
// since the next batch needs it. On a backend without a staging queue (the CPU) the copies are
// immediate and the same code runs.
//
// Use: stage() after PrefetchBuffer::next(); enqueue the step reading the result; consumed();
// releaseAll() before the prefetch buffer is read for anything else (end of epoch, end of run).
#include <cstdint>

#include "parallel/PrefetchBuffer.h"
#include "src/nn/Model.h"
#include "src/train/BatchStager.h"

namespace cohort::parallel {

class DeviceStaging {
public:
    // For float32 models; `capacity` rows per batch.
    DeviceStaging(const nn::Model& model, std::int64_t capacity, kernels::Backend& backend, PrefetchBuffer& prefetch,
                  bool releaseAtOnce);
    // What the two buffers hold when `model` computes in `location` (for memory predictions).
    static memory::MemoryDemand memoryFor(const nn::Model& model, memory::MemoryLocation location, std::int64_t capacity);
    DeviceStaging(const DeviceStaging&) = delete;
    DeviceStaging& operator=(const DeviceStaging&) = delete;

    train::StagedBatch stage(const PrefetchedBatch& batch);
    void consumed();
    void releaseAll();

private:
    struct Buffer {
        Tensor input, labels;            // labels: int32 values in a float32 tensor's bytes
        std::uint64_t lastReader = 0;    // marker after the step that read it
    };
    Shape batchShape_;
    std::int64_t labelSize_;  // labels per row
    kernels::Backend& backend_;
    PrefetchBuffer& prefetch_;
    bool releaseAtOnce_;
    Buffer buffers_[2];
    std::int64_t staged_ = 0;            // batches staged so far
    std::uint64_t currentTicket_ = 0;    // the copy of the batch being read by the current step
    std::uint64_t heldTicket_ = 0;       // the copy of the previous batch, whose slot is still held
    bool holding_ = false, current_ = false;
};

}  // namespace cohort::parallel
