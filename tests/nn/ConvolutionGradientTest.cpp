// Conv2D, MaxPool2D, AvgPool2D and Flatten against central finite differences (double), Conv2D's
// forward against a direct convolution, and a conv training step's allocation-free steady state.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "memory/Memory.h"
#include "src/core/Errors.h"
#include "src/data/Data.h"
#include "src/nn/Architectures.h"
#include "src/nn/Conv2D.h"
#include "src/nn/Dense.h"
#include "src/nn/Flatten.h"
#include "src/nn/Loss.h"
#include "src/nn/Model.h"
#include "src/nn/Pooling2D.h"
#include "src/train/Trainer.h"
#include "nn/GradientChecker.h"

namespace cohort::nn {
namespace {

using testing_support::chain;
using testing_support::GradientChecker;
using testing_support::Problem;
using testing_support::Reshape;

// Inputs N(0, 0.3) * 3 (unit spread), the checker's default parameter noise.
Problem convolutionProblem(std::vector<std::unique_ptr<Layer>> layers, const Shape& sample, std::int64_t batch, int classes,
                    std::uint64_t seed) {
    return testing_support::makeProblem(std::move(layers), sample, batch, classes, seed, {0.3, 0.1, 1.0, false});
}

using testing_support::kTolerance;
using kernels::Activation;


TEST(ConvolutionGradient, Conv2DOverStridesPaddingsAndActivations) {
    std::uint64_t seed = 100;  // a seed whose ReLU pre-activations stay clear of the kink under the +-2h stencil
    for (std::int64_t stride : {1, 2}) {
        for (std::int64_t padding : {0, 1}) {
            for (auto activation : {Activation::Identity, Activation::Relu, Activation::Tanh, Activation::Sigmoid}) {
                SCOPED_TRACE("stride " + std::to_string(stride) + " padding " + std::to_string(padding) + " " +
                             kernels::toString(activation));
                // 2x7x5 input (an odd, non-square image), 3 output channels, kernel 3.
                auto problem = convolutionProblem(chain(std::make_unique<Conv2D>(3, 3, stride, padding, activation),
                                                 std::make_unique<Flatten>(), std::make_unique<Dense>(4)),
                                           Shape{2, 7, 5}, 3, 4, ++seed);
                GradientChecker(problem).expectGradientsMatch(kTolerance);
            }
        }
    }
}

TEST(ConvolutionGradient, Conv2DInputGradientThroughASecondConv) {
    // The first conv's parameters see the second conv's input gradient (col2im), with stride and padding.
    for (std::int64_t stride : {1, 2}) {
        for (std::int64_t padding : {0, 1}) {
            SCOPED_TRACE("stride " + std::to_string(stride) + " padding " + std::to_string(padding));
            auto problem = convolutionProblem(chain(std::make_unique<Conv2D>(2, 2, 1, 0, Activation::Tanh),
                                             std::make_unique<Conv2D>(3, 3, stride, padding, Activation::Sigmoid),
                                             std::make_unique<Flatten>(), std::make_unique<Dense>(3)),
                                       Shape{2, 8, 6}, 2, 3, 20 + std::uint64_t(stride * 2 + padding));
            GradientChecker(problem).expectGradientsMatch(kTolerance);
        }
    }
}

TEST(ConvolutionGradient, MaxPool2D) {
    for (std::int64_t stride : {2, 1}) {
        SCOPED_TRACE("stride " + std::to_string(stride));
        // Dense in front: every input pixel is a function of parameters (ties have probability zero).
        auto problem = convolutionProblem(chain(std::make_unique<Dense>(2 * 7 * 5, Activation::Tanh),
                                         std::make_unique<Reshape>(Shape{2, 7, 5}), std::make_unique<MaxPool2D>(2, stride),
                                         std::make_unique<Flatten>(), std::make_unique<Dense>(3)),
                                   Shape{4}, 3, 3, 30 + std::uint64_t(stride));
        GradientChecker(problem).expectGradientsMatch(kTolerance);
    }
}

TEST(ConvolutionGradient, AvgPool2D) {
    for (std::int64_t stride : {2, 1}) {
        SCOPED_TRACE("stride " + std::to_string(stride));
        auto problem = convolutionProblem(chain(std::make_unique<Dense>(2 * 7 * 5, Activation::Tanh),
                                         std::make_unique<Reshape>(Shape{2, 7, 5}), std::make_unique<AvgPool2D>(3, stride),
                                         std::make_unique<Flatten>(), std::make_unique<Dense>(3)),
                                   Shape{4}, 3, 3, 40 + std::uint64_t(stride));
        GradientChecker(problem).expectGradientsMatch(kTolerance);
    }
}

TEST(ConvolutionGradient, FlattenPassesGradientsThrough) {
    auto problem = convolutionProblem(chain(std::make_unique<Conv2D>(2, 3, 1, 1, Activation::Tanh), std::make_unique<Flatten>(),
                                     std::make_unique<Dense>(5, Activation::Sigmoid), std::make_unique<Dense>(3)),
                               Shape{1, 5, 4}, 3, 3, 50);
    GradientChecker(problem).expectGradientsMatch(kTolerance);
    Flatten flatten;
    EXPECT_EQ(flatten.outputShape(Shape{3, 4, 5}), (Shape{60}));
}

TEST(ConvolutionGradient, TinyLeNetChain) {
    auto problem = convolutionProblem(chain(std::make_unique<Conv2D>(3, 3, 1, 0, Activation::Relu), std::make_unique<MaxPool2D>(2),
                                     std::make_unique<Conv2D>(4, 2, 1, 1, Activation::Relu), std::make_unique<AvgPool2D>(2),
                                     std::make_unique<Flatten>(), std::make_unique<Dense>(6, Activation::Relu),
                                     std::make_unique<Dense>(4)),
                               Shape{2, 9, 7}, 3, 4, 60);
    GradientChecker(problem).expectGradientsMatch(kTolerance);
}

// Direct convolution, the definition.
template <typename T>
std::vector<double> directConvolution(const T* x, const std::vector<double>& parameters, std::int64_t batch, std::int64_t inC,
                                      std::int64_t h, std::int64_t w, std::int64_t outC, std::int64_t k, std::int64_t s,
                                      std::int64_t p, std::int64_t oh, std::int64_t ow) {
    std::vector<double> y(std::size_t(batch * outC * oh * ow));
    const double* weights = parameters.data();
    const double* bias = weights + outC * inC * k * k;
    for (std::int64_t n = 0; n < batch; ++n)
        for (std::int64_t o = 0; o < outC; ++o)
            for (std::int64_t oy = 0; oy < oh; ++oy)
                for (std::int64_t ox = 0; ox < ow; ++ox) {
                    double sum = bias[o];
                    for (std::int64_t c = 0; c < inC; ++c)
                        for (std::int64_t ki = 0; ki < k; ++ki)
                            for (std::int64_t kj = 0; kj < k; ++kj) {
                                const std::int64_t iy = oy * s - p + ki, ix = ox * s - p + kj;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                sum += weights[((o * inC + c) * k + ki) * k + kj] *
                                       double(x[((n * inC + c) * h + iy) * w + ix]);
                            }
                    y[std::size_t(((n * outC + o) * oh + oy) * ow + ox)] = sum;
                }
    return y;
}

TEST(Conv2DForward, MatchesDirectConvolutionInFloatAndDouble) {
    auto backend = kernels::makeCpuBackend(1);
    struct Case { std::int64_t inC, h, w, outC, k, s, p; };
    for (const Case c : {Case{1, 28, 28, 20, 5, 1, 0}, Case{2, 7, 5, 3, 3, 2, 1}, Case{3, 9, 11, 4, 4, 3, 2}}) {
        for (DType dtype : {DType::Float32, DType::Float64}) {
            SCOPED_TRACE(std::string(kernels::toString(dtype)) + " k" + std::to_string(c.k) + " s" + std::to_string(c.s));
            std::vector<std::unique_ptr<Layer>> layers;
            layers.push_back(std::make_unique<Conv2D>(c.outC, c.k, c.s, c.p));
            Model model(std::move(layers), Shape{c.inC, c.h, c.w}, dtype);
            model.initialize(7);
            std::mt19937_64 generator(8);
            std::normal_distribution<double> normal(0.0, 1.0);
            auto parameters = model.parametersToHost();
            for (double& v : parameters) v += 0.1 * normal(generator);  // non-zero biases
            model.parametersFromHost(parameters);
            parameters = model.parametersToHost();
            const std::int64_t batch = 3;
            Tensor input = Tensor::persistent(Shape{batch, c.inC, c.h, c.w}, dtype);
            for (std::int64_t i = 0; i < input.elementCount(); ++i) {
                if (dtype == DType::Float32) input.data<float>()[i] = float(normal(generator));
                else input.data<double>()[i] = normal(generator);
            }
            ExecutionContext context{backend.get(), false, 0, 0};
            Tensor output = model.forward(input, context);
            const Shape out = model.outputSample();
            ASSERT_EQ(output.shape(), out.withBatch(batch));
            const auto expected = dtype == DType::Float32
                ? directConvolution(input.data<float>(), parameters, batch, c.inC, c.h, c.w, c.outC, c.k, c.s, c.p, out[1], out[2])
                : directConvolution(input.data<double>(), parameters, batch, c.inC, c.h, c.w, c.outC, c.k, c.s, c.p, out[1], out[2]);
            const double tolerance = dtype == DType::Float32 ? 1e-4 : 1e-12;
            for (std::size_t i = 0; i < expected.size(); ++i) {
                const double actual = dtype == DType::Float32 ? double(output.data<float>()[i]) : output.data<double>()[i];
                ASSERT_NEAR(actual, expected[i], tolerance * std::max(1.0, std::abs(expected[i]))) << "element " << i;
            }
        }
    }
}

TEST(Conv2DShapes, LeNetGeometryAndErrors) {
    ArchitectureConfig config;
    config.name = "lenet";
    auto model = buildModel(config, Shape{1, 28, 28}, 10);
    EXPECT_EQ(model->outputSample(), (Shape{10}));
    // conv1 520, conv2 25050, dense 400500, dense 5010 (each padded to 16 elements).
    EXPECT_GE(model->parameterCount(), 520 + 25050 + 400500 + 5010);
    EXPECT_NE(model->describe().find("conv2d(1x28x28->20,k5,s1,p0,relu)"), std::string::npos) << model->describe();
    EXPECT_NE(model->describe().find("conv2d(20x12x12->50"), std::string::npos) << model->describe();
    config.name = "resnet";
    try {
        buildLayers(config, 10);
        FAIL() << "expected InputError";
    } catch (const InputError& error) {
        EXPECT_NE(std::string(error.what()).find("mlp, lenet or gpt"), std::string::npos);
    }
    EXPECT_THROW(Conv2D(3, 5).outputShape(Shape{1, 4, 4}), InputError);
    EXPECT_THROW(Conv2D(3, 5).outputShape(Shape{16}), InputError);
    EXPECT_THROW(MaxPool2D(2).outputShape(Shape{16}), InputError);
    EXPECT_EQ(Conv2D(3, 3, 2, 1).outputShape(Shape{2, 7, 5}), (Shape{3, 4, 3}));
    EXPECT_EQ(MaxPool2D(2).outputShape(Shape{20, 24, 24}), (Shape{20, 12, 12}));
}

TEST(ConvolutionMemory, ConvTrainingStepsAfterWarmupAskTheSystemAllocatorForNothing) {
    std::vector<std::unique_ptr<Layer>> layers;
    layers.push_back(std::make_unique<Conv2D>(4, 3, 1, 1, Activation::Relu));
    layers.push_back(std::make_unique<MaxPool2D>(2));
    layers.push_back(std::make_unique<Conv2D>(6, 3, 1, 0, Activation::Relu));
    layers.push_back(std::make_unique<AvgPool2D>(2));
    layers.push_back(std::make_unique<Flatten>());
    layers.push_back(std::make_unique<Dense>(10));
    Model model(std::move(layers), Shape{1, 8, 8});
    model.initialize(3);
    auto backend = kernels::makeCpuBackend(1);
    optim::Optimizer optimizer(optim::OptimizerConfig{}, model.parameterCount(), DType::Float32, MemoryLocation::host());
    SoftmaxCrossEntropy loss;
    train::TrainingStep step(model, optimizer, loss, *backend, train::WorkspaceMode::Enabled, 1);
    const auto data = data::makeSynthetic(64, {1, 8, 8}, 10, 5);
    Tensor input = Tensor::persistent(Shape{64, 1, 8, 8});
    std::copy(data.features.begin(), data.features.end(), input.data<float>());
    step.run(input, data.labels.data(), 64, 1e-3);
    const std::uint64_t before = memory::systemAllocationCount();
    for (int i = 0; i < 50; ++i) step.run(input, data.labels.data(), i % 2 ? 64 : 48, 1e-3);
    const std::uint64_t after = memory::systemAllocationCount();
    step.takeStatistics();
    memory::WorkspaceManager::forCurrentThread().destroyAllWorkspacesForCurrentThread();
    EXPECT_EQ(after - before, 0u);
}

}  // namespace
}  // namespace cohort::nn
