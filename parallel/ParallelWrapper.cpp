#include "parallel/ParallelWrapper.h"

#include <omp.h>

#include <array>
#include <chrono>
#include <mutex>
#include <thread>

#include "parallel/AbortableBarrier.h"
#include "parallel/DeviceStaging.h"
#include "parallel/FusedAveraging.h"
#include "parallel/PrefetchBuffer.h"
#include "src/core/Errors.h"
#include "src/data/BatchIterator.h"
#include "src/data/Shuffle.h"
#include "src/optim/LearningRateSchedule.h"
#include "src/train/BatchStager.h"
#include "src/train/Evaluation.h"
#include "src/train/TrainingStep.h"

namespace cohort::parallel {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::uint64_t replicaSeed(std::uint64_t seed, int replica) { return kernels::deriveSeed(seed, std::uint64_t(replica)); }

}  // namespace

TrainingMode parseTrainingMode(const std::string& text) {
    if (text == "averaging") return TrainingMode::Averaging;
    if (text == "shared-gradients") return TrainingMode::SharedGradients;
    throw InputError("unknown --training-mode '" + text + "'; choose averaging or shared-gradients");
}

void ParallelConfig::validate() const {
    if (workers < 1) throw InputError("--workers must be at least 1, got " + std::to_string(workers));
    if (averagingFrequency < 1) {
        throw InputError("--averaging-frequency must be at least 1 (average every K iterations), got " +
                         std::to_string(averagingFrequency));
    }
    if (prefetchBuffer < 0) throw InputError("--prefetch-buffer must be >= 0, got " + std::to_string(prefetchBuffer));
    if (threadsPerWorker < 0) throw InputError("--threads-per-worker must be >= 0");
    if (totalReplicas != 0 && (firstGlobalReplica < 0 || firstGlobalReplica + workers > totalReplicas)) {
        throw InputError("inconsistent replica layout: first " + std::to_string(firstGlobalReplica) + " + " +
                         std::to_string(workers) + " workers > " + std::to_string(totalReplicas) + " replicas");
    }
}

struct ParallelWrapper::Worker {
    int index = 0;
    memory::MemoryLocation location;
    std::unique_ptr<nn::Model> model;
    std::unique_ptr<optim::Optimizer> optimizer;
    WorkerStatistics statistics;
    train::StepStatistics epochStatistics;
};

struct ParallelWrapper::Shared {
    const data::DatasetSplits* data = nullptr;
    ParallelListener* listener = nullptr;
    std::mutex errorMutex;
    int failedWorker = -1;
    std::string error;
    bool rootCause = false;  // error is not a consequence of another worker's abort
    std::vector<double> scores;
    std::array<double, 3> epochTotals{};  // the job's loss sum, correct, samples (worker 0 writes)
    train::RunSummary summary;
};

ParallelWrapper::ParallelWrapper(nn::Model& root, const optim::OptimizerConfig& optimizer,
                                 const train::TrainerConfig& trainer, const ParallelConfig& config,
                                 std::shared_ptr<Communicator> communicator)
    : root_(root), optimizerConfig_(optimizer), trainerConfig_(trainer), config_(config),
      communicator_(std::move(communicator)) {
    config_.validate();
    trainerConfig_.validate();
    optimizerConfig_.validate();
    if (config_.totalReplicas == 0) config_.totalReplicas = config_.workers;
    if (!communicator_) communicator_ = makeLocalCommunicator(config_.workers);
    if (communicator_->localReplicas() != config_.workers) {
        throw std::invalid_argument("communicator is for " + std::to_string(communicator_->localReplicas()) +
                                    " workers, configuration has " + std::to_string(config_.workers));
    }
    // Replicas are created once, here, and reused by every fit().
    for (int w = 0; w < config_.workers; ++w) {
        auto worker = std::make_unique<Worker>();
        worker->index = w;
        worker->location = config_.devices.empty()
                               ? memory::MemoryLocation::host()
                               : memory::MemoryLocation::onDevice(config_.devices[std::size_t(w) % config_.devices.size()]);
        worker->model = root.replicate(worker->location);
        worker->optimizer = std::make_unique<optim::Optimizer>(optimizerConfig_, root.parameterCount(), root.dtype(),
                                                               worker->location);
        worker->statistics.worker = w;
        worker->statistics.device = memory::toString(worker->location);
        workers_.push_back(std::move(worker));
    }
}

