#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "src/data/Normalization.h"
#include "src/data/Synthetic.h"

namespace cohort::data {
namespace {

double mean(const Dataset& d) {
    double sum = 0;
    for (float x : d.features) sum += x;
    return sum / static_cast<double>(d.features.size());
}

double stddev(const Dataset& d) {
    const double m = mean(d);
    double sum = 0;
    for (float x : d.features) sum += (x - m) * (x - m);
    return std::sqrt(sum / static_cast<double>(d.features.size()));
}

TEST(NormalizationTest, ComputesScalarStatistics) {
    Dataset d;
    d.count = 2;
    d.featureSize = 2;
    d.features = {1, 2, 3, 4};
    const Normalization n = computeNormalization(d);
    EXPECT_FLOAT_EQ(n.mean, 2.5f);
    EXPECT_FLOAT_EQ(n.stddev, std::sqrt(1.25f));
}

TEST(NormalizationTest, TrainBecomesZeroMeanUnitStdAndTestUsesTrainStatistics) {
    DatasetSplits splits{makeSynthetic(500, {3, 4, 4}, 5, 1), makeSynthetic(100, {3, 4, 4}, 5, 2)};
    for (float& x : splits.train.features) x = 3.0f + 2.0f * x;
    for (float& x : splits.test.features) x = 3.0f + 2.0f * x;
    const Dataset testBefore = splits.test;
    const Normalization statistics = normalizeWithTrainStatistics(splits);
    EXPECT_NEAR(mean(splits.train), 0.0, 1e-5);
    EXPECT_NEAR(stddev(splits.train), 1.0, 1e-5);
    for (std::size_t i = 0; i < testBefore.features.size(); i += 97)
        EXPECT_FLOAT_EQ(splits.test.features[i],
                        (testBefore.features[i] - statistics.mean) / statistics.stddev);
}

TEST(NormalizationTest, ConstantDataGetsUnitStddev) {
    Dataset d;
    d.count = 3;
    d.featureSize = 1;
    d.features = {0.5f, 0.5f, 0.5f};
    const Normalization n = computeNormalization(d);
    EXPECT_EQ(n.stddev, 1.0f);
    normalize(d, n);
    EXPECT_EQ(d.features, (std::vector<float>{0, 0, 0}));
}

TEST(NormalizationTest, RejectsNonPositiveStddev) {
    Dataset d;
    EXPECT_THROW(normalize(d, {0.0f, 0.0f}), std::invalid_argument);
}

}  // namespace
}  // namespace cohort::data
