// cohort generate: text sampled from a language model's checkpoint, to stdout. The model reads a
// window of its context (the last `context` tokens of prompt + text so far; a shorter sequence
// sits at the window's start, where the causal mask keeps the padding after it from being seen),
// the logits of the last position are divided by --temperature, cut to the --top-k likeliest and
// sampled with a counter-based uniform of (--seed, token index): the same seed, the same text.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/Backend.h"
#include "kernels/SeedMixing.h"
#include "launch/commands/Commands.h"
#include "launch/job/Signals.h"
#include "launch/run/Checkpoints.h"
#include "launch/run/RunSetup.h"
#include "memory/Memory.h"
#include "src/core/Errors.h"
#include "src/train/CheckpointFile.h"

namespace cohort::launch {
namespace {

void checkGenerateFlags(const RunOptions& options) {
    if (options.loadPath.empty()) throw InputError("cohort generate needs --load PATH (a language model's checkpoint)");
    if (options.generateTokens < 1 || options.generateTokens > 1000000) {
        throw InputError("--tokens must be between 1 and 1000000, got " + std::to_string(options.generateTokens));
    }
    if (!(options.temperature > 0.0) || !std::isfinite(options.temperature)) {
        throw InputError("--temperature must be a positive number, got " + std::to_string(options.temperature));
    }
    if (options.topK < 0) throw InputError("--top-k must be >= 0 (0: every token), got " + std::to_string(options.topK));
    if (options.threadsPerWorker < 0) throw InputError("--threads-per-worker must be >= 0");
}

// The prompt's ids; an empty prompt starts from a line break (or the first token).
std::vector<std::int32_t> promptIds(const RunOptions& options, const data::Vocabulary& vocabulary) {
    std::vector<std::int32_t> ids = vocabulary.encode(options.prompt, "--prompt");
    if (ids.empty()) ids.push_back(std::max(0, vocabulary.idOf('\n')));
    return ids;
}

// A token drawn from `logits` (one row of the vocabulary) at `temperature`, among the top k.
std::int32_t sample(const std::vector<float>& logits, double temperature, std::int64_t topK, double uniform,
                    std::vector<std::int32_t>& order, std::vector<double>& weights) {
    order.resize(logits.size());
    std::iota(order.begin(), order.end(), 0);
    // Likeliest first; ties by id, so the order (and the draw) is the same everywhere.
    std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) { return logits[a] > logits[b]; });
    const std::size_t kept = topK > 0 ? std::min<std::size_t>(order.size(), std::size_t(topK)) : order.size();
    weights.assign(kept, 0.0);
    const double top = double(logits[std::size_t(order[0])]);
    double total = 0.0;
    for (std::size_t i = 0; i < kept; ++i) total += weights[i] = std::exp((double(logits[std::size_t(order[i])]) - top) / temperature);
    double target = uniform * total;
    for (std::size_t i = 0; i < kept; ++i) {
        if (target < weights[i]) return order[i];
        target -= weights[i];
    }
    return order[kept - 1];
}

}  // namespace

int runGenerate(const RunOptions& options) {
    checkGenerateFlags(options);
    const train::CheckpointFile file = [&options] {
        const ExitOnSignalsWhileWaiting interruptible(options.loadPath, "--load " + options.loadPath);
        return train::readCheckpointFile(options.loadPath);
    }();
    const std::optional<TextRecipe> text = textRecipeOf(file, options.loadPath);
    if (!text) throw InputError("checkpoint " + options.loadPath + " is not a language model's (train one with --model gpt --data text)");
    std::vector<std::int32_t> ids = promptIds(options, text->vocabulary);
    const std::unique_ptr<nn::Model> model = languageModelFromCheckpoint(file, options.loadPath, *text);
    const std::int64_t context = text->context, vocabulary = text->vocabulary.size();
    std::unique_ptr<kernels::Backend> backend = kernels::makeCpuBackend(options.threadsPerWorker);
    Tensor window = Tensor::persistent(Shape{1, context}, DType::Float32);
    std::vector<float> logits(static_cast<std::size_t>(vocabulary));
    std::vector<std::int32_t> order;
    std::vector<double> weights;
    nn::ExecutionContext execution{backend.get(), false, 0, 0};
    std::fputs(options.prompt.c_str(), stdout);
    for (std::int64_t n = 0; n < options.generateTokens; ++n) {
        const std::size_t length = std::min(ids.size(), std::size_t(context));
        float* input = window.data<float>();
        std::fill(input, input + context, 0.0f);
        for (std::size_t t = 0; t < length; ++t) input[t] = float(ids[ids.size() - length + t]);
        {
            memory::WorkspaceScope scope = memory::WorkspaceManager::forCurrentThread().scopeOutOfWorkspaces();
            const Tensor output = model->forward(window, execution);
            backend->copyToHost(logits.size() * sizeof(float), output.data<float>() + (length - 1) * std::size_t(vocabulary),
                                logits.data());
        }
        const std::int32_t next = sample(logits, options.temperature, options.topK,
                                         kernels::counterUniform(options.seed, std::uint64_t(n)), order, weights);
        ids.push_back(next);
        std::fputs(text->vocabulary.decode({next}).c_str(), stdout);
        if (next == text->vocabulary.idOf('\n')) std::fflush(stdout);
    }
    std::fputs("\n", stdout);
    return 0;
}

}  // namespace cohort::launch
