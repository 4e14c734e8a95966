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

// The planned job: P hosts of `ranksPerHost` processes, each process running `workers` workers.
struct PlanJob {
    int hosts = 1;
    int ranksPerHost = 1;
    memory::MemoryLocation location;
    std::vector<int> devices;  // this process's GPUs (empty on the CPU)
    int workers = 1;
    int threadsPerWorker = 1;
};

// The job the flags plan, checked against this process's place (under mpirun or alone).
PlanJob planJob(const RunOptions& options, const PlanFlags& flags, MpiEnvironment& mpi) {
    const MpiPlacement& place = mpi.placement();
    PlanJob job;
    job.hosts = options.planHosts > 0 ? options.planHosts : place.size;
    job.ranksPerHost = options.planRanksPerHost > 0 ? options.planRanksPerHost : place.localSize;
    if (job.ranksPerHost > job.hosts) {
        throw InputError("--ranks-per-host " + std::to_string(job.ranksPerHost) + " is more than the plan's " +
                         std::to_string(job.hosts) + " processes (--hosts)");
    }
    if (options.planProbe && !(mpi.active() && place.size >= 2)) {
        throw InputError("--probe times the link between the ranks of an mpirun job: run it as 'mpirun -np 2 cohort "
                         "plan --probe ...' (or more ranks), or give --latency and --bandwidth");
    }
    if (job.hosts > 1 && !flags.link && !options.planProbe) {
        throw InputError("a plan for " + std::to_string(job.hosts) + " hosts needs the link between them: give "
                         "--latency and --bandwidth (e.g. --latency 50us --bandwidth 1gbit), or run under mpirun "
                         "with --probe");
    }
    job.location = chooseLocation(options);
    if (job.location.isDevice()) {
        job.devices = chooseDevices(options.devices, kernels::cudaDeviceCount(),
                                    ProcessPlacement{place.localRank, place.localSize, place.size});
    }
    job.workers = options.workers > 0 ? options.workers : (job.location.isDevice() ? int(job.devices.size()) : 1);
    job.threadsPerWorker = threadsPerWorkerFor(options.threadsPerWorker, job.workers, job.ranksPerHost);
    return job;
}

// The link between the hosts: given, or fitted to allreduces timed between this job's ranks.
struct PlanLink {
    parallel::LinkModel model;
    std::vector<parallel::LinkSample> probe;  // empty without --probe
    int processes = 1;                        // this job's, the ones the probe ran over
};

// Collective under --probe (every rank times the allreduces).
PlanLink planLink(const RunOptions& options, const PlanFlags& flags, parallel::ProcessGroup& processes) {
    PlanLink link{flags.link.value_or(parallel::LinkModel{}), {}, processes.size()};
    if (options.planProbe) {
        link.probe = probeAllreduce(processes, flags.probeLargest);
        link.model = parallel::fitLinkModel(link.probe, flags.algorithm, processes.size());
    }
    return link;
}

// What this process times: its workers stepping and averaging as in a run of the planned job.
WorkerMeasurementPlan measurementPlan(const RunOptions& options, const StepRecipe& recipe, const PlanJob& job,
                                      bool underMpirun) {
    WorkerMeasurementPlan measuring;
    measuring.recipe = recipe;
    for (int w = 0; w < job.workers; ++w) {
        measuring.locations.push_back(
            job.location.isDevice() ? memory::MemoryLocation::onDevice(job.devices[std::size_t(w) % job.devices.size()])
                                    : job.location);
    }
    measuring.devices = job.devices;
    // Under mpirun the ranks of a host measure at once; alone, this process runs the host's ranks' workers.
    measuring.processesOnThisMachine = underMpirun ? 1 : job.ranksPerHost;
    measuring.threadsPerWorker = job.threadsPerWorker;
    measuring.plannedProcesses = job.hosts;
    measuring.averageUpdaters = options.averageUpdaters;
    measuring.measureSteps = options.planStepMilliseconds == 0.0;
    measuring.measureAveraging = !options.planLocalAveragingMilliseconds;
    measuring.warmupSteps = options.benchWarmup;
    measuring.steps = options.benchSteps;
    measuring.repeats = options.benchRepeats;
    return measuring;
}

