// The workspace promise, measured on real training: after warm-up a step asks the system
// allocator for nothing; runs and epochs do not grow memory.
#include <gtest/gtest.h>

#include "memory/Memory.h"
#include "src/data/Data.h"
#include "src/nn/Architectures.h"
#include "src/train/Trainer.h"

namespace cohort::train {
namespace {

data::DatasetSplits smallData() {
    // One generator (same class prototypes) split into 1000 training and 200 test samples.
    return data::splitTrainTest(data::makeSynthetic(1200, {1, 8, 8}, 10, 11), 200.0 / 1200.0, 12);
}

std::unique_ptr<nn::Model> smallModel() {
    nn::ArchitectureConfig architecture{"mlp", {64, 32}, 0.1, "relu"};
    auto model = nn::buildModel(architecture, Shape{1, 8, 8}, 10);
    model->initialize(3);
    return model;
}

std::uint64_t allocationsOverSteps(WorkspaceMode mode, int warmup, int steps) {
    auto model = smallModel();
    auto backend = kernels::makeCpuBackend(1);
    optim::Optimizer optimizer(optim::OptimizerConfig{}, model->parameterCount(), DType::Float32,
                               MemoryLocation::host());
    nn::SoftmaxCrossEntropy loss;
    TrainingStep step(*model, optimizer, loss, *backend, mode, 1);
    const auto data = data::makeSynthetic(64, {1, 8, 8}, 10, 5);
    Tensor input = Tensor::persistent(Shape{64, 1, 8, 8});
    std::copy(data.features.begin(), data.features.end(), input.data<float>());
    for (int i = 0; i < warmup; ++i) step.run(input, data.labels.data(), 64, 1e-3);
    const std::uint64_t before = memory::systemAllocationCount();
    for (int i = 0; i < steps; ++i) step.run(input, data.labels.data(), i % 2 ? 64 : 48, 1e-3);
    const std::uint64_t after = memory::systemAllocationCount();
    step.takeStatistics();
    memory::WorkspaceManager::forCurrentThread().destroyAllWorkspacesForCurrentThread();
    return after - before;
}

TEST(TrainingMemory, StepsAfterWarmupAskTheSystemAllocatorForNothing) {
    EXPECT_EQ(allocationsOverSteps(WorkspaceMode::Enabled, 1, 200), 0u);
}

TEST(TrainingMemory, WorkspaceModeNoneAllocatesEveryStep) {
    // Every activation and gradient of every step is a fresh system allocation.
    EXPECT_GE(allocationsOverSteps(WorkspaceMode::None, 1, 200), 200u * 5);
}

class EpochRecorder : public TrainingListener {
public:
    void onEpoch(const EpochMetrics&) override {
        const auto counters = memory::allocationCounters();
        inUse.push_back(counters.bytesInUse[0]);
        peak.push_back(counters.peakBytesInUse[0]);
    }
    std::vector<std::int64_t> inUse, peak;
};

TEST(TrainingMemory, FiveRunsInOneProcessEndWithTheSameBytesInUse) {
    const auto data = smallData();
    std::vector<std::int64_t> afterRun;
    for (int run = 0; run < 5; ++run) {
        {
            auto model = smallModel();
            auto backend = kernels::makeCpuBackend(1);
            TrainerConfig config;
            config.epochs = 1;
            config.batchSize = 50;
            Trainer trainer(*model, optim::OptimizerConfig{}, *backend, config);
            trainer.fit(data);
        }
        memory::WorkspaceManager::forCurrentThread().destroyAllWorkspacesForCurrentThread();
        afterRun.push_back(memory::allocationCounters().bytesInUse[0]);
    }
    for (int run = 1; run < 5; ++run) EXPECT_EQ(afterRun[std::size_t(run)], afterRun[0]) << "run " << run + 1;
}

TEST(TrainingMemory, TwentyEpochsHoldTheirPeakFromEpochTwoOn) {
    const auto data = smallData();
    auto model = smallModel();
    auto backend = kernels::makeCpuBackend(1);
    TrainerConfig config;
    config.epochs = 20;
    config.batchSize = 64;  // 1000 = 15 full batches + a partial one each epoch
    Trainer trainer(*model, optim::OptimizerConfig{}, *backend, config);
    EpochRecorder recorder;
    trainer.fit(data, &recorder);
    ASSERT_EQ(recorder.peak.size(), 20u);
    for (std::size_t epoch = 2; epoch < 20; ++epoch) {
        EXPECT_EQ(recorder.peak[epoch], recorder.peak[1]) << "epoch " << epoch + 1;
        EXPECT_EQ(recorder.inUse[epoch], recorder.inUse[1]) << "epoch " << epoch + 1;
    }
    memory::WorkspaceManager::forCurrentThread().destroyAllWorkspacesForCurrentThread();
}

TEST(Trainer, LearnsTheSyntheticProblemAndFloatMatchesDouble) {
    const auto data = smallData();
    auto model = smallModel();
    auto wide = model->replicate(MemoryLocation::host(), DType::Float64);
    auto backend = kernels::makeCpuBackend(1);
    TrainerConfig config;
    config.epochs = 5;
    config.batchSize = 50;
    optim::OptimizerConfig adam;
    adam.learningRate = 5e-3;
    Trainer trainer(*model, adam, *backend, config);
    const auto summary = trainer.fit(data);
    EXPECT_GT(summary.testAccuracy, 0.9);
    Trainer wideTrainer(*wide, adam, *backend, config);
    const auto wideSummary = wideTrainer.fit(data);
    EXPECT_NEAR(summary.testLoss, wideSummary.testLoss, 1e-3 * std::max(1.0, wideSummary.testLoss));
    const auto a = model->parametersToHost(), b = wide->parametersToHost();
    double worst = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
    EXPECT_LT(worst, 1e-3);
    memory::WorkspaceManager::forCurrentThread().destroyAllWorkspacesForCurrentThread();
}

}  // namespace
}  // namespace cohort::train
