#include <cstdio>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <memory>
#include <optional>
#include <vector>

#include "kernels/Backend.h"
#include "launch/commands/Commands.h"
#include "launch/job/ConfigurationAgreement.h"
#include "launch/run/RunSettings.h"
#include "launch/run/Checkpoints.h"
#include "launch/options/Flags.h"
#include "launch/job/Signals.h"
#include "launch/outputs/MetricsWriter.h"
#include "launch/outputs/HtmlReport.h"
#include "launch/outputs/ProgressLine.h"
#include "launch/run/RunListener.h"
#include "launch/outputs/TraceWriter.h"
#include "launch/outputs/OutputFile.h"
#include "launch/run/RunSetup.h"
#include "memory/Memory.h"
#include "src/core/Errors.h"
#include "src/nn/Architectures.h"
#include "parallel/CommunicatorFactory.h"
#include "parallel/ParallelWrapper.h"
#include "parallel/Topology.h"
#include "src/train/Trainer.h"

namespace cohort::launch {
namespace {

std::string cpuName() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    for (std::string line; std::getline(cpuinfo, line);) {
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    }
    return "CPU";
}

// The first record of --metrics: what this run is (schema in docs/METRICS.md).
std::string runRecord(const RunOptions& options, const RunSetup& setup, const MpiPlacement& place,
                      const parallel::ParallelWrapper& wrapper, const std::string& resumedFrom) {
    const nlohmann::json settings = settingsByKey(trainingSettings(options, setup));
    nlohmann::json gpus = nlohmann::json::array();
    for (int device : setup.parallel.devices) gpus.push_back(kernels::cudaDeviceName(device));
    const nlohmann::json record = {
        {"event", "run"},
        {"schema", kMetricsSchema},
        {"command", "train"},
        {"cohort_version", COHORT_VERSION},
        {"machine", {{"host", place.host}, {"cpu", cpuName()}, {"hardware_threads", std::thread::hardware_concurrency()}, {"gpus", gpus}}},
        {"job",
         {{"processes", place.size},
          {"workers", setup.parallel.workers},
          {"replicas", place.size * setup.parallel.workers},
          {"device", setup.location.isDevice() ? "cuda" : "cpu"},
          {"threads_per_worker", setup.parallel.threadsPerWorker},
          {"communicator", wrapper.communicator().name()}}},
        {"model", setup.model->describe()},
        {"parameters", setup.model->parameterCount()},
        {"data",
         {{"name", options.data}, {"train", setup.data.train.count}, {"test", setup.data.test.count}, {"classes", setup.data.train.numClasses}}},
        {"settings", settings},
        {"resumed_from", resumedFrom}};
    return record.dump();
}

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
    refuseInputAsOutput(options.reportPath, "--report", inputs);
    refuseInputAsOutput(options.tracePath, "--trace", inputs);
    if (options.traceSteps < 1) throw InputError("--trace-steps must be at least 1, got " + std::to_string(options.traceSteps));
    for (const std::string* output : {&options.reportPath, &options.tracePath}) {
        if (!output->empty() && (*output == options.metricsPath || *output == options.savePath)) {
            throw InputError("--report, --trace, --metrics and --save must name different files, two name " + *output);
        }
    }
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
    std::string setupError;  // under mpirun a rank's failed set-up is shared before anyone gives up
    bool setupInputError = false;
    try {
        // Validates before training, the communicator's layout included.
        setup = prepareRun(options, ProcessPlacement{place.localRank, place.localSize, place.size});
    } catch (const memory::BudgetExceededError& error) {
        if (place.size <= 1) throw InputError(messageInFlags(error));  // predictable before training: bad input, exit 2
        setupError = messageInFlags(error);
        setupInputError = true;
    } catch (const std::exception& error) {
        if (place.size <= 1) throw;
        setupError = messageInFlags(error);
        setupInputError = dynamic_cast<const InputError*>(&error) != nullptr;
    }
    // Under mpirun: agree that every rank is ready (a host with other data or none names itself
    // on every rank, instead of leaving the others to time out) and on the configuration, and
    // lay the job's replicas out by global index (rank r owns replicas r*W .. r*W+W-1); the
    // communicator averages inside the process first, then across processes.
    if (place.size > 1) {
        auto processes = mpi.processes(options.mpiTimeout);
        agreeOnStartup(*processes, setupError, setupInputError);
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
    if (place.rank != 0) {
        options.reportPath.clear();
    }
    const std::string chartJs = options.reportPath.empty() ? std::string() : chartJsSource();  // before training
    MetricsWriter metrics(options.metricsPath);
    if (!options.reportPath.empty()) metrics.keepRecords();
    metrics.writeHeader(runRecord(options, setup, place, wrapper, resumedFrom));
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
                    flagValue(options.trainingMode), setup.parallel.averagingFrequency,
                    wrapper.communicator().name().c_str(), setup.optimizer.describe().c_str(),
                    setup.scheduleText.c_str());
        if (setup.parallel.outer.enabled()) {
            std::printf("outer optimizer: %s, lr %g%s\n", flagValue(options.outerOptimizer), setup.parallel.outer.learningRate,
                        setup.parallel.outer.kind == parallel::OuterOptimizerKind::Nesterov
                            ? (", momentum " + std::to_string(setup.parallel.outer.momentum)).c_str() : "");
        }
        std::printf("data: %s, %zu train / %zu test samples, batch %lld per worker\n", options.data.c_str(),
                    setup.data.train.count, setup.data.test.count, static_cast<long long>(options.batchSize));
        if (!resumedFrom.empty()) std::printf("resuming from %s\n", resumedFrom.c_str());
        std::fflush(stdout);
    }
    ProgressLine progress(!options.quiet && place.rank == 0 && isTerminal(stderr));
    RunListener listener(options, setup,
                         RunOutputs{metrics, checkpoints ? &*checkpoints : nullptr, progress.enabled() ? &progress : nullptr,
                                    options.reportPath, chartJs});
    // Where each worker's time goes: bounded tracks, written when the run ends however it ends.
    std::shared_ptr<parallel::TraceRecorder> trace;
    if (!given.tracePath.empty()) {
        trace = std::make_shared<parallel::TraceRecorder>(setup.parallel.workers, 4 * options.traceSteps + 64);
        wrapper.setTrace(trace);
    }
    const TraceLabels labels{place.rank, place.host, memory::toString(setup.location)};
    train::RunSummary summary;
    try {
        summary = wrapper.fit(setup.data, &listener);
    } catch (const std::exception& error) {
        // The run's record ends with why, the report and the trace show how far it got, and the
        // line says where the run can be picked up again.
        progress.clear();
        const bool input = dynamic_cast<const InputError*>(&error) != nullptr;
        std::string message = messageInFlags(error);
        if (dynamic_cast<const parallel::WorkerError*>(&error)) {
            message += "; " + (listener.lastCheckpoint().empty()
                                   ? std::string(checkpointing ? "no checkpoint was written yet" : "no --checkpoint-dir")
                                   : "last good checkpoint " + listener.lastCheckpoint());
        }
        try {
            metrics.writeRaw("{\"event\":\"failed\",\"exit_code\":" + std::to_string(input ? 2 : 1) +
                             ",\"error\":" + jsonString(message) + "}");
            listener.writeReport();
            // No collective after a failure: each rank writes its own tracks.
            if (trace) writeTrace(place.rank == 0 ? given.tracePath : given.tracePath + ".rank" + std::to_string(place.rank),
                                  *trace, labels, nullptr);
        } catch (const std::exception&) {
            // the error being reported matters more than the files
        }
        if (input) throw InputError(message);
        throw std::runtime_error(message);
    }
    if (trace) writeTrace(given.tracePath, *trace, labels, place.size > 1 ? mpi.processes(options.mpiTimeout).get() : nullptr);
    if (!summary.stopped) return 0;
    // Stopped by a signal (here or, under mpirun, on another rank) at a sync point.
    const parallel::TrainingSnapshot& at = listener.stoppedAt();
    const int code = StopOnSignals::signal() ? StopOnSignals::exitCode() : 128 + SIGTERM;
    const std::string signal = StopOnSignals::signal() ? StopOnSignals::name() : "a signal to another rank";
    metrics.writeRaw("{\"event\":\"stopped\",\"signal\":" + jsonString(signal) + ",\"exit_code\":" + std::to_string(code) +
                     ",\"epoch\":" + std::to_string(at.epoch) + ",\"iteration\":" + std::to_string(at.iteration) +
                     ",\"checkpoint\":" + jsonString(listener.lastCheckpoint()) + "}");
    listener.writeReport();
    progress.clear();
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