// This process's workers measured, then each time the slowest rank's (collective, in this order on every rank).
WorkerMeasurement measureSlowestRank(const WorkerMeasurementPlan& measuring, parallel::ProcessGroup& processes) {
    WorkerMeasurement measured = measureWorkers(measuring);
    measured.stepSeconds = maxOverProcesses(processes, measured.stepSeconds);
    measured.parameterAveragingSeconds = maxOverProcesses(processes, measured.parameterAveragingSeconds);
    measured.stateAveragingSeconds = maxOverProcesses(processes, measured.stateAveragingSeconds);
    measured.statisticsAveragingSeconds = maxOverProcesses(processes, measured.statisticsAveragingSeconds);
    return measured;
}

// What one averaging point exchanges and what its in-process part costs (given or measured).
struct AveragingPoint {
    std::int64_t parameterBytes = 0;
    std::int64_t stateBytes = 0;  // 0 when the optimizer state is not averaged
    std::int64_t statisticsBytes = 0;
    bool localGiven = false;      // --local-averaging-ms
    double localPoint = 0.0;      // seconds of a point's in-process part
    double localGradients = 0.0;  // seconds of a shared-gradients step's in-process part
};

AveragingPoint averagingPoint(const RunOptions& options, const WorkerMeasurement& measured) {
    const std::int64_t element = std::int64_t(sizeof(float));
    AveragingPoint point;
    point.parameterBytes = measured.parameterCount * element;
    point.stateBytes = options.averageUpdaters ? measured.stateCount * element : 0;
    point.statisticsBytes = measured.statisticsCount * element;
    point.localGiven = options.planLocalAveragingMilliseconds.has_value();
    point.localPoint = point.localGiven ? *options.planLocalAveragingMilliseconds / 1e3
                                        : measured.parameterAveragingSeconds + measured.stateAveragingSeconds +
                                              measured.statisticsAveragingSeconds;
    point.localGradients = point.localGiven ? point.localPoint : measured.parameterAveragingSeconds;
    return point;
}

// --train-samples, or -1: counted from --data.
std::int64_t trainSamplesFor(const RunOptions& options) {
    std::int64_t trainSamples = options.planTrainSamples;
    if (trainSamples < -1) {
        throw InputError("--train-samples must be >= 0 (or -1: counted from --data), got " +
                         std::to_string(trainSamples));
    }
    if (trainSamples == -1) trainSamples = std::int64_t(loadData(options).train.count);
    return trainSamples;
}

// The scaling model's inputs: averaging every K steps (what the recommendation prices), and the
// mode planned (shared gradients, or the same averaging).
struct PlanInputs {
    std::int64_t trainSamples = 0;
    parallel::ScalingInputs averaging;
    parallel::ScalingInputs planned;
    bool readOffProbe = false;  // messages priced from the probed times
};

// Everything a plan prints, filled in step by step by runPlan.
struct Plan {
    PlanFlags flags;
    StepRecipe recipe;
    PlanJob job;
    PlanLink link;
    WorkerMeasurementPlan measuring;
    WorkerMeasurement measured;
    AveragingPoint point;
    PlanInputs inputs;
    std::vector<parallel::ScalingPrediction> rows;  // one per K of the table; one with shared gradients
    int recommended = 1;                            // the smallest K that meets --target-fraction
    parallel::ScalingPrediction atRecommended;
    int replicas = 1;
    double linkPoint = 0.0;  // link seconds of a point (a step with shared gradients)
    std::vector<std::string> advice;

    bool shared() const { return inputs.planned.mode == parallel::TrainingMode::SharedGradients; }
};

