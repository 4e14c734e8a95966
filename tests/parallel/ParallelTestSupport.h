#pragma once
// Small problems for the coordinator's tests: synthetic data, a small MLP (with optional dropout
// or batch norm), and the configurations the tests vary.
#include <memory>

#include "parallel/ParallelWrapper.h"
#include "src/data/Data.h"
#include "src/nn/ActivationLayer.h"
#include "src/nn/Architectures.h"
#include "src/nn/BatchNorm.h"
#include "src/nn/Dense.h"

namespace cohort::parallel::testing_support {

inline data::DatasetSplits makeData(std::size_t train) {
    return data::splitTrainTest(data::makeSynthetic(train + 120, {1, 6, 6}, 5, 21), 120.0 / double(train + 120), 4);
}

inline std::unique_ptr<nn::Model> makeModel(double dropout = 0.0) {
    nn::ArchitectureConfig architecture{"mlp", {24, 16}, dropout, "tanh"};
    auto model = nn::buildModel(architecture, Shape{1, 6, 6}, 5);
    model->initialize(9);
    return model;
}

// dense 8 -> batch norm -> relu -> dense 5: running statistics in the model's statistics buffer.
inline std::unique_ptr<nn::Model> makeBatchNormModel() {
    std::vector<std::unique_ptr<nn::Layer>> layers;
    layers.push_back(std::make_unique<nn::Dense>(8, kernels::Activation::Identity));
    layers.push_back(std::make_unique<nn::BatchNorm>(0.1, 1e-5));
    layers.push_back(std::make_unique<nn::ActivationLayer>(kernels::Activation::Relu));
    layers.push_back(std::make_unique<nn::Dense>(5, kernels::Activation::Identity));
    auto model = std::make_unique<nn::Model>(std::move(layers), Shape{1, 6, 6});
    model->initialize(4);
    return model;
}

inline train::TrainerConfig trainerConfig(int epochs, std::int64_t batch) {
    train::TrainerConfig config;
    config.epochs = epochs;
    config.batchSize = batch;
    config.seed = 5;
    config.schedule = optim::ScheduleKind::Constant;
    return config;
}

inline ParallelConfig parallelConfig(int workers, int frequency) {
    ParallelConfig config;
    config.workers = workers;
    config.averagingFrequency = frequency;
    config.prefetchBuffer = 2;
    return config;
}

}  // namespace cohort::parallel::testing_support
