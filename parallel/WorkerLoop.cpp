#include "parallel/WorkerLoop.h"

#include <omp.h>

#include <stdexcept>

#include "parallel/DeviceStaging.h"
#include "parallel/FusedAveraging.h"
#include "parallel/PrefetchBuffer.h"
#include "src/train/EpochReport.h"

namespace cohort::parallel {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

WorkerLoop::WorkerLoop(int index, const JobSettings& job, FitState& fit)
    : job_(job), fit_(fit), me_(*job.workers[std::size_t(index)]), index_(index),
      globalReplica_(job.parallel.firstGlobalReplica + index),
      schedule_(fit.data->train.count, std::size_t(job.trainer.batchSize), job.parallel.totalReplicas),
      reports_(index == 0 && job.parallel.reportingProcess),
      // One replica in the whole job has nothing to average with: no averaging points (they
      // would only count no-op averagings in the metrics).
      averaging_(job.parallel.trainingMode == TrainingMode::Averaging && job.parallel.totalReplicas > 1),
      batches_(fit.data->train, std::size_t(job.trainer.batchSize), job.trainer.seed, job.trainer.epochs, schedule_,
               globalReplica_),
      learningRates_{job.trainer.schedule, job.optimizer.learningRate,
                     std::int64_t(schedule_.rounds) * job.trainer.epochs, job.trainer.warmupSteps, 0.0} {
    const ParallelConfig& config = job.parallel;
    if (config.threadsPerWorker > 0) omp_set_num_threads(config.threadsPerWorker);
    backend_ = me_.location.isDevice() ? kernels::makeCudaBackend(me_.location.device, config.allowTf32)
                                       : kernels::makeCpuBackend(config.threadsPerWorker);
    trainingStep_ = std::make_unique<train::TrainingStep>(*me_.model, *me_.optimizer, loss_, *backend_,
                                                          job.trainer.workspaceMode,
                                                          kernels::deriveSeed(job.trainer.seed, std::uint64_t(globalReplica_)));
    trainingStep_->setIteration(me_.optimizer->stepCount());
    trainingStep_->setCapture(job.trainer.captureSteps);

    // Every replica starts from global replica 0's parameters and batch-norm statistics.
    Tensor& parameters = me_.model->parameters();
    job.communicator.broadcast(index_, *backend_, parameters.raw(), parameters.byteCount());
    Tensor& statistics = me_.model->statistics();
    if (statistics.elementCount() > 0) job.communicator.broadcast(index_, *backend_, statistics.raw(), statistics.byteCount());

    const auto batchSize = std::size_t(job.trainer.batchSize);
    const memory::MemoryLocation stagingLocation =
        me_.location.isDevice() ? memory::MemoryLocation::pinnedHost() : memory::MemoryLocation::host();
    prefetch_ = std::make_unique<PrefetchBuffer>(config.prefetchBuffer, batchSize, fit.data->train.featureSize, stagingLocation,
                                                 [this](std::int64_t sequence, data::Batch& batch) {
                                                     return batches_.fill(sequence, batch);
                                                 });
    stager_ = std::make_unique<train::BatchStager>(*me_.model, std::int64_t(batchSize));
    if (me_.location.isDevice() && me_.model->dtype() == DType::Float32) {
        deviceStaging_ = std::make_unique<DeviceStaging>(*me_.model, std::int64_t(batchSize), *backend_, *prefetch_,
                                                         config.prefetchBuffer < 2);
    }
    if (reports_) {
        evaluator_ = std::make_unique<train::Evaluator>(*me_.model, *backend_, job.trainer.evaluationBatchSize,
                                                        job.trainer.workspaceMode);
    }
    const DType dtype = me_.model->dtype();
    averagingBytes_ = (me_.model->parameterCount() + me_.model->statisticsCount() +
                       (config.averageUpdaters ? me_.optimizer->state().elementCount() : 0)) *
                      std::int64_t(kernels::sizeOf(dtype));
    sampleEvery_ = std::max<std::int64_t>(1, std::int64_t(schedule_.rounds) / config.averagingFrequency / 10);
    lastAveraged_ = trainingStep_->iteration();

    // Fused update-and-average (every replica in this process's memory): the step before an
    // averaging point computes gradients only; the point applies every replica's update.
    if (config.fuseUpdateWithAveraging && config.trainingMode == TrainingMode::Averaging && config.workers > 1 &&
        job.communicator.sharesReplicaMemory()) {
        std::vector<ReplicaBuffers> replicas;
        for (const auto& worker : job.workers) {
            replicas.push_back({worker->model->parameters().raw(), worker->model->gradients().raw(), worker->optimizer.get()});
        }
        fusedWork_ = std::make_unique<UpdateAndAverage>(std::move(replicas), dtype, me_.model->parameterCount(),
                                                        config.averageUpdaters);
    }
}

WorkerLoop::~WorkerLoop() = default;

void WorkerLoop::run() {
    for (int epoch = 0; epoch < job_.trainer.epochs; ++epoch) {
        beginEpoch();
        for (std::size_t round = 0; round < schedule_.rounds; ++round) {
            PrefetchedBatch batch;
            if (!nextBatch(batch)) throw std::logic_error("prefetch stream ended early");
            step(batch);
            if (atAveragingPoint()) averagingPoint();
        }
        endEpoch(epoch);
    }
    prefetch_->stop();
}

bool WorkerLoop::nextBatch(PrefetchedBatch& batch) { return prefetch_->next(batch); }

void WorkerLoop::step(PrefetchedBatch& batch) {
    const ParallelConfig& config = job_.parallel;
    train::TrainingStep& step = *trainingStep_;
    const auto computeStart = Clock::now();
    if (config.beforeStep) config.beforeStep(index_, step.iteration());
    const auto rows = std::int64_t(batch.batch.size);
    const train::StagedBatch staged = deviceStaging_ ? deviceStaging_->stage(batch)
                                                     : stager_->stage(*backend_, batch.batch.features, batch.batch.labels, rows);
    learningRate_ = learningRates_.at(step.iteration());
    if (config.trainingMode == TrainingMode::SharedGradients) {
        step.computeGradients(staged.input, staged.labels, rows);
        job_.communicator.average(index_, *backend_, me_.model->dtype(), me_.model->gradients().raw(),
                                  me_.model->parameterCount());
        step.applyUpdate(learningRate_);
    } else if (fusedWork_ && (step.iteration() + 1) % config.averagingFrequency == 0) {
        step.computeGradients(staged.input, staged.labels, rows);
        me_.optimizer->beginStep();
        fusedWork_->setLearningRate(learningRate_);
        updatePending_ = true;
    } else {
        step.run(staged.input, staged.labels, rows, learningRate_);
    }
    if (deviceStaging_) {
        deviceStaging_->consumed();  // releases the previous slot once its copy read it
    } else {
        if (stager_->copying()) backend_->synchronize();  // the slot may be refilled once released
        prefetch_->release();
    }
    me_.statistics.computeSeconds += secondsSince(computeStart);
}

bool WorkerLoop::atAveragingPoint() const {
    return averaging_ && trainingStep_->iteration() % job_.parallel.averagingFrequency == 0;
}

void WorkerLoop::averagingPoint() {
    const ParallelConfig& config = job_.parallel;
    Communicator& communicator = job_.communicator;
    const DType dtype = me_.model->dtype();
    const auto waitStart = Clock::now();
    if (config.reportScoreAfterAveraging) {
        const train::StepStatistics since = trainingStep_->takeStatistics();
        me_.epochStatistics.lossSum += since.lossSum;
        me_.epochStatistics.correct += since.correct;
        me_.epochStatistics.samples += since.samples;
        fit_.scores[std::size_t(index_)] = since.meanLoss();
    }
    communicator.barrier(index_);
    // Every local worker has written its score and none writes the next before worker 0 has
    // joined this point's averaging: read them now (after the averaging they may already move on).
    double score = -1.0;
    if (config.reportScoreAfterAveraging && reports_) {
        double sum = 0.0;
        for (double each : fit_.scores) sum += each;
        score = sum / double(fit_.scores.size());
    }
    me_.statistics.averagingWaitSeconds += secondsSince(waitStart);
    const auto averageStart = Clock::now();
    if (updatePending_) {
        communicator.forEachSlice(index_, *backend_, me_.model->parameterCount(), *fusedWork_);
        updatePending_ = false;
    } else {
        communicator.average(index_, *backend_, dtype, me_.model->parameters().raw(), me_.model->parameterCount());
        Tensor& state = me_.optimizer->state();
        if (config.averageUpdaters && state.elementCount() > 0) {
            communicator.average(index_, *backend_, dtype, state.raw(), state.elementCount());
        }
    }
    averageStatistics();
    const double seconds = secondsSince(averageStart);
    me_.statistics.averagingSeconds += seconds;
    ++me_.statistics.averagings;
    lastAveraged_ = trainingStep_->iteration();
    if (reports_ && fit_.listener && (config.reportScoreAfterAveraging || averagingPoints_ % sampleEvery_ == 0)) {
        fit_.listener->onAveraging(AveragingEvent{trainingStep_->iteration(), seconds, averagingBytes_, score});
    }
    ++averagingPoints_;
}

// Batch-norm running statistics: averaged like the parameters (every averaging point in
// averaging mode, every epoch end in shared-gradients mode).
void WorkerLoop::averageStatistics() {
    Tensor& statistics = me_.model->statistics();
    if (statistics.elementCount() > 0) {
        job_.communicator.average(index_, *backend_, me_.model->dtype(), statistics.raw(), statistics.elementCount());
    }
}

void WorkerLoop::beginEpoch() {
    epochStart_ = Clock::now();
    me_.statistics = WorkerStatistics{index_, me_.statistics.device};
    me_.epochStatistics = {};
    dataWaitBefore_ = prefetch_->waitSeconds();
    learningRate_ = 0.0;
}

void WorkerLoop::endEpoch(int epoch) {
    if (deviceStaging_) deviceStaging_->releaseAll();
    if (averaging_ && lastAveraged_ != trainingStep_->iteration()) averagingPoint();
    if (job_.parallel.trainingMode == TrainingMode::SharedGradients) averageStatistics();
    const train::StepStatistics rest = trainingStep_->takeStatistics();
    me_.epochStatistics.lossSum += rest.lossSum;
    me_.epochStatistics.correct += rest.correct;
    me_.epochStatistics.samples += rest.samples;
    WorkerStatistics& statistics = me_.statistics;
    statistics.samples = me_.epochStatistics.samples;
    statistics.iterations = std::int64_t(schedule_.rounds);
    statistics.trainLoss = me_.epochStatistics.meanLoss();
    statistics.dataWaitSeconds = prefetch_->waitSeconds() - dataWaitBefore_;
    trainSeconds_ = secondsSince(epochStart_);
    statistics.samplesPerSecond = trainSeconds_ > 0 ? double(statistics.samples) / trainSeconds_ : 0.0;
    job_.communicator.barrier(index_);
    if (index_ == 0) reduceEpochTotals();
    if (reports_) reportEpoch(epoch);
    job_.communicator.barrier(index_);
}

// The job's epoch totals: this process's workers, then summed over processes.
void WorkerLoop::reduceEpochTotals() {
    double totals[3] = {0.0, 0.0, 0.0};  // loss sum, correct, samples
    for (const auto& worker : job_.workers) {
        totals[0] += worker->epochStatistics.lossSum;
        totals[1] += double(worker->epochStatistics.correct);
        totals[2] += double(worker->epochStatistics.samples);
    }
    if (ProcessGroup* processes = job_.communicator.processes()) processes->allreduceSum(DType::Float64, totals, 3);
    fit_.epochTotals = {totals[0], totals[1], totals[2]};
}

void WorkerLoop::reportEpoch(int epoch) {
    train::EpochEnd end;
    end.epoch = epoch + 1;
    end.totals = fit_.epochTotals;
    end.iterations = trainingStep_->iteration();
    end.learningRate = learningRate_;
    end.trainSeconds = trainSeconds_;
    end.started = epochStart_;
    const train::EpochMetrics metrics = train::closeEpoch(job_.trainer, end, *evaluator_, fit_.data->test);
    train::recordEpoch(fit_.summary, metrics);
    if (fit_.listener) {
        std::vector<WorkerStatistics> all;
        for (const auto& worker : job_.workers) all.push_back(worker->statistics);
        fit_.listener->onWorkerStatistics(epoch + 1, all);
        fit_.listener->onEpoch(metrics);
    }
}

}  // namespace cohort::parallel