PlanInputs planInputs(const RunOptions& options, const Plan& plan) {
    PlanInputs inputs;
    inputs.trainSamples = trainSamplesFor(options);
    // Rounds per epoch, as parallel/EpochSchedule counts them: each epoch's end is an averaging point.
    const int replicasPlanned = plan.job.hosts * plan.job.workers;
    const parallel::EpochSchedule schedule(std::size_t(inputs.trainSamples), std::size_t(plan.recipe.batchSize),
                                           replicasPlanned);
    parallel::ScalingInputs& averaging = inputs.averaging;
    averaging.roundsPerEpoch = std::int64_t(schedule.rounds);
    if (inputs.trainSamples > 0 && averaging.roundsPerEpoch < 1) {
        throw InputError("--train-samples " + std::to_string(inputs.trainSamples) + " gives no full round of " +
                         std::to_string(replicasPlanned) + " replicas x --batch-size " +
                         std::to_string(plan.recipe.batchSize));
    }
    averaging.processes = plan.job.hosts;
    averaging.workers = plan.job.workers;
    averaging.batchSize = plan.recipe.batchSize;
    averaging.stepSeconds =
        plan.measuring.measureSteps ? plan.measured.stepSeconds : options.planStepMilliseconds / 1e3;
    averaging.mode = parallel::TrainingMode::Averaging;
    averaging.sync = parallel::averagingPointCost(plan.point.localPoint, plan.point.parameterBytes,
                                                  plan.point.stateBytes, plan.point.statisticsBytes);
    averaging.link = plan.link.model;
    averaging.algorithm = plan.flags.algorithm;
    // The probed sizes price the messages of a plan for the job that was probed.
    inputs.readOffProbe = options.planProbe && plan.job.hosts == plan.link.processes;
    if (inputs.readOffProbe) averaging.probed = plan.link.probe;
    inputs.planned = averaging;
    if (plan.flags.mode == parallel::TrainingMode::SharedGradients) {
        inputs.planned.mode = parallel::TrainingMode::SharedGradients;
        inputs.planned.sync = parallel::sharedGradientsStepCost(plan.point.localGradients, plan.point.parameterBytes);
    }
    return inputs;
}

// The table's rows, the recommended K and the link's part of a point.
void predictPlan(const RunOptions& options, Plan& plan) {
    const parallel::ScalingInputs& planned = plan.inputs.planned;
    const parallel::ScalingInputs& averaging = plan.inputs.averaging;
    std::set<int> frequencies(kTableFrequencies.begin(), kTableFrequencies.end());
    if (options.averagingFrequencyGiven) frequencies.insert(options.averagingFrequency);
    if (planned.mode == parallel::TrainingMode::SharedGradients) {
        plan.rows.push_back(parallel::predict(planned, 1));
    } else {
        for (const int k : frequencies) plan.rows.push_back(parallel::predict(planned, k));
    }
    plan.recommended = parallel::smallestAveragingFrequency(averaging, options.planTargetFraction);
    plan.atRecommended = parallel::predict(averaging, plan.recommended);
    plan.replicas = averaging.replicas();
    plan.linkPoint =
        parallel::linkSeconds(planned.sync, plan.link.model, plan.flags.algorithm, plan.job.hosts, planned.probed);
}

// The learning-rate advice for `replicas` replicas stepping together.
std::string learningRateAdvice(const StepRecipe& recipe, int replicas) {
    const optim::OptimizerKind optimizerKind = recipe.optimizer.kind;
    const double factor = optim::learningRateScale(optim::LearningRateScaling::Auto, optimizerKind, replicas);
    char factorText[32];
    std::snprintf(factorText, sizeof factorText, "%.3g", factor);
    const std::string scalingAdvice =
        std::string(optim::toString(optim::resolveScaling(optim::LearningRateScaling::Auto, optimizerKind))) +
        " for " + optim::toString(optimizerKind) + ": --lr x " + factorText;
    return "with " + std::to_string(replicas) + " replicas a step sees " + std::to_string(replicas) + " x " +
           std::to_string(recipe.batchSize) + " = " + std::to_string(std::int64_t(replicas) * recipe.batchSize) +
           " samples: scale the learning rate with --lr-scaling auto --warmup-epochs 1 (" + scalingAdvice +
           "; README, More replicas: scaling the learning rate)";
}

