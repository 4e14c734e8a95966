// `cohort bench`: the time of one training step (forward, loss, backward, optimizer update) of
// the model the flags describe, on random data already in the device's memory, so the number
// is the step alone. Reports the median over repeats of (steps / time), as µs per step.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "kernels/Backend.h"
#include "launch/Commands.h"
#include "launch/Flags.h"
#include "launch/MetricsWriter.h"
#include "launch/RunSetup.h"
#include "src/core/Errors.h"
#include "src/nn/Architectures.h"
#include "src/train/TrainingStep.h"

namespace cohort::launch {

int runBench(const RunOptions& options) {
    if (options.benchSteps < 1 || options.benchRepeats < 1 || options.benchWarmup < 0) {
        throw InputError("--steps and --repeats must be >= 1 and --warmup >= 0");
    }
    if (options.batchSize < 1) throw InputError("--batch-size must be at least 1, got " + std::to_string(options.batchSize));
    applyMemoryFlags(options);
    const auto description = modelDescriptionFrom(options);
    const nn::ArchitectureConfig architecture = description ? nn::ArchitectureConfig{} : architectureFrom(options);
    const optim::OptimizerConfig optimizer = optimizerFrom(options);
    const auto mode = parseWorkspaceMode(options.workspaceMode);
    const memory::MemoryLocation location = chooseLocation(options);
    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    auto backend = location.isDevice() ? kernels::makeCudaBackend(location.device, options.tf32)
                                       : kernels::makeCpuBackend(options.threadsPerWorker > 0 ? options.threadsPerWorker : cores);
    const Shape sample{1, 28, 28};
    auto model = buildModelFrom(architecture, description, sample, 10, location);
    model->initialize(options.seed);
    optim::Optimizer state(optimizer, model->parameterCount(), DType::Float32, location);
    nn::SoftmaxCrossEntropy loss;
    train::TrainingStep step(*model, state, loss, *backend, mode, options.seed);
    step.setCapture(options.cudaGraphs);

    const std::int64_t batch = options.batchSize;
    std::vector<float> hostInput(std::size_t(batch * sample.elementCount()));
    std::vector<std::int32_t> hostLabels(static_cast<std::size_t>(batch));
    std::mt19937_64 generator(options.seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& value : hostInput) value = normal(generator);
    for (std::size_t i = 0; i < hostLabels.size(); ++i) hostLabels[i] = std::int32_t(generator() % 10);
    Tensor input = Tensor::persistent(sample.withBatch(batch), DType::Float32, location);
    Tensor labels = Tensor::persistent(Shape{batch}, DType::Float32, location);  // int32 bytes
    backend->copyFromHost(hostInput.size() * sizeof(float), hostInput.data(), input.raw());
    backend->copyFromHost(hostLabels.size() * sizeof(std::int32_t), hostLabels.data(), labels.raw());
    const auto* deviceLabels = reinterpret_cast<const std::int32_t*>(labels.raw());

    for (int i = 0; i < options.benchWarmup; ++i) step.run(input, deviceLabels, batch, optimizer.learningRate);
    backend->synchronize();
    std::vector<double> microseconds;
    for (int repeat = 0; repeat < options.benchRepeats; ++repeat) {
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < options.benchSteps; ++i) step.run(input, deviceLabels, batch, optimizer.learningRate);
        backend->synchronize();
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        microseconds.push_back(1e6 * seconds / options.benchSteps);
    }
    step.takeStatistics();  // also checks the loss stayed finite
    std::vector<double> sorted = microseconds;
    std::sort(sorted.begin(), sorted.end());
    const double median = sorted[sorted.size() / 2];
    std::printf("%s, batch %lld, %s, %s: %.1f us/step (median of %d x %d steps; min %.1f, max %.1f), %.0f samples/s\n",
                model->describe().c_str(), static_cast<long long>(batch), backend->name().c_str(),
                optimizer.describe().c_str(), median, options.benchRepeats, options.benchSteps, sorted.front(),
                sorted.back(), double(batch) * 1e6 / median);
    if (step.replays() > 0) {
        std::printf("  steps replayed from a captured graph: %lld\n", static_cast<long long>(step.replays()));
    } else if (!step.captureAbandoned().empty()) {
        std::printf("  step capture given up: %s\n", step.captureAbandoned().c_str());
    }
    MetricsWriter metrics(options.metricsPath);
    char line[384];
    std::snprintf(line, sizeof line,
                  "{\"event\":\"bench\",\"model\":%s,\"batch\":%lld,\"device\":\"%s\",\"us_per_step_median\":%.3f,"
                  "\"us_per_step_min\":%.3f,\"us_per_step_max\":%.3f,\"steps\":%d,\"repeats\":%d,\"graph_replays\":%lld}",
                  jsonString(model->describe()).c_str(), static_cast<long long>(batch),
                  memory::toString(location).c_str(), median, sorted.front(), sorted.back(), options.benchSteps,
                  options.benchRepeats, static_cast<long long>(step.replays()));
    metrics.writeRaw(line);
    memory::WorkspaceManager::forCurrentThread().destroyAllWorkspacesForCurrentThread();
    return 0;
}

}  // namespace cohort::launch
