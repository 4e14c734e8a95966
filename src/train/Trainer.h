#pragma once
// Trainer: the single-worker training loop. Each epoch walks the training set in the seed's
// shuffled order, runs a TrainingStep per batch with the learning-rate schedule, then closes
// the epoch (src/train/EpochReport: evaluation rule, metrics) and reports to the listener.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "kernels/Backend.h"
#include "src/data/Dataset.h"
#include "src/nn/Loss.h"
#include "src/nn/Model.h"
#include "src/optim/LearningRateSchedule.h"
#include "src/optim/Optimizer.h"
#include "src/train/EpochReport.h"
#include "src/train/Evaluation.h"
#include "src/train/TrainingStep.h"

namespace cohort::train {

struct TrainerConfig {
    int epochs = 5;
    std::int64_t batchSize = 128;
    std::uint64_t seed = 1;
    WorkspaceMode workspaceMode = WorkspaceMode::Enabled;
    optim::ScheduleKind schedule = optim::ScheduleKind::Cosine;
    std::int64_t warmupSteps = 0;
    std::int64_t evaluationBatchSize = 1000;
    bool evaluateEachEpoch = true;
    bool captureSteps = true;  // CUDA graphs where the backend can capture (TrainingStep)
    double gradientClip = 0.0;      // > 0: clip the global gradient norm to this (TrainingStep)
    double finalLearningRateFraction = 0.0;  // the cosine schedule ends at this fraction of the rate (--min-lr)

    void validate() const;  // throws SettingError naming the field
};

class Trainer {
public:
    Trainer(nn::Model& model, const optim::OptimizerConfig& optimizer, kernels::Backend& backend,
            const TrainerConfig& config);
    RunSummary fit(const data::DatasetSplits& data, TrainingListener* listener = nullptr);
    optim::Optimizer& optimizer() { return *optimizer_; }
    TrainingStep& step() { return *step_; }

private:
    nn::Model& model_;
    kernels::Backend& backend_;
    TrainerConfig config_;
    nn::SoftmaxCrossEntropy loss_;
    std::unique_ptr<optim::Optimizer> optimizer_;
    std::unique_ptr<TrainingStep> step_;
};

}  // namespace cohort::train
