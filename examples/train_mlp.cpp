// Trains an MLP on Fashion-MNIST through the library API alone (no CLI):
//   ./build/examples/example_train_mlp [data-dir] [epochs]
#include <cstdio>
#include <string>

#include "kernels/Backend.h"
#include "src/data/Data.h"
#include "src/nn/ActivationLayer.h"
#include "src/nn/Dense.h"
#include "src/nn/Dropout.h"
#include "src/nn/Model.h"
#include "src/train/Trainer.h"

int main(int argc, char** argv) {
    using namespace cohort;
    const std::string directory = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    const int epochs = argc > 2 ? std::stoi(argv[2]) : 2;
    try {
        data::DatasetSplits data = data::loadMnistFormat(directory, "fashion-mnist");
        data::normalizeWithTrainStatistics(data);

        // 784 -> 256 (ReLU) -> dropout -> 10, parameters in one flat buffer.
        std::vector<std::unique_ptr<nn::Layer>> layers;
        layers.push_back(std::make_unique<nn::Dense>(256));
        layers.push_back(std::make_unique<nn::ActivationLayer>(kernels::Activation::Relu));
        layers.push_back(std::make_unique<nn::Dropout>(0.1));
        layers.push_back(std::make_unique<nn::Dense>(10));
        nn::Model model(std::move(layers), Shape{1, 28, 28});
        model.initialize(/*seed=*/7);
        std::printf("%s: %lld parameters\n", model.describe().c_str(), static_cast<long long>(model.parameterCount()));

        auto backend = kernels::makeCpuBackend();
        optim::OptimizerConfig adam;  // Adam, lr 1e-3
        train::TrainerConfig config;
        config.epochs = epochs;
        config.batchSize = 128;
        train::Trainer trainer(model, adam, *backend, config);

        struct Printer : train::TrainingListener {
            void onEpoch(const train::EpochMetrics& m) override {
                std::printf("epoch %d: train loss %.4f, test accuracy %.2f%%\n", m.epoch, m.trainLoss,
                            100.0 * m.testAccuracy);
            }
        } printer;
        const auto summary = trainer.fit(data, &printer);
        std::printf("final test accuracy %.2f%%\n", 100.0 * summary.testAccuracy);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "error: %s\n", error.what());
        return 1;
    }
    return 0;
}
