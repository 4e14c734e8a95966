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

using Timings = std::vector<std::vector<double>>;  // [repeat][thread]

// timings[repeat][thread] -> the median over repeats of each repeat's slowest thread.
double slowestThenMedian(const Timings& timings) {
    std::vector<double> slowest;
    for (const auto& repeat : timings) slowest.push_back(*std::max_element(repeat.begin(), repeat.end()));
    return median(slowest);
}

// One communicator per group of workers that average together (one group per emulated rank).
std::vector<std::shared_ptr<parallel::Communicator>> communicatorsFor(const WorkerMeasurementPlan& plan, int groups) {
    std::vector<std::shared_ptr<parallel::Communicator>> communicators;
    for (int g = 0; g < groups; ++g) communicators.push_back(communicatorFor(plan));
    return communicators;
}

// The threads of a measurement, each one worker with its own TimedTrainingStep, and what they
// share: the barrier that starts each repeat at once, the first failure and every timing.
class MeasuringThreads {
public:
    MeasuringThreads(const WorkerMeasurementPlan& plan, bool averaging, int groups, int threads)
        : plan_(plan),
          workers_(int(plan.locations.size())),
          threads_(threads),
          averaging_(averaging),
          communicators_(communicatorsFor(plan, averaging ? groups : 0)),
          barrier_(threads),
          steps_(shaped(plan.measureSteps ? plan.repeats : 0)),
          parameters_(shaped(averaging ? plan.averagingRepeats : 0)),
          state_(parameters_),
          statistics_(parameters_) {}

    // Runs every thread to its end; rethrows the first failure.
    void run() {
        std::vector<std::thread> running;
        for (int thread = 0; thread < threads_; ++thread) running.emplace_back(&MeasuringThreads::work, this, thread);
        for (std::thread& each : running) each.join();
        if (failure_) std::rethrow_exception(failure_);
    }

    WorkerMeasurement result() {
        if (plan_.measureSteps) result_.stepSeconds = slowestThenMedian(steps_);
        if (averaging_) {
            result_.parameterAveragingSeconds = slowestThenMedian(parameters_);
            if (plan_.averageUpdaters && result_.stateCount > 0) {
                result_.stateAveragingSeconds = slowestThenMedian(state_);
            }
            if (result_.statisticsCount > 0) result_.statisticsAveragingSeconds = slowestThenMedian(statistics_);
        }
        return result_;
    }

private:
    Timings shaped(int repeats) const {
        return Timings(std::size_t(repeats), std::vector<double>(std::size_t(threads_)));
    }

    void work(int thread) {
        const MemoryLocation location = plan_.locations[std::size_t(thread % workers_)];
        try {
            if (!location.isDevice()) omp_set_num_threads(plan_.threadsPerWorker);
            TimedTrainingStep timed(plan_.recipe, location, plan_.threadsPerWorker);
            if (thread == 0) describe(timed);
            if (plan_.measureSteps) timeSteps(timed, thread);
            if (averaging_) timeAveraging(timed, thread);
            barrier_.arriveAndWait();
        } catch (...) {
            std::lock_guard<std::mutex> lock(failureMutex_);
            if (!failure_) failure_ = std::current_exception();
            barrier_.abort("another worker failed");
            for (auto& communicator : communicators_) communicator->abort("another worker failed");
        }
    }

    // What every replica is: the same for each thread, told by the first.
    void describe(TimedTrainingStep& timed) {
        result_.modelText = timed.model().describe();
        result_.backendText = timed.backend().name();
        result_.optimizerText = plan_.recipe.optimizer.describe();
        result_.parameterCount = timed.model().parameterCount();
        result_.stateCount = timed.optimizer().state().elementCount();
        result_.statisticsCount = timed.model().statisticsCount();
    }

    void timeSteps(TimedTrainingStep& timed, int thread) {
        barrier_.arriveAndWait();
        timed.run(plan_.warmupSteps);
        for (int repeat = 0; repeat < plan_.repeats; ++repeat) {
            barrier_.arriveAndWait();  // every worker steps at once, as in training
            steps_[std::size_t(repeat)][std::size_t(thread)] = timed.run(plan_.steps) / plan_.steps;
        }
        timed.checkFinite();
    }

    // The group's communicator averaging each buffer, every worker of every group at once.
    void timeAveraging(TimedTrainingStep& timed, int thread) {
        const int local = thread % workers_;
        parallel::Communicator& communicator = *communicators_[std::size_t(thread / workers_)];
        kernels::Backend& backend = timed.backend();
        Tensor& statisticsBuffer = timed.model().statistics();
        Tensor& stateBuffer = timed.optimizer().state();
        auto timeAverage = [&](Tensor& buffer, Timings& into, int repeat) {
            if (buffer.elementCount() == 0) return;
            barrier_.arriveAndWait();
            const auto start = Clock::now();
            communicator.average(local, backend, buffer.dtype(), buffer.raw(), buffer.elementCount());
            if (repeat >= 0) into[std::size_t(repeat)][std::size_t(thread)] = secondsSince(start);
        };
        for (int repeat = -1; repeat < plan_.averagingRepeats; ++repeat) {  // -1: warm-up
            timeAverage(timed.model().parameters(), parameters_, repeat);
            if (plan_.averageUpdaters) timeAverage(stateBuffer, state_, repeat);
            timeAverage(statisticsBuffer, statistics_, repeat);
        }
    }

    const WorkerMeasurementPlan& plan_;
    const int workers_, threads_;
    const bool averaging_;
    std::vector<std::shared_ptr<parallel::Communicator>> communicators_;  // one per group, when averaging
    parallel::AbortableBarrier barrier_;
    std::mutex failureMutex_;
    std::exception_ptr failure_;
    Timings steps_, parameters_, state_, statistics_;
    WorkerMeasurement result_;
};

}  // namespace

WorkerMeasurement measureWorkers(const WorkerMeasurementPlan& plan) {
    const int workers = int(plan.locations.size());
    const bool averaging = plan.measureAveraging && workers * plan.plannedProcesses > 1;
    // Nothing to time: one replica tells the buffers' sizes.
    const int groups = plan.measureSteps || averaging ? std::max(1, plan.processesOnThisMachine) : 1;
    const int threads = plan.measureSteps || averaging ? workers * groups : 1;
    MeasuringThreads measuring(plan, averaging, groups, threads);
    measuring.run();
    return measuring.result();
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
