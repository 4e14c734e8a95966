// Run setup decisions that need no process: the evaluation batch from a model's memory per
// sample, and the memory prediction counting a convolution's working memory.
#include <gtest/gtest.h>

#include "launch/run/RunSetup.h"
#include "src/nn/Architectures.h"

namespace cohort::launch {
namespace {

TEST(RunSetup, EvaluationBatchShrinksForConvolutionsAndStaysWithinItsBounds) {
    const Shape image{1, 28, 28};
    auto mlp = nn::buildModel(nn::ArchitectureConfig{"mlp", {1024, 1024}, 0.2, "relu"}, image, 10);
    auto lenet = nn::buildModel(nn::ArchitectureConfig{"lenet", {}, 0.0, "relu"}, image, 10);
    EXPECT_EQ(mlp->workingElementsPerSample(), 0);
    // LeNet's two convolutions: (25 + 20) x 24 x 24 and (500 + 50) x 8 x 8 elements.
    EXPECT_EQ(lenet->workingElementsPerSample(), 45 * 576 + 550 * 64);
    EXPECT_EQ(evaluationBatchFor(*mlp, 128), 1000);
    const std::int64_t lenetBatch = evaluationBatchFor(*lenet, 64);
    EXPECT_GE(lenetBatch, 64);
    EXPECT_LT(lenetBatch, 300);
    const std::int64_t bytes =
        lenetBatch * (lenet->activationElementsPerSample() + lenet->workingElementsPerSample()) * 4;
    EXPECT_LE(bytes, std::int64_t(64) << 20);
    // Never below the training batch, never above 1,000.
    EXPECT_EQ(evaluationBatchFor(*lenet, 512), 512);
    EXPECT_EQ(evaluationBatchFor(*lenet, 4096), 1000);
}

}  // namespace
}  // namespace cohort::launch
