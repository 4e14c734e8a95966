#include "parallel/PrefetchBuffer.h"

#include <chrono>
#include <limits>
#include <string>

namespace cohort::parallel {
namespace {

std::size_t alignUp(std::size_t bytes, std::size_t alignment) { return (bytes + alignment - 1) / alignment * alignment; }

// A slot: the features and the labels of one batch, each aligned for the location.
struct SlotBytes {
    std::size_t features, labels;
};

SlotBytes slotBytes(std::size_t capacity, std::size_t featureSize, std::size_t labelSize, memory::MemoryLocation location) {
    const std::size_t alignment = memory::alignmentFor(location);
    return {alignUp(capacity * featureSize * sizeof(float), alignment),
            alignUp(capacity * labelSize * sizeof(std::int32_t), alignment)};
}

// The loader's cyclic workspace: exactly `slots` slots, allocated once, never spilling.
memory::WorkspaceConfig workspaceConfig(int slots, const SlotBytes& slot, memory::MemoryLocation location) {
    memory::WorkspaceConfig config;
    config.initialSize = std::size_t(slots) * (slot.features + slot.labels);
    config.policyLearning = memory::LearningPolicy::None;
    config.policyAllocation = memory::AllocationPolicy::Strict;
    config.policyReset = memory::ResetPolicy::EndOfBufferReached;
    config.policySpill = memory::SpillPolicy::Fail;
    config.location = location;
    return config;
}

}  // namespace

memory::MemoryDemand PrefetchBuffer::memoryFor(int slots, std::size_t batchCapacity, std::size_t featureSize,
                                               memory::MemoryLocation location, std::size_t labelSize) {
    // In saturating arithmetic: the sizes come from flags.
    const auto capacity = std::int64_t(batchCapacity);
    const std::int64_t features = memory::saturatingMultiply(memory::saturatingMultiply(capacity, std::int64_t(featureSize)),
                                                             std::int64_t(sizeof(float)));
    const std::int64_t labels = memory::saturatingMultiply(memory::saturatingMultiply(capacity, std::int64_t(labelSize)),
                                                           std::int64_t(sizeof(std::int32_t)));
    memory::MemoryDemand demand;
    if (slots == 0) {
        demand.outsideBudget(memory::saturatingAdd(features, labels));  // syncFeatures_, syncLabels_
        return demand;
    }
    const auto alignment = std::int64_t(memory::alignmentFor(location));
    const std::int64_t slot = memory::saturatingAdd(memory::saturatingAdd(features, alignment),
                                                    memory::saturatingAdd(labels, alignment));
    if (memory::saturatingMultiply(slot, slots) < std::numeric_limits<std::int64_t>::max()) {
        // Sizes that fit: the loader's own workspace configuration says what it holds.
        const SlotBytes exact = slotBytes(batchCapacity, featureSize, labelSize, location);
        demand.charge(location, std::int64_t(memory::workspaceHeldBytes(workspaceConfig(slots, exact, location),
                                                                        exact.features + exact.labels)));
    } else {
        demand.charge(location, std::numeric_limits<std::int64_t>::max());
    }
    return demand;
}

PrefetchBuffer::PrefetchBuffer(int slots, std::size_t batchCapacity, std::size_t featureSize,
                               memory::MemoryLocation location, FillFunction fill, std::size_t labelSize)
    : slots_(slots), capacity_(batchCapacity), featureSize_(featureSize), labelSize_(labelSize), location_(location),
      fill_(std::move(fill)) {
    if (slots_ < 0) throw std::invalid_argument("prefetch buffer size must be >= 0");
    if (slots_ == 0) {
        syncFeatures_.resize(capacity_ * featureSize_);
        syncLabels_.resize(capacity_ * labelSize_);
        return;
    }
    ring_.resize(std::size_t(slots_));
    loader_ = std::thread([this] { loaderMain(); });
}

PrefetchBuffer::~PrefetchBuffer() { stop(); }

void PrefetchBuffer::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    if (loader_.joinable()) loader_.join();
}

void PrefetchBuffer::loaderMain() {
    const SlotBytes slot = slotBytes(capacity_, featureSize_, labelSize_, location_);
    const std::size_t featureBytes = slot.features, labelBytes = slot.labels;
    const memory::WorkspaceConfig config = workspaceConfig(slots_, slot, location_);
    auto& manager = memory::WorkspaceManager::forCurrentThread();
    try {
        for (std::int64_t sequence = 0;; ++sequence) {
            {
                std::unique_lock<std::mutex> lock(mutex_);
                changed_.wait(lock, [&] { return stopping_ || outstanding_ < slots_; });
                if (stopping_) break;
            }
            PrefetchedBatch prefetched;
            prefetched.sequence = sequence;
            bool more = false;
            {
                memory::WorkspaceScope scope = manager.getAndActivateWorkspace(config, "PREFETCH");
                auto features = manager.allocateInCurrentScope(featureBytes, location_);
                auto labels = manager.allocateInCurrentScope(labelBytes, location_);
                prefetched.batch.features = static_cast<float*>(features.pointer);
                prefetched.batch.labels = static_cast<std::int32_t*>(labels.pointer);
                more = fill_(sequence, prefetched.batch);
            }
            std::lock_guard<std::mutex> lock(mutex_);
            if (!more) {
                finished_ = true;
                changed_.notify_all();
                break;
            }
            ring_[(head_ + count_) % ring_.size()] = prefetched;
            ++count_;
            ++outstanding_;
            changed_.notify_all();
        }
    } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        error_ = std::current_exception();
        finished_ = true;
        changed_.notify_all();
    }
    // The worker may still be reading the last batches: the block lives until stop().
    {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return stopping_; });
    }
    try {
        manager.destroyAllWorkspacesForCurrentThread();
    } catch (...) {
    }
}

bool PrefetchBuffer::next(PrefetchedBatch& batch) {
    const auto start = std::chrono::steady_clock::now();
    if (slots_ == 0) {
        batch.batch.features = syncFeatures_.data();
        batch.batch.labels = syncLabels_.data();
        batch.sequence = syncSequence_;
        const bool more = fill_(syncSequence_++, batch.batch);
        waitSeconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return more;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return count_ > 0 || finished_ || stopping_; });
    waitSeconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (count_ > 0) {
        batch = ring_[head_];
        head_ = (head_ + 1) % ring_.size();
        --count_;
        return true;
    }
    if (error_) std::rethrow_exception(error_);
    return false;
}

void PrefetchBuffer::release() {
    if (slots_ == 0) return;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        --outstanding_;
    }
    changed_.notify_all();
}

}  // namespace cohort::parallel