ParallelWrapper::~ParallelWrapper() = default;

nn::Model& ParallelWrapper::replica(int worker) { return *workers_.at(std::size_t(worker))->model; }
optim::Optimizer& ParallelWrapper::optimizer(int worker) { return *workers_.at(std::size_t(worker))->optimizer; }

train::RunSummary ParallelWrapper::fit(const data::DatasetSplits& data, ParallelListener* listener) {
    const auto start = Clock::now();
    if (data.train.featureSize != std::size_t(root_.inputSample().elementCount())) {
        throw InputError("data set '" + data.train.name + "' has " + std::to_string(data.train.featureSize) +
                         " features per sample but the model expects " + std::to_string(root_.inputSample().elementCount()));
    }
    const std::size_t batches = (data.train.count + std::size_t(trainerConfig_.batchSize) - 1) / std::size_t(trainerConfig_.batchSize);
    if (batches < std::size_t(config_.totalReplicas)) {
        throw InputError("the training set gives " + std::to_string(batches) + " batches per epoch, fewer than the " +
                         std::to_string(config_.totalReplicas) + " replicas; lower --batch-size or --workers");
    }
    // Every replica starts from the root model's current parameters.
    const std::vector<double> rootParameters = root_.parametersToHost();
    const std::vector<double> rootStatistics = root_.statisticsToHost();
    for (auto& worker : workers_) {
        worker->model->parametersFromHost(rootParameters);
        worker->model->statisticsFromHost(rootStatistics);
    }

    Shared shared;
    shared.data = &data;
    shared.listener = listener;
    shared.scores.assign(std::size_t(config_.workers), 0.0);
    std::vector<std::thread> threads;
    for (int w = 0; w < config_.workers; ++w) threads.emplace_back([this, w, &shared] { workerMain(w, shared); });
    for (auto& thread : threads) thread.join();
    if (shared.failedWorker >= 0) {
        throw WorkerError(shared.failedWorker, "worker " + std::to_string(shared.failedWorker) + " failed: " + shared.error);
    }
    root_.parametersFromHost(workers_[0]->model->parametersToHost());
    root_.statisticsFromHost(workers_[0]->model->statisticsToHost());
    shared.summary.seconds = secondsSince(start);
    if (listener && config_.reportingProcess) listener->onDone(shared.summary);
    return shared.summary;
}

