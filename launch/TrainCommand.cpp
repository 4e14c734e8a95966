#include <cstdio>
#include <memory>

#include "kernels/Backend.h"
#include "launch/Commands.h"
#include "launch/MetricsWriter.h"
#include "launch/RunSetup.h"
#include "memory/Memory.h"
#include "src/core/Errors.h"
#include "src/nn/Architectures.h"
#include "src/train/Trainer.h"

namespace cohort::launch {
namespace {

class ConsoleListener final : public train::TrainingListener {
public:
    ConsoleListener(const RunOptions& options, MetricsWriter& metrics) : options_(options), metrics_(metrics) {}

    void onEpoch(const train::EpochMetrics& m) override {
        metrics_.writeEpoch(m);
        for (const auto& statistics : memory::WorkspaceManager::forCurrentThread().statistics()) {
            metrics_.writeRaw("{\"event\":\"memory\",\"epoch\":" + std::to_string(m.epoch) + ",\"worker\":0," +
                              statistics.toJson().substr(1));
        }
        if (options_.quiet) return;
        std::printf("epoch %d/%d  train loss %.4f acc %.2f%%  test loss %.4f acc %.2f%%  %.0f samples/s  %.1f s\n",
                    m.epoch, options_.epochs, m.trainLoss, 100.0 * m.trainAccuracy, m.testLoss,
                    100.0 * m.testAccuracy, m.samplesPerSecond, m.seconds);
        std::fflush(stdout);
    }
    void onDone(const train::RunSummary& s) override {
        metrics_.writeDone(s);
        if (!options_.quiet) {
            std::printf("done: test accuracy %.2f%% after %d epochs (%lld iterations) in %.1f s\n",
                        100.0 * s.testAccuracy, s.epochs, static_cast<long long>(s.iterations), s.seconds);
        }
    }

private:
    const RunOptions& options_;
    MetricsWriter& metrics_;
};

}  // namespace

int runTrain(const RunOptions& options) {
    RunSetup setup;
    try {
        setup = prepareRun(options);  // validates everything before any training
    } catch (const memory::BudgetExceededError& error) {
        throw InputError(error.what());  // predictable before training: bad input, exit 2
    }
    MetricsWriter metrics(options.metricsPath);
    if (!options.quiet) {
        std::printf("cohort %s: %s on %s (%zu train / %zu test samples), %s, %s\n", COHORT_VERSION,
                    setup.model->describe().c_str(), setup.backend->name().c_str(), setup.data.train.count,
                    setup.data.test.count, setup.optimizer.describe().c_str(), setup.scheduleText.c_str());
        std::fflush(stdout);
    }
    train::Trainer trainer(*setup.model, setup.optimizer, *setup.backend, setup.trainer);
    ConsoleListener listener(options, metrics);
    trainer.fit(setup.data, &listener);
    memory::WorkspaceManager::forCurrentThread().destroyAllWorkspacesForCurrentThread();
    return 0;
}

}  // namespace cohort::launch
