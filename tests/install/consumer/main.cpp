// A user's program against the installed cohort package (find_package(cohort), cohort::parallel):
// trains a small MLP on synthetic data with 2 CPU workers through parallel::ParallelWrapper and
// checks that it learned (test loss and accuracy, measured with the library's Evaluator before
// and after) and that the replicas ended identical to the root model. Exit 0 only if all hold.
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernels/Backend.h"
#include "parallel/ParallelWrapper.h"
#include "src/data/Data.h"
#include "src/nn/ActivationLayer.h"
#include "src/nn/Dense.h"
#include "src/nn/Model.h"
#include "src/train/Evaluation.h"
#include "src/train/Trainer.h"

// The definitions that came with cohort::config must match what the package reports.
#ifndef COHORT_VERSION
#error "COHORT_VERSION did not reach the consumer through cohort::config"
#endif
#if defined(COHORT_WITH_CUDA) != CONSUMER_EXPECT_CUDA
#error "COHORT_WITH_CUDA differs from the package's cohort_WITH_CUDA"
#endif
#if defined(COHORT_WITH_NCCL) != CONSUMER_EXPECT_NCCL
#error "COHORT_WITH_NCCL differs from the package's cohort_WITH_NCCL"
#endif
#if defined(COHORT_WITH_MPI) != CONSUMER_EXPECT_MPI
#error "COHORT_WITH_MPI differs from the package's cohort_WITH_MPI"
#endif

namespace {

int failures = 0;

void check(bool condition, const std::string& what) {
    std::printf("%s: %s\n", condition ? "ok" : "FAILED", what.c_str());
    if (!condition) ++failures;
}

struct Recorder : cohort::parallel::ParallelListener {
    std::vector<double> trainLoss;
    std::vector<std::int64_t> workerIterations;
    void onEpoch(const cohort::train::EpochMetrics& metrics) override {
        std::printf("epoch %d: train loss %.4f, test loss %.4f, test accuracy %.1f%%\n", metrics.epoch,
                    metrics.trainLoss, metrics.testLoss, 100.0 * metrics.testAccuracy);
        trainLoss.push_back(metrics.trainLoss);
    }
    void onWorkerStatistics(int, const std::vector<cohort::parallel::WorkerStatistics>& workers) override {
        for (const auto& worker : workers) {
            if (workerIterations.size() <= std::size_t(worker.worker)) workerIterations.resize(std::size_t(worker.worker) + 1);
            workerIterations[std::size_t(worker.worker)] += worker.iterations;
        }
    }
};

}  // namespace

int main() {
    using namespace cohort;
    std::printf("cohort %s (package %s)\n", COHORT_VERSION, CONSUMER_EXPECTED_VERSION);
    check(std::strcmp(COHORT_VERSION, CONSUMER_EXPECTED_VERSION) == 0, "COHORT_VERSION equals the package version");
    try {
        // 1,200 samples of 16 features in 4 classes; 240 held out.
        const data::DatasetSplits data = data::splitTrainTest(data::makeSynthetic(1200, {16}, 4, 3), 0.2, 5);

        std::vector<std::unique_ptr<nn::Layer>> layers;
        layers.push_back(std::make_unique<nn::Dense>(32));
        layers.push_back(std::make_unique<nn::ActivationLayer>(kernels::Activation::Relu));
        layers.push_back(std::make_unique<nn::Dense>(4));
        nn::Model model(std::move(layers), Shape{16});
        model.initialize(/*seed=*/11);
        const std::vector<double> initial = model.parametersToHost();
        std::printf("%s: %lld parameters\n", model.describe().c_str(), static_cast<long long>(model.parameterCount()));

        auto backend = kernels::makeCpuBackend(1);
        const train::EvaluationResult before =
            train::Evaluator(model, *backend, 240, train::WorkspaceMode::Enabled).evaluate(data.test);
        std::printf("before: test loss %.4f, accuracy %.1f%%\n", before.loss, 100.0 * before.accuracy);

        optim::OptimizerConfig adam;
        adam.learningRate = 1e-2;
        train::TrainerConfig trainer;
        trainer.epochs = 3;
        trainer.batchSize = 16;
        trainer.seed = 7;
        parallel::ParallelConfig config;
        config.workers = 2;  // CPU workers (no devices listed)
        config.averagingFrequency = 2;
        config.prefetchBuffer = 2;
        config.threadsPerWorker = 1;

        Recorder recorder;
        parallel::ParallelWrapper wrapper(model, adam, trainer, config);
        const train::RunSummary summary = wrapper.fit(data, &recorder);

        const train::EvaluationResult after =
            train::Evaluator(model, *backend, 240, train::WorkspaceMode::Enabled).evaluate(data.test);
        std::printf("after:  test loss %.4f, accuracy %.1f%%\n", after.loss, 100.0 * after.accuracy);

        check(summary.epochs == 3 && recorder.trainLoss.size() == 3, "three epochs reported");
        check(recorder.workerIterations.size() == 2 && recorder.workerIterations[0] > 0 &&
                  recorder.workerIterations[0] == recorder.workerIterations[1],
              "both workers trained the same number of steps");
        check(recorder.trainLoss.size() == 3 && recorder.trainLoss.back() < recorder.trainLoss.front(),
              "training loss decreased from the first epoch to the last");
        check(after.loss < 0.5 * before.loss, "test loss at most half the untrained model's");
        check(after.accuracy >= 0.9, "test accuracy at least 90% (4 classes)");

        const std::vector<double> trained = model.parametersToHost();
        check(trained != initial, "the root model's parameters changed");
        check(wrapper.replica(0).parametersToHost() == trained && wrapper.replica(1).parametersToHost() == trained,
              "both replicas are bitwise the root model after fit()");
    } catch (const std::exception& error) {
        std::fprintf(stderr, "error: %s\n", error.what());
        return 1;
    }
    if (failures) {
        std::fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    std::printf("consumer: all checks passed\n");
    return 0;
}
