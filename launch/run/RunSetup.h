#pragma once
// Turns validated flags into the objects a run needs: budgets, data, device backend, model,
// optimizer and trainer configuration. Every check that can fail before training happens here,
// so bad flags and impossible limits exit with code 2 before the first step.
#include <memory>
#include <optional>
#include <string>

#include "kernels/Backend.h"
#include "launch/options/Options.h"
#include "src/data/Dataset.h"
#include "src/nn/Architectures.h"
#include "src/nn/Model.h"
#include "src/nn/ModelDescription.h"
#include "src/optim/LearningRateScaling.h"
#include "src/optim/Optimizer.h"
#include "src/train/Trainer.h"
#include "parallel/ParallelWrapper.h"

namespace cohort::launch {

// Where this process sits on its host (under mpirun: the local rank among the job's processes on
// the host). Picks the default GPUs and BLAS threads so processes on one host do not collide.
struct ProcessPlacement {
    int localRank = 0;
    int localSize = 1;
    int processes = 1;  // of the whole job
};

struct RunSetup {
    data::DatasetSplits data;
    memory::MemoryLocation location;        // where the workers train (first device for CUDA)
    nn::ArchitectureConfig architecture;    // --model/--hidden/--dropout/--activation
    std::optional<nn::ModelDescription> modelDescription;  // --model-file, which replaces them
    std::unique_ptr<nn::Model> model;       // the root model, on the host
    parallel::ParallelConfig parallel;
    optim::OptimizerConfig optimizer;       // its learning rate is --lr times lrScale
    // --lr-scaling made concrete for the job's replica count (never Auto; under mpirun every
    // process's replicas count): the factor, and --lr (or the optimizer's default) before it.
    optim::LearningRateScaling lrScaling = optim::LearningRateScaling::None;
    double lrScale = 1.0;
    double baseLearningRate = 0.0;
    train::TrainerConfig trainer;
    std::string scheduleText;
    bool resuming = false;  // --resume: the run starts from a snapshot, held while it trains
};

// Validated optimizer and architecture settings from the flags (shared by train and bench).
optim::OptimizerConfig optimizerFrom(const RunOptions& options);
nn::ArchitectureConfig architectureFrom(const RunOptions& options);
// --model-file read and validated (its layers built for 10 classes) before any data is loaded;
// nullopt without the flag.
std::optional<nn::ModelDescription> modelDescriptionFrom(const RunOptions& options);
// The model of the description when there is one, else of the architecture (shared by train and bench).
std::unique_ptr<nn::Model> buildModelFrom(const nn::ArchitectureConfig& architecture,
                                          const std::optional<nn::ModelDescription>& description,
                                          const Shape& inputSample, int classes, MemoryLocation location);
// Applies --scope-checks, --maxbytes, --maxphysicalbytes and validates training flags.
void applyMemoryFlags(const RunOptions& options);
// --threads-per-worker, or (when 0) this machine's cores shared by `workers` workers in each of
// `processesOnMachine` processes, at least 1.
int threadsPerWorkerFor(int requested, int workers, int processesOnMachine);
data::DatasetSplits loadData(const RunOptions& options);
// --data text: the corpus of --data-file split and windowed for --context (checks the text flags),
// with `validationWindows` fixed validation windows (0: --eval-iters x --batch-size).
data::DatasetSplits loadTextData(const RunOptions& options, std::int64_t validationWindows = 0);
// --data text: iterations between validations, and the "epochs" (validations) of --max-iters.
std::int64_t evaluationInterval(const RunOptions& options);
std::int64_t textEpochs(const RunOptions& options);
// The trainer's settings from the flags (--min-lr relative to `learningRate`, --data text's
// --max-iters as epochs of one evaluation interval).
train::TrainerConfig trainerFrom(const RunOptions& options, double learningRate);
RunSetup prepareRun(const RunOptions& options, const ProcessPlacement& placement = {});
// The evaluation batch for a model: ~64 MiB of activations and working memory, between the
// training batch and 1,000 samples (the MLP gets 1,000; LeNet about 200).
std::int64_t evaluationBatchFor(const nn::Model& model, std::int64_t trainingBatch);
// Predicts what the run will hold (parallel::ParallelWrapper::memoryFor: every worker's replica,
// optimizer state, workspaces for training and evaluation, prefetch slots, staging buffers) and
// throws BudgetExceededError when --maxbytes cannot hold it on each kind of memory, or
// --maxphysicalbytes cannot hold the resident set now (the data set and the root model included)
// plus its host side plus an allowance for library buffers; without a budget, InputError when
// that is more than the machine's memory.
void checkMemoryFits(const RunSetup& setup);
// The device the flags ask for: auto falls back to the CPU (and says so unless quiet).
memory::MemoryLocation chooseLocation(const RunOptions& options);
// --devices when given (InputError for an ordinal that is not visible); empty -> every visible device.
std::vector<int> checkDevices(const std::vector<int>& requested, int visible);
// --devices when given; otherwise this process's share of the visible GPUs by its local rank
// (visible / localSize each, at least one, wrapping round when processes outnumber GPUs).
std::vector<int> chooseDevices(const std::vector<int>& requested, int visible, const ProcessPlacement& placement);

}  // namespace cohort::launch
