#pragma once
// Built-in architectures, by name, for the CLI and examples.
#include <memory>
#include <string>
#include <vector>

#include "src/nn/Model.h"

namespace cohort::nn {

struct ArchitectureConfig {
    std::string name = "mlp";               // mlp
    std::vector<std::int64_t> hidden = {1024, 1024};
    double dropout = 0.2;                  // after each hidden layer (0 disables)
    std::string activation = "relu";        // relu | tanh | sigmoid
    // gpt: a GPT-2-style pre-LayerNorm transformer over samples of `context` token ids (the input
    // sample {context}); `classes` is the vocabulary.
    std::int64_t layers = 4, heads = 4, embed = 128;
    bool tieEmbeddings = false;  // the LM head shares the token embedding (nn::TiedHead)
};

// Training settings a built-in architecture recommends where the user gave none: the best of the
// 5-epoch Fashion-MNIST runs recorded in docs/BENCHMARKS.md (mlp: batch 128, dropout 0.2 ->
// 89.19%; lenet: batch 64, no dropout -> 90.97%). Unknown names get the mlp's.
struct RecommendedSettings {
    std::int64_t batchSize = 128;
    double dropout = 0.2;
};
RecommendedSettings recommendedSettings(const std::string& architecture);

kernels::Activation parseActivation(const std::string& text);   // relu | tanh | sigmoid; throws SettingError

// Layers of the architecture for a classifier of `classes` outputs (gpt: a language model over a
// vocabulary of `classes` tokens, one prediction per position):
//   embedding(tokens + positions) | L x [residual(layernorm | attention),
//   residual(layernorm | dense 4C per token | gelu | dense C per token)] | layernorm | dense V per token
// Weights N(0, 0.02), the projections into a residual sum N(0, 0.02 / sqrt(2 L)), biases 0.
std::vector<std::unique_ptr<Layer>> buildLayers(const ArchitectureConfig& config, int classes);
std::unique_ptr<Model> buildModel(const ArchitectureConfig& config, const Shape& inputSample, int classes,
                                  DType dtype = DType::Float32, MemoryLocation location = MemoryLocation::host());

}  // namespace cohort::nn
