// DeviceStaging on the CPU backend (copies are immediate there): every staged batch holds the
// prefetched values, the two buffers alternate, slots are released so the loader never stalls
// (two or more slots: one held a step; fewer: released at once), and misuse is refused.
#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

#include "parallel/DeviceStaging.h"
#include "src/nn/Architectures.h"

namespace cohort::parallel {
namespace {

constexpr std::size_t kFeatures = 16;
constexpr std::size_t kCapacity = 4;

// Batch `sequence` has rows 4, 4, 4, 3, 4, 4, 4, 3, ... and feature values sequence*1000 + i.
PrefetchBuffer::FillFunction batches(std::int64_t count) {
    return [count](std::int64_t sequence, data::Batch& batch) {
        if (sequence >= count) return false;
        batch.size = sequence % 4 == 3 ? kCapacity - 1 : kCapacity;
        for (std::size_t i = 0; i < batch.size * kFeatures; ++i) batch.features[i] = float(sequence * 1000 + std::int64_t(i));
        for (std::size_t r = 0; r < batch.size; ++r) batch.labels[r] = std::int32_t(sequence);
        return true;
    };
}

void runThrough(int slots, bool releaseAtOnce) {
    auto model = nn::buildModel(nn::ArchitectureConfig{"mlp", {8}, 0.0, "relu"}, Shape{1, 4, 4}, 10);
    auto backend = kernels::makeCpuBackend(1);
    const std::int64_t count = 11;
    PrefetchBuffer prefetch(slots, kCapacity, kFeatures, memory::MemoryLocation::host(), batches(count));
    DeviceStaging staging(*model, std::int64_t(kCapacity), *backend, prefetch, releaseAtOnce);
    std::set<const void*> buffers;
    std::int64_t seen = 0;
    PrefetchedBatch prefetched;
    while (prefetch.next(prefetched)) {
        const train::StagedBatch staged = staging.stage(prefetched);
        ASSERT_EQ(staged.input.dim(0), std::int64_t(prefetched.batch.size));
        const float* values = staged.input.data<float>();
        for (std::size_t i = 0; i < prefetched.batch.size * kFeatures; ++i) {
            ASSERT_EQ(values[i], float(prefetched.sequence * 1000 + std::int64_t(i))) << "batch " << prefetched.sequence;
        }
        for (std::size_t r = 0; r < prefetched.batch.size; ++r) ASSERT_EQ(staged.labels[r], prefetched.sequence);
        buffers.insert(staged.input.raw());
        staging.consumed();
        ++seen;
        if (seen == 5) staging.releaseAll();  // an epoch boundary in the middle is harmless
    }
    staging.releaseAll();
    prefetch.stop();
    EXPECT_EQ(seen, count);
    EXPECT_EQ(buffers.size(), 2u);  // batch n in buffer n % 2
}

TEST(DeviceStaging, ManySlotsHoldOneSlotAStepAndNeverStallTheLoader) { runThrough(3, false); }
TEST(DeviceStaging, TwoSlotsHoldOneSlotAStepAndNeverStallTheLoader) { runThrough(2, false); }
TEST(DeviceStaging, OneSlotIsReleasedAtOnce) { runThrough(1, true); }
TEST(DeviceStaging, SynchronousLoadingIsReleasedAtOnce) { runThrough(0, true); }

TEST(DeviceStaging, RefusesMisuse) {
    auto model = nn::buildModel(nn::ArchitectureConfig{"mlp", {8}, 0.0, "relu"}, Shape{1, 4, 4}, 10);
    auto backend = kernels::makeCpuBackend(1);
    PrefetchBuffer prefetch(2, kCapacity, kFeatures, memory::MemoryLocation::host(), batches(3));
    DeviceStaging staging(*model, std::int64_t(kCapacity), *backend, prefetch, false);
    EXPECT_THROW(staging.consumed(), std::logic_error);
    PrefetchedBatch prefetched;
    ASSERT_TRUE(prefetch.next(prefetched));
    staging.stage(prefetched);
    EXPECT_THROW(staging.stage(prefetched), std::logic_error);
    EXPECT_THROW(staging.releaseAll(), std::logic_error);
    staging.consumed();
    staging.releaseAll();
    prefetch.stop();
    auto wide = nn::buildModel(nn::ArchitectureConfig{"mlp", {8}, 0.0, "relu"}, Shape{1, 4, 4}, 10, DType::Float64);
    EXPECT_THROW(DeviceStaging(*wide, 4, *backend, prefetch, false), std::invalid_argument);
}

}  // namespace
}  // namespace cohort::parallel
