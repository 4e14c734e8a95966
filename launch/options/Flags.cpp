#include "launch/options/Flags.h"

#include <algorithm>
#include <utility>

#include "memory/Memory.h"
#include "parallel/ParallelWrapper.h"
#include "src/core/Errors.h"
#include "src/core/IntegerList.h"

namespace cohort::launch {
namespace {

// Settings named by the layers below (field names) and the flags that set them.
constexpr std::pair<std::string_view, std::string_view> kFlags[] = {
    // train::TrainerConfig
    {"epochs", "--epochs"},
    {"batchSize", "--batch-size"},
    {"warmupSteps", "--warmup-steps"},
    {"workspaceMode", "--workspace-mode"},
    {"schedule", "--lr-schedule"},
    {"seed", "--seed"},
    // optim::OptimizerConfig
    {"optimizer", "--optimizer"},
    {"learningRate", "--lr"},
    {"momentum", "--momentum"},
    {"weightDecay", "--weight-decay"},
    // parallel::ParallelConfig
    {"workers", "--workers"},
    {"averagingFrequency", "--averaging-frequency"},
    {"averageUpdaters", "--average-updaters"},
    {"prefetchBuffer", "--prefetch-buffer"},
    {"threadsPerWorker", "--threads-per-worker"},
    {"trainingMode", "--training-mode"},
    {"gradientBucketBytes", "--bucket-size"},
    {"overlapGradientAveraging", "--overlap-gradients"},
    {"outerOptimizer", "--outer-optimizer"},
    {"outerLearningRate", "--outer-lr"},
    {"outerMomentum", "--outer-momentum"},
    {"devices", "--devices"},
    // data loaders
    {"dataDirectory", "--data-dir"},
    // nn::ArchitectureConfig (the architecture's name is the model)
    {"model", "--model"},
    {"hidden", "--hidden"},
    {"dropout", "--dropout"},
    {"activation", "--activation"},
    // memory::MemoryBudget
    {"maxBytes", "--maxbytes"},
    {"maxPhysicalBytes", "--maxphysicalbytes"},
    // parallel::ScalingInputs (cohort plan)
    {"processes", "--hosts"},
    {"stepSeconds", "--step-ms"},
    {"localAveragingSeconds", "--local-averaging-ms"},
    {"latencySeconds", "--latency"},
    {"bytesPerSecond", "--bandwidth"},
    {"targetFraction", "--target-fraction"},
    // parallel::MpiProcessGroup
    {"timeoutSeconds", "--mpi-timeout"},
};

template <typename Enum>
Enum parseChoice(const std::string& text, const char* flag, std::initializer_list<std::pair<const char*, Enum>> choices) {
    std::string names;
    for (const auto& [name, value] : choices) {
        if (text == name) return value;
        names += names.empty() ? name : std::string(", ") + name;
    }
    const auto last = names.rfind(", ");
    if (last != std::string::npos) names.replace(last, 2, " or ");
    throw InputError(std::string("unknown ") + flag + " '" + text + "'; choose " + names);
}

}  // namespace

train::WorkspaceMode parseWorkspaceMode(const std::string& text) {
    return parseChoice<train::WorkspaceMode>(text, "--workspace-mode", {{"enabled", train::WorkspaceMode::Enabled}, {"none", train::WorkspaceMode::None}});
}

parallel::TrainingMode parseTrainingMode(const std::string& text) {
    return parseChoice<parallel::TrainingMode>(text, "--training-mode", {{"averaging", parallel::TrainingMode::Averaging},
                                                 {"shared-gradients", parallel::TrainingMode::SharedGradients}});
}

parallel::OuterOptimizerKind parseOuterOptimizerKind(const std::string& text) {
    return parseChoice<parallel::OuterOptimizerKind>(text, "--outer-optimizer", {{"none", parallel::OuterOptimizerKind::None},
                                                     {"sgd", parallel::OuterOptimizerKind::Sgd},
                                                     {"nesterov", parallel::OuterOptimizerKind::Nesterov}});
}

optim::OptimizerKind parseOptimizerKind(const std::string& text) {
    return parseChoice<optim::OptimizerKind>(text, "--optimizer", {{"sgd", optim::OptimizerKind::Sgd},
                                             {"nesterov", optim::OptimizerKind::Nesterov},
                                             {"adam", optim::OptimizerKind::Adam}});
}

optim::ScheduleKind parseScheduleKind(const std::string& text) {
    return parseChoice<optim::ScheduleKind>(text, "--lr-schedule", {{"constant", optim::ScheduleKind::Constant}, {"cosine", optim::ScheduleKind::Cosine}});
}

optim::LearningRateScaling parseLearningRateScaling(const std::string& text) {
    return parseChoice<optim::LearningRateScaling>(text, "--lr-scaling", {{"none", optim::LearningRateScaling::None},
                                                   {"linear", optim::LearningRateScaling::Linear},
                                                   {"sqrt", optim::LearningRateScaling::SquareRoot},
                                                   {"auto", optim::LearningRateScaling::Auto}});
}

std::vector<std::int64_t> parseHiddenSizes(const std::string& text) {
    const auto sizes = parseIntegerList(text);
    const bool valid = sizes && std::all_of(sizes->begin(), sizes->end(),
                                            [](std::int64_t size) { return size > 0 && size <= (1 << 24); });
    if (!valid) throw InputError("bad --hidden '" + text + "': expected positive layer sizes like 1024,1024");
    return *sizes;
}

std::string flagFor(std::string_view setting) {
    for (const auto& [name, flag] : kFlags) {
        if (name == setting) return std::string(flag);
    }
    return std::string(setting);
}

std::string messageInFlags(const std::exception& error) {
    if (const auto* worker = dynamic_cast<const parallel::WorkerError*>(&error); worker && worker->cause()) {
        try {
            std::rethrow_exception(worker->cause());
        } catch (const std::exception& cause) {
            return worker->describe(messageInFlags(cause));
        } catch (...) {
        }
    }
    if (const auto* budget = dynamic_cast<const memory::BudgetExceededError*>(&error)) {
        const std::string flag = flagFor(budget->limit());
        return flag + " " + budget->detail() + "; raise " + flag + " or reduce --batch-size/--hidden";
    }
    if (const auto* message = dynamic_cast<const SettingsMessage*>(&error)) {
        return message->spelled([](std::string_view setting) { return flagFor(setting); });
    }
    return error.what();
}

}  // namespace cohort::launch
