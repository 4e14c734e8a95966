#include "launch/run/Checkpoints.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>

#include "launch/run/RunSettings.h"
#include "parallel/EpochSchedule.h"
#include "launch/options/Flags.h"
#include "src/core/JsonLimits.h"
#include "src/nn/Architectures.h"
#include "src/nn/ModelDescription.h"

namespace cohort::launch {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

const char* toString(parallel::SnapshotReason reason) {
    switch (reason) {
        case parallel::SnapshotReason::Periodic: return "periodic";
        case parallel::SnapshotReason::EpochEnd: return "epoch-end";
        case parallel::SnapshotReason::RunEnd: return "run-end";
        case parallel::SnapshotReason::Stop: return "stop";
    }
    return "unknown";
}

// Settings that may differ between a run and its resumption: how many of the job's replicas
// each process runs (the snapshot's replica count is checked instead), and the per-host ones
// trainingSettings() leaves out (data directory, devices, threads, prefetch, output files).
bool mayDiffer(const std::string& key) { return key == "workers"; }

// --lr-scaling is written as its kind and the factor the job's replicas gave it ("sqrt x2"): a job
// resumed on another number of replicas scales by its own count, so only the kind must agree.
// --warmup-epochs (written as its own line beside the steps it gave) likewise: the epochs must agree.
bool sameSetting(const std::string& key, const std::string& checkpoint, const std::string& run,
                 const std::map<std::string, std::string>& theirs, const std::map<std::string, std::string>& mine) {
    if (key == "lr-scaling") return checkpoint.substr(0, checkpoint.find(" x")) == run.substr(0, run.find(" x"));
    if (key == "warmup-steps" && theirs.count("warmup-epochs") && mine.count("warmup-epochs")) return true;
    return checkpoint == run;
}

std::string describeSetting(const std::string& key) {
    if (key == "model-description" || key == "parameters" || key == "model-file-layers") return "the model";
    if (key == "train-samples" || key == "test-samples" || key == "features") return "the data set (" + key + ")";
    return "--" + key;  // the other keys are flag names
}

// The order a refused resume is explained in: the root causes first (the model, the optimizer, the
// data), so that a setting that differs only because of one of them (LeNet's default batch size,
// SGD's default rate, the parameter count) is never named instead of it; then every other key in
// the settings text's own order; the model's derived description last.
std::vector<std::string> comparisonOrder(const std::map<std::string, std::string>& theirs, const std::string& mineText) {
    std::vector<std::string> order = {"model", "model-file-layers", "hidden", "dropout", "activation", "optimizer",
                                      "outer-optimizer", "data", "features", "train-samples", "test-samples",
                                      "eval-interval"};  // (a text run's epochs follow from it)
    const auto add = [&order](const std::string& key) {
        if (key != "model-description" && key != "parameters" &&
            std::find(order.begin(), order.end(), key) == order.end()) {
            order.push_back(key);
        }
    };
    std::istringstream lines(mineText);
    for (std::string line; std::getline(lines, line);) add(line.substr(0, line.find('=')));
    for (const auto& [key, value] : theirs) add(key);  // a setting this run does not write
    order.insert(order.end(), {"model-description", "parameters"});
    return order;
}

int epochsOf(const std::string& text) {
    int epochs = 0;
    const auto result = std::from_chars(text.data(), text.data() + text.size(), epochs);
    return result.ec == std::errc() && result.ptr == text.data() + text.size() ? epochs : 0;
}

// Throws InputError naming the first setting (in comparisonOrder) whose value differs between the
// checkpoint's settings and this run's (`mineText`). A run with more --epochs than the checkpoint's
// continues it (the learning-rate schedule then ends at the new last epoch): returns the
// checkpoint's --epochs in that case, else 0.
int compareSettings(const std::map<std::string, std::string>& theirs, const std::string& mineText, const std::string& path) {
    const std::map<std::string, std::string> mine = settingsByKey(mineText);
    int epochsBefore = 0;
    for (const std::string& key : comparisonOrder(theirs, mineText)) {
        if (mayDiffer(key)) continue;
        const auto checkpoint = theirs.find(key), run = mine.find(key);
        if (checkpoint == theirs.end() && run == mine.end()) continue;  // written by neither (a setting not in use)
        if (checkpoint != theirs.end() && run != mine.end() && sameSetting(key, checkpoint->second, run->second, theirs, mine)) continue;
        if (key == "epochs" && checkpoint != theirs.end() && run != mine.end()) {
            const int before = epochsOf(checkpoint->second);
            if (before > 0 && epochsOf(run->second) > before) {
                epochsBefore = before;  // training longer is a resume, not a refusal
                continue;
            }
        }
        const std::string checkpointValue = checkpoint == theirs.end() ? "(absent)" : "'" + checkpoint->second + "'";
        const std::string runValue = run == mine.end() ? "this run does not set it" : "this run '" + run->second + "'";
        const std::string advice = key == "epochs" ? "; resume with at least the checkpoint's --epochs (more trains longer)"
                                                   : "; resume with the settings it was written with";
        throw InputError("cannot resume from " + path + ": " + describeSetting(key) + " differs (the checkpoint has " +
                         checkpointValue + ", " + runValue + ")" + advice);
    }
    return epochsBefore;
}

std::string modelRecipe(const RunOptions& options, const RunSetup& setup) {
    Json recipe;
    if (setup.data.train.windowed()) {  // a language model: what using it needs without its text
        recipe["context"] = options.context;
        recipe["vocabulary"] = setup.data.train.vocabulary;
        recipe["tokenizer"] = options.tokenizer;
        recipe["val_fraction"] = options.valFraction;
        recipe["validation_windows"] = setup.data.test.count;
    }
    if (!options.modelFile.empty()) {
        std::ifstream in(options.modelFile);
        std::ostringstream text;
        text << in.rdbuf();
        recipe["model_file"] = text.str();
    } else {
        recipe["model"] = options.model;
        recipe["hidden"] = flagValue(options.hidden);
        recipe["dropout"] = options.dropout;
        recipe["activation"] = options.activation;
        if (options.model == "gpt") {
            recipe["layers"] = options.layers;
            recipe["heads"] = options.heads;
            recipe["embed"] = options.embed;
            if (options.tieEmbeddings) recipe["tie_embeddings"] = true;
        }
    }
    return recipe.dump();
}

// A checkpoint of another number of replicas continues on this job's (parallel::changeReplicas);
// `source` records the count it was written with and the iteration it was at.
parallel::TrainingSnapshot onThisJobsReplicas(parallel::TrainingSnapshot snapshot, const RunSetup& setup,
                                              ResumeSource& source) {
    const int before = int(snapshot.replicas.size()), after = setup.parallel.totalReplicas;
    if (before == after || before < 1) return snapshot;
    source.replicasBefore = before;
    source.iterationBefore = snapshot.iteration;
    const auto batch = std::size_t(setup.trainer.batchSize);
    const bool text = setup.data.train.windowed();
    // Windowed text's samples are sized by this job's replicas; its rounds are the same for any count.
    const std::size_t samplesBefore = text ? setup.data.train.count / std::size_t(after) * std::size_t(before)
                                           : setup.data.train.count;
    parallel::ReplicaChange change;
    change.replicas = after;
    change.roundsBefore = std::int64_t(parallel::EpochSchedule(samplesBefore, batch, before).rounds);
    change.roundsAfter = std::int64_t(parallel::EpochSchedule(setup.data.train.count, batch, after).rounds);
    change.byIteration = text;
    change.dtype = setup.model->dtype();
    return parallel::changeReplicas(std::move(snapshot), change);
}

}  // namespace

