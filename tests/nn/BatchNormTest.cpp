// BatchNorm: gradients against finite differences (double, dense and NCHW inputs), the forward
// pass and running statistics against direct formulas, inference mode, and the model's
// statistics buffer.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "src/core/Errors.h"
#include "src/nn/ActivationLayer.h"
#include "src/nn/BatchNorm.h"
#include "src/nn/Dense.h"
#include "src/nn/Flatten.h"
#include "src/nn/Loss.h"
#include "src/nn/Model.h"
#include "nn/GradientChecker.h"

namespace cohort::nn {
namespace {

using testing_support::chain;
using testing_support::GradientChecker;
using testing_support::Problem;
using testing_support::Reshape;

// Unit-spread inputs and larger parameter noise, so gamma != 1 and beta != 0.
Problem batchNormProblem(std::vector<std::unique_ptr<Layer>> layers, const Shape& sample, std::int64_t batch, int classes,
                    std::uint64_t seed) {
    return testing_support::makeProblem(std::move(layers), sample, batch, classes, seed, {1.0, 0.2, 1.0, false});
}

TEST(BatchNormGradient, AfterADenseLayer) {
    auto problem = batchNormProblem(chain(std::make_unique<Dense>(6, kernels::Activation::Identity),
                                     std::make_unique<BatchNorm>(), std::make_unique<ActivationLayer>(kernels::Activation::Tanh),
                                     std::make_unique<Dense>(4, kernels::Activation::Identity)),
                               Shape{5}, 7, 4, 11);
    GradientChecker(problem).expectGradientsMatch(1e-6);
}

TEST(BatchNormGradient, OverChannelsAndSpatialPositions) {
    auto problem = batchNormProblem(chain(std::make_unique<Dense>(3 * 5 * 5, kernels::Activation::Identity),
                                     std::make_unique<Reshape>(Shape{3, 5, 5}), std::make_unique<BatchNorm>(0.2, 1e-3),
                                     std::make_unique<Flatten>(), std::make_unique<Dense>(3, kernels::Activation::Identity)),
                               Shape{4}, 3, 3, 12);
    GradientChecker(problem).expectGradientsMatch(1e-6);
}

// Direct formulas on a [n, C, S] input: normalised output, saved statistics and running ones.
TEST(BatchNormForward, TrainingNormalisesAndUpdatesRunningStatistics) {
    const std::int64_t n = 5, channels = 3, spatial = 4;
    Model model(chain(std::make_unique<BatchNorm>(0.25, 1e-5)), Shape{channels, 2, 2}, DType::Float64);
    model.initialize(1);
    ASSERT_EQ(model.parameterCount() >= 2 * channels, true);
    ASSERT_EQ(model.statisticsCount() >= 2 * channels, true);
    std::vector<double> parameters = model.parametersToHost();
    for (std::int64_t c = 0; c < channels; ++c) {
        parameters[std::size_t(c)] = 1.5 + double(c);        // gamma
        parameters[std::size_t(channels + c)] = -0.5 * double(c);  // beta
    }
    model.parametersFromHost(parameters);
    Tensor input = Tensor::persistent(Shape{n, channels, 2, 2}, DType::Float64);
    std::mt19937_64 generator(3);
    std::normal_distribution<double> normal(2.0, 3.0);
    for (std::int64_t i = 0; i < input.elementCount(); ++i) input.data<double>()[i] = normal(generator);
    auto backend = kernels::makeCpuBackend(1);
    ExecutionContext context{backend.get(), true, 1, 0};
    Tensor output = model.forward(input, context);
    const std::vector<double> statistics = model.statisticsToHost();
    for (std::int64_t c = 0; c < channels; ++c) {
        double sum = 0.0, squares = 0.0;
        for (std::int64_t i = 0; i < n; ++i)
            for (std::int64_t j = 0; j < spatial; ++j) sum += input.data<double>()[(i * channels + c) * spatial + j];
        const double mean = sum / double(n * spatial);
        for (std::int64_t i = 0; i < n; ++i)
            for (std::int64_t j = 0; j < spatial; ++j) {
                const double d = input.data<double>()[(i * channels + c) * spatial + j] - mean;
                squares += d * d;
            }
        const double variance = squares / double(n * spatial);
        for (std::int64_t i = 0; i < n; ++i) {
            for (std::int64_t j = 0; j < spatial; ++j) {
                const std::int64_t at = (i * channels + c) * spatial + j;
                const double expected = (1.5 + double(c)) * (input.data<double>()[at] - mean) / std::sqrt(variance + 1e-5) - 0.5 * double(c);
                ASSERT_NEAR(output.data<double>()[at], expected, 1e-12);
            }
        }
        EXPECT_NEAR(statistics[std::size_t(c)], 0.25 * mean, 1e-12) << "running mean, channel " << c;
        EXPECT_NEAR(statistics[std::size_t(channels + c)], 0.75 * 1.0 + 0.25 * squares / double(n * spatial - 1), 1e-12)
            << "running variance (unbiased), channel " << c;
    }
    model.releaseCaches();
}

TEST(BatchNormForward, InferenceUsesTheRunningStatistics) {
    Model model(chain(std::make_unique<BatchNorm>()), Shape{2}, DType::Float64);
    model.initialize(1);
    model.statisticsFromHost({1.0, -2.0, 4.0, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0});
    Tensor input = Tensor::persistent(Shape{3, 2}, DType::Float64);
    const double values[6] = {1.0, 2.0, 3.0, -4.0, 5.0, 0.5};
    for (int i = 0; i < 6; ++i) input.data<double>()[i] = values[i];
    auto backend = kernels::makeCpuBackend(1);
    ExecutionContext context{backend.get(), false, 1, 0};
    Tensor output = model.forward(input, context);
    const double mean[2] = {1.0, -2.0}, variance[2] = {4.0, 0.25};
    for (int i = 0; i < 6; ++i) {
        EXPECT_NEAR(output.data<double>()[i], (values[i] - mean[i % 2]) / std::sqrt(variance[i % 2] + 1e-5), 1e-12);
    }
    // Inference leaves the running statistics alone.
    EXPECT_EQ(model.statisticsToHost()[0], 1.0);
}

TEST(BatchNormModel, StatisticsAreSeparateFromParametersAndTravelWithReplicas) {
    Model model(chain(std::make_unique<Dense>(4, kernels::Activation::Relu), std::make_unique<BatchNorm>(),
                      std::make_unique<Dense>(3, kernels::Activation::Identity)),
                Shape{5});
    model.initialize(2);
    EXPECT_EQ(model.statisticsCount(), 16);  // 2 x 4 values, block aligned to 16 elements
    const auto initial = model.statisticsToHost();
    EXPECT_EQ(initial[0], 0.0);  // running mean
    EXPECT_EQ(initial[4], 1.0);  // running variance
    std::vector<double> changed = initial;
    changed[1] = 0.5;
    model.statisticsFromHost(changed);
    auto replica = model.replicate(MemoryLocation::host());
    EXPECT_EQ(replica->statisticsToHost(), changed);
    EXPECT_NE(model.describe().find("batchnorm(4,"), std::string::npos) << model.describe();
    EXPECT_THROW(BatchNorm(0.0), InputError);
    EXPECT_THROW(BatchNorm(0.1, -1.0), InputError);
}

}  // namespace
}  // namespace cohort::nn
