#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include "src/data/DatasetSplit.h"
#include "src/data/Synthetic.h"

namespace cohort::data {
namespace {

TEST(DatasetSplitTest, SelectSamplesCopiesRowsInOrder) {
    const Dataset all = makeSynthetic(10, {3}, 2, 4);
    const std::vector<std::uint32_t> indices = {7, 2};
    const Dataset subset = selectSamples(all, indices);
    EXPECT_EQ(subset.count, 2u);
    EXPECT_EQ(subset.labels, (std::vector<std::int32_t>{all.labels[7], all.labels[2]}));
    EXPECT_TRUE(std::equal(subset.sample(0), subset.sample(0) + 3, all.sample(7)));
    EXPECT_TRUE(std::equal(subset.sample(1), subset.sample(1) + 3, all.sample(2)));
    const std::vector<std::uint32_t> bad = {10};
    EXPECT_THROW(selectSamples(all, bad), std::out_of_range);
}

TEST(DatasetSplitTest, SplitPartitionsSamples) {
    Dataset all = makeSynthetic(41, {1}, 3, 4);
    for (std::size_t i = 0; i < all.count; ++i) all.features[i] = static_cast<float>(i);
    const DatasetSplits splits = splitTrainTest(all, 0.2, 5);
    EXPECT_EQ(splits.test.count, 8u);
    EXPECT_EQ(splits.train.count, 33u);
    std::vector<float> together = splits.train.features;
    together.insert(together.end(), splits.test.features.begin(), splits.test.features.end());
    std::sort(together.begin(), together.end());
    EXPECT_EQ(together, all.features);
    EXPECT_THROW(splitTrainTest(all, 1.0, 5), std::invalid_argument);
}

}  // namespace
}  // namespace cohort::data