// What to change in the training flags for the planned job, one line each.
std::vector<std::string> planAdvice(const Plan& plan) {
    std::vector<std::string> advice;
    if (plan.replicas > 1) {
        advice.push_back(learningRateAdvice(plan.recipe, plan.replicas));
        if (plan.recommended >= 25) {
            advice.push_back("averaging every " + std::to_string(plan.recommended) +
                             " steps or more: --outer-optimizer nesterov --outer-lr 0.7 --average-updaters false "
                             "recovers accuracy lost to rare averaging (README, Choosing a training mode)");
        }
    } else {
        advice.push_back("one replica: nothing to average, every K predicts the same");
    }
    if (plan.shared()) {
        advice.push_back("shared gradients average every step; averaging instead with --averaging-frequency " +
                         std::to_string(plan.recommended) + " keeps it at " +
                         percent(plan.atRecommended.averagingFraction) + " (" +
                         withThousands(plan.atRecommended.samplesPerSecond) + " samples/s)");
    }
    return advice;
}

const char* stepSource(const Plan& plan) { return plan.measuring.measureSteps ? "measured" : "given"; }

const char* linkSource(const RunOptions& options, const Plan& plan) {
    return options.planProbe ? "probe" : plan.flags.link ? "given" : "none";
}

Json inputsJson(const RunOptions& options, const Plan& plan) {
    return {{"hosts", plan.job.hosts}, {"ranks_per_host", plan.job.ranksPerHost}, {"workers", plan.job.workers},
            {"replicas", plan.replicas}, {"batch_size", plan.recipe.batchSize},
            {"threads_per_worker", plan.job.threadsPerWorker}, {"training_mode", flagValue(options.trainingMode)},
            {"average_updaters", options.averageUpdaters},
            {"averaging_frequency", options.averagingFrequencyGiven ? Json(options.averagingFrequency) : Json()},
            {"target_fraction", options.planTargetFraction}, {"allreduce", parallel::toString(plan.flags.algorithm)},
            {"train_samples", plan.inputs.trainSamples}, {"rounds_per_epoch", plan.inputs.averaging.roundsPerEpoch}};
}

Json linkJson(const RunOptions& options, const Plan& plan) {
    const PlanLink& link = plan.link;
    Json probeJson = Json::array();
    for (const parallel::LinkSample& sample : link.probe) {
        const double model = parallel::allreduceSeconds(link.model, plan.flags.algorithm, link.processes, sample.bytes);
        probeJson.push_back({{"bytes", sample.bytes}, {"seconds", sample.seconds}, {"model_seconds", model}});
    }
    return {{"source", linkSource(options, plan)}, {"latency_seconds", link.model.latencySeconds},
            {"bandwidth_bytes_per_second", link.model.bytesPerSecond},
            {"probe_processes", options.planProbe ? link.processes : 0}, {"probe_read_off", plan.inputs.readOffProbe},
            {"probe", probeJson}};
}

Json averagingPointJson(const Plan& plan) {
    const AveragingPoint& point = plan.point;
    const parallel::ScalingInputs& planned = plan.inputs.planned;
    return {{"bytes", point.parameterBytes + (plan.shared() ? 0 : point.stateBytes + point.statisticsBytes)},
            {"parameter_bytes", point.parameterBytes}, {"state_bytes", point.stateBytes},
            {"statistics_bytes", point.statisticsBytes}, {"local_seconds", planned.sync.localSeconds},
            {"local_source", point.localGiven ? "given" : "measured"},
            {"link_seconds", plan.replicas > 1 ? plan.linkPoint : 0.0}, {"seconds", parallel::secondsPerSync(planned)}};
}

