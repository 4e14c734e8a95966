// Gradient clipping by the global norm (--grad-clip): the gradients after a step's backward pass
// are scaled to the bound when their norm exceeds it, and left alone otherwise.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "src/data/Data.h"
#include "src/nn/Architectures.h"
#include "src/train/TrainingStep.h"

namespace cohort::train {
namespace {

double norm(const std::vector<double>& values) {
    double sum = 0.0;
    for (double v : values) sum += v * v;
    return std::sqrt(sum);
}

std::vector<double> gradientsAfterAStep(double clip, double* reported = nullptr) {
    nn::ArchitectureConfig architecture{"mlp", {16}, 0.0, "tanh"};
    auto model = nn::buildModel(architecture, Shape{6}, 3, DType::Float64);
    model->initialize(5);
    auto backend = kernels::makeCpuBackend(1);
    optim::Optimizer optimizer(optim::OptimizerConfig{}, model->parameterCount(), DType::Float64, MemoryLocation::host());
    nn::SoftmaxCrossEntropy loss;
    TrainingStep step(*model, optimizer, loss, *backend, WorkspaceMode::Enabled, 1);
    const auto data = data::makeSynthetic(8, {6}, 3, 2);
    Tensor input = Tensor::persistent(Shape{8, 6}, DType::Float64);
    for (std::size_t i = 0; i < data.features.size(); ++i) input.data<double>()[i] = data.features[i];
    step.setGradientClip(clip);
    step.computeGradients(input, data.labels.data(), 8);
    const std::vector<double> gradients(model->gradients().data<double>(),
                                        model->gradients().data<double>() + model->parameterCount());
    if (reported) {
        step.setGradientClip(1e9);
        *reported = step.clipGradients();
    }
    return gradients;
}

TEST(GradientClip, ScalesTheGlobalNormToTheBoundOnlyWhenAbove) {
    double unclippedNorm = 0.0;
    const std::vector<double> free = gradientsAfterAStep(0.0, &unclippedNorm);
    EXPECT_NEAR(unclippedNorm, norm(free), 1e-12 * norm(free));
    ASSERT_GT(norm(free), 0.01);
    const double bound = 0.25 * norm(free);
    const std::vector<double> clipped = gradientsAfterAStep(bound);
    // torch.nn.utils.clip_grad_norm_'s scale: bound / (norm + 1e-6).
    const double scale = bound / (norm(free) + 1e-6);
    for (std::size_t i = 0; i < free.size(); ++i) EXPECT_NEAR(clipped[i], free[i] * scale, 1e-15) << i;
    EXPECT_NEAR(norm(clipped), bound, 1e-5 * bound);
    EXPECT_EQ(gradientsAfterAStep(10.0 * norm(free)), free);  // below the bound: untouched
}

}  // namespace
}  // namespace cohort::train