train::CheckpointFile runCheckpoint(const parallel::TrainingSnapshot& snapshot, const RunOptions& options,
                                    const RunSetup& setup, parallel::SnapshotReason reason) {
    train::CheckpointFile file =
        snapshot.toCheckpoint(*setup.model, parallel::optimizerSegmentNames(setup.optimizer.kind));
    file.metadata["settings"] = trainingSettings(options, setup);
    file.metadata["model"] = modelRecipe(options, setup);
    file.metadata["evaluation_batch"] = std::to_string(setup.trainer.evaluationBatchSize);
    file.metadata["reason"] = toString(reason);
    file.metadata["cohort_version"] = COHORT_VERSION;
    return file;
}

CheckpointDirectory::CheckpointDirectory(std::string directory, int keep) : directory_(std::move(directory)), keep_(keep) {
    if (keep_ < 1) throw InputError("--keep-checkpoints must be at least 1, got " + std::to_string(keep_));
    std::error_code error;
    fs::create_directories(directory_, error);
    if (error || !fs::is_directory(directory_)) {
        throw InputError("cannot use --checkpoint-dir " + directory_ + ": " +
                         (error ? error.message() : std::string("not a directory")));
    }
    // Temporary files of writes a killed run never finished (its checkpoints are all intact).
    for (const auto& entry : fs::directory_iterator(directory_, error)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind(".checkpoint-i", 0) == 0 && name.find(".safetensors.tmp-") != std::string::npos) {
            std::error_code ignored;
            fs::remove(entry.path(), ignored);
        }
    }
}