void ParallelWrapper::workerMain(int index, Shared& shared) {
    Worker& me = *workers_[std::size_t(index)];
    const int globalReplica = config_.firstGlobalReplica + index;
    const int replicas = config_.totalReplicas;
    const data::Dataset& train = shared.data->train;
    const auto batchSize = std::size_t(trainerConfig_.batchSize);
    const std::size_t batchesPerEpoch = (train.count + batchSize - 1) / batchSize;
    const std::size_t rounds = replicas == 1 ? batchesPerEpoch : batchesPerEpoch / std::size_t(replicas);
    auto fail = [&](const std::string& message, bool rootCause) {
        {
            std::lock_guard<std::mutex> lock(shared.errorMutex);
            if (shared.failedWorker < 0 || (rootCause && !shared.rootCause)) {
                shared.failedWorker = index;
                shared.error = message;
                shared.rootCause = rootCause;
            }
        }
        communicator_->abort("worker " + std::to_string(index) + " failed: " + message);
    };
    try {
        if (config_.threadsPerWorker > 0) omp_set_num_threads(config_.threadsPerWorker);
        std::unique_ptr<kernels::Backend> backend =
            me.location.isDevice() ? kernels::makeCudaBackend(me.location.device, config_.allowTf32)
                                   : kernels::makeCpuBackend(config_.threadsPerWorker);
        nn::SoftmaxCrossEntropy loss;
        train::TrainingStep step(*me.model, *me.optimizer, loss, *backend, trainerConfig_.workspaceMode,
                                 replicaSeed(trainerConfig_.seed, globalReplica));
        step.setIteration(me.optimizer->stepCount());
        step.setCapture(trainerConfig_.captureSteps);
        Tensor& parameters = me.model->parameters();
        communicator_->broadcast(index, *backend, parameters.raw(), parameters.byteCount());
        Tensor& statistics = me.model->statistics();
        if (statistics.elementCount() > 0) communicator_->broadcast(index, *backend, statistics.raw(), statistics.byteCount());
        // Batch-norm running statistics: averaged like the parameters (every averaging point in
        // averaging mode, every epoch end in shared-gradients mode).
        auto averageStatistics = [&] {
            if (statistics.elementCount() > 0) {
                communicator_->average(index, *backend, me.model->dtype(), statistics.raw(), statistics.elementCount());
            }
        };

        // The loader's view of the data: sequence s is round s % rounds of epoch s / rounds.
        std::vector<std::uint32_t> order;
        std::int64_t orderEpoch = -1;
        const auto featureSize = train.featureSize;
        auto fill = [&](std::int64_t sequence, data::Batch& batch) {
            const std::int64_t epoch = sequence / std::int64_t(rounds);
            if (epoch >= trainerConfig_.epochs) return false;
            if (epoch != orderEpoch) {
                order = data::shuffledOrder(train.count, trainerConfig_.seed, std::uint64_t(epoch));
                orderEpoch = epoch;
            }
            const std::size_t round = std::size_t(sequence % std::int64_t(rounds));
            const std::size_t batchIndex = round * std::size_t(replicas) + std::size_t(globalReplica);
            data::BatchIterator iterator(train, order, batchSize);
            return iterator.fill(batchIndex, batch);
        };
        const memory::MemoryLocation stagingLocation =
            me.location.isDevice() ? memory::MemoryLocation::pinnedHost() : memory::MemoryLocation::host();
        PrefetchBuffer prefetch(config_.prefetchBuffer, batchSize, featureSize, stagingLocation, fill);

        train::BatchStager stager(*me.model, std::int64_t(batchSize));
        // GPU workers: batches go to the device on the staging stream, overlapping the steps.
        std::unique_ptr<DeviceStaging> deviceStaging;
        if (me.location.isDevice() && me.model->dtype() == DType::Float32) {
            deviceStaging = std::make_unique<DeviceStaging>(*me.model, std::int64_t(batchSize), *backend, prefetch,
                                                            config_.prefetchBuffer < 2);
        }
        std::unique_ptr<train::Evaluator> evaluator;
        if (index == 0 && config_.reportingProcess) {
            evaluator = std::make_unique<train::Evaluator>(*me.model, *backend, trainerConfig_.evaluationBatchSize,
                                                           trainerConfig_.workspaceMode);
        }
        const optim::LearningRateSchedule schedule{trainerConfig_.schedule, optimizerConfig_.learningRate,
                                                   std::int64_t(rounds) * trainerConfig_.epochs,
                                                   trainerConfig_.warmupSteps, 0.0};
        const std::int64_t parameterCount = me.model->parameterCount();
        const DType dtype = me.model->dtype();
        const std::int64_t averagingBytes =
            (parameterCount + me.model->statisticsCount() +
             (config_.averageUpdaters ? me.optimizer->state().elementCount() : 0)) * std::int64_t(kernels::sizeOf(dtype));
        const std::int64_t sampleEvery = std::max<std::int64_t>(1, std::int64_t(rounds) / config_.averagingFrequency / 10);
        std::int64_t averagingPoints = 0;
        std::int64_t lastAveraged = step.iteration();
        // One replica in the whole job has nothing to average with: no averaging points (they
        // would only count no-op averagings in the metrics).
        const bool averaging = config_.trainingMode == TrainingMode::Averaging && replicas > 1;

        // Fused update-and-average (every replica in this process's memory): the step before an
        // averaging point computes gradients only; the point applies every replica's update.
        std::unique_ptr<UpdateAndAverage> fusedWork;
        if (config_.fuseUpdateWithAveraging && config_.trainingMode == TrainingMode::Averaging && config_.workers > 1 &&
            communicator_->sharesReplicaMemory()) {
            std::vector<ReplicaBuffers> replicas;
            for (const auto& worker : workers_) {
                replicas.push_back({worker->model->parameters().raw(), worker->model->gradients().raw(),
                                    worker->optimizer.get()});
            }
            fusedWork = std::make_unique<UpdateAndAverage>(std::move(replicas), dtype, parameterCount,
                                                           config_.averageUpdaters);
        }
        bool updatePending = false;  // gradients computed, update left to the fused averaging

        auto averageNow = [&]() {
            const auto waitStart = Clock::now();
            if (config_.reportScoreAfterAveraging) {
                const train::StepStatistics since = step.takeStatistics();
                me.epochStatistics.lossSum += since.lossSum;
                me.epochStatistics.correct += since.correct;
                me.epochStatistics.samples += since.samples;
                shared.scores[std::size_t(index)] = since.meanLoss();
            }
            communicator_->barrier(index);
            me.statistics.averagingWaitSeconds += secondsSince(waitStart);
            const auto averageStart = Clock::now();
            if (updatePending) {
                communicator_->forEachSlice(index, *backend, parameterCount, *fusedWork);
                updatePending = false;
            } else {
                communicator_->average(index, *backend, dtype, parameters.raw(), parameterCount);
                if (config_.averageUpdaters && me.optimizer->state().elementCount() > 0) {
                    communicator_->average(index, *backend, dtype, me.optimizer->state().raw(),
                                           me.optimizer->state().elementCount());
                }
            }
            averageStatistics();
            const double seconds = secondsSince(averageStart);
            me.statistics.averagingSeconds += seconds;
            ++me.statistics.averagings;
            lastAveraged = step.iteration();
            if (index == 0 && config_.reportingProcess && shared.listener &&
                (config_.reportScoreAfterAveraging || averagingPoints % sampleEvery == 0)) {
                AveragingEvent event{step.iteration(), seconds, averagingBytes, -1.0};
                if (config_.reportScoreAfterAveraging) {
                    double sum = 0.0;
                    for (double score : shared.scores) sum += score;
                    event.score = sum / double(shared.scores.size());
                }
                shared.listener->onAveraging(event);
            }
            ++averagingPoints;
        };

        for (int epoch = 0; epoch < trainerConfig_.epochs; ++epoch) {
            const auto epochStart = Clock::now();
            me.statistics = WorkerStatistics{index, me.statistics.device};
            me.epochStatistics = {};
            const double dataWaitBefore = prefetch.waitSeconds();
            double learningRate = 0.0;
            for (std::size_t round = 0; round < rounds; ++round) {
                PrefetchedBatch prefetched;
                if (!prefetch.next(prefetched)) throw std::logic_error("prefetch stream ended early");
                const auto computeStart = Clock::now();
                if (config_.beforeStep) config_.beforeStep(index, step.iteration());
                const auto rows = std::int64_t(prefetched.batch.size);
                const train::StagedBatch staged =
                    deviceStaging ? deviceStaging->stage(prefetched)
                                  : stager.stage(*backend, prefetched.batch.features, prefetched.batch.labels, rows);
                const Tensor& input = staged.input;
                const std::int32_t* labels = staged.labels;
                learningRate = schedule.at(step.iteration());
                if (config_.trainingMode == TrainingMode::SharedGradients) {
                    step.computeGradients(input, labels, rows);
                    communicator_->average(index, *backend, dtype, me.model->gradients().raw(), parameterCount);
                    step.applyUpdate(learningRate);
                } else if (fusedWork && (step.iteration() + 1) % config_.averagingFrequency == 0) {
                    step.computeGradients(input, labels, rows);
                    me.optimizer->beginStep();
                    fusedWork->setLearningRate(learningRate);
                    updatePending = true;
                } else {
                    step.run(input, labels, rows, learningRate);
                }
                if (deviceStaging) {
                    deviceStaging->consumed();  // releases the previous slot once its copy read it
                } else {
                    if (stager.copying()) backend->synchronize();  // the slot may be refilled once released
                    prefetch.release();
                }
                me.statistics.computeSeconds += secondsSince(computeStart);
                if (averaging && step.iteration() % config_.averagingFrequency == 0) {
                    averageNow();
                }
            }
            if (deviceStaging) deviceStaging->releaseAll();
            if (averaging && lastAveraged != step.iteration()) averageNow();
            if (config_.trainingMode == TrainingMode::SharedGradients) averageStatistics();
            const train::StepStatistics rest = step.takeStatistics();
            me.epochStatistics.lossSum += rest.lossSum;
            me.epochStatistics.correct += rest.correct;
            me.epochStatistics.samples += rest.samples;
            me.statistics.samples = me.epochStatistics.samples;
            me.statistics.iterations = std::int64_t(rounds);
            me.statistics.trainLoss = me.epochStatistics.meanLoss();
            me.statistics.dataWaitSeconds = prefetch.waitSeconds() - dataWaitBefore;
            const double trainSeconds = secondsSince(epochStart);
            me.statistics.samplesPerSecond = trainSeconds > 0 ? double(me.statistics.samples) / trainSeconds : 0.0;
            communicator_->barrier(index);
            if (index == 0) {
                // The job's epoch statistics: this process's workers, then summed over processes.
                double totals[3] = {0.0, 0.0, 0.0};  // loss sum, correct, samples
                for (const auto& worker : workers_) {
                    totals[0] += worker->epochStatistics.lossSum;
                    totals[1] += double(worker->epochStatistics.correct);
                    totals[2] += double(worker->epochStatistics.samples);
                }
                if (ProcessGroup* processes = communicator_->processes()) processes->allreduceSum(DType::Float64, totals, 3);
                shared.epochTotals = {totals[0], totals[1], totals[2]};
            }
            if (index == 0 && config_.reportingProcess) {
                train::EpochMetrics metrics;
                metrics.epoch = epoch + 1;
                const double lossSum = shared.epochTotals[0], correct = shared.epochTotals[1];
                const double samples = shared.epochTotals[2];
                std::vector<WorkerStatistics> all;
                for (const auto& worker : workers_) all.push_back(worker->statistics);
                metrics.trainLoss = samples > 0 ? lossSum / samples : 0.0;
                metrics.trainAccuracy = samples > 0 ? correct / samples : 0.0;
                metrics.samplesPerSecond = trainSeconds > 0 ? samples / trainSeconds : 0.0;
                metrics.iterations = step.iteration();
                metrics.learningRate = learningRate;
                if (trainerConfig_.evaluateEachEpoch || epoch + 1 == trainerConfig_.epochs) {
                    const train::EvaluationResult test = evaluator->evaluate(shared.data->test);
                    metrics.testLoss = test.loss;
                    metrics.testAccuracy = test.accuracy;
                }
                metrics.seconds = secondsSince(epochStart);
                shared.summary.testAccuracy = metrics.testAccuracy;
                shared.summary.testLoss = metrics.testLoss;
                shared.summary.epochs = epoch + 1;
                shared.summary.iterations = step.iteration();
                if (shared.listener) {
                    shared.listener->onWorkerStatistics(epoch + 1, all);
                    shared.listener->onEpoch(metrics);
                }
            }
            communicator_->barrier(index);
        }
        prefetch.stop();
    } catch (const BarrierAborted& aborted) {
        fail(aborted.what(), false);
    } catch (const std::exception& error) {
        fail(std::string(error.what()) + " (at iteration " + std::to_string(me.optimizer->stepCount()) + ")", true);
    } catch (...) {
        fail("unknown exception", true);
    }
    try {
        memory::WorkspaceManager::forCurrentThread().destroyAllWorkspacesForCurrentThread();
    } catch (...) {
    }
}

}  // namespace cohort::parallel
