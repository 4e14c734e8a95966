#include <cstdio>
#include <memory>
#include <set>
#include <vector>

#include "kernels/Backend.h"
#include "launch/Commands.h"
#include "launch/ConfigurationAgreement.h"
#include "launch/MetricsWriter.h"
#include "launch/RunSetup.h"
#include "memory/Memory.h"
#include "src/core/Errors.h"
#include "src/nn/Architectures.h"
#include "parallel/NcclCommunicator.h"
#include "parallel/ParallelWrapper.h"
#include "parallel/Topology.h"
#include "src/train/Trainer.h"

namespace cohort::launch {
namespace {

class ConsoleListener final : public parallel::ParallelListener {
public:
    ConsoleListener(const RunOptions& options, MetricsWriter& metrics) : options_(options), metrics_(metrics) {}

    void onEpoch(const train::EpochMetrics& m) override {
        metrics_.writeEpoch(m);
        // Called on worker 0's thread: its workspaces, plus the process's allocator counters.
        for (const auto& statistics : memory::WorkspaceManager::forCurrentThread().statistics()) {
            metrics_.writeRaw("{\"event\":\"memory\",\"epoch\":" + std::to_string(m.epoch) + ",\"worker\":0," +
                              workspaceStatisticsJson(statistics).substr(1));
        }
        const auto counters = memory::allocationCounters();
        char line[256];
        std::snprintf(line, sizeof line,
                      "{\"event\":\"memory\",\"epoch\":%d,\"scope\":\"process\",\"host_bytes_in_use\":%lld,"
                      "\"host_peak_bytes\":%lld,\"device_bytes_in_use\":%lld,\"system_allocations\":%llu,"
                      "\"resident_bytes\":%lld}",
                      m.epoch, static_cast<long long>(counters.bytesInUse[0]), static_cast<long long>(counters.peakBytesInUse[0]),
                      static_cast<long long>(counters.bytesInUse[2]), static_cast<unsigned long long>(counters.allocations),
                      static_cast<long long>(memory::MemoryBudget::residentBytes()));
        metrics_.writeRaw(line);
        if (options_.quiet) return;
        std::printf("epoch %d/%d  train loss %.4f acc %.2f%%  test loss %.4f acc %.2f%%  %.0f samples/s  %.1f s\n",
                    m.epoch, options_.epochs, m.trainLoss, 100.0 * m.trainAccuracy, m.testLoss,
                    100.0 * m.testAccuracy, m.samplesPerSecond, m.seconds);
        std::fflush(stdout);
    }
    void onWorkerStatistics(int epoch, const std::vector<parallel::WorkerStatistics>& workers) override {
        char line[512];
        for (const auto& w : workers) {
            std::snprintf(line, sizeof line,
                          "{\"event\":\"worker\",\"epoch\":%d,\"worker\":%d,\"device\":\"%s\",\"samples\":%lld,"
                          "\"samples_per_sec\":%.1f,\"compute_seconds\":%.4f,\"data_wait_seconds\":%.4f,"
                          "\"averaging_wait_seconds\":%.4f,\"averaging_seconds\":%.4f,\"averagings\":%lld,"
                          "\"train_loss\":%.6f}",
                          epoch, w.worker, w.device.c_str(), static_cast<long long>(w.samples), w.samplesPerSecond,
                          w.computeSeconds, w.dataWaitSeconds, w.averagingWaitSeconds, w.averagingSeconds,
                          static_cast<long long>(w.averagings), w.trainLoss);
            metrics_.writeRaw(line);
        }
    }
    void onAveraging(const parallel::AveragingEvent& event) override {
        char line[256];
        if (event.score >= 0.0) {
            std::snprintf(line, sizeof line,
                          "{\"event\":\"averaging\",\"iteration\":%lld,\"seconds\":%.6f,\"bytes\":%lld,\"score\":%.6f}",
                          static_cast<long long>(event.iteration), event.seconds, static_cast<long long>(event.bytes),
                          event.score);
            if (!options_.quiet) std::printf("iteration %lld: score after averaging %.4f\n", static_cast<long long>(event.iteration), event.score);
        } else {
            std::snprintf(line, sizeof line, "{\"event\":\"averaging\",\"iteration\":%lld,\"seconds\":%.6f,\"bytes\":%lld}",
                          static_cast<long long>(event.iteration), event.seconds, static_cast<long long>(event.bytes));
        }
        metrics_.writeRaw(line);
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

int runTrain(const RunOptions& given, MpiEnvironment& mpi) {
    const MpiPlacement& place = mpi.placement();
    RunOptions options = given;
    if (place.rank != 0) {  // rank-aware output: only rank 0 prints progress and writes files
        options.quiet = true;
        options.metricsPath.clear();
    }
    if (!(options.mpiTimeout > 0.0)) throw InputError("--mpi-timeout must be > 0 seconds");
    RunSetup setup;
    try {
        setup = prepareRun(options, ProcessPlacement{place.localRank, place.localSize});  // validates before training
    } catch (const memory::BudgetExceededError& error) {
        throw InputError(error.what());  // predictable before training: bad input, exit 2
    }
    // Under mpirun: agree on the configuration, lay the job's replicas out by global index (rank r
    // owns replicas r*W .. r*W+W-1), and average inside the process first, then across processes.
    std::shared_ptr<parallel::Communicator> communicator;
    CrossProcessMethod method = CrossProcessMethod::None;
    // Local worker w trains on devices[w % devices.size()] (ParallelWrapper's placement).
    const std::vector<int> workerDevices =
        parallel::roundRobinWorkerDevices(setup.parallel.workers, setup.parallel.devices);
    const std::size_t gpus = std::set<int>(workerDevices.begin(), workerDevices.end()).size();
    if (place.size > 1 && gpus > 1) {
        // The MPI communicators average a process's workers on one GPU; NCCL inside the process
        // composed with averaging across processes is not built.
        throw InputError("under mpirun each process averages its workers on one GPU, but this one has " +
                         std::to_string(setup.parallel.workers) + " workers on " + std::to_string(gpus) +
                         " GPUs; run one process per GPU, or give each process one GPU with --devices");
    }
    if (place.size > 1) {
        auto processes = mpi.processes(options.mpiTimeout);
        agreeOnSettings(*processes, trainingSettings(options, setup));
        setup.parallel.firstGlobalReplica = place.rank * setup.parallel.workers;
        setup.parallel.totalReplicas = place.size * setup.parallel.workers;
        setup.parallel.reportingProcess = place.rank == 0;
        method = mpi.chooseMethod(setup.parallel.devices);
        communicator = mpi.makeCommunicator(setup.parallel.workers, setup.parallel.devices, method);
    } else if (!workerDevices.empty()) {
        // One process: distinct GPUs average through NCCL (prepareRun checked that NCCL is built
        // in and every GPU carries the same number of workers); workers sharing one GPU use the
        // default local communicator.
        parallel::TopologyDescription topology;
        topology.workerDevices = workerDevices;
        topology.ncclAvailable = parallel::ncclCommunicatorCompiledIn();
        const parallel::LocalAveraging local = parallel::planCommunication(topology).local;
        if (local == parallel::LocalAveraging::Nccl || local == parallel::LocalAveraging::SameDeviceThenNccl) {
            communicator = parallel::makeNcclCommunicator(workerDevices);
        }
    }
    MetricsWriter metrics(options.metricsPath);
    parallel::ParallelWrapper wrapper(*setup.model, setup.optimizer, setup.trainer, setup.parallel, communicator);
    if (!options.quiet) {
        if (place.size > 1) {
            std::printf("mpirun job: %d processes x %d workers = %d replicas; rank 0 on %s; across processes: %s\n",
                        place.size, setup.parallel.workers, place.size * setup.parallel.workers, place.host.c_str(),
                        toString(method).c_str());
        }
        std::printf("cohort %s: %s, %lld parameters\n", COHORT_VERSION, setup.model->describe().c_str(),
                    static_cast<long long>(setup.model->parameterCount()));
        std::printf("%d worker(s) on %s, %d BLAS thread(s) each, %s, averaging every %d, %s; %s, %s\n",
                    setup.parallel.workers, memory::toString(setup.location).c_str(), setup.parallel.threadsPerWorker,
                    options.trainingMode.c_str(), setup.parallel.averagingFrequency,
                    wrapper.communicator().name().c_str(), setup.optimizer.describe().c_str(),
                    setup.scheduleText.c_str());
        std::printf("data: %s, %zu train / %zu test samples, batch %lld per worker\n", options.data.c_str(),
                    setup.data.train.count, setup.data.test.count, static_cast<long long>(options.batchSize));
        std::fflush(stdout);
    }
    ConsoleListener listener(options, metrics);
    wrapper.fit(setup.data, &listener);
    return 0;
}

}  // namespace cohort::launch