std::string CheckpointDirectory::write(const train::CheckpointFile& file, std::int64_t iteration, int epoch) {
    char name[64];
    std::snprintf(name, sizeof name, "checkpoint-i%012lld-e%04d.safetensors", static_cast<long long>(iteration), epoch);
    const std::string path = (fs::path(directory_) / name).string();
    train::writeCheckpointFile(path, file);
    std::vector<fs::path> existing;
    for (const auto& entry : fs::directory_iterator(directory_)) {
        const std::string file = entry.path().filename().string();
        if (file.rfind("checkpoint-i", 0) == 0 && entry.path().extension() == ".safetensors") existing.push_back(entry.path());
    }
    std::sort(existing.begin(), existing.end());
    for (std::size_t i = 0; i + std::size_t(keep_) < existing.size(); ++i) {
        std::error_code ignored;
        fs::remove(existing[i], ignored);
    }
    return path;
}

CheckpointBytes newestValidCheckpoint(const std::string& directory) {
    std::vector<fs::path> candidates;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(directory, error)) {
        if (entry.path().extension() == ".safetensors") candidates.push_back(entry.path());
    }
    if (error) throw train::CheckpointError("cannot read checkpoint directory " + directory + ": " + error.message());
    std::sort(candidates.rbegin(), candidates.rend());
    for (const fs::path& candidate : candidates) {
        try {
            std::vector<unsigned char> bytes = train::readCheckpointBytes(candidate.string());
            train::decodeCheckpoint(bytes, candidate.string());  // intact?
            return {candidate.string(), std::move(bytes)};
        } catch (const train::CheckpointError& skipped) {
            std::fprintf(stderr, "cohort: warning: skipping %s\n", skipped.what());
        }
    }
    throw train::CheckpointError("no valid checkpoint in " + directory);
}

parallel::TrainingSnapshot snapshotToResume(const RunOptions& options, const RunSetup& setup,
                                            parallel::ProcessGroup* processes, ResumeSource& source) {
    std::string& resolvedPath = source.path;
    const bool several = processes && processes->size() > 1;
    const bool reads = !several || processes->rank() == 0;
    std::vector<unsigned char> bytes;
    std::string failure;
    if (reads) {
        try {
            if (fs::is_directory(options.resumePath)) {
                CheckpointBytes newest = newestValidCheckpoint(options.resumePath);
                resolvedPath = std::move(newest.path);
                bytes = std::move(newest.bytes);
            } else {
                resolvedPath = options.resumePath;
                bytes = train::readCheckpointBytes(resolvedPath);
            }
        } catch (const std::exception& error) {
            failure = error.what();
        }
    }
    if (several) {  // rank 0's outcome, then its bytes, reach every rank
        std::uint64_t sizes[2] = {failure.size(), bytes.size()};
        processes->broadcast(sizes, sizeof sizes, 0);
        failure.resize(std::size_t(sizes[0]));
        bytes.resize(std::size_t(sizes[1]));
        if (!failure.empty()) processes->broadcast(failure.data(), failure.size(), 0);
        if (!bytes.empty()) processes->broadcast(bytes.data(), bytes.size(), 0);
        std::uint64_t length = resolvedPath.size();
        processes->broadcast(&length, sizeof length, 0);
        resolvedPath.resize(std::size_t(length));
        if (length > 0) processes->broadcast(resolvedPath.data(), resolvedPath.size(), 0);
    }
    if (!failure.empty()) throw train::CheckpointError("cannot resume: " + failure);
    const train::CheckpointFile file = train::decodeCheckpoint(bytes, resolvedPath);
    source.epochsBefore =
        compareSettings(settingsByKey(file.value("settings", resolvedPath)), trainingSettings(options, setup), resolvedPath);
    try {
        parallel::TrainingSnapshot snapshot = parallel::TrainingSnapshot::fromCheckpoint(
            file, *setup.model, parallel::optimizerSegmentNames(setup.optimizer.kind), resolvedPath);
        return onThisJobsReplicas(std::move(snapshot), setup, source);
    } catch (const std::invalid_argument& error) {
        throw train::CheckpointError("checkpoint " + resolvedPath + ": " + error.what());
    }
}

