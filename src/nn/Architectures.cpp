#include "src/nn/Architectures.h"

#include "src/core/Errors.h"
#include "src/nn/ActivationLayer.h"
#include "src/nn/Conv2D.h"
#include "src/nn/Dense.h"
#include "src/nn/Dropout.h"
#include "src/nn/Flatten.h"
#include "src/nn/Pooling2D.h"

namespace cohort::nn {

RecommendedSettings recommendedSettings(const std::string& architecture) {
    if (architecture == "lenet") return {64, 0.0};
    return {};
}

kernels::Activation parseActivation(const std::string& text) {
    if (text == "relu") return kernels::Activation::Relu;
    if (text == "tanh") return kernels::Activation::Tanh;
    if (text == "sigmoid") return kernels::Activation::Sigmoid;
    throw SettingError("unknown {activation} '" + text + "'; choose relu, tanh or sigmoid");
}

std::vector<std::unique_ptr<Layer>> buildLayers(const ArchitectureConfig& config, int classes) {
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
    throw SettingError("unknown {model} '" + config.name + "'; choose mlp or lenet");
}

std::unique_ptr<Model> buildModel(const ArchitectureConfig& config, const Shape& inputSample, int classes,
                                  DType dtype, MemoryLocation location) {
    return std::make_unique<Model>(buildLayers(config, classes), inputSample, dtype, location);
}

}  // namespace cohort::nn
