// The resolved training settings as text (see launch/run/RunSettings.h).
#include "launch/run/RunSettings.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <sstream>
#include <vector>

#include "launch/options/Flags.h"

namespace cohort::launch {
namespace {

// The shortest text that reads back as the same double (0.05, not 0.050000000000000003).
std::string number(double value) {
    char text[40];
    const auto result = std::to_chars(text, text + sizeof text, value);
    return std::string(text, result.ptr);
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> result;
    std::istringstream stream(text);
    for (std::string line; std::getline(stream, line);) result.push_back(line);
    return result;
}

// Keys that are not flags of their own.
const std::set<std::string> kDerivedKeys = {"model-file-layers", "model-description", "parameters",
                                            "train-samples", "test-samples", "features", "vocabulary"};

// Settings the language models brought, each absent at its default, so the settings of every
// run before them (and their checkpoints) are unchanged.
void languageModelSettings(const RunOptions& options, const RunSetup& setup, std::ostringstream& text) {
    auto line = [&](const std::string& key, const std::string& value) { text << key << '=' << value << '\n'; };
    if (options.model == "gpt" && !setup.modelDescription) {
        line("layers", std::to_string(options.layers));
        line("heads", std::to_string(options.heads));
        line("embed", std::to_string(options.embed));
        if (options.tieEmbeddings) line("tie-embeddings", "true");
    }
    if (options.data == "text") {
        line("context", std::to_string(options.context));
        line("data-file", options.dataFile);
        line("tokenizer", options.tokenizer);
        line("val-fraction", number(options.valFraction));
        line("eval-iters", std::to_string(options.evalIters));
        // (the length of a text "epoch": what a resume's position is counted in)
        line("eval-interval", std::to_string(evaluationInterval(options)));
        line("vocabulary", setup.data.train.vocabulary);
    }
    if (setup.optimizer.decayMatricesOnly) line("decay", "matrices");
    if (setup.optimizer.beta2 != optim::OptimizerConfig{}.beta2) line("beta2", number(setup.optimizer.beta2));
    if (options.gradientClip > 0.0) line("grad-clip", number(options.gradientClip));
    if (options.minLearningRate > 0.0) line("min-lr", number(options.minLearningRate));
}

}  // namespace

std::string trainingSettings(const RunOptions& options, const RunSetup& setup) {
    std::ostringstream text;
    auto line = [&](const std::string& key, const std::string& value) { text << key << '=' << value << '\n'; };
    // With --model-file the four architecture flags are unused; the file's layers (canonical
    // text, so the same model written differently agrees) take their place.
    const bool fromFile = setup.modelDescription.has_value();
    line("model", fromFile ? "(--model-file)" : options.model);
    line("hidden", fromFile ? "" : flagValue(options.hidden));
    line("dropout", fromFile ? "" : number(options.dropout));
    line("activation", fromFile ? "" : options.activation);
    line("model-file-layers", fromFile ? setup.modelDescription->text() : "");
    line("model-description", setup.model ? setup.model->describe() : "");
    line("parameters", std::to_string(setup.model ? setup.model->parameterCount() : 0));
    line("data", options.data);
    // Windowed text: the training split's tokens (its "samples" are an evaluation interval of
    // every replica's windows, which the replica count changes).
    line("train-samples", std::to_string(setup.data.train.windowed() ? setup.data.train.tokens.size() : setup.data.train.count));
    line("test-samples", std::to_string(setup.data.test.count));
    line("features", std::to_string(setup.data.train.featureSize));
    line("device", setup.location.isDevice() ? "cuda" : "cpu");
    line("workers", std::to_string(setup.parallel.workers));
    line("averaging-frequency", std::to_string(setup.parallel.averagingFrequency));
    line("average-updaters", setup.parallel.averageUpdaters ? "true" : "false");
    line("training-mode", flagValue(options.trainingMode));
    // Each gradient bucket is one allreduce across processes: ranks must cut the same buckets
    // (and with 3 or more, MPI's summation order may depend on the sizes). Overlapping or not
    // changes nothing and may differ. Absent at the default size, so checkpoints written before
    // buckets existed still resume (one process or two sum in the same order either way).
    if (setup.parallel.trainingMode == parallel::TrainingMode::SharedGradients &&
        setup.parallel.gradientBucketBytes != parallel::ParallelConfig{}.gradientBucketBytes) {
        line("bucket-size", std::to_string(setup.parallel.gradientBucketBytes));
    }
    if (setup.parallel.outer.enabled()) {  // (absent for plain averaging, as before the outer optimizer)
        line("outer-optimizer", flagValue(options.outerOptimizer));
        line("outer-lr", number(setup.parallel.outer.learningRate));
        line("outer-momentum", number(setup.parallel.outer.momentum));
    }
    line("epochs", std::to_string(setup.trainer.epochs));
    line("batch-size", std::to_string(setup.trainer.batchSize));
    line("optimizer", flagValue(options.optimizer));
    line("lr", number(setup.baseLearningRate));
    if (setup.lrScaling != optim::LearningRateScaling::None) {  // (absent without scaling, as before --lr-scaling)
        line("lr-scaling", std::string(optim::toString(setup.lrScaling)) + " x" + number(setup.lrScale));
    }
    line("momentum", number(setup.optimizer.momentum));
    line("weight-decay", number(setup.optimizer.weightDecay));
    line("lr-schedule", flagValue(options.lrSchedule));
    line("warmup-steps", std::to_string(setup.trainer.warmupSteps));
    // (absent without it, as before resuming on another replica count, which changes the steps)
    if (options.warmupEpochs > 0.0) line("warmup-epochs", number(options.warmupEpochs));
    line("seed", std::to_string(setup.trainer.seed));
    languageModelSettings(options, setup, text);
    return text.str();
}

std::map<std::string, std::string> settingsByKey(const std::string& settings) {
    std::map<std::string, std::string> byKey;
    for (const std::string& line : lines(settings)) {
        const auto equals = line.find('=');
        if (equals != std::string::npos) byKey[line.substr(0, equals)] = line.substr(equals + 1);
    }
    return byKey;
}

std::uint64_t settingsHash(const std::string& settings) {
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (unsigned char c : settings) {
        hash ^= c;
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

std::string describeFirstDifference(const std::string& rootSettings, const std::string& settings, int rank) {
    const std::vector<std::string> root = lines(rootSettings), mine = lines(settings);
    for (std::size_t i = 0; i < std::max(root.size(), mine.size()); ++i) {
        const std::string a = i < root.size() ? root[i] : "", b = i < mine.size() ? mine[i] : "";
        if (a == b) continue;
        const std::string line = !b.empty() ? b : a;
        const std::string key = line.substr(0, line.find('='));
        auto value = [](const std::string& text) {
            const auto equals = text.find('=');
            if (equals == std::string::npos) return std::string("(absent)");
            std::string quoted(1, '\'');
            quoted.append(text, equals + 1, std::string::npos);
            quoted.push_back('\'');
            return quoted;
        };
        const std::string name = kDerivedKeys.count(key) ? key : "--" + key;
        return name + ": rank " + std::to_string(rank) + " has " + value(b) + ", rank 0 has " + value(a);
    }
    return "";
}

}  // namespace cohort::launch
