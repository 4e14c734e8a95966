// The learning-rate factor for a job's replica count, against its closed form.
#include <gtest/gtest.h>

#include <cmath>

#include "src/core/Errors.h"
#include "src/optim/LearningRateScaling.h"

namespace cohort::optim {
namespace {

TEST(LearningRateScaling, FactorsAreTheClosedForms) {
    for (const int replicas : {1, 2, 4, 8, 24}) {
        for (const OptimizerKind optimizer : {OptimizerKind::Sgd, OptimizerKind::Nesterov, OptimizerKind::Adam}) {
            EXPECT_EQ(learningRateScale(LearningRateScaling::None, optimizer, replicas), 1.0);
            EXPECT_EQ(learningRateScale(LearningRateScaling::Linear, optimizer, replicas), double(replicas));
            EXPECT_EQ(learningRateScale(LearningRateScaling::SquareRoot, optimizer, replicas),
                      std::sqrt(double(replicas)));
        }
    }
    EXPECT_EQ(learningRateScale(LearningRateScaling::SquareRoot, OptimizerKind::Adam, 4), 2.0);
    EXPECT_EQ(learningRateScale(LearningRateScaling::Linear, OptimizerKind::Sgd, 1), 1.0);
}

// Auto is what measured best per optimizer (docs/BENCHMARKS.md): linear for SGD and Adam, the
// square root for Nesterov.
TEST(LearningRateScaling, AutoIsTheMeasuredBestForEachOptimizer) {
    EXPECT_EQ(resolveScaling(LearningRateScaling::Auto, OptimizerKind::Sgd), LearningRateScaling::Linear);
    EXPECT_EQ(resolveScaling(LearningRateScaling::Auto, OptimizerKind::Nesterov), LearningRateScaling::SquareRoot);
    EXPECT_EQ(resolveScaling(LearningRateScaling::Auto, OptimizerKind::Adam), LearningRateScaling::Linear);
    EXPECT_EQ(resolveScaling(LearningRateScaling::None, OptimizerKind::Adam), LearningRateScaling::None);
    EXPECT_EQ(resolveScaling(LearningRateScaling::SquareRoot, OptimizerKind::Sgd), LearningRateScaling::SquareRoot);
    EXPECT_EQ(resolveScaling(LearningRateScaling::Linear, OptimizerKind::Nesterov), LearningRateScaling::Linear);
    EXPECT_EQ(learningRateScale(LearningRateScaling::Auto, OptimizerKind::Sgd, 8), 8.0);
    EXPECT_EQ(learningRateScale(LearningRateScaling::Auto, OptimizerKind::Nesterov, 4), 2.0);
    EXPECT_EQ(learningRateScale(LearningRateScaling::Auto, OptimizerKind::Adam, 8), 8.0);
    EXPECT_STREQ(toString(LearningRateScaling::SquareRoot), "sqrt");
    EXPECT_STREQ(toString(LearningRateScaling::Auto), "auto");
}

TEST(LearningRateScaling, FewerThanOneReplicaIsRefusedNamingTheField) {
    try {
        learningRateScale(LearningRateScaling::Linear, OptimizerKind::Sgd, 0);
        FAIL() << "0 replicas accepted";
    } catch (const SettingError& error) {
        EXPECT_STREQ(error.what(), "replicas must be >= 1, got 0");
    }
}

}  // namespace
}  // namespace cohort::optim
