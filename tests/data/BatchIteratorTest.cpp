#include <gtest/gtest.h>

#include <stdexcept>

#include "src/data/BatchIterator.h"
#include "src/data/Shuffle.h"
#include "src/data/Synthetic.h"

namespace cohort::data {
namespace {

TEST(BatchIteratorTest, CoversEverySampleOncePerEpochWithPartialLastBatch) {
    const Dataset dataset = makeSynthetic(103, {2, 3}, 4, 5);
    const auto order = shuffledOrder(dataset.count, 1, 0);
    BatchIterator iterator(dataset, order, 10);
    EXPECT_EQ(iterator.batchesPerEpoch(), 11u);
    BatchBuffer buffer(10, dataset.featureSize);
    Batch& batch = buffer.batch();
    std::vector<int> seen(dataset.count, 0);
    std::size_t batches = 0;
    std::size_t position = 0;
    while (iterator.next(batch)) {
        EXPECT_EQ(batch.size, batches < 10 ? 10u : 3u);
        for (std::size_t row = 0; row < batch.size; ++row, ++position) {
            const std::uint32_t sample = order[position];  // batch j is the j-th run of the order
            ++seen[sample];
            EXPECT_EQ(batch.labels[row], dataset.labels[sample]);
            for (std::size_t f = 0; f < dataset.featureSize; ++f)
                ASSERT_EQ(batch.features[row * dataset.featureSize + f], dataset.sample(sample)[f]);
        }
        ++batches;
    }
    EXPECT_EQ(batches, 11u);
    EXPECT_EQ(batch.size, 0u);
    for (int count : seen) EXPECT_EQ(count, 1);
    EXPECT_FALSE(iterator.next(batch));
    iterator.reset();
    EXPECT_TRUE(iterator.next(batch));
}

TEST(BatchIteratorTest, DropLastSkipsPartialBatch) {
    const Dataset dataset = makeSynthetic(103, {4}, 3, 5);
    const auto order = shuffledOrder(dataset.count, 2, 0);
    BatchIterator iterator(dataset, order, 10, /*dropLast=*/true);
    EXPECT_EQ(iterator.batchesPerEpoch(), 10u);
    BatchBuffer buffer(10, dataset.featureSize);
    std::size_t batches = 0;
    while (iterator.next(buffer.batch())) {
        EXPECT_EQ(buffer.batch().size, 10u);
        ++batches;
    }
    EXPECT_EQ(batches, 10u);
}

TEST(BatchIteratorTest, ExactMultipleHasNoPartialBatch) {
    const Dataset dataset = makeSynthetic(40, {4}, 3, 5);
    const auto order = shuffledOrder(dataset.count, 2, 0);
    EXPECT_EQ(BatchIterator(dataset, order, 10).batchesPerEpoch(), 4u);
    EXPECT_EQ(BatchIterator(dataset, order, 10, true).batchesPerEpoch(), 4u);
}

TEST(BatchIteratorTest, FillByIndexMatchesSequentialBatches) {
    const Dataset dataset = makeSynthetic(25, {3}, 2, 8);
    const auto order = shuffledOrder(dataset.count, 3, 1);
    BatchIterator iterator(dataset, order, 4);
    BatchBuffer sequential(4, 3);
    BatchBuffer direct(4, 3);
    for (std::size_t j = 0; iterator.next(sequential.batch()); ++j) {
        ASSERT_TRUE(iterator.fill(j, direct.batch()));
        ASSERT_EQ(direct.batch().size, sequential.batch().size);
        for (std::size_t row = 0; row < direct.batch().size; ++row)
            EXPECT_EQ(direct.batch().labels[row], sequential.batch().labels[row]);
    }
    EXPECT_FALSE(iterator.fill(iterator.batchesPerEpoch(), direct.batch()));
}

TEST(BatchIteratorTest, RejectsZeroBatchSizeAndBadOrder) {
    const Dataset dataset = makeSynthetic(5, {3}, 2, 8);
    const std::vector<std::uint32_t> order = {0, 1, 5};
    EXPECT_THROW(BatchIterator(dataset, order, 0), std::invalid_argument);
    EXPECT_THROW(BatchIterator(dataset, order, 2), std::out_of_range);
}

}  // namespace
}  // namespace cohort::data
