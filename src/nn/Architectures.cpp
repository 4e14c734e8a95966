#include "src/nn/Architectures.h"

#include "src/core/Errors.h"
#include "src/nn/ActivationLayer.h"
#include "src/nn/Conv2D.h"
#include "src/nn/Dense.h"
#include "src/nn/Dropout.h"
#include "src/nn/Flatten.h"
#include "src/nn/CausalSelfAttention.h"
#include "src/nn/Embedding.h"
#include "src/nn/Gelu.h"
#include "src/nn/LayerNorm.h"
#include "src/nn/Pooling2D.h"
#include "src/nn/Residual.h"
#include "src/nn/TiedHead.h"

#include <cmath>

namespace cohort::nn {

RecommendedSettings recommendedSettings(const std::string& architecture) {
    if (architecture == "lenet") return {64, 0.0};
    if (architecture == "gpt") return {12, 0.0};  // nanoGPT's character-level baby GPT on a CPU
    return {};
}

kernels::Activation parseActivation(const std::string& text) {
    if (text == "relu") return kernels::Activation::Relu;
    if (text == "tanh") return kernels::Activation::Tanh;
    if (text == "sigmoid") return kernels::Activation::Sigmoid;
    throw SettingError("unknown {activation} '" + text + "'; choose relu, tanh or sigmoid");
}

namespace {

std::vector<std::unique_ptr<Layer>> buildGpt(const ArchitectureConfig& config, int vocabulary) {
    if (config.layers <= 0 || config.heads <= 0 || config.embed <= 0) {
        throw SettingError("a gpt needs positive --layers, --heads and --embed");
    }
    if (config.embed % config.heads != 0) {
        throw SettingError("--embed " + std::to_string(config.embed) + " is not a multiple of --heads " +
                           std::to_string(config.heads));
    }
    constexpr double kStd = 0.02;
    const double residualStd = kStd / std::sqrt(2.0 * double(config.layers));
    const std::int64_t width = config.embed;
    std::vector<std::unique_ptr<Layer>> layers;
    layers.push_back(std::make_unique<Embedding>(vocabulary, width));
    for (std::int64_t block = 0; block < config.layers; ++block) {
        std::vector<std::unique_ptr<Layer>> attention;
        attention.push_back(std::make_unique<LayerNorm>());
        attention.push_back(std::make_unique<CausalSelfAttention>(config.heads, residualStd));
        layers.push_back(std::make_unique<Residual>(std::move(attention)));
        std::vector<std::unique_ptr<Layer>> mlp;
        mlp.push_back(std::make_unique<LayerNorm>());
        mlp.push_back(std::make_unique<Dense>(4 * width, kernels::Activation::Identity, true, kStd));
        mlp.push_back(std::make_unique<Gelu>());
        mlp.push_back(std::make_unique<Dense>(width, kernels::Activation::Identity, true, residualStd));
        layers.push_back(std::make_unique<Residual>(std::move(mlp)));
    }
    layers.push_back(std::make_unique<LayerNorm>());
    if (config.tieEmbeddings) {
        layers.push_back(std::make_unique<TiedHead>(vocabulary));
    } else {
        layers.push_back(std::make_unique<Dense>(vocabulary, kernels::Activation::Identity, true, kStd));
    }
    return layers;
}

}  // namespace

std::vector<std::unique_ptr<Layer>> buildLayers(const ArchitectureConfig& config, int classes) {
    if (config.name == "gpt") return buildGpt(config, classes);
    std::vector<std::unique_ptr<Layer>> layers;
    if (config.name == "mlp") {
        const auto activation = parseActivation(config.activation);
        for (std::int64_t width : config.hidden) {
            layers.push_back(std::make_unique<Dense>(width, activation));
            if (config.dropout > 0.0) layers.push_back(std::make_unique<Dropout>(config.dropout));
        }
        layers.push_back(std::make_unique<Dense>(classes, kernels::Activation::Identity));
        return layers;
    }
    if (config.name == "lenet") {
        // LeNet-5 style for 1x28x28: 20x24x24 -> 20x12x12 -> 50x8x8 -> 50x4x4 -> 800 -> 500 -> classes.
        layers.push_back(std::make_unique<Conv2D>(20, 5, 1, 0, kernels::Activation::Relu));
        layers.push_back(std::make_unique<MaxPool2D>(2, 2));
        layers.push_back(std::make_unique<Conv2D>(50, 5, 1, 0, kernels::Activation::Relu));
        layers.push_back(std::make_unique<MaxPool2D>(2, 2));
        layers.push_back(std::make_unique<Flatten>());
        layers.push_back(std::make_unique<Dense>(500, kernels::Activation::Relu));
        if (config.dropout > 0.0) layers.push_back(std::make_unique<Dropout>(config.dropout));
        layers.push_back(std::make_unique<Dense>(classes, kernels::Activation::Identity));
        return layers;
    }
    throw SettingError("unknown {model} '" + config.name + "'; choose mlp, lenet or gpt");
}

std::unique_ptr<Model> buildModel(const ArchitectureConfig& config, const Shape& inputSample, int classes,
                                  DType dtype, MemoryLocation location) {
    return std::make_unique<Model>(buildLayers(config, classes), inputSample, dtype, location);
}

}  // namespace cohort::nn
