// cohort evaluate: a saved model (a checkpoint from --save or --checkpoint-dir) on a data set's
// test split: loss, accuracy, per-class accuracy and the confusion matrix, as a table or JSON on
// stdout and as an "evaluation" event in --metrics.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "kernels/Backend.h"
#include "launch/run/Checkpoints.h"
#include "launch/commands/Commands.h"
#include "launch/job/Signals.h"
#include "launch/outputs/MetricsWriter.h"
#include "launch/outputs/OutputFile.h"
#include "launch/run/RunSetup.h"
#include "src/core/Errors.h"
#include "src/train/CheckpointFile.h"
#include "src/train/Evaluation.h"

namespace cohort::launch {
namespace {

nlohmann::json resultJson(const std::string& checkpoint, const RunOptions& options, const train::EvaluationResult& result) {
    nlohmann::json json = {{"event", "evaluation"},
                           {"checkpoint", checkpoint},
                           {"data", options.data},
                           {"samples", result.samples},
                           {"loss", result.loss},
                           {"accuracy", result.accuracy},
                           {"classes", result.classes}};
    nlohmann::json perClass = nlohmann::json::array(), confusion = nlohmann::json::array();
    for (int r = 0; r < result.classes; ++r) {
        std::int64_t total = 0;
        nlohmann::json row = nlohmann::json::array();
        for (int c = 0; c < result.classes; ++c) {
            const std::int64_t count = result.confusion[std::size_t(r * result.classes + c)];
            total += count;
            row.push_back(count);
        }
        perClass.push_back(total > 0 ? double(result.confusion[std::size_t(r * result.classes + r)]) / double(total) : 0.0);
        confusion.push_back(row);
    }
    json["per_class_accuracy"] = perClass;
    json["confusion"] = confusion;
    return json;
}

// A language model's checkpoint on the validation windows of --data-file, split and windowed as its
// training run did (the checkpoint's context, tokenizer, --val-fraction and --eval-iters).
int evaluateLanguageModel(const RunOptions& options, const train::CheckpointFile& file, const TextRecipe& text) {
    if (options.dataFile.empty()) {
        throw InputError("checkpoint " + options.loadPath + " is a language model's: give --data-file PATH, the text to evaluate it on");
    }
    RunOptions textOptions = options;  // the split and windows of the training run
    textOptions.context = text.context;
    textOptions.tokenizer = text.tokenizer;
    textOptions.valFraction = text.valFraction;
    const data::DatasetSplits data = loadTextData(textOptions, text.validationWindows);
    if (data.test.vocabulary != text.vocabulary.text()) {
        throw InputError("the vocabulary of --data-file " + options.dataFile + " (" + std::to_string(data.test.numClasses) +
                         " tokens) is not the checkpoint's (" + std::to_string(text.vocabulary.size()) + "): its ids would mean other characters");
    }
    const std::unique_ptr<nn::Model> model = languageModelFromCheckpoint(file, options.loadPath, text);
    std::unique_ptr<kernels::Backend> backend = kernels::makeCpuBackend(options.threadsPerWorker);
    const std::int64_t batch = options.evaluationBatch > 0 ? options.evaluationBatch : evaluationBatchFor(*model, 12);
    train::Evaluator evaluator(*model, *backend, batch, train::WorkspaceMode::Enabled);
    const train::EvaluationResult result = evaluator.evaluate(data.test);
    const double bits = result.loss / std::log(2.0);
    const nlohmann::json json = {{"event", "evaluation"}, {"checkpoint", options.loadPath}, {"data", "text"},
                                 {"data_file", options.dataFile}, {"tokens", result.samples}, {"loss", result.loss},
                                 {"bits_per_token", bits}, {"accuracy", result.accuracy}, {"vocabulary", result.classes}};
    MetricsWriter metrics(options.metricsPath);
    metrics.writeRaw(json.dump());
    if (options.jsonFormat) {
        std::printf("%s\n", json.dump().c_str());
    } else if (!options.quiet) {
        std::printf("model: %s\n", model->describe().c_str());
        std::printf("data: %s validation, %zu windows, %lld tokens\n", options.dataFile.c_str(), data.test.count,
                    static_cast<long long>(result.samples));
        std::printf("loss %.6f  %.4f bits/token  next-token accuracy %.2f%%\n", result.loss, bits, 100.0 * result.accuracy);
    }
    return 0;
}

}  // namespace

int runEvaluate(const RunOptions& options) {
    if (options.loadPath.empty()) throw InputError("cohort evaluate needs --load PATH (a checkpoint from --save or --checkpoint-dir)");
    if (options.evaluationBatch < 0) throw InputError("--batch-size must be >= 0, got " + std::to_string(options.evaluationBatch));
    if (options.threadsPerWorker < 0) throw InputError("--threads-per-worker must be >= 0");
    refuseInputAsOutput(options.metricsPath, "--metrics", runInputs(options));
    checkOutputFile(options.metricsPath, "--metrics");
    const train::CheckpointFile file = [&options] {  // before the data: fail fast
        const ExitOnSignalsWhileWaiting interruptible(options.loadPath, "--load " + options.loadPath);
        return train::readCheckpointFile(options.loadPath);
    }();
    if (const std::optional<TextRecipe> text = textRecipeOf(file, options.loadPath)) {
        return evaluateLanguageModel(options, file, *text);
    }
    const memory::MemoryLocation location = chooseLocation(options);
    const data::DatasetSplits data = loadData(options);
    const Shape inputSample(std::vector<std::int64_t>(data.test.sampleShape.begin(), data.test.sampleShape.end()));
    const std::unique_ptr<nn::Model> host = modelFromCheckpoint(file, options.loadPath, inputSample, data.test.numClasses);
    const std::unique_ptr<nn::Model> model = location.isDevice() ? host->replicate(location) : nullptr;
    nn::Model& evaluated = model ? *model : *host;
    const std::int64_t batch = options.evaluationBatch > 0   ? options.evaluationBatch
                               : evaluationBatchOf(file) > 0 ? evaluationBatchOf(file)
                                                             : evaluationBatchFor(evaluated, 128);
    std::unique_ptr<kernels::Backend> backend = location.isDevice() ? kernels::makeCudaBackend(location.device)
                                                                    : kernels::makeCpuBackend(options.threadsPerWorker);
    train::Evaluator evaluator(evaluated, *backend, batch, train::WorkspaceMode::Enabled);
    const train::EvaluationResult result = evaluator.evaluate(data.test);
    const nlohmann::json json = resultJson(options.loadPath, options, result);
    MetricsWriter metrics(options.metricsPath);
    metrics.writeRaw(json.dump());
    if (options.jsonFormat) {
        std::printf("%s\n", json.dump().c_str());
    } else if (!options.quiet) {
        std::printf("model: %s\n", evaluated.describe().c_str());
        std::printf("data: %s test split, %lld samples\n", options.data.c_str(), static_cast<long long>(result.samples));
        std::printf("loss %.6f  accuracy %.2f%%\n\nper class:\n", result.loss, 100.0 * result.accuracy);
        for (int c = 0; c < result.classes; ++c) {
            std::printf("  class %2d  %.2f%%\n", c, 100.0 * json["per_class_accuracy"][std::size_t(c)].get<double>());
        }
        std::printf("\nconfusion matrix (rows: true class, columns: predicted):\n%s", result.confusionTable().c_str());
    }
    return 0;
}

}  // namespace cohort::launch
