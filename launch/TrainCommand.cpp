#include <cstdio>
#include <csignal>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "kernels/Backend.h"
#include "launch/Commands.h"
#include "launch/ConfigurationAgreement.h"
#include "launch/Checkpoints.h"
#include "launch/Flags.h"
#include "launch/Signals.h"
#include "launch/MetricsWriter.h"
#include "launch/OutputFile.h"
#include "launch/RunSetup.h"
#include "memory/Memory.h"
#include "src/core/Errors.h"
#include "src/nn/Architectures.h"
#include "parallel/CommunicatorFactory.h"
#include "parallel/ParallelWrapper.h"
#include "parallel/Topology.h"
#include "src/train/Trainer.h"

namespace cohort::launch {
namespace {

class ConsoleListener final : public parallel::ParallelListener {
public:
    ConsoleListener(const RunOptions& options, const RunSetup& setup, MetricsWriter& metrics,
                    CheckpointDirectory* checkpoints)
        : options_(options), setup_(setup), metrics_(metrics), checkpoints_(checkpoints) {}

    // On the reporting process's worker 0, every other worker waiting.
    void onSnapshot(const parallel::TrainingSnapshot& snapshot, parallel::SnapshotReason reason) override {
        const train::CheckpointFile file = runCheckpoint(snapshot, options_, setup_, reason);
        if (checkpoints_) {
            lastCheckpoint_ = checkpoints_->write(file, snapshot.iteration, snapshot.epoch);
            metrics_.writeRaw("{\"event\":\"checkpoint\",\"path\":" + jsonString(lastCheckpoint_) +
                              ",\"epoch\":" + std::to_string(snapshot.epoch) + ",\"round\":" + std::to_string(snapshot.round) +
                              ",\"iteration\":" + std::to_string(snapshot.iteration) + "}");
        }
        if (reason == parallel::SnapshotReason::RunEnd && !options_.savePath.empty()) {
            train::writeCheckpointFile(options_.savePath, file);
        }
        if (reason == parallel::SnapshotReason::Stop) stoppedAt_ = snapshot;
    }
    const std::string& lastCheckpoint() const { return lastCheckpoint_; }
    const parallel::TrainingSnapshot& stoppedAt() const { return stoppedAt_; }

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
    const RunSetup& setup_;
    MetricsWriter& metrics_;
    CheckpointDirectory* checkpoints_;
    std::string lastCheckpoint_;
    parallel::TrainingSnapshot stoppedAt_;
};

void validateCheckpointFlags(const RunOptions& options) {
    if (options.checkpointEvery < 0) {
        throw InputError("--checkpoint-every must be >= 0 (0: at epoch ends only), got " + std::to_string(options.checkpointEvery));
    }
    if (options.checkpointEvery > 0 && options.checkpointDir.empty()) {
        throw InputError("--checkpoint-every needs --checkpoint-dir (where the checkpoints go)");
    }
    if (options.keepCheckpoints < 1) {
        throw InputError("--keep-checkpoints must be at least 1, got " + std::to_string(options.keepCheckpoints));
    }
    // Output files are never one of the run's inputs; a checkpoint is never renamed over a device.
    const std::vector<std::string> inputs = runInputs(options);
    refuseInputAsOutput(options.metricsPath, "--metrics", inputs);
    refuseInputAsOutput(options.savePath, "--save", inputs);
    std::error_code error;
    if (!options.savePath.empty() && std::filesystem::exists(options.savePath, error) &&
        !std::filesystem::is_regular_file(options.savePath, error)) {
        throw InputError("--save " + options.savePath + " exists and is not a regular file");
    }
}

}  // namespace

int runTrain(const RunOptions& given, MpiEnvironment& mpi) {
    const MpiPlacement& place = mpi.placement();
    RunOptions options = given;
    validateCheckpointFlags(options);
    if (place.rank != 0) {  // rank-aware output: only rank 0 prints progress and writes files
        options.quiet = true;
        options.metricsPath.clear();
        options.savePath.clear();
        options.checkpointDir.clear();
    }
    if (!(options.mpiTimeout > 0.0)) throw InputError("--mpi-timeout must be > 0 seconds");
    RunSetup setup;
    try {
        // Validates before training, the communicator's layout included.
        setup = prepareRun(options, ProcessPlacement{place.localRank, place.localSize, place.size});
    } catch (const memory::BudgetExceededError& error) {
        throw InputError(messageInFlags(error));  // predictable before training: bad input, exit 2
    }
    // Under mpirun: agree on the configuration and lay the job's replicas out by global index
    // (rank r owns replicas r*W .. r*W+W-1); the communicator averages inside the process first,
    // then across processes.
    if (place.size > 1) {
        auto processes = mpi.processes(options.mpiTimeout);
        agreeOnSettings(*processes, trainingSettings(options, setup));
        setup.parallel.firstGlobalReplica = place.rank * setup.parallel.workers;
        setup.parallel.totalReplicas = place.size * setup.parallel.workers;
        setup.parallel.reportingProcess = place.rank == 0;
    }
    const parallel::CommunicatorChoice choice =
        parallel::makeCommunicator(mpi.layout(setup.parallel.workers, setup.parallel.devices));
    // Checkpoints (rank 0 writes; every rank takes part in the snapshot at the same sync point).
    std::optional<CheckpointDirectory> checkpoints;
    if (!options.checkpointDir.empty()) checkpoints.emplace(options.checkpointDir, options.keepCheckpoints);
    const bool checkpointing = !given.checkpointDir.empty();  // the same on every rank
    setup.parallel.snapshotEvery = checkpointing ? options.checkpointEvery : 0;
    setup.parallel.snapshotEveryEpoch = checkpointing;
    setup.parallel.snapshotAtRunEnd = !given.savePath.empty();
    StopOnSignals signals;
    setup.parallel.stopRequested = [] { return StopOnSignals::requested(); };
    parallel::ParallelWrapper wrapper(*setup.model, setup.optimizer, setup.trainer, setup.parallel, choice.communicator);
    std::string resumedFrom;
    if (!options.resumePath.empty()) {
        parallel::TrainingSnapshot snapshot =
            snapshotToResume(options, setup, place.size > 1 ? mpi.processes(options.mpiTimeout).get() : nullptr, resumedFrom);
        try {
            wrapper.resume(std::move(snapshot));
        } catch (const std::invalid_argument& error) {
            throw InputError("cannot resume from " + resumedFrom + ": " + error.what());
        }
    }
    MetricsWriter metrics(options.metricsPath);
    if (!options.quiet) {
        if (place.size > 1) {
            std::printf("mpirun job: %d processes x %d workers = %d replicas; rank 0 on %s; across processes: %s\n",
                        place.size, setup.parallel.workers, place.size * setup.parallel.workers, place.host.c_str(),
                        parallel::toString(choice.plan.crossProcess).c_str());
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
        if (!resumedFrom.empty()) std::printf("resuming from %s\n", resumedFrom.c_str());
        std::fflush(stdout);
    }
    ConsoleListener listener(options, setup, metrics, checkpoints ? &*checkpoints : nullptr);
    train::RunSummary summary;
    try {
        summary = wrapper.fit(setup.data, &listener);
    } catch (const parallel::WorkerError& error) {
        // Say where the run can be picked up again.
        const std::string checkpoint = listener.lastCheckpoint().empty()
                                           ? std::string(checkpointing ? "no checkpoint was written yet" : "no --checkpoint-dir")
                                           : "last good checkpoint " + listener.lastCheckpoint();
        throw std::runtime_error(messageInFlags(error) + "; " + checkpoint);
    }
    if (!summary.stopped) return 0;
    // Stopped by a signal (here or, under mpirun, on another rank) at a sync point.
    const parallel::TrainingSnapshot& at = listener.stoppedAt();
    const int code = StopOnSignals::signal() ? StopOnSignals::exitCode() : 128 + SIGTERM;
    const std::string signal = StopOnSignals::signal() ? StopOnSignals::name() : "a signal to another rank";
    metrics.writeRaw("{\"event\":\"stopped\",\"signal\":" + jsonString(signal) + ",\"epoch\":" +
                     std::to_string(at.epoch) + ",\"iteration\":" + std::to_string(at.iteration) + ",\"checkpoint\":" +
                     jsonString(listener.lastCheckpoint()) + "}");
    if (place.rank == 0) {
        std::fprintf(stderr, "%s: stopped by %s at epoch %d, iteration %lld; %s\n", messagePrefix().c_str(), signal.c_str(),
                     at.epoch + (at.atEpochEnd ? 0 : 1), static_cast<long long>(at.iteration),
                     listener.lastCheckpoint().empty()
                         ? "no checkpoint written (no --checkpoint-dir)"
                         : ("checkpoint " + listener.lastCheckpoint() + "; continue with --resume " + options.checkpointDir).c_str());
    }
    return code;
}

}  // namespace cohort::launch
