// Every layer and loss against central finite differences, in double precision.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "src/nn/ActivationLayer.h"
#include "src/nn/Dense.h"
#include "src/nn/Dropout.h"
#include "src/nn/Loss.h"
#include "src/nn/Model.h"
#include "nn/GradientChecker.h"

namespace cohort::nn {
namespace {

using testing_support::chain;
using testing_support::GradientChecker;
using testing_support::Problem;

Problem makeProblem(std::vector<std::unique_ptr<Layer>> layers, std::int64_t features, std::int64_t batch,
                    int classes, bool regression, std::uint64_t seed) {
    return testing_support::makeProblem(std::move(layers), Shape{features}, batch, classes, seed,
                                        {0.3, 0.1, 3.0, regression});
}

using testing_support::kTolerance;

TEST(GradientCheck, DenseIdentityWithCrossEntropy) {
    auto problem = makeProblem(chain(std::make_unique<Dense>(5)), 7, 4, 5, false, 1);
    GradientChecker(problem).expectGradientsMatch(kTolerance);
}

TEST(GradientCheck, DenseWithFusedActivationsAndInputGradients) {
    for (auto activation : {kernels::Activation::Relu, kernels::Activation::Tanh, kernels::Activation::Sigmoid}) {
        // The first layer's parameters check the second layer's input gradient through the chain.
        auto problem = makeProblem(chain(std::make_unique<Dense>(6, activation), std::make_unique<Dense>(4, activation),
                                         std::make_unique<Dense>(3)),
                                   5, 3, 3, false, 2);
        SCOPED_TRACE(kernels::toString(activation));
        GradientChecker(problem).expectGradientsMatch(kTolerance);
    }
}

TEST(GradientCheck, StandaloneActivationLayers) {
    for (auto activation : {kernels::Activation::Relu, kernels::Activation::Tanh, kernels::Activation::Sigmoid}) {
        auto problem = makeProblem(chain(std::make_unique<Dense>(8), std::make_unique<ActivationLayer>(activation),
                                         std::make_unique<Dense>(4)),
                                   6, 5, 4, false, 3);
        SCOPED_TRACE(kernels::toString(activation));
        GradientChecker(problem).expectGradientsMatch(kTolerance);
    }
}

TEST(GradientCheck, DropoutInTrainingMode) {
    auto problem = makeProblem(chain(std::make_unique<Dense>(16, kernels::Activation::Tanh), std::make_unique<Dropout>(0.4),
                                     std::make_unique<Dense>(3)),
                               5, 4, 3, false, 4);
    GradientChecker(problem).expectGradientsMatch(kTolerance);
}

TEST(GradientCheck, MeanSquaredError) {
    auto problem = makeProblem(chain(std::make_unique<Dense>(6, kernels::Activation::Sigmoid), std::make_unique<Dense>(3)),
                               4, 5, 0, true, 5);
    GradientChecker(problem).expectGradientsMatch(kTolerance);
}

TEST(GradientCheck, CrossEntropyIsStableForHugeLogits) {
    auto backend = kernels::makeCpuBackend(1);
    const double logits[] = {1000.0, -1000.0, 0.0, 50.0, 50.0, 50.0};
    const std::int32_t labels[] = {1, 2};
    double loss = 0.0, grad[6];
    std::int64_t correct = -1;
    backend->softmaxCrossEntropy(DType::Float64, 2, 3, logits, labels, &loss, grad, 0.5, &correct);
    EXPECT_TRUE(std::isfinite(loss));
    EXPECT_NEAR(loss, 2000.0 + std::log(3.0), 1e-9);  // row 0: -log softmax(-1000) ~ 2000
    EXPECT_EQ(correct, 0);  // row 0 predicts 0, row 1 ties -> first index 0
    EXPECT_NEAR(grad[0], 0.5, 1e-12);
    EXPECT_NEAR(grad[1], -0.5, 1e-12);
    EXPECT_NEAR(grad[5], 0.5 * (1.0 / 3.0 - 1.0), 1e-12);
}

// The float path (its exponentials vectorised, computed once per logit) against the double one on
// the LM head's shape, and the float path on huge logits; a NaN logit makes the loss and that row's
// gradients NaN (so divergence is seen) without touching the other rows.
TEST(GradientCheck, FloatCrossEntropyAgreesWithDoubleAndPropagatesNaN) {
    auto backend = kernels::makeCpuBackend(1);
    const std::int64_t rows = 768, classes = 65;
    std::mt19937_64 generator(11);
    std::normal_distribution<double> normal(0.0, 3.0);
    std::vector<double> logits(std::size_t(rows * classes));
    for (double& v : logits) v = normal(generator);
    std::vector<std::int32_t> labels(static_cast<std::size_t>(rows));
    for (std::int64_t r = 0; r < rows; ++r) labels[std::size_t(r)] = std::int32_t((r * 7) % classes);
    std::vector<float> single(logits.begin(), logits.end()), singleGrad(logits.size());
    std::vector<double> doubleGrad(logits.size());
    double loss = 0.0;
    float singleLoss = 0.0f;
    std::int64_t correct = -1, singleCorrect = -2;
    backend->softmaxCrossEntropy(DType::Float64, rows, classes, logits.data(), labels.data(), &loss, doubleGrad.data(),
                                 1.0 / double(rows), &correct);
    backend->softmaxCrossEntropy(DType::Float32, rows, classes, single.data(), labels.data(), &singleLoss,
                                 singleGrad.data(), 1.0 / double(rows), &singleCorrect);
    EXPECT_NEAR(singleLoss, loss, 1e-6 * loss);
    EXPECT_EQ(singleCorrect, correct);
    for (std::size_t i = 0; i < logits.size(); ++i) ASSERT_NEAR(singleGrad[i], doubleGrad[i], 1e-8) << i;

    const float huge[] = {1000.0f, -1000.0f, 0.0f, 50.0f, 50.0f, 50.0f};
    const std::int32_t hugeLabels[] = {1, 2};
    float grad[6];
    backend->softmaxCrossEntropy(DType::Float32, 2, 3, huge, hugeLabels, &singleLoss, grad, 0.5, nullptr);
    EXPECT_NEAR(singleLoss, 2000.0 + std::log(3.0), 1e-3);
    EXPECT_NEAR(grad[0], 0.5, 1e-7);
    EXPECT_NEAR(grad[1], -0.5, 1e-7);
    EXPECT_NEAR(grad[5], 0.5 * (1.0 / 3.0 - 1.0), 1e-7);

    single[std::size_t(3 * classes + 5)] = std::nanf("");
    backend->softmaxCrossEntropy(DType::Float32, rows, classes, single.data(), labels.data(), &singleLoss,
                                 singleGrad.data(), 1.0, nullptr);
    EXPECT_TRUE(std::isnan(singleLoss));
    EXPECT_TRUE(std::isnan(singleGrad[std::size_t(3 * classes)]));
    EXPECT_FALSE(std::isnan(singleGrad[std::size_t(4 * classes)]));
}

TEST(DropoutLayer, InferenceIsIdentityAndTrainingKeepsExpectedFraction) {
    Dropout dropout(0.25);
    auto backend = kernels::makeCpuBackend(1);
    Tensor input = Tensor::persistent(Shape{100, 100}, DType::Float32);
    for (std::int64_t i = 0; i < input.elementCount(); ++i) input.data<float>()[i] = 1.0f;
    ExecutionContext inference{backend.get(), false, 9, 0};
    EXPECT_EQ(dropout.forward(input, inference).raw(), input.raw());
    ExecutionContext training{backend.get(), true, 9, 0};
    Tensor output = dropout.forward(input, training);
    std::int64_t kept = 0;
    double sum = 0.0;
    for (std::int64_t i = 0; i < output.elementCount(); ++i) {
        kept += output.data<float>()[i] != 0.0f;
        sum += output.data<float>()[i];
    }
    EXPECT_NEAR(double(kept) / 10000.0, 0.75, 0.02);
    EXPECT_NEAR(sum / 10000.0, 1.0, 0.03);  // inverted dropout preserves the mean
    EXPECT_THROW(Dropout(1.0), std::exception);
}

}  // namespace
}  // namespace cohort::nn
