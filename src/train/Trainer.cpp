#include "src/train/Trainer.h"

#include <chrono>
#include <vector>

#include "src/core/Errors.h"
#include "src/data/BatchIterator.h"
#include "src/data/Shuffle.h"
#include "src/train/BatchStager.h"

namespace cohort::train {

void TrainerConfig::validate() const {
    if (epochs <= 0) throw SettingError("{epochs} must be at least 1, got " + std::to_string(epochs));
    if (batchSize <= 0) throw SettingError("{batchSize} must be at least 1, got " + std::to_string(batchSize));
    if (evaluationBatchSize <= 0) {
        throw SettingError("{evaluationBatchSize} must be at least 1, got " + std::to_string(evaluationBatchSize));
    }
    if (warmupSteps < 0) throw SettingError("{warmupSteps} must be >= 0, got " + std::to_string(warmupSteps));
}

Trainer::Trainer(nn::Model& model, const optim::OptimizerConfig& optimizer, kernels::Backend& backend,
                 const TrainerConfig& config)
    : model_(model), backend_(backend), config_(config) {
    config_.validate();
    optimizer_ = std::make_unique<optim::Optimizer>(optimizer, model.parameterCount(), model.dtype(), model.location());
    step_ = std::make_unique<TrainingStep>(model, *optimizer_, loss_, backend, config.workspaceMode, config.seed);
    step_->setCapture(config.captureSteps);
}

RunSummary Trainer::fit(const data::DatasetSplits& data, TrainingListener* listener) {
    using Clock = std::chrono::steady_clock;
    const auto runStart = Clock::now();
    const Shape batchShape = model_.inputSample().withBatch(config_.batchSize);
    if (data.train.featureSize != std::size_t(model_.inputSample().elementCount())) {
        throw InputError("data set '" + data.train.name + "' has " + std::to_string(data.train.featureSize) +
                         " features per sample but the model expects " +
                         std::to_string(model_.inputSample().elementCount()));
    }
    // Batch buffers, allocated once for the whole run.
    Tensor hostInput = Tensor::persistent(batchShape, DType::Float32, MemoryLocation::host());
    std::vector<std::int32_t> hostLabels(static_cast<std::size_t>(config_.batchSize));
    BatchStager stager(model_, config_.batchSize);
    Evaluator evaluator(model_, backend_, config_.evaluationBatchSize, config_.workspaceMode);

    const std::size_t batchesPerEpoch = (data.train.count + std::size_t(config_.batchSize) - 1) / std::size_t(config_.batchSize);
    optim::LearningRateSchedule schedule{config_.schedule, optimizer_->config().learningRate,
                                         std::int64_t(batchesPerEpoch) * config_.epochs, config_.warmupSteps, 0.0};
    RunSummary summary;
    for (int epoch = 0; epoch < config_.epochs; ++epoch) {
        const auto epochStart = Clock::now();
        const std::vector<std::uint32_t> order = data::shuffledOrder(data.train.count, config_.seed, std::uint64_t(epoch));
        data::BatchIterator iterator(data.train, order, std::size_t(config_.batchSize));
        data::Batch batch{0, hostInput.data<float>(), hostLabels.data()};
        double learningRate = 0.0;
        while (iterator.next(batch)) {
            const auto rows = std::int64_t(batch.size);
            const StagedBatch staged = stager.stage(backend_, batch.features, batch.labels, rows);
            learningRate = schedule.at(step_->iteration());
            step_->run(staged.input, staged.labels, rows, learningRate);
        }
        const StepStatistics statistics = step_->takeStatistics();
        EpochEnd end;
        end.epoch = epoch + 1;
        end.totals = {statistics.lossSum, double(statistics.correct), double(statistics.samples)};
        end.iterations = step_->iteration();
        end.learningRate = learningRate;
        end.trainSeconds = std::chrono::duration<double>(Clock::now() - epochStart).count();
        end.started = epochStart;
        const EpochMetrics metrics = closeEpoch(config_, end, evaluator, data.test);
        recordEpoch(summary, metrics);
        if (listener) listener->onEpoch(metrics);
    }
    summary.seconds = std::chrono::duration<double>(Clock::now() - runStart).count();
    if (listener) listener->onDone(summary);
    return summary;
}

}  // namespace cohort::train
