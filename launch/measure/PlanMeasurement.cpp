#include "launch/measure/PlanMeasurement.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>

#include "parallel/AbortableBarrier.h"
#include "parallel/CommunicatorFactory.h"

namespace cohort::launch {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double median(std::vector<double> values) {
    if (values.empty()) return 0.0;
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

// The processes of a planned job whose link is priced by the model, not run: every collective
// returns at once, so timing the hierarchical communicator over it gives the in-process part of
// averaging (local average, the host-side scaling, local broadcast).
class UnlinkedProcessGroup final : public parallel::ProcessGroup {
public:
    explicit UnlinkedProcessGroup(int processes) : processes_(processes) {}
    int rank() const override { return 0; }
    int size() const override { return processes_; }
    std::string name() const override { return "unlinked(" + std::to_string(processes_) + " processes)"; }
    void allreduceSum(kernels::DType, void*, std::int64_t) override {}
    void broadcast(void*, std::size_t, int) override {}
    void barrier() override {}
    void abort(const std::string&) override {}

private:
    int processes_;
};

std::shared_ptr<parallel::Communicator> communicatorFor(const WorkerMeasurementPlan& plan) {
    const int workers = int(plan.locations.size());
    if (plan.plannedProcesses > 1) {
        return parallel::makeHierarchicalCommunicator(workers, std::make_shared<UnlinkedProcessGroup>(plan.plannedProcesses));
    }
    parallel::JobLayout layout;
    layout.workers = workers;
    layout.devices = plan.devices;
    return parallel::makeCommunicator(layout).communicator;
}

// timings[repeat][thread] -> the median over repeats of each repeat's slowest thread.
double slowestThenMedian(const std::vector<std::vector<double>>& timings) {
    std::vector<double> slowest;
    for (const auto& repeat : timings) slowest.push_back(*std::max_element(repeat.begin(), repeat.end()));
    return median(slowest);
}

}  // namespace

WorkerMeasurement measureWorkers(const WorkerMeasurementPlan& plan) {
    const int workers = int(plan.locations.size());
    const bool averaging = plan.measureAveraging && workers * plan.plannedProcesses > 1;
    // Nothing to time: one replica tells the buffers' sizes.
    const int groups = plan.measureSteps || averaging ? std::max(1, plan.processesOnThisMachine) : 1;
    const int threads = plan.measureSteps || averaging ? workers * groups : 1;
    std::vector<std::shared_ptr<parallel::Communicator>> communicators;
    if (averaging) {
        for (int g = 0; g < groups; ++g) communicators.push_back(communicatorFor(plan));
    }
    parallel::AbortableBarrier barrier(threads);
    std::mutex failureMutex;
    std::exception_ptr failure;
    auto shaped = [&](int repeats) { return std::vector<std::vector<double>>(std::size_t(repeats), std::vector<double>(std::size_t(threads))); };
    std::vector<std::vector<double>> steps = shaped(plan.measureSteps ? plan.repeats : 0);
    std::vector<std::vector<double>> parameters = shaped(averaging ? plan.averagingRepeats : 0);
    std::vector<std::vector<double>> state = parameters, statistics = parameters;
    WorkerMeasurement result;

    auto work = [&](int thread) {
        const int group = thread / workers, local = thread % workers;
        const MemoryLocation location = plan.locations[std::size_t(local)];
        try {
            if (!location.isDevice()) omp_set_num_threads(plan.threadsPerWorker);
            TimedTrainingStep timed(plan.recipe, location, plan.threadsPerWorker);
            if (thread == 0) {
                result.modelText = timed.model().describe();
                result.backendText = timed.backend().name();
                result.optimizerText = plan.recipe.optimizer.describe();
                result.parameterCount = timed.model().parameterCount();
                result.stateCount = timed.optimizer().state().elementCount();
                result.statisticsCount = timed.model().statisticsCount();
            }
            if (plan.measureSteps) {
                barrier.arriveAndWait();
                timed.run(plan.warmupSteps);
                for (int repeat = 0; repeat < plan.repeats; ++repeat) {
                    barrier.arriveAndWait();  // every worker steps at once, as in training
                    steps[std::size_t(repeat)][std::size_t(thread)] = timed.run(plan.steps) / plan.steps;
                }
                timed.checkFinite();
            }
            if (averaging) {
                parallel::Communicator& communicator = *communicators[std::size_t(group)];
                kernels::Backend& backend = timed.backend();
                Tensor& statisticsBuffer = timed.model().statistics();
                Tensor& stateBuffer = timed.optimizer().state();
                auto timeAverage = [&](Tensor& buffer, std::vector<std::vector<double>>& into, int repeat) {
                    if (buffer.elementCount() == 0) return;
                    barrier.arriveAndWait();
                    const auto start = Clock::now();
                    communicator.average(local, backend, buffer.dtype(), buffer.raw(), buffer.elementCount());
                    if (repeat >= 0) into[std::size_t(repeat)][std::size_t(thread)] = secondsSince(start);
                };
                for (int repeat = -1; repeat < plan.averagingRepeats; ++repeat) {  // -1: warm-up
                    timeAverage(timed.model().parameters(), parameters, repeat);
                    if (plan.averageUpdaters) timeAverage(stateBuffer, state, repeat);
                    timeAverage(statisticsBuffer, statistics, repeat);
                }
            }
            barrier.arriveAndWait();
        } catch (...) {
            std::lock_guard<std::mutex> lock(failureMutex);
            if (!failure) failure = std::current_exception();
            barrier.abort("another worker failed");
            for (auto& communicator : communicators) communicator->abort("another worker failed");
        }
    };
    std::vector<std::thread> running;
    for (int thread = 0; thread < threads; ++thread) running.emplace_back(work, thread);
    for (std::thread& each : running) each.join();
    if (failure) std::rethrow_exception(failure);

    if (plan.measureSteps) result.stepSeconds = slowestThenMedian(steps);
    if (averaging) {
        result.parameterAveragingSeconds = slowestThenMedian(parameters);
        if (plan.averageUpdaters && result.stateCount > 0) result.stateAveragingSeconds = slowestThenMedian(state);
        if (result.statisticsCount > 0) result.statisticsAveragingSeconds = slowestThenMedian(statistics);
    }
    return result;
}

std::vector<parallel::LinkSample> probeAllreduce(parallel::ProcessGroup& processes, std::int64_t largestBytes) {
    std::vector<std::int64_t> sizes;
    for (std::int64_t bytes = 8; bytes < largestBytes; bytes *= 4) sizes.push_back(bytes);
    sizes.push_back(largestBytes);
    std::vector<float> buffer(std::size_t(largestBytes / std::int64_t(sizeof(float))), 1.0f);
    std::vector<parallel::LinkSample> samples;
    for (const std::int64_t bytes : sizes) {
        const std::int64_t count = std::max<std::int64_t>(1, bytes / std::int64_t(sizeof(float)));
        // Fewer repeats for sizes that take long; the same on every rank (collective).
        const int repeats = bytes <= (std::int64_t(64) << 10) ? 40 : bytes <= (std::int64_t(1) << 20) ? 15 : 7;
        std::vector<double> seconds;
        for (int repeat = -2; repeat < repeats; ++repeat) {  // two warm-ups
            processes.barrier();
            const auto start = Clock::now();
            processes.allreduceSum(kernels::DType::Float32, buffer.data(), count);
            if (repeat >= 0) seconds.push_back(secondsSince(start));
            std::fill(buffer.begin(), buffer.begin() + count, 1.0f);  // keep the values small
        }
        samples.push_back({double(count * std::int64_t(sizeof(float))), maxOverProcesses(processes, median(seconds))});
    }
    return samples;
}

double maxOverProcesses(parallel::ProcessGroup& processes, double value) {
    if (processes.size() <= 1) return value;
    std::vector<double> each(std::size_t(processes.size()), 0.0);
    each[std::size_t(processes.rank())] = value;
    processes.allreduceSum(kernels::DType::Float64, each.data(), std::int64_t(each.size()));
    return *std::max_element(each.begin(), each.end());
}

}  // namespace cohort::launch
