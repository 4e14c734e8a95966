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

// Each choice flag's values, in the order its help and its errors list them.
template <typename Enum>
struct Choices {
    const char* flag;
    std::initializer_list<std::pair<const char*, Enum>> names;
};

const Choices<train::WorkspaceMode> kWorkspaceModes{
    "--workspace-mode", {{"enabled", train::WorkspaceMode::Enabled}, {"none", train::WorkspaceMode::None}}};
const Choices<parallel::TrainingMode> kTrainingModes{
    "--training-mode",
    {{"averaging", parallel::TrainingMode::Averaging}, {"shared-gradients", parallel::TrainingMode::SharedGradients}}};
const Choices<parallel::OuterOptimizerKind> kOuterOptimizers{
    "--outer-optimizer",
    {{"none", parallel::OuterOptimizerKind::None}, {"sgd", parallel::OuterOptimizerKind::Sgd},
     {"nesterov", parallel::OuterOptimizerKind::Nesterov}}};
const Choices<optim::OptimizerKind> kOptimizers{
    "--optimizer",
    {{"sgd", optim::OptimizerKind::Sgd}, {"nesterov", optim::OptimizerKind::Nesterov}, {"adam", optim::OptimizerKind::Adam}}};
const Choices<optim::ScheduleKind> kSchedules{
    "--lr-schedule", {{"constant", optim::ScheduleKind::Constant}, {"cosine", optim::ScheduleKind::Cosine}}};
const Choices<optim::LearningRateScaling> kScalings{
    "--lr-scaling",
    {{"none", optim::LearningRateScaling::None}, {"linear", optim::LearningRateScaling::Linear},
     {"sqrt", optim::LearningRateScaling::SquareRoot}, {"auto", optim::LearningRateScaling::Auto}}};

template <typename Enum>
Enum parseChoice(const std::string& text, const Choices<Enum>& choices) {
    std::string names;
    for (const auto& [name, value] : choices.names) {
        if (text == name) return value;
        names += names.empty() ? name : std::string(", ") + name;
    }
    const auto last = names.rfind(", ");
    if (last != std::string::npos) names.replace(last, 2, " or ");
    throw InputError(std::string("unknown ") + choices.flag + " '" + text + "'; choose " + names);
}

template <typename Enum>
const char* nameOf(Enum value, const Choices<Enum>& choices) {
    for (const auto& [name, each] : choices.names) {
        if (each == value) return name;
    }
    return "unknown";
}

}  // namespace

train::WorkspaceMode parseWorkspaceMode(const std::string& text) { return parseChoice(text, kWorkspaceModes); }
parallel::TrainingMode parseTrainingMode(const std::string& text) { return parseChoice(text, kTrainingModes); }
parallel::OuterOptimizerKind parseOuterOptimizerKind(const std::string& text) { return parseChoice(text, kOuterOptimizers); }
optim::OptimizerKind parseOptimizerKind(const std::string& text) { return parseChoice(text, kOptimizers); }
optim::ScheduleKind parseScheduleKind(const std::string& text) { return parseChoice(text, kSchedules); }
optim::LearningRateScaling parseLearningRateScaling(const std::string& text) { return parseChoice(text, kScalings); }

const char* flagValue(train::WorkspaceMode value) { return nameOf(value, kWorkspaceModes); }
const char* flagValue(parallel::TrainingMode value) { return nameOf(value, kTrainingModes); }
const char* flagValue(parallel::OuterOptimizerKind value) { return nameOf(value, kOuterOptimizers); }
const char* flagValue(optim::OptimizerKind value) { return nameOf(value, kOptimizers); }
const char* flagValue(optim::ScheduleKind value) { return nameOf(value, kSchedules); }
const char* flagValue(optim::LearningRateScaling value) { return nameOf(value, kScalings); }

std::string flagValue(const std::vector<std::int64_t>& sizes) {
    std::string text;
    for (const std::int64_t size : sizes) text += (text.empty() ? "" : ",") + std::to_string(size);
    return text;
}

std::vector<std::int64_t> parseHiddenSizes(const std::string& text) {
    constexpr std::int64_t kLargestLayer = std::int64_t(1) << 24;
    const auto sizes = parseIntegerList(text);
    if (!sizes || std::any_of(sizes->begin(), sizes->end(), [](std::int64_t size) { return size <= 0; })) {
        throw InputError("bad --hidden '" + text + "': expected positive layer sizes like 1024,1024");
    }
    for (const std::int64_t size : *sizes) {
        if (size > kLargestLayer) {
            throw InputError("bad --hidden '" + text + "': a layer of " + std::to_string(size) + " units is over the " +
                             std::to_string(kLargestLayer) + " a layer may have");
        }
    }
    return *sizes;
}

std::int64_t byteSizeFlag(const std::string& text, const char* flag, const char* examples) {
    try {
        const std::int64_t bytes = memory::parseByteSize(text);
        if (bytes <= 0) throw std::invalid_argument("zero");
        return bytes;
    } catch (const std::exception&) {
        throw InputError(std::string("bad ") + flag + " '" + text + "': expected a size like " + examples);
    }
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
