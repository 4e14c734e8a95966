// Each optimizer against a step computed by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "src/core/Errors.h"
#include "src/optim/LearningRateSchedule.h"
#include "src/optim/Optimizer.h"

namespace cohort::optim {
namespace {

struct Buffers {
    Tensor parameters = Tensor::persistent(Shape{2}, DType::Float64);
    Tensor gradients = Tensor::persistent(Shape{2}, DType::Float64);
    Buffers(double p0, double p1, double g0, double g1) {
        parameters.data<double>()[0] = p0;
        parameters.data<double>()[1] = p1;
        gradients.data<double>()[0] = g0;
        gradients.data<double>()[1] = g1;
    }
    double p(int i) const { return parameters.data<double>()[i]; }
};

TEST(Optimizer, SgdWithWeightDecayMatchesHandComputedStep) {
    OptimizerConfig config{OptimizerKind::Sgd, 0.1, 0.0, 0.01};
    Optimizer optimizer(config, 2, DType::Float64, MemoryLocation::host());
    Buffers b(1.0, -2.0, 0.5, 0.25);
    auto backend = kernels::makeCpuBackend(1);
    optimizer.step(*backend, b.parameters, b.gradients, 0.1);
    // p - lr * (g + wd * p)
    EXPECT_DOUBLE_EQ(b.p(0), 1.0 - 0.1 * (0.5 + 0.01 * 1.0));   // 0.949
    EXPECT_DOUBLE_EQ(b.p(1), -2.0 - 0.1 * (0.25 + 0.01 * -2.0)); // -2.023
    EXPECT_EQ(optimizer.state().elementCount(), 0);
}

TEST(Optimizer, NesterovMatchesHandComputedTwoSteps) {
    OptimizerConfig config{OptimizerKind::Nesterov, 0.1, 0.9, 0.0};
    Optimizer optimizer(config, 2, DType::Float64, MemoryLocation::host());
    Buffers b(1.0, 0.0, 1.0, -1.0);
    auto backend = kernels::makeCpuBackend(1);
    optimizer.step(*backend, b.parameters, b.gradients, 0.1);
    // step 1: v = g = 1; p = 1 - 0.1 * (1 + 0.9 * 1) = 0.81
    EXPECT_NEAR(b.p(0), 0.81, 1e-15);
    EXPECT_NEAR(b.p(1), 0.19, 1e-15);
    optimizer.step(*backend, b.parameters, b.gradients, 0.1);
    // step 2: v = 0.9 * 1 + 1 = 1.9; p = 0.81 - 0.1 * (1 + 0.9 * 1.9) = 0.539
    EXPECT_NEAR(b.p(0), 0.539, 1e-15);
    EXPECT_NEAR(optimizer.state().data<double>()[0], 1.9, 1e-15);
}

TEST(Optimizer, AdamWMatchesHandComputedSteps) {
    OptimizerConfig config{OptimizerKind::Adam, 0.01, 0.0, 0.1};
    Optimizer optimizer(config, 2, DType::Float64, MemoryLocation::host());
    Buffers b(2.0, -1.0, 0.5, -3.0);
    auto backend = kernels::makeCpuBackend(1);
    optimizer.step(*backend, b.parameters, b.gradients, 0.01);
    // Step 1: mhat = g, vhat = g^2, so the Adam term is lr * g / (|g| + eps) = lr * sign(g);
    // decoupled decay: p -= lr * wd * p.
    const double eps = 1e-8;
    const double expected0 = 2.0 - 0.01 * 0.1 * 2.0 - 0.01 * 0.5 / (0.5 + eps);
    const double expected1 = -1.0 - 0.01 * 0.1 * -1.0 - 0.01 * -3.0 / (3.0 + eps);
    EXPECT_NEAR(b.p(0), expected0, 1e-14);
    EXPECT_NEAR(b.p(1), expected1, 1e-14);
    // Step 2 with a new gradient: full bias-corrected moments.
    b.gradients.data<double>()[0] = 1.0;
    optimizer.step(*backend, b.parameters, b.gradients, 0.01);
    const double m = 0.9 * (0.1 * 0.5) + 0.1 * 1.0;               // 0.145
    const double v = 0.999 * (0.001 * 0.25) + 0.001 * 1.0;        // 0.00124975
    const double mhat = m / (1 - 0.81), vhat = v / (1 - 0.998001);
    const double expected = expected0 - 0.01 * 0.1 * expected0 - 0.01 * mhat / (std::sqrt(vhat) + eps);
    EXPECT_NEAR(b.p(0), expected, 1e-14);
    EXPECT_NEAR(optimizer.state().data<double>()[0], m, 1e-15);       // first moment
    EXPECT_NEAR(optimizer.state().data<double>()[2], v, 1e-15);       // second moment after P values
    EXPECT_EQ(optimizer.stepCount(), 2);
}

TEST(Optimizer, RejectsBadHyperParameters) {
    OptimizerConfig negative{OptimizerKind::Sgd, -0.1};
    EXPECT_THROW(negative.validate(), InputError);
    OptimizerConfig momentum{OptimizerKind::Nesterov, 0.1, 1.5};
    EXPECT_THROW(momentum.validate(), InputError);
    try {
        negative.validate();
        FAIL() << "expected SettingError";
    } catch (const SettingError& error) {
        // The library names the field, not a flag.
        EXPECT_EQ(error.setting(), "learningRate");
        EXPECT_NE(std::string(error.what()).find("learningRate must be a positive finite number"), std::string::npos)
            << error.what();
        EXPECT_EQ(std::string(error.what()).find("--"), std::string::npos) << error.what();
    }
}

TEST(LearningRateSchedule, CosineDecaysFromBaseToZeroAndWarmsUp) {
    LearningRateSchedule cosine{ScheduleKind::Cosine, 0.1, 100, 0, 0.0};
    EXPECT_DOUBLE_EQ(cosine.at(0), 0.1);
    EXPECT_NEAR(cosine.at(50), 0.05, 1e-12);
    EXPECT_NEAR(cosine.at(100), 0.0, 1e-12);
    LearningRateSchedule warm{ScheduleKind::Constant, 0.1, 100, 10, 0.0};
    EXPECT_NEAR(warm.at(0), 0.01, 1e-12);
    EXPECT_NEAR(warm.at(9), 0.1, 1e-12);
    EXPECT_DOUBLE_EQ(warm.at(50), 0.1);
}

TEST(Optimizer, AdamWDecaysOnlyTheGivenRanges) {
    // Six elements, decay on [1, 3) and [4, 6): a slice update that starts and ends inside ranges
    // must decay exactly those elements, as one whole-buffer step does.
    OptimizerConfig config{OptimizerKind::Adam, 0.01, 0.0, 0.5};
    config.decayRanges = {{1, 3}, {4, 6}};
    auto backend = kernels::makeCpuBackend(1);
    const std::vector<double> start = {1.0, 2.0, -3.0, 4.0, -5.0, 6.0}, gradient = {0.5, -0.5, 1.0, -1.0, 2.0, -2.0};
    for (const bool sliced : {false, true}) {
        Optimizer optimizer(config, 6, DType::Float64, MemoryLocation::host());
        Tensor parameters = Tensor::persistent(Shape{6}, DType::Float64), gradients = Tensor::persistent(Shape{6}, DType::Float64);
        std::copy(start.begin(), start.end(), parameters.data<double>());
        std::copy(gradient.begin(), gradient.end(), gradients.data<double>());
        if (sliced) {
            optimizer.beginStep();
            optimizer.update(*backend, parameters.raw(), gradients.raw(), 0.01, 0, 2);
            optimizer.update(*backend, parameters.raw(), gradients.raw(), 0.01, 2, 5);
            optimizer.update(*backend, parameters.raw(), gradients.raw(), 0.01, 5, 6);
        } else {
            optimizer.step(*backend, parameters, gradients, 0.01);
        }
        for (int i = 0; i < 6; ++i) {
            const bool decayed = (i >= 1 && i < 3) || i >= 4;
            // Step 1: the Adam term is lr * sign(g); decoupled decay lr * wd * p where it applies.
            const double expected = start[std::size_t(i)] - (decayed ? 0.01 * 0.5 * start[std::size_t(i)] : 0.0) -
                                    0.01 * gradient[std::size_t(i)] / (std::abs(gradient[std::size_t(i)]) + 1e-8);
            EXPECT_NEAR(parameters.data<double>()[i], expected, 1e-14) << (sliced ? "sliced " : "whole ") << i;
        }
    }
}

TEST(LearningRateSchedule, CosineEndsAtItsFinalFraction) {
    // --min-lr 1e-4 with --lr 1e-3: the schedule nanoGPT's baby GPT uses, warm-up 100 of 2000.
    LearningRateSchedule schedule{ScheduleKind::Cosine, 1e-3, 2000, 100, 0.1};
    EXPECT_NEAR(schedule.at(0), 1e-3 / 100, 1e-18);
    EXPECT_NEAR(schedule.at(100), 1e-3, 1e-15);
    EXPECT_NEAR(schedule.at(1050), 1e-4 + 0.5 * (1e-3 - 1e-4), 1e-15);
    EXPECT_NEAR(schedule.at(2000), 1e-4, 1e-15);
}

}  // namespace
}  // namespace cohort::optim
