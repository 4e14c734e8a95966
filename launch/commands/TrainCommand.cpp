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
#include "launch/run/LaunchRestart.h"
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
                      const parallel::ParallelWrapper& wrapper, const ResumeSource& resumed) {
    const nlohmann::json settings = settingsByKey(trainingSettings(options, setup));
    nlohmann::json gpus = nlohmann::json::array();
    for (int device : setup.parallel.devices) gpus.push_back(kernels::cudaDeviceName(device));
    nlohmann::json record = {
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
        {"resumed_from", resumed.path}};
    if (resumed.epochsBefore > 0) record["epochs_extended_from"] = resumed.epochsBefore;
    if (resumed.replicasBefore > 0) {
        record["replicas_changed_from"] = {{"replicas", resumed.replicasBefore}, {"iteration", resumed.iterationBefore}};
    }
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


// Rank-aware output: only rank 0 prints progress and writes files.
void leaveOutputsToRankZero(RunOptions& options) {
    options.quiet = true;
    options.metricsPath.clear();
    options.savePath.clear();
    options.checkpointDir.clear();
}

// A rank's failed set-up: under mpirun it is shared with the other ranks before anyone gives up.
struct SetupFailure {
    std::string message;  // empty: set up
    bool input = false;   // bad input (exit 2)
};

// Every output this rank writes, before anything is loaded: a folder that cannot take the file is
// found in a second, not after the last epoch.
void checkOutputs(const RunOptions& options, bool rankZero) {
    checkOutputFile(options.metricsPath, "--metrics");
    checkOutputFile(options.savePath, "--save");
    checkOutputFolder(options.checkpointDir, "--checkpoint-dir");
    if (!rankZero) return;  // the report and the trace are rank 0's
    checkOutputFile(options.reportPath, "--report");
    checkOutputFile(options.tracePath, "--trace");
}

// Validates before training, the outputs and the communicator's layout included; alone, a failure
// is thrown at once.
SetupFailure prepareThisRank(const RunOptions& options, const MpiPlacement& place, RunSetup& setup) {
    try {
        checkOutputs(options, place.rank == 0);
        setup = prepareRun(options, ProcessPlacement{place.localRank, place.localSize, place.size});
    } catch (const memory::BudgetExceededError& error) {
        if (place.size <= 1) throw InputError(messageInFlags(error));  // predictable before training: bad input, exit 2
        return {messageInFlags(error), true};
    } catch (const std::exception& error) {
        if (place.size <= 1) throw;
        return {messageInFlags(error), dynamic_cast<const InputError*>(&error) != nullptr};
    }
    return {};
}

// Under mpirun: agree that every rank is ready (a host with other data or none names itself
// on every rank, instead of leaving the others to time out) and on the configuration, and
// lay the job's replicas out by global index (rank r owns replicas r*W .. r*W+W-1); the
// communicator averages inside the process first, then across processes.
void joinTheJob(MpiEnvironment& mpi, const RunOptions& options, const SetupFailure& failure, RunSetup& setup) {
    const MpiPlacement& place = mpi.placement();
    auto processes = mpi.processes(options.mpiTimeout);
    agreeOnStartup(*processes, failure.message, failure.input);
    agreeOnSettings(*processes, trainingSettings(options, setup));
    setup.parallel.firstGlobalReplica = place.rank * setup.parallel.workers;
    setup.parallel.totalReplicas = place.size * setup.parallel.workers;
    setup.parallel.reportingProcess = place.rank == 0;
}

// With --checkpoint-dir every --checkpoint-every iterations and at each epoch's end, with --save at
// the run's end.
void scheduleSnapshots(RunSetup& setup, bool checkpointing, std::int64_t checkpointEvery, bool saving) {
    setup.parallel.snapshotEvery = checkpointing ? checkpointEvery : 0;
    setup.parallel.snapshotEveryEpoch = checkpointing;
    setup.parallel.snapshotAtRunEnd = saving;
}

// --resume: the wrapper continues the run the snapshot was taken from (collective under mpirun);
// returns the checkpoint it resumed from (an empty path when not resuming).
ResumeSource resumeIfAsked(const RunOptions& options, const RunSetup& setup, MpiEnvironment& mpi,
                           parallel::ParallelWrapper& wrapper) {
    ResumeSource resumed;
    if (options.resumePath.empty()) return resumed;
    parallel::TrainingSnapshot snapshot = [&] {
        const ExitOnSignalsWhileWaiting interruptible(options.resumePath, "--resume " + options.resumePath);
        return snapshotToResume(options, setup, mpi.placement().size > 1 ? mpi.processes(options.mpiTimeout).get() : nullptr,
                                resumed);
    }();
    try {
        wrapper.resume(std::move(snapshot));
    } catch (const std::invalid_argument& error) {
        throw InputError("cannot resume from " + resumed.path + ": " + error.what());
    }
    return resumed;
}

// The run's first lines: the job, the model, its workers, the data and where it resumes from.
void printRunStart(const RunOptions& options, const RunSetup& setup, const MpiPlacement& place,
                   const parallel::CommunicatorChoice& choice, const parallel::ParallelWrapper& wrapper,
                   const ResumeSource& resumed) {
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
                wrapper.communicator().name().c_str(), setup.optimizer.describe().c_str(), setup.scheduleText.c_str());
    if (setup.parallel.outer.enabled()) {
        std::printf("outer optimizer: %s, lr %g%s\n", flagValue(options.outerOptimizer),
                    setup.parallel.outer.learningRate,
                    setup.parallel.outer.kind == parallel::OuterOptimizerKind::Nesterov
                        ? (", momentum " + std::to_string(setup.parallel.outer.momentum)).c_str() : "");
    }
    if (setup.data.train.windowed()) {
        std::printf("data: %s, %zu training tokens, vocabulary %d (%s); %lld iterations of %lld windows of %lld tokens per "
                    "worker; validation: %zu windows every %lld iterations\n",
                    options.dataFile.c_str(), setup.data.train.tokens.size(), setup.data.train.numClasses,
                    options.tokenizer.c_str(), static_cast<long long>(setup.trainer.epochs * evaluationInterval(options)),
                    static_cast<long long>(options.batchSize), static_cast<long long>(options.context),
                    setup.data.test.count, static_cast<long long>(evaluationInterval(options)));
    } else {
        std::printf("data: %s, %zu train / %zu test samples, batch %lld per worker\n", options.data.c_str(),
                    setup.data.train.count, setup.data.test.count, static_cast<long long>(options.batchSize));
    }
    if (resumed.epochsBefore > 0 && setup.data.train.windowed()) {
        std::printf("resuming from %s, training longer: --max-iters %lld -> %lld (the learning-rate schedule now ends there)\n",
                    resumed.path.c_str(), static_cast<long long>(resumed.epochsBefore * evaluationInterval(options)),
                    static_cast<long long>(setup.trainer.epochs * evaluationInterval(options)));
    } else if (resumed.epochsBefore > 0) {
        std::printf("resuming from %s, training longer: --epochs %d -> %d (the learning-rate schedule now ends at epoch %d)\n",
                    resumed.path.c_str(), resumed.epochsBefore, setup.trainer.epochs, setup.trainer.epochs);
    } else if (!resumed.path.empty()) {
        std::printf("resuming from %s\n", resumed.path.c_str());
    }
    if (resumed.replicasBefore > 0) {
        std::printf("the checkpoint was written by %d replica(s), this job has %d: iteration %lld continues as %lld "
                    "(%s; per-replica state averaged)\n",
                    resumed.replicasBefore, setup.parallel.totalReplicas, static_cast<long long>(resumed.iterationBefore),
                    static_cast<long long>(wrapper.resumeIteration()),
                    setup.data.train.windowed() ? "a language model counts iterations" : "the same samples seen");
    }
    std::fflush(stdout);
}