// --json: the plan as one JSON document, the only thing on stdout.
void printJson(const RunOptions& options, const Plan& plan) {
    Json rowsJson = Json::array();
    for (const auto& row : plan.rows) rowsJson.push_back(rowJson(row));
    Json out{{"model", plan.measured.modelText},
             {"backend", plan.measured.backendText},
             {"optimizer", plan.measured.optimizerText},
             {"inputs", inputsJson(options, plan)},
             {"step_seconds", plan.inputs.planned.stepSeconds},
             {"step_source", stepSource(plan)},
             {"link", linkJson(options, plan)},
             {"averaging_point", averagingPointJson(plan)},
             {"rows", rowsJson},
             {"recommended_averaging_frequency", plan.recommended},
             {"recommended", rowJson(plan.atRecommended)},
             {"advice", plan.advice}};
    if (plan.shared()) {
        out["overlapped_samples_per_second_bound"] = parallel::overlappedSamplesPerSecondBound(plan.inputs.planned);
    }
    std::printf("%s\n", out.dump(2).c_str());
}

// The plan's first lines: the model, the job, an epoch and a step.
void printJob(const RunOptions& options, const Plan& plan) {
    const PlanJob& job = plan.job;
    const int replicas = plan.replicas;
    std::printf("plan: %s, batch %lld per worker, %s, %s\n", plan.measured.modelText.c_str(),
                static_cast<long long>(plan.recipe.batchSize), plan.measured.optimizerText.c_str(),
                plan.measured.backendText.c_str());
    std::printf("  job:      %d host%s x %d worker%s = %d replica%s (%d process%s per machine, %d BLAS thread%s per "
                "worker), %s\n",
                job.hosts, job.hosts == 1 ? "" : "s", job.workers, job.workers == 1 ? "" : "s", replicas,
                replicas == 1 ? "" : "s", job.ranksPerHost, job.ranksPerHost == 1 ? "" : "es", job.threadsPerWorker,
                job.threadsPerWorker == 1 ? "" : "s", flagValue(options.trainingMode));
    if (plan.inputs.averaging.roundsPerEpoch > 0) {
        std::printf("  epoch:    %lld training samples = %lld rounds of %d replica%s (each epoch's end is also "
                    "averaged)\n",
                    static_cast<long long>(plan.inputs.trainSamples),
                    static_cast<long long>(plan.inputs.averaging.roundsPerEpoch), replicas, replicas == 1 ? "" : "s");
    }
    const std::string howMeasured =
        plan.measuring.measureSteps
            ? ", slowest of " + std::to_string(job.workers * plan.measuring.processesOnThisMachine) +
                  " stepping at once, median of " + std::to_string(options.benchRepeats) + " x " +
                  std::to_string(options.benchSteps) + " steps"
            : "";
    std::printf("  step:     %s (%s%s)\n", formatDuration(plan.inputs.planned.stepSeconds).c_str(), stepSource(plan),
                howMeasured.c_str());
}

// The probe against the fitted model, the link, and what one point (or step) exchanges and costs.
void printLinkAndPoint(const RunOptions& options, const Plan& plan) {
    const PlanLink& link = plan.link;
    if (options.planProbe) {
        std::printf("  probe:    allreduce over %d ranks (median, slowest rank) against the fitted model:\n",
                    link.processes);
        for (const parallel::LinkSample& sample : link.probe) {
            const double model =
                parallel::allreduceSeconds(link.model, plan.flags.algorithm, link.processes, sample.bytes);
            std::printf("            %10s  %10s measured  %10s model\n",
                        memory::formatBytes(std::int64_t(sample.bytes)).c_str(), formatDuration(sample.seconds).c_str(),
                        formatDuration(model).c_str());
        }
    }
    if (plan.job.hosts > 1 || options.planProbe) {
        std::printf("  link:     alpha %s, beta %s (%s); %s allreduce%s\n",
                    formatDuration(link.model.latencySeconds).c_str(),
                    formatBandwidth(link.model.bytesPerSecond).c_str(), linkSource(options, plan),
                    parallel::toString(plan.flags.algorithm),
                    plan.inputs.readOffProbe ? "; messages priced from the probed times" : "");
    }
    if (plan.replicas <= 1) return;
    const AveragingPoint& point = plan.point;
    const bool shared = plan.shared();
    const std::int64_t bytes =
        shared ? point.parameterBytes : point.parameterBytes + point.stateBytes + point.statisticsBytes;
    const std::string state =
        !shared && point.stateBytes > 0 ? ", optimizer state " + memory::formatBytes(point.stateBytes) : "";
    const std::string statistics =
        !shared && point.statisticsBytes > 0 ? ", statistics " + memory::formatBytes(point.statisticsBytes) : "";
    std::printf("  %s %s (parameters %s%s%s); in process %s (%s) + link %s = %s\n", shared ? "per step:" : "per point:",
                memory::formatBytes(bytes).c_str(), memory::formatBytes(point.parameterBytes).c_str(), state.c_str(),
                statistics.c_str(), formatDuration(plan.inputs.planned.sync.localSeconds).c_str(),
                point.localGiven ? "given" : "measured", formatDuration(plan.linkPoint).c_str(),
                formatDuration(parallel::secondsPerSync(plan.inputs.planned)).c_str());
}

