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

// Layers of the architecture for a classifier of `classes` outputs.
std::vector<std::unique_ptr<Layer>> buildLayers(const ArchitectureConfig& config, int classes);
std::unique_ptr<Model> buildModel(const ArchitectureConfig& config, const Shape& inputSample, int classes,
                                  DType dtype = DType::Float32, MemoryLocation location = MemoryLocation::host());

}  // namespace cohort::nn