// Where each worker's time goes (--trace): bounded tracks, written when the run ends however it ends.
std::shared_ptr<parallel::TraceRecorder> traceIfAsked(const std::string& tracePath, std::int64_t traceSteps,
                                                      const RunSetup& setup, parallel::ParallelWrapper& wrapper) {
    std::shared_ptr<parallel::TraceRecorder> trace;
    if (tracePath.empty()) return trace;
    trace = std::make_shared<parallel::TraceRecorder>(setup.parallel.workers, 4 * traceSteps + 64);
    wrapper.setTrace(trace);
    return trace;
}

// What the end of a run writes to, however it ends.
struct RunEnd {
    const MpiPlacement& place;
    const std::string& tracePath;  // --trace as given: every rank writes its tracks
    bool checkpointing;            // --checkpoint-dir given (the same on every rank)
    MetricsWriter& metrics;
    RunListener& listener;
    ProgressLine& progress;
    const parallel::TraceRecorder* trace;  // none without --trace
    const TraceLabels& labels;
};

// The run's record ends with why, the report and the trace show how far it got, and the message
// says where the run can be picked up again; thrown on as InputError (exit 2) or runtime_error.
[[noreturn]] void reportFailure(const std::exception& error, const RunEnd& end) {
    end.progress.clear();
    const bool input = dynamic_cast<const InputError*>(&error) != nullptr;
    std::string message = messageInFlags(error);
    const std::string& checkpoint = end.listener.lastCheckpoint();
    if (dynamic_cast<const parallel::WorkerError*>(&error)) {
        const char* none = end.checkpointing ? "no checkpoint was written yet" : "no --checkpoint-dir";
        message += "; " + (checkpoint.empty() ? std::string(none) : "last good checkpoint " + checkpoint);
    }
    try {
        end.metrics.writeRaw("{\"event\":\"failed\",\"exit_code\":" + std::to_string(input ? 2 : 1) +
                             ",\"error\":" + jsonString(message) + "}");
        end.listener.writeReport();
        // No collective after a failure: each rank writes its own tracks.
        if (end.trace) {
            writeTrace(end.place.rank == 0 ? end.tracePath : end.tracePath + ".rank" + std::to_string(end.place.rank),
                       *end.trace, end.labels, nullptr);
        }
    } catch (const std::exception&) {
        // the error being reported matters more than the files
    }
    if (input) throw InputError(message);
    throw std::runtime_error(message);
}

