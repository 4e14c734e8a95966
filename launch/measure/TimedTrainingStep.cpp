#include "launch/measure/TimedTrainingStep.h"

#include <chrono>
#include <random>
#include <vector>

#include "launch/options/Flags.h"
#include "launch/run/RunSetup.h"
#include "memory/Memory.h"
#include "src/core/Errors.h"
#include "src/data/TextCorpus.h"

namespace cohort::launch {

StepRecipe stepRecipeFrom(const RunOptions& options) {
    if (options.batchSize < 1) throw InputError("--batch-size must be at least 1, got " + std::to_string(options.batchSize));
    StepRecipe recipe;
    recipe.description = modelDescriptionFrom(options);
    if (!recipe.description) recipe.architecture = architectureFrom(options);
    recipe.optimizer = optimizerFrom(options);
    recipe.workspaceMode = options.workspaceMode;
    recipe.batchSize = options.batchSize;
    recipe.seed = options.seed;
    recipe.cudaGraphs = options.cudaGraphs;
    recipe.tf32 = options.tf32;
    if (options.model == "gpt" && !recipe.description) {
        if (options.vocabulary < 2 || options.vocabulary > data::kMaxVocabulary) {
            throw InputError("--vocabulary must be between 2 and " + std::to_string(data::kMaxVocabulary) + ", got " +
                             std::to_string(options.vocabulary));
        }
        recipe.sample = Shape{options.context};
        recipe.classes = int(options.vocabulary);
        recipe.tokens = true;
    }
    return recipe;
}

TimedTrainingStep::TimedTrainingStep(const StepRecipe& recipe, MemoryLocation location, int threads)
    : learningRate_(recipe.optimizer.learningRate), batch_(recipe.batchSize) {
    backend_ = location.isDevice() ? kernels::makeCudaBackend(location.device, recipe.tf32) : kernels::makeCpuBackend(threads);
    model_ = buildModelFrom(recipe.architecture, recipe.description, recipe.sample, recipe.classes, location);
    model_->initialize(recipe.seed);
    optim::OptimizerConfig optimizer = recipe.optimizer;
    if (optimizer.decayMatricesOnly) optimizer.decayRanges = model_->weightMatrixRanges();
    optimizer_ = std::make_unique<optim::Optimizer>(optimizer, model_->parameterCount(), DType::Float32, location);
    step_ = std::make_unique<train::TrainingStep>(*model_, *optimizer_, loss_, *backend_, recipe.workspaceMode, recipe.seed);
    step_->setCapture(recipe.cudaGraphs);

    std::vector<float> hostInput(std::size_t(batch_ * recipe.sample.elementCount()));
    std::vector<std::int32_t> hostLabels(static_cast<std::size_t>(batch_ * model_->predictionsPerSample()));
    std::mt19937_64 generator(recipe.seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const auto classes = std::uint64_t(recipe.classes);
    for (float& value : hostInput) value = recipe.tokens ? float(generator() % classes) : normal(generator);
    for (std::size_t i = 0; i < hostLabels.size(); ++i) hostLabels[i] = std::int32_t(generator() % classes);
    input_ = Tensor::persistent(recipe.sample.withBatch(batch_), DType::Float32, location);
    labels_ = Tensor::persistent(Shape{std::int64_t(hostLabels.size())}, DType::Float32, location);  // int32 bytes
    backend_->copyFromHost(hostInput.size() * sizeof(float), hostInput.data(), input_.raw());
    backend_->copyFromHost(hostLabels.size() * sizeof(std::int32_t), hostLabels.data(), labels_.raw());
}

TimedTrainingStep::~TimedTrainingStep() {
    step_.reset();
    memory::WorkspaceManager::forCurrentThread().destroyAllWorkspacesForCurrentThread();
}

double TimedTrainingStep::run(int steps) {
    const auto* labels = reinterpret_cast<const std::int32_t*>(labels_.raw());
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < steps; ++i) step_->run(input_, labels, batch_, learningRate_);
    backend_->synchronize();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void TimedTrainingStep::checkFinite() { step_->takeStatistics(); }

}  // namespace cohort::launch
