// `cohort plan`: predicted samples/s and the fraction of time spent averaging for P hosts × W
// workers × K, from a measured (or given) training step, a measured (or given) in-process
// averaging cost and a link model (given, or fitted by --probe under mpirun); recommends the
// smallest K that keeps averaging under a target fraction. The model: parallel/ScalingModel.h
// and docs/PLANNER.md. Under mpirun every rank measures (ranks on one host share its cores, as in
// training) and rank 0 prints.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/Backend.h"
#include "launch/commands/Commands.h"
#include "launch/options/Flags.h"
#include "launch/options/LinkUnits.h"
#include "launch/measure/PlanMeasurement.h"
#include "launch/run/RunSetup.h"
#include "memory/Memory.h"
#include "parallel/EpochSchedule.h"
#include "parallel/ScalingModel.h"
#include "src/core/Errors.h"
#include "src/optim/LearningRateScaling.h"

namespace cohort::launch {
namespace {

using Json = nlohmann::ordered_json;

const std::vector<int> kTableFrequencies{1, 2, 5, 10, 25, 50, 100};

// The flags of a plan, checked before anything is measured.
struct PlanFlags {
    parallel::AllreduceAlgorithm algorithm = parallel::AllreduceAlgorithm::Binomial;
    parallel::TrainingMode mode = parallel::TrainingMode::Averaging;
    std::optional<parallel::LinkModel> link;  // --latency and --bandwidth
    std::int64_t probeLargest = 0;
};

PlanFlags checkFlags(const RunOptions& options) {
    if (options.benchSteps < 1 || options.benchRepeats < 1 || options.benchWarmup < 0) {
        throw InputError("--steps and --repeats must be >= 1 and --warmup >= 0");
    }
    if (!(options.planTargetFraction > 0.0 && options.planTargetFraction < 1.0)) {
        throw InputError("--target-fraction must be between 0 and 1 (exclusive), e.g. 0.1, got " +
                         std::to_string(options.planTargetFraction));
    }
    if (options.planHosts < 0) throw InputError("--hosts must be >= 0 (0: the mpirun size, else 1), got " + std::to_string(options.planHosts));
    if (options.planRanksPerHost < 0) {
        throw InputError("--ranks-per-host must be >= 0, got " + std::to_string(options.planRanksPerHost));
    }
    if (options.workers < 0) throw InputError("--workers must be >= 0, got " + std::to_string(options.workers));
    if (options.threadsPerWorker < 0) throw InputError("--threads-per-worker must be >= 0");
    if (options.averagingFrequency < 1) {
        throw InputError("--averaging-frequency must be at least 1, got " + std::to_string(options.averagingFrequency));
    }
    if (!(options.planStepMilliseconds >= 0.0) || !std::isfinite(options.planStepMilliseconds)) {
        throw InputError("--step-ms must be a positive number of milliseconds (0: measured), got " +
                         std::to_string(options.planStepMilliseconds));
    }
    if (options.planLocalAveragingMilliseconds &&
        (!(*options.planLocalAveragingMilliseconds >= 0.0) || !std::isfinite(*options.planLocalAveragingMilliseconds))) {
        throw InputError("--local-averaging-ms must be >= 0 milliseconds, got " +
                         std::to_string(*options.planLocalAveragingMilliseconds));
    }
    PlanFlags flags;
    flags.algorithm = options.planAllreduce;
    flags.mode = options.trainingMode;
    const bool latency = options.planLatencySeconds.has_value(), bandwidth = options.planBandwidthBytesPerSecond.has_value();
    if (latency != bandwidth) throw InputError("give both --latency and --bandwidth (the link model needs both), or --probe");
    if (latency) {
        if (options.planProbe) throw InputError("give either --probe or --latency and --bandwidth, not both");
        flags.link = parallel::LinkModel{*options.planLatencySeconds, *options.planBandwidthBytesPerSecond};
    }
    flags.probeLargest = options.planProbeLargest;
    return flags;
}

std::string withThousands(double value) {
    const auto whole = static_cast<long long>(std::llround(value));
    std::string digits = std::to_string(whole), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

std::string percent(double fraction) {
    char text[32];
    std::snprintf(text, sizeof text, fraction < 0.001 && fraction > 0 ? "%.3f%%" : "%.1f%%", 100.0 * fraction);
    return text;
}

Json rowJson(const parallel::ScalingPrediction& row) {
    return Json{{"averaging_frequency", row.averagingFrequency},
                {"samples_per_second", row.samplesPerSecond},
                {"averaging_fraction", row.averagingFraction},
                {"seconds_per_averaging_point", row.secondsPerAveragingPoint}};
}

}  // namespace

int runPlan(const RunOptions& given, MpiEnvironment& mpi) {
    RunOptions options = given;
    options.quiet = options.quiet || options.planJson;  // stdout is the plan alone
    const PlanFlags flags = checkFlags(options);
    applyMemoryFlags(options);
    const StepRecipe recipe = stepRecipeFrom(options);

    const MpiPlacement& place = mpi.placement();
    const int hosts = options.planHosts > 0 ? options.planHosts : place.size;
    const int ranksPerHost = options.planRanksPerHost > 0 ? options.planRanksPerHost : place.localSize;
    if (ranksPerHost > hosts) {
        throw InputError("--ranks-per-host " + std::to_string(ranksPerHost) + " is more than the plan's " +
                         std::to_string(hosts) + " processes (--hosts)");
    }
    if (options.planProbe && !(mpi.active() && place.size >= 2)) {
        throw InputError("--probe times the link between the ranks of an mpirun job: run it as 'mpirun -np 2 cohort plan "
                         "--probe ...' (or more ranks), or give --latency and --bandwidth");
    }
    if (hosts > 1 && !flags.link && !options.planProbe) {
        throw InputError("a plan for " + std::to_string(hosts) + " hosts needs the link between them: give --latency and "
                         "--bandwidth (e.g. --latency 50us --bandwidth 1gbit), or run under mpirun with --probe");
    }
    const memory::MemoryLocation location = chooseLocation(options);
    std::vector<int> devices;
    if (location.isDevice()) {
        devices = chooseDevices(options.devices, kernels::cudaDeviceCount(),
                                ProcessPlacement{place.localRank, place.localSize, place.size});
    }
    const int workers = options.workers > 0 ? options.workers : (location.isDevice() ? int(devices.size()) : 1);
    const int threadsPerWorker = threadsPerWorkerFor(options.threadsPerWorker, workers, ranksPerHost);

    // The link first, while nothing else runs.
    std::shared_ptr<parallel::ProcessGroup> processes = mpi.processes(options.mpiTimeout);
    parallel::LinkModel link = flags.link.value_or(parallel::LinkModel{});
    std::vector<parallel::LinkSample> probe;
    if (options.planProbe) {
        probe = probeAllreduce(*processes, flags.probeLargest);
        link = parallel::fitLinkModel(probe, flags.algorithm, processes->size());
    }

    WorkerMeasurementPlan measuring;
    measuring.recipe = recipe;
    for (int w = 0; w < workers; ++w) {
        measuring.locations.push_back(location.isDevice() ? memory::MemoryLocation::onDevice(devices[std::size_t(w) % devices.size()])
                                                          : location);
    }
    measuring.devices = devices;
    // Under mpirun the ranks of a host measure at once; alone, this process runs the host's ranks' workers.
    measuring.processesOnThisMachine = mpi.active() ? 1 : ranksPerHost;
    measuring.threadsPerWorker = threadsPerWorker;
    measuring.plannedProcesses = hosts;
    measuring.averageUpdaters = options.averageUpdaters;
    measuring.measureSteps = options.planStepMilliseconds == 0.0;
    measuring.measureAveraging = !options.planLocalAveragingMilliseconds;
    measuring.warmupSteps = options.benchWarmup;
    measuring.steps = options.benchSteps;
    measuring.repeats = options.benchRepeats;
    WorkerMeasurement measured = measureWorkers(measuring);
    measured.stepSeconds = maxOverProcesses(*processes, measured.stepSeconds);
    measured.parameterAveragingSeconds = maxOverProcesses(*processes, measured.parameterAveragingSeconds);
    measured.stateAveragingSeconds = maxOverProcesses(*processes, measured.stateAveragingSeconds);
    measured.statisticsAveragingSeconds = maxOverProcesses(*processes, measured.statisticsAveragingSeconds);

    const std::int64_t element = std::int64_t(sizeof(float));
    const std::int64_t parameterBytes = measured.parameterCount * element;
    const std::int64_t stateBytes = options.averageUpdaters ? measured.stateCount * element : 0;
    const std::int64_t statisticsBytes = measured.statisticsCount * element;
    const bool localGiven = options.planLocalAveragingMilliseconds.has_value();
    const double localPoint = localGiven ? *options.planLocalAveragingMilliseconds / 1e3
                                         : measured.parameterAveragingSeconds + measured.stateAveragingSeconds +
                                               measured.statisticsAveragingSeconds;
    const double localGradients = localGiven ? localPoint : measured.parameterAveragingSeconds;

    // Rounds per epoch, as parallel/EpochSchedule counts them: each epoch's end is an averaging point.
    std::int64_t trainSamples = options.planTrainSamples;
    if (trainSamples < -1) throw InputError("--train-samples must be >= 0 (or -1: counted from --data), got " + std::to_string(trainSamples));
    if (trainSamples == -1) trainSamples = std::int64_t(loadData(options).train.count);
    const int replicasPlanned = hosts * workers;
    const parallel::EpochSchedule schedule(std::size_t(trainSamples), std::size_t(recipe.batchSize), replicasPlanned);

    parallel::ScalingInputs averaging;
    averaging.roundsPerEpoch = std::int64_t(schedule.rounds);
    if (trainSamples > 0 && averaging.roundsPerEpoch < 1) {
        throw InputError("--train-samples " + std::to_string(trainSamples) + " gives no full round of " +
                         std::to_string(replicasPlanned) + " replicas x --batch-size " + std::to_string(recipe.batchSize));
    }
    averaging.processes = hosts;
    averaging.workers = workers;
    averaging.batchSize = recipe.batchSize;
    averaging.stepSeconds = measuring.measureSteps ? measured.stepSeconds : options.planStepMilliseconds / 1e3;
    averaging.mode = parallel::TrainingMode::Averaging;
    averaging.sync = parallel::averagingPointCost(localPoint, parameterBytes, stateBytes, statisticsBytes);
    averaging.link = link;
    averaging.algorithm = flags.algorithm;
    // The probed sizes price the messages of a plan for the job that was probed.
    const bool readOffProbe = options.planProbe && hosts == processes->size();
    if (readOffProbe) averaging.probed = probe;
    parallel::ScalingInputs planned = averaging;
    if (flags.mode == parallel::TrainingMode::SharedGradients) {
        planned.mode = parallel::TrainingMode::SharedGradients;
        planned.sync = parallel::sharedGradientsStepCost(localGradients, parameterBytes);
    }

    std::set<int> frequencies(kTableFrequencies.begin(), kTableFrequencies.end());
    if (options.averagingFrequencyGiven) frequencies.insert(options.averagingFrequency);
    std::vector<parallel::ScalingPrediction> rows;
    if (planned.mode == parallel::TrainingMode::SharedGradients) {
        rows.push_back(parallel::predict(planned, 1));
    } else {
        for (const int k : frequencies) rows.push_back(parallel::predict(planned, k));
    }
    const int recommended = parallel::smallestAveragingFrequency(averaging, options.planTargetFraction);
    const parallel::ScalingPrediction atRecommended = parallel::predict(averaging, recommended);
    const int replicas = averaging.replicas();
    const double linkPoint = parallel::linkSeconds(planned.sync, link, flags.algorithm, hosts, planned.probed);

    std::vector<std::string> advice;
    if (replicas > 1) {
        const optim::OptimizerKind optimizerKind = recipe.optimizer.kind;
        const double factor = optim::learningRateScale(optim::LearningRateScaling::Auto, optimizerKind, replicas);
        char factorText[32];
        std::snprintf(factorText, sizeof factorText, "%.3g", factor);
        const std::string scalingAdvice =
            std::string(optim::toString(optim::resolveScaling(optim::LearningRateScaling::Auto, optimizerKind))) +
            " for " + optim::toString(optimizerKind) + ": --lr x " + factorText;
        advice.push_back("with " + std::to_string(replicas) + " replicas a step sees " + std::to_string(replicas) + " x " +
                         std::to_string(recipe.batchSize) + " = " + std::to_string(std::int64_t(replicas) * recipe.batchSize) +
                         " samples: scale the learning rate with --lr-scaling auto --warmup-epochs 1 (" + scalingAdvice +
                         "; README, More replicas: scaling the learning rate)");
        if (recommended >= 25) {
            advice.push_back("averaging every " + std::to_string(recommended) + " steps or more: --outer-optimizer nesterov "
                             "--outer-lr 0.7 --average-updaters false recovers accuracy lost to rare averaging "
                             "(README, Choosing a training mode)");
        }
    } else {
        advice.push_back("one replica: nothing to average, every K predicts the same");
    }
    if (planned.mode == parallel::TrainingMode::SharedGradients) {
        advice.push_back("shared gradients average every step; averaging instead with --averaging-frequency " +
                         std::to_string(recommended) + " keeps it at " + percent(atRecommended.averagingFraction) + " (" +
                         withThousands(atRecommended.samplesPerSecond) + " samples/s)");
    }

    if (place.rank != 0) return 0;
    const auto stepSource = measuring.measureSteps ? "measured" : "given";
    const auto linkSource = options.planProbe ? "probe" : flags.link ? "given" : "none";
    if (options.planJson) {
        Json probeJson = Json::array();
        for (const parallel::LinkSample& sample : probe) {
            probeJson.push_back({{"bytes", sample.bytes},
                                 {"seconds", sample.seconds},
                                 {"model_seconds", parallel::allreduceSeconds(link, flags.algorithm, processes->size(), sample.bytes)}});
        }
        Json rowsJson = Json::array();
        for (const auto& row : rows) rowsJson.push_back(rowJson(row));
        Json out{
            {"model", measured.modelText},
            {"backend", measured.backendText},
            {"optimizer", measured.optimizerText},
            {"inputs", {{"hosts", hosts}, {"ranks_per_host", ranksPerHost}, {"workers", workers}, {"replicas", replicas},
                        {"batch_size", recipe.batchSize}, {"threads_per_worker", threadsPerWorker},
                        {"training_mode", flagValue(options.trainingMode)}, {"average_updaters", options.averageUpdaters},
                        {"averaging_frequency", options.averagingFrequencyGiven ? Json(options.averagingFrequency) : Json()},
                        {"target_fraction", options.planTargetFraction}, {"allreduce", parallel::toString(flags.algorithm)},
                        {"train_samples", trainSamples}, {"rounds_per_epoch", averaging.roundsPerEpoch}}},
            {"step_seconds", planned.stepSeconds},
            {"step_source", stepSource},
            {"link", {{"source", linkSource}, {"latency_seconds", link.latencySeconds},
                      {"bandwidth_bytes_per_second", link.bytesPerSecond}, {"probe_processes", options.planProbe ? processes->size() : 0},
                      {"probe_read_off", readOffProbe}, {"probe", probeJson}}},
            {"averaging_point", {{"bytes", parameterBytes + (planned.mode == parallel::TrainingMode::SharedGradients ? 0 : stateBytes + statisticsBytes)},
                                 {"parameter_bytes", parameterBytes}, {"state_bytes", stateBytes}, {"statistics_bytes", statisticsBytes},
                                 {"local_seconds", planned.sync.localSeconds}, {"local_source", localGiven ? "given" : "measured"},
                                 {"link_seconds", replicas > 1 ? linkPoint : 0.0}, {"seconds", parallel::secondsPerSync(planned)}}},
            {"rows", rowsJson},
            {"recommended_averaging_frequency", recommended},
            {"recommended", rowJson(atRecommended)},
            {"advice", advice}};
        if (planned.mode == parallel::TrainingMode::SharedGradients) {
            out["overlapped_samples_per_second_bound"] = parallel::overlappedSamplesPerSecondBound(planned);
        }
        std::printf("%s\n", out.dump(2).c_str());
        return 0;
    }

    std::printf("plan: %s, batch %lld per worker, %s, %s\n", measured.modelText.c_str(),
                static_cast<long long>(recipe.batchSize), measured.optimizerText.c_str(), measured.backendText.c_str());
    std::printf("  job:      %d host%s x %d worker%s = %d replica%s (%d process%s per machine, %d BLAS thread%s per worker), %s\n",
                hosts, hosts == 1 ? "" : "s", workers, workers == 1 ? "" : "s", replicas, replicas == 1 ? "" : "s",
                ranksPerHost, ranksPerHost == 1 ? "" : "es", threadsPerWorker, threadsPerWorker == 1 ? "" : "s",
                flagValue(options.trainingMode));
    if (averaging.roundsPerEpoch > 0) {
        std::printf("  epoch:    %lld training samples = %lld rounds of %d replica%s (each epoch's end is also averaged)\n",
                    static_cast<long long>(trainSamples), static_cast<long long>(averaging.roundsPerEpoch), replicas,
                    replicas == 1 ? "" : "s");
    }
    std::printf("  step:     %s (%s%s)\n", formatDuration(planned.stepSeconds).c_str(), stepSource,
                measuring.measureSteps ? (", slowest of " + std::to_string(workers * measuring.processesOnThisMachine) +
                                          " stepping at once, median of " + std::to_string(options.benchRepeats) + " x " +
                                          std::to_string(options.benchSteps) + " steps").c_str()
                                       : "");
    if (options.planProbe) {
        std::printf("  probe:    allreduce over %d ranks (median, slowest rank) against the fitted model:\n", processes->size());
        for (const parallel::LinkSample& sample : probe) {
            const double model = parallel::allreduceSeconds(link, flags.algorithm, processes->size(), sample.bytes);
            std::printf("            %10s  %10s measured  %10s model\n", memory::formatBytes(std::int64_t(sample.bytes)).c_str(),
                        formatDuration(sample.seconds).c_str(), formatDuration(model).c_str());
        }
    }
    if (hosts > 1 || options.planProbe) {
        std::printf("  link:     alpha %s, beta %s (%s); %s allreduce%s\n", formatDuration(link.latencySeconds).c_str(),
                    formatBandwidth(link.bytesPerSecond).c_str(), linkSource, parallel::toString(flags.algorithm),
                    readOffProbe ? "; messages priced from the probed times" : "");
    }
    const bool shared = planned.mode == parallel::TrainingMode::SharedGradients;
    if (replicas > 1) {
        std::printf("  %s %s (parameters %s%s%s); in process %s (%s) + link %s = %s\n",
                    shared ? "per step:" : "per point:",
                    memory::formatBytes(shared ? parameterBytes : parameterBytes + stateBytes + statisticsBytes).c_str(),
                    memory::formatBytes(parameterBytes).c_str(),
                    !shared && stateBytes > 0 ? (", optimizer state " + memory::formatBytes(stateBytes)).c_str() : "",
                    !shared && statisticsBytes > 0 ? (", statistics " + memory::formatBytes(statisticsBytes)).c_str() : "",
                    formatDuration(planned.sync.localSeconds).c_str(), localGiven ? "given" : "measured",
                    formatDuration(linkPoint).c_str(), formatDuration(parallel::secondsPerSync(planned)).c_str());
    }
    std::printf("\n  %5s  %12s  %10s  %14s\n", shared ? "" : "K", "samples/s", shared ? "gradients" : "averaging",
                shared ? "s per step" : "s per point");
    for (const auto& row : rows) {
        std::string note;
        if (!shared && options.averagingFrequencyGiven && row.averagingFrequency == options.averagingFrequency) note += "  <- given";
        std::printf("  %5s  %12s  %10s  %14.6f%s\n", shared ? "every" : std::to_string(row.averagingFrequency).c_str(),
                    withThousands(row.samplesPerSecond).c_str(), percent(row.averagingFraction).c_str(),
                    row.secondsPerAveragingPoint, note.c_str());
    }
    if (shared) {
        std::printf("  overlapped with the backward pass, at best %s samples/s\n",
                    withThousands(parallel::overlappedSamplesPerSecondBound(planned)).c_str());
    }
    std::printf("\nrecommendation: --averaging-frequency %d: averaging %s of the time (target %s), %s samples/s%s\n", recommended,
                percent(atRecommended.averagingFraction).c_str(), percent(options.planTargetFraction).c_str(),
                withThousands(atRecommended.samplesPerSecond).c_str(),
                atRecommended.averagingFraction > options.planTargetFraction
                    ? " (the target cannot be met: this averages once an epoch, at its end, the least there is)"
                    : "");
    for (const std::string& line : advice) std::printf("advice: %s\n", line.c_str());
    return 0;
}

}  // namespace cohort::launch