train::RunSummary fitOrReportFailure(parallel::ParallelWrapper& wrapper, const data::DatasetSplits& data,
                                     const RunEnd& end) {
    try {
        return wrapper.fit(data, &end.listener);
    } catch (const std::exception& error) {
        reportFailure(error, end);
    }
}

// Stopped by a signal (here or, under mpirun, on another rank) at a sync point: records where and
// returns the exit code.
int reportStop(const RunEnd& end, const std::string& checkpointDir) {
    const parallel::TrainingSnapshot& at = end.listener.stoppedAt();
    const int code = StopOnSignals::signal() ? StopOnSignals::exitCode() : 128 + SIGTERM;
    const std::string signal = StopOnSignals::signal() ? StopOnSignals::name() : "a signal to another rank";
    end.metrics.writeRaw("{\"event\":\"stopped\",\"signal\":" + jsonString(signal) +
                         ",\"exit_code\":" + std::to_string(code) + ",\"epoch\":" + std::to_string(at.epoch) +
                         ",\"iteration\":" + std::to_string(at.iteration) +
                         ",\"checkpoint\":" + jsonString(end.listener.lastCheckpoint()) + "}");
    end.listener.writeReport();
    end.progress.clear();
    if (end.place.rank == 0) {
        const std::string& checkpoint = end.listener.lastCheckpoint();
        std::fprintf(stderr, "%s: stopped by %s at epoch %d, iteration %lld; %s\n", messagePrefix().c_str(),
                     signal.c_str(), at.epoch + (at.atEpochEnd ? 0 : 1), static_cast<long long>(at.iteration),
                     checkpoint.empty()
                         ? "no checkpoint written (no --checkpoint-dir)"
                         : ("checkpoint " + checkpoint + "; continue with --resume " + checkpointDir).c_str());
    }
    return code;
}

}  // namespace