// The table of K, the recommendation and the advice.
void printPredictions(const RunOptions& options, const Plan& plan) {
    const bool shared = plan.shared();
    std::printf("\n  %5s  %12s  %10s  %14s\n", shared ? "" : "K", "samples/s", shared ? "gradients" : "averaging",
                shared ? "s per step" : "s per point");
    for (const auto& row : plan.rows) {
        std::string note;
        if (!shared && options.averagingFrequencyGiven && row.averagingFrequency == options.averagingFrequency) {
            note += "  <- given";
        }
        std::printf("  %5s  %12s  %10s  %14.6f%s\n", shared ? "every" : std::to_string(row.averagingFrequency).c_str(),
                    withThousands(row.samplesPerSecond).c_str(), percent(row.averagingFraction).c_str(),
                    row.secondsPerAveragingPoint, note.c_str());
    }
    if (shared) {
        std::printf("  overlapped with the backward pass, at best %s samples/s\n",
                    withThousands(parallel::overlappedSamplesPerSecondBound(plan.inputs.planned)).c_str());
    }
    const parallel::ScalingPrediction& atRecommended = plan.atRecommended;
    std::printf("\nrecommendation: --averaging-frequency %d: averaging %s of the time (target %s), %s samples/s%s\n",
                plan.recommended, percent(atRecommended.averagingFraction).c_str(),
                percent(options.planTargetFraction).c_str(), withThousands(atRecommended.samplesPerSecond).c_str(),
                atRecommended.averagingFraction > options.planTargetFraction
                    ? " (the target cannot be met: this averages once an epoch, at its end, the least there is)"
                    : "");
    for (const std::string& line : plan.advice) std::printf("advice: %s\n", line.c_str());
}

}  // namespace

int runPlan(const RunOptions& given, MpiEnvironment& mpi) {
    RunOptions options = given;
    options.quiet = options.quiet || options.planJson;  // stdout is the plan alone
    Plan plan;
    plan.flags = checkFlags(options);
    applyMemoryFlags(options);
    plan.recipe = stepRecipeFrom(options);
    plan.job = planJob(options, plan.flags, mpi);
    // The link first, while nothing else runs.
    std::shared_ptr<parallel::ProcessGroup> processes = mpi.processes(options.mpiTimeout);
    plan.link = planLink(options, plan.flags, *processes);
    plan.measuring = measurementPlan(options, plan.recipe, plan.job, mpi.active());
    plan.measured = measureSlowestRank(plan.measuring, *processes);
    plan.point = averagingPoint(options, plan.measured);
    plan.inputs = planInputs(options, plan);
    predictPlan(options, plan);
    plan.advice = planAdvice(plan);

    if (mpi.placement().rank != 0) return 0;
    if (options.planJson) {
        printJson(options, plan);
        return 0;
    }
    printJob(options, plan);
    printLinkAndPoint(options, plan);
    printPredictions(options, plan);
    return 0;
}

}  // namespace cohort::launch