std::unique_ptr<nn::Model> modelFromCheckpoint(const train::CheckpointFile& file, const std::string& source,
                                               const Shape& inputSample, int classes) {
    Json recipe;
    checkJsonNesting(file.value("model", source), "checkpoint " + source + " (its model recipe)");
    try {
        recipe = Json::parse(file.value("model", source));
    } catch (const Json::exception&) {
        throw train::CheckpointError("checkpoint " + source + ": its model recipe is not JSON");
    }
    std::unique_ptr<nn::Model> model;
    try {
        if (recipe.contains("model_file")) {
            const nn::ModelDescription description =
                nn::parseModelDescription(recipe.at("model_file").get<std::string>(), source + " (its model file)");
            model = description.buildModel(inputSample, classes);
        } else {
            nn::ArchitectureConfig architecture;
            architecture.name = recipe.at("model").get<std::string>();
            architecture.hidden = parseHiddenSizes(recipe.at("hidden").get<std::string>());
            architecture.dropout = recipe.at("dropout").get<double>();
            architecture.activation = recipe.at("activation").get<std::string>();
            if (architecture.name == "gpt") {
                architecture.layers = recipe.at("layers").get<std::int64_t>();
                architecture.heads = recipe.at("heads").get<std::int64_t>();
                architecture.embed = recipe.at("embed").get<std::int64_t>();
                architecture.tieEmbeddings = recipe.value("tie_embeddings", false);
            }
            model = nn::buildModel(architecture, inputSample, classes);
        }
    } catch (const Json::exception& error) {
        throw train::CheckpointError("checkpoint " + source + ": its model recipe is incomplete (" + error.what() + ")");
    }
    const auto settings = settingsByKey(file.value("settings", source));
    const auto optimizer = settings.find("optimizer");
    const parallel::TrainingSnapshot snapshot = parallel::TrainingSnapshot::fromCheckpoint(
        file, *model,
        parallel::optimizerSegmentNames(parseOptimizerKind(optimizer == settings.end() ? "adam" : optimizer->second)),
        source);
    model->parameters().copyFromHost(snapshot.parameters.data(), snapshot.parameters.size());
    std::vector<unsigned char> statistics = snapshot.statistics;
    if (statistics.empty() && !snapshot.replicas.empty()) statistics = snapshot.replicas[0].statistics;
    if (!statistics.empty()) model->statistics().copyFromHost(statistics.data(), statistics.size());
    return model;
}

std::optional<TextRecipe> textRecipeOf(const train::CheckpointFile& file, const std::string& source) {
    Json recipe;
    try {
        recipe = Json::parse(file.value("model", source));
        if (!recipe.contains("vocabulary")) return std::nullopt;
        TextRecipe text;
        text.context = recipe.at("context").get<std::int64_t>();
        text.vocabulary = data::Vocabulary::fromText(recipe.at("vocabulary").get<std::string>(), "checkpoint " + source);
        text.tokenizer = recipe.at("tokenizer").get<std::string>();
        text.valFraction = recipe.at("val_fraction").get<double>();
        text.validationWindows = recipe.at("validation_windows").get<std::int64_t>();
        if (text.validationWindows < 1) throw train::CheckpointError("checkpoint " + source + ": its validation windows are damaged");
        if (text.context < 1 || text.context > 65536) throw train::CheckpointError("checkpoint " + source + ": its context is damaged");
        return text;
    } catch (const Json::exception& error) {
        throw train::CheckpointError("checkpoint " + source + ": its model recipe is incomplete (" + error.what() + ")");
    }
}

std::unique_ptr<nn::Model> languageModelFromCheckpoint(const train::CheckpointFile& file, const std::string& source,
                                                       const TextRecipe& text) {
    return modelFromCheckpoint(file, source, Shape{text.context}, text.vocabulary.size());
}

std::int64_t evaluationBatchOf(const train::CheckpointFile& file) {
    const auto found = file.metadata.find("evaluation_batch");
    if (found == file.metadata.end()) return 0;
    try {
        return std::max<std::int64_t>(0, std::stoll(found->second));
    } catch (const std::exception&) {
        return 0;
    }
}

}  // namespace cohort::launch