int runTrain(const RunOptions& given, MpiEnvironment& mpi) {
    const MpiPlacement& place = mpi.placement();
    RunOptions options = given;
    validateCheckpointFlags(options);
    if (place.rank != 0) leaveOutputsToRankZero(options);
    if (!(options.mpiTimeout > 0.0)) throw InputError("--mpi-timeout must be > 0 seconds");
    RunSetup setup;
    const SetupFailure failure = prepareThisRank(options, place, setup);
    if (place.size > 1) joinTheJob(mpi, options, failure, setup);
    const parallel::CommunicatorChoice choice =
        parallel::makeCommunicator(mpi.layout(setup.parallel.workers, setup.parallel.devices));
    // Checkpoints (rank 0 writes; every rank takes part in the snapshot at the same sync point).
    std::optional<CheckpointDirectory> checkpoints;
    if (!options.checkpointDir.empty()) checkpoints.emplace(options.checkpointDir, options.keepCheckpoints);
    const bool checkpointing = !given.checkpointDir.empty();  // the same on every rank
    scheduleSnapshots(setup, checkpointing, options.checkpointEvery, !given.savePath.empty());
    StopOnSignals signals;
    setup.parallel.stopRequested = [] { return StopOnSignals::requested(); };
    parallel::ParallelWrapper wrapper(*setup.model, setup.optimizer, setup.trainer, setup.parallel,
                                      choice.communicator);
    const ResumeSource resumed = resumeIfAsked(options, setup, mpi, wrapper);
    if (place.rank != 0) options.reportPath.clear();
    const std::string chartJs = options.reportPath.empty() ? std::string() : chartJsSource();  // before training
    const std::optional<LaunchRestart> restart = launchRestartFromEnvironment();  // started again by cohort launch
    MetricsWriter metrics(options.metricsPath, restart.has_value());  // (then the job's record goes on)
    if (!options.reportPath.empty()) metrics.keepRecords();
    metrics.writeHeader(runRecord(options, setup, place, wrapper, resumed));
    if (restart) {
        const int replicas = setup.parallel.totalReplicas;
        metrics.writeRaw(restartEvent(*restart, resumed, wrapper.resumeIteration(), wrapper.resumeEpoch(), replicas, place.size));
        if (place.rank == 0 && !options.quiet) std::printf("%s\n", restartLine(*restart, resumed, wrapper.resumeIteration(), replicas).c_str());
    }
    if (!options.quiet) printRunStart(options, setup, place, choice, wrapper, resumed);
    ProgressLine progress(!options.quiet && place.rank == 0 && isTerminal(stderr), stderr, options.data == "text");
    RunListener listener(options, setup,
                         RunOutputs{metrics, checkpoints ? &*checkpoints : nullptr,
                                    progress.enabled() ? &progress : nullptr, options.reportPath, chartJs});
    const std::shared_ptr<parallel::TraceRecorder> trace =
        traceIfAsked(given.tracePath, options.traceSteps, setup, wrapper);
    const TraceLabels labels{place.rank, place.host, memory::toString(setup.location)};
    const RunEnd end{place, given.tracePath, checkpointing, metrics, listener, progress, trace.get(), labels};
    const train::RunSummary summary = fitOrReportFailure(wrapper, setup.data, end);
    if (trace) {
        writeTrace(given.tracePath, *trace, labels, place.size > 1 ? mpi.processes(options.mpiTimeout).get() : nullptr);
    }
    if (!summary.stopped) return 0;
    return reportStop(end, options.checkpointDir);
}

}  // namespace cohort::launch
