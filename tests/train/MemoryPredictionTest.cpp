// Memory predictions held to what the code allocates: a training step's and an evaluator's
// memoryFor() as a budget they must fit (and, with workspaces, exactly what they keep), for a
// model with every kind of layer, with and without workspaces. (Layer::workspaceRequests sits next to each layer's
// forward()/backward(); this is what keeps the two from drifting apart.)
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "memory/Memory.h"
#include "src/data/Data.h"
#include "src/nn/ActivationLayer.h"
#include "src/nn/Architectures.h"
#include "src/nn/BatchNorm.h"
#include "src/nn/Gelu.h"
#include "src/nn/LayerNorm.h"
#include "src/nn/Conv2D.h"
#include "src/nn/Dense.h"
#include "src/nn/Dropout.h"
#include "src/nn/Flatten.h"
#include "src/nn/Pooling2D.h"
#include "src/train/Evaluation.h"
#include "src/train/TrainingStep.h"

namespace cohort::train {
namespace {

const Shape kSample{2, 9, 9};

std::unique_ptr<nn::Model> everyLayer() {
    std::vector<std::unique_ptr<nn::Layer>> layers;
    layers.push_back(std::make_unique<nn::Conv2D>(4, 3, 1, 1, kernels::Activation::Relu));
    layers.push_back(std::make_unique<nn::BatchNorm>());
    layers.push_back(std::make_unique<nn::MaxPool2D>(2));
    layers.push_back(std::make_unique<nn::LayerNorm>());  // rows of each sample (channel, row) normalised
    layers.push_back(std::make_unique<nn::Gelu>());
    layers.push_back(std::make_unique<nn::Conv2D>(3, 2, 1, 0));
    layers.push_back(std::make_unique<nn::AvgPool2D>(2));
    layers.push_back(std::make_unique<nn::Flatten>());
    layers.push_back(std::make_unique<nn::Dense>(24, kernels::Activation::Tanh));
    layers.push_back(std::make_unique<nn::LayerNorm>());
    layers.push_back(std::make_unique<nn::Dropout>(0.3));
    layers.push_back(std::make_unique<nn::ActivationLayer>(kernels::Activation::Relu));
    layers.push_back(std::make_unique<nn::BatchNorm>());
    layers.push_back(std::make_unique<nn::Dense>(10));
    auto model = std::make_unique<nn::Model>(std::move(layers), kSample);
    model->initialize(7);
    return model;
}

std::int64_t hostInUse() { return memory::MemoryBudget::global().bytesInUse(memory::MemoryKind::Host); }

// The most host bytes in use while `work` runs, above what was in use before, sampled after
// each of `steps` calls.
template <typename Work>
std::int64_t peakGrowth(int steps, Work work) {
    const std::int64_t before = hostInUse();
    std::int64_t peak = 0;
    for (int i = 0; i < steps; ++i) {
        work(i);
        peak = std::max(peak, hostInUse() - before);
    }
    return peak;
}

class MemoryPrediction : public ::testing::TestWithParam<WorkspaceMode> {
protected:
    void TearDown() override {
        memory::MemoryBudget::global().setMaxBytes(0);
        memory::WorkspaceManager::forCurrentThread().destroyAllWorkspacesForCurrentThread();
    }
    // A budget of exactly the prediction on top of what is in use now: the work must fit it.
    static void gptFitsItsPrediction(WorkspaceMode mode, bool tied);
    static void limitTo(const memory::MemoryDemand& predicted) {
        memory::MemoryBudget::global().setMaxBytes(hostInUse() + predicted.of(memory::MemoryKind::Host));
    }
};

TEST_P(MemoryPrediction, ATrainingStepFitsTheBytesItsPredictionSays) {
    const WorkspaceMode mode = GetParam();
    auto model = everyLayer();
    auto backend = kernels::makeCpuBackend(1);
    optim::Optimizer optimizer(optim::OptimizerConfig{}, model->parameterCount(), DType::Float32, MemoryLocation::host());
    nn::SoftmaxCrossEntropy loss;
    const std::int64_t batch = 12;
    const auto data = data::makeSynthetic(std::size_t(batch), {2, 9, 9}, 10, 5);
    Tensor input = Tensor::persistent(kSample.withBatch(batch));
    std::copy(data.features.begin(), data.features.end(), input.data<float>());

    const memory::MemoryDemand predicted = TrainingStep::memoryFor(*model, MemoryLocation::host(), batch, mode, false, *backend);
    EXPECT_EQ(predicted.of(memory::MemoryKind::Device), 0);
    EXPECT_EQ(predicted.of(memory::MemoryKind::PinnedHost), 0);
    limitTo(predicted);
    std::unique_ptr<TrainingStep> step;
    // The step, then full batches and smaller ones (the last batch of an epoch).
    const std::int64_t peak = peakGrowth(6, [&](int i) {
        if (i == 0) {
            step = std::make_unique<TrainingStep>(*model, optimizer, loss, *backend, mode, 1);
            return;
        }
        const std::int64_t rows = i % 2 ? batch : batch - 5;
        ASSERT_NO_THROW(step->run(input, data.labels.data(), rows, 1e-3)) << "step " << i;
    });
    // With workspaces what stays is the prediction: the records and both learned blocks.
    if (mode == WorkspaceMode::Enabled) {
        EXPECT_EQ(peak, predicted.of(memory::MemoryKind::Host));
    }
}

TEST_P(MemoryPrediction, AnEvaluatorFitsTheBytesItsPredictionSays) {
    const WorkspaceMode mode = GetParam();
    auto model = everyLayer();
    auto backend = kernels::makeCpuBackend(1);
    const auto dataset = data::makeSynthetic(70, {2, 9, 9}, 10, 5);
    for (const std::int64_t batchSize : {std::int64_t(32), std::int64_t(100)}) {  // 100: more than the data set
        SCOPED_TRACE(batchSize);
        const memory::MemoryDemand predicted = Evaluator::memoryFor(*model, MemoryLocation::host(), batchSize, mode, dataset, *backend);
        limitTo(predicted);
        std::unique_ptr<Evaluator> evaluator;
        const std::int64_t peak = peakGrowth(3, [&](int i) {
            if (i == 0) {
                evaluator = std::make_unique<Evaluator>(*model, *backend, batchSize, mode);
            } else {
                ASSERT_NO_THROW(evaluator->evaluate(dataset)) << "evaluation " << i;
            }
        });
        if (mode == WorkspaceMode::Enabled) {
            EXPECT_EQ(peak, predicted.of(memory::MemoryKind::Host));
        }
        memory::MemoryBudget::global().setMaxBytes(0);
        evaluator.reset();
        memory::WorkspaceManager::forCurrentThread().destroyAllWorkspacesForCurrentThread();
    }
}

TEST_P(MemoryPrediction, AGptStepAndItsEvaluatorFitTheirPredictions) {
    // Token ids in, one label per token: the attention's scores and the residual sums included;
    // the head tied to the embedding (whose backward then takes a buffer for its own part).
    for (const bool tied : {false, true}) {
        SCOPED_TRACE(tied ? "tied" : "untied");
        gptFitsItsPrediction(GetParam(), tied);
    }
}

void MemoryPrediction::gptFitsItsPrediction(WorkspaceMode mode, bool tied) {
    nn::ArchitectureConfig config;
    config.tieEmbeddings = tied;
    config.name = "gpt";
    config.layers = 2;
    config.heads = 2;
    config.embed = 16;
    const std::int64_t positions = 12, vocabulary = 11, batch = 6;
    auto model = nn::buildModel(config, Shape{positions}, int(vocabulary));
    model->initialize(3);
    auto backend = kernels::makeCpuBackend(1);
    optim::Optimizer optimizer(optim::OptimizerConfig{}, model->parameterCount(), DType::Float32, MemoryLocation::host());
    nn::SoftmaxCrossEntropy loss;
    Tensor input = Tensor::persistent(Shape{batch, positions});
    std::vector<std::int32_t> labels(std::size_t(batch * positions));
    for (std::int64_t i = 0; i < batch * positions; ++i) {
        input.data<float>()[i] = float((i * 7) % vocabulary);
        labels[std::size_t(i)] = std::int32_t((i * 5 + 1) % vocabulary);
    }
    const memory::MemoryDemand predicted = TrainingStep::memoryFor(*model, MemoryLocation::host(), batch, mode, false, *backend);
    limitTo(predicted);
    std::unique_ptr<TrainingStep> step;
    const std::int64_t peak = peakGrowth(5, [&](int i) {
        if (i == 0) {
            step = std::make_unique<TrainingStep>(*model, optimizer, loss, *backend, mode, 1);
            return;
        }
        ASSERT_NO_THROW(step->run(input, labels.data(), i % 2 ? batch : batch - 2, 1e-3)) << "step " << i;
    });
    if (mode == WorkspaceMode::Enabled) {
        EXPECT_EQ(peak, predicted.of(memory::MemoryKind::Host));
    }
    memory::MemoryBudget::global().setMaxBytes(0);
    step.reset();
    memory::WorkspaceManager::forCurrentThread().destroyAllWorkspacesForCurrentThread();

    data::Dataset windows;
    windows.count = 10;
    windows.sampleShape = {std::size_t(positions)};
    windows.featureSize = windows.labelSize = std::size_t(positions);
    windows.numClasses = int(vocabulary);
    windows.features.assign(input.data<float>(), input.data<float>() + batch * positions);
    windows.features.resize(std::size_t(10 * positions), 1.0f);
    windows.labels.assign(std::size_t(10 * positions), 2);
    const memory::MemoryDemand evaluation = Evaluator::memoryFor(*model, MemoryLocation::host(), 4, mode, windows, *backend);
    limitTo(evaluation);
    std::unique_ptr<Evaluator> evaluator;
    const std::int64_t evaluationPeak = peakGrowth(3, [&](int i) {
        if (i == 0) {
            evaluator = std::make_unique<Evaluator>(*model, *backend, 4, mode);
        } else {
            ASSERT_NO_THROW(evaluator->evaluate(windows)) << "evaluation " << i;
        }
    });
    if (mode == WorkspaceMode::Enabled) {
        EXPECT_EQ(evaluationPeak, evaluation.of(memory::MemoryKind::Host));
    }
    evaluator.reset();
    memory::MemoryBudget::global().setMaxBytes(0);
    memory::WorkspaceManager::forCurrentThread().destroyAllWorkspacesForCurrentThread();
}

INSTANTIATE_TEST_SUITE_P(Modes, MemoryPrediction, ::testing::Values(WorkspaceMode::Enabled, WorkspaceMode::None),
                         [](const auto& info) { return info.param == WorkspaceMode::Enabled ? "Workspaces" : "PlainAllocations"; });

TEST(MemoryPrediction, EachLayersRequestsAreWhatItsPassesTakeFromTheWorkspace) {
    // Per pass, the sum of the requests (rounded as the workspace rounds them) is the cycle the
    // workspace measured.
    auto model = everyLayer();
    auto backend = kernels::makeCpuBackend(1);
    const std::int64_t batch = 5;
    const auto data = data::makeSynthetic(std::size_t(batch), {2, 9, 9}, 10, 5);
    Tensor input = Tensor::persistent(kSample.withBatch(batch));
    std::copy(data.features.begin(), data.features.end(), input.data<float>());
    auto& manager = memory::WorkspaceManager::forCurrentThread();
    const memory::WorkspaceConfig config = activationsWorkspaceConfig();
    auto cycle = [&](nn::PassQuery::Kind kind) {
        std::size_t sum = 0;
        for (const std::size_t bytes : model->workspaceRequests(kind, batch, *backend)) sum += memory::workspaceRequestBytes(config, bytes);
        return sum;
    };
    std::size_t forward = 0, backward = 0, inference = 0;
    {
        nn::ExecutionContext context{backend.get(), true, 1, 0};
        memory::WorkspaceScope scope = manager.getAndActivateWorkspace(config, "FORWARD");
        Tensor output = model->forward(input, context);
        forward = manager.find("FORWARD")->statistics().peakCycleBytes;
        memory::WorkspaceScope gradients = manager.getAndActivateWorkspace(config, "BACKWARD");
        Tensor gradOutput = Tensor::empty(output.shape());  // what the loss gives backward()
        std::fill(gradOutput.data<float>(), gradOutput.data<float>() + gradOutput.elementCount(), 0.01f);
        const std::size_t lossGradient = memory::workspaceRequestBytes(config, gradOutput.byteCount());
        model->backward(gradOutput, context);
        backward = manager.find("BACKWARD")->statistics().peakCycleBytes - lossGradient;
        model->releaseCaches();
    }
    {
        nn::ExecutionContext context{backend.get(), false, 1, 0};
        memory::WorkspaceScope scope = manager.getAndActivateWorkspace(config, "INFERENCE_PASS");
        model->forward(input, context);
        inference = manager.find("INFERENCE_PASS")->statistics().peakCycleBytes;
    }
    EXPECT_EQ(forward, cycle(nn::PassQuery::Kind::TrainingForward));
    EXPECT_EQ(backward, cycle(nn::PassQuery::Kind::Backward));
    EXPECT_EQ(inference, cycle(nn::PassQuery::Kind::InferenceForward));
    manager.destroyAllWorkspacesForCurrentThread();
}

}  // namespace
}  // namespace cohort::train
