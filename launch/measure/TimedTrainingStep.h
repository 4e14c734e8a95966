#pragma once
// TimedTrainingStep: one worker's training step (forward, loss, backward, optimizer update) of the
// model the flags describe, on random data already in the memory it trains in, so a timing is the
// step alone. `cohort bench` times one; `cohort plan` times W of them at once, one per thread, as
// training runs them. Construct, use and destroy it on one thread (its workspaces are that
// thread's).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "kernels/Backend.h"
#include "launch/options/Options.h"
#include "src/nn/Architectures.h"
#include "src/nn/Loss.h"
#include "src/nn/Model.h"
#include "src/nn/ModelDescription.h"
#include "src/optim/Optimizer.h"
#include "src/tensor/Tensor.h"
#include "src/train/TrainingStep.h"

namespace cohort::launch {

// What the flags say about the step, validated once and shared by every worker's step.
struct StepRecipe {
    nn::ArchitectureConfig architecture;
    std::optional<nn::ModelDescription> description;  // --model-file
    optim::OptimizerConfig optimizer;
    train::WorkspaceMode workspaceMode = train::WorkspaceMode::Enabled;
    std::int64_t batchSize = 1;
    std::uint64_t seed = 1;
    bool cudaGraphs = true;
    bool tf32 = false;
    // The samples: a Fashion-MNIST image and 10 classes, or (--model gpt) --context token ids of
    // --vocabulary, labelled per token.
    Shape sample{1, 28, 28};
    int classes = 10;
    bool tokens = false;
};
// Throws InputError for bad flags (batch size, model, optimizer, workspace mode).
StepRecipe stepRecipeFrom(const RunOptions& options);

class TimedTrainingStep {
public:
    // `threads`: CPU BLAS/OpenMP threads (ignored on a GPU).
    TimedTrainingStep(const StepRecipe& recipe, MemoryLocation location, int threads);
    ~TimedTrainingStep();
    TimedTrainingStep(const TimedTrainingStep&) = delete;
    TimedTrainingStep& operator=(const TimedTrainingStep&) = delete;

    // `steps` steps, then waits for the device: the seconds they took.
    double run(int steps);
    // Checks the loss stayed finite (throws otherwise).
    void checkFinite();

    nn::Model& model() { return *model_; }
    optim::Optimizer& optimizer() { return *optimizer_; }
    kernels::Backend& backend() { return *backend_; }
    const train::TrainingStep& step() const { return *step_; }
    std::int64_t batchSize() const { return batch_; }

private:
    double learningRate_;
    std::int64_t batch_;
    std::unique_ptr<kernels::Backend> backend_;
    std::unique_ptr<nn::Model> model_;
    std::unique_ptr<optim::Optimizer> optimizer_;
    nn::SoftmaxCrossEntropy loss_;
    std::unique_ptr<train::TrainingStep> step_;
    Tensor input_;
    Tensor labels_;
};

}  // namespace cohort::launch
