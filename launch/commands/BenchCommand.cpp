// `cohort bench`: the time of one training step (forward, loss, backward, optimizer update) of
// the model the flags describe, on random data already in the device's memory, so the number
// is the step alone. Reports the median over repeats of (steps / time), as µs per step.
#include <algorithm>
#include <cstdio>
#include <thread>
#include <vector>

#include "kernels/Backend.h"
#include "launch/commands/Commands.h"
#include "launch/outputs/MetricsWriter.h"
#include "launch/outputs/OutputFile.h"
#include "launch/run/RunSetup.h"
#include "launch/measure/TimedTrainingStep.h"
#include "src/core/Errors.h"

namespace cohort::launch {

int runBench(const RunOptions& options) {
    if (options.benchSteps < 1 || options.benchRepeats < 1 || options.benchWarmup < 0) {
        throw InputError("--steps and --repeats must be >= 1 and --warmup >= 0");
    }
    checkOutputFile(options.metricsPath, "--metrics");  // before the timing, not after it
    applyMemoryFlags(options);
    const StepRecipe recipe = stepRecipeFrom(options);
    const memory::MemoryLocation location = chooseLocation(options);
    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    TimedTrainingStep timed(recipe, location, options.threadsPerWorker > 0 ? options.threadsPerWorker : cores);
    const std::int64_t batch = recipe.batchSize;
    const optim::OptimizerConfig& optimizer = recipe.optimizer;

    timed.run(options.benchWarmup);
    std::vector<double> microseconds;
    for (int repeat = 0; repeat < options.benchRepeats; ++repeat) {
        microseconds.push_back(1e6 * timed.run(options.benchSteps) / options.benchSteps);
    }
    timed.checkFinite();
    const nn::Model& model = timed.model();
    const train::TrainingStep& step = timed.step();
    std::vector<double> sorted = microseconds;
    std::sort(sorted.begin(), sorted.end());
    const double median = sorted[sorted.size() / 2];
    std::printf("%s, batch %lld, %s, %s: %.1f us/step (median of %d x %d steps; min %.1f, max %.1f), %.0f samples/s\n",
                model.describe().c_str(), static_cast<long long>(batch), timed.backend().name().c_str(),
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
                  jsonString(model.describe()).c_str(), static_cast<long long>(batch),
                  memory::toString(location).c_str(), median, sorted.front(), sorted.back(), options.benchSteps,
                  options.benchRepeats, static_cast<long long>(step.replays()));
    metrics.writeRaw(line);
    return 0;
}

}  // namespace cohort::launch
