#include "parallel/WorkerLoop.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "parallel/DeviceStaging.h"
#include "parallel/FusedAveraging.h"
#include "parallel/GradientAveraging.h"
#include "parallel/OuterOptimizer.h"
#include "parallel/PrefetchBuffer.h"
#include "src/core/Errors.h"
#include "src/train/EpochReport.h"

namespace cohort::parallel {
namespace {

using Clock = std::chrono::steady_clock;

double secondsBetween(Clock::time_point start, Clock::time_point end) { return std::chrono::duration<double>(end - start).count(); }

std::int64_t firstSequence(const FitState& fit, const EpochSchedule& schedule) {
    return fit.resume ? std::int64_t(fit.resume->epoch) * std::int64_t(schedule.rounds) + fit.resume->round : 0;
}

std::vector<unsigned char> hostBytes(const Tensor& tensor) {
    std::vector<unsigned char> bytes(tensor.byteCount());
    if (!bytes.empty()) tensor.copyToHost(bytes.data(), bytes.size());
    return bytes;
}

bool allFinite(const std::vector<unsigned char>& bytes, DType dtype) {
    if (dtype == DType::Float32) {
        for (std::size_t i = 0; i + sizeof(float) <= bytes.size(); i += sizeof(float)) {
            float value;
            std::memcpy(&value, bytes.data() + i, sizeof value);
            if (!std::isfinite(value)) return false;
        }
        return true;
    }
    for (std::size_t i = 0; i + sizeof(double) <= bytes.size(); i += sizeof(double)) {
        double value;
        std::memcpy(&value, bytes.data() + i, sizeof value);
        if (!std::isfinite(value)) return false;
    }
    return true;
}

// A flat record of each local replica's progress, for gathering across processes.
void appendStatistics(std::vector<double>& out, const train::StepStatistics& statistics) {
    out.insert(out.end(), {statistics.lossSum, double(statistics.correct), double(statistics.samples), double(statistics.steps)});
}

train::StepStatistics statisticsAt(const double* in) {
    return {in[0], std::int64_t(in[1]), std::int64_t(in[2]), std::int64_t(in[3])};
}

}  // namespace

WorkerLoop::WorkerLoop(int index, const JobSettings& job, FitState& fit)
    : job_(job), fit_(fit), me_(*job.workers[std::size_t(index)]), index_(index),
      globalReplica_(job.parallel.firstGlobalReplica + index),
      schedule_(fit.data->train.count, std::size_t(job.trainer.batchSize), job.parallel.totalReplicas),
      reports_(index == 0 && job.parallel.reportingProcess),
      // One replica in the whole job has nothing to average with: no averaging points (they
      // would only count no-op averagings in the metrics), unless an outer optimizer steps there.
      averaging_(job.parallel.trainingMode == TrainingMode::Averaging &&
                 (job.parallel.totalReplicas > 1 || job.parallel.outer.enabled())),
      batches_(fit.data->train, std::size_t(job.trainer.batchSize), job.trainer.seed, job.trainer.epochs, schedule_,
               globalReplica_, firstSequence(fit, schedule_)),
      learningRates_{job.trainer.schedule, job.optimizer.learningRate,
                     std::int64_t(schedule_.rounds) * job.trainer.epochs, job.trainer.warmupSteps,
                     job.trainer.finalLearningRateFraction} {
    const ParallelConfig& config = job.parallel;
    createTrainingStep();
    startReplica();
    createBatchPipeline();
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
    lastSnapshot_ = trainingStep_->iteration();
    createFusedWork();
    createGradientAveraging();
}

// The worker's backend, made on its own thread, and the training step that runs on it.
void WorkerLoop::createTrainingStep() {
    const ParallelConfig& config = job_.parallel;
    if (config.threadsPerWorker > 0) omp_set_num_threads(config.threadsPerWorker);
    backend_ = me_.location.isDevice() ? kernels::makeCudaBackend(me_.location.device, config.allowTf32)
                                       : kernels::makeCpuBackend(config.threadsPerWorker);
    const std::uint64_t seed = kernels::deriveSeed(job_.trainer.seed, std::uint64_t(globalReplica_));
    trainingStep_ = std::make_unique<train::TrainingStep>(*me_.model, *me_.optimizer, loss_, *backend_,
                                                          job_.trainer.workspaceMode, seed);
    trainingStep_->setIteration(me_.optimizer->stepCount());
    trainingStep_->setCapture(job_.trainer.captureSteps);
    trainingStep_->setGradientClip(job_.trainer.gradientClip, job_.parallel.trainingMode == TrainingMode::SharedGradients);

    // CPU workers read their loss records every step: a NaN is caught at once, at no cost.
    if (!me_.location.isDevice()) trainingStep_->setRecordBatch(1);
}

// Where the replica starts: the resumed snapshot's position, or global replica 0's parameters;
// and the outer optimizer's anchor there.
void WorkerLoop::startReplica() {
    const ParallelConfig& config = job_.parallel;
    if (fit_.resume) {
        restore(*fit_.resume);  // the replicas' buffers were restored by ParallelWrapper
    } else {
        // Every replica starts from global replica 0's parameters and batch-norm statistics.
        Tensor& parameters = me_.model->parameters();
        job_.communicator.broadcast(index_, *backend_, parameters.raw(), parameters.byteCount());
        Tensor& statistics = me_.model->statistics();
        if (statistics.elementCount() > 0) {
            job_.communicator.broadcast(index_, *backend_, statistics.raw(), statistics.byteCount());
        }
    }
    // The outer optimizer's anchor is where every replica starts (or resumes: at a sync point the
    // parameters are the anchor). A state shared by the replicas is set by worker 0 alone; the
    // others first touch it after the first averaging point's barrier (sharing is ParallelWrapper's choice).
    outerShared_ = me_.outer && config.workers > 1 && job_.workers[1]->outer == job_.workers[0]->outer;
    if (me_.outer && (index_ == 0 || !outerShared_)) {
        me_.outer->reset(*backend_, me_.model->parameters(),
                         fit_.resume ? fit_.resume->outerVelocity : std::vector<unsigned char>{});
        backend_->synchronize();
    }
}

// The stream of batches: the prefetch buffer filled from batches_ and the staging of its batches
// for the step (on a GPU, copies on the staging stream).
void WorkerLoop::createBatchPipeline() {
    const ParallelConfig& config = job_.parallel;
    const auto batchSize = std::size_t(job_.trainer.batchSize);
    const memory::MemoryLocation stagingLocation =
        me_.location.isDevice() ? memory::MemoryLocation::pinnedHost() : memory::MemoryLocation::host();
    prefetch_ = std::make_unique<PrefetchBuffer>(config.prefetchBuffer, batchSize, fit_.data->train.featureSize,
                                                 stagingLocation, [this](std::int64_t sequence, data::Batch& batch) {
                                                     return batches_.fill(sequence, batch);
                                                 }, fit_.data->train.labelSize);
    stager_ = std::make_unique<train::BatchStager>(*me_.model, std::int64_t(batchSize));
    if (me_.location.isDevice() && me_.model->dtype() == DType::Float32) {
        deviceStaging_ = std::make_unique<DeviceStaging>(*me_.model, std::int64_t(batchSize), *backend_, *prefetch_,
                                                         config.prefetchBuffer < 2);
    }
}

// Fused update-and-average (every replica in this process's memory): the step before an
// averaging point computes gradients only; the point applies every replica's update.
// A shared outer state is stepped inside the same pass, block by block, fused updates or not.
void WorkerLoop::createFusedWork() {
    const ParallelConfig& config = job_.parallel;
    const bool sharesMemory = config.workers > 1 && job_.communicator.sharesReplicaMemory();
    fuseUpdates_ = config.fuseUpdateWithAveraging && config.trainingMode == TrainingMode::Averaging && sharesMemory;
    if (fuseUpdates_ || outerShared_) {
        std::vector<ReplicaBuffers> replicas;
        for (const auto& worker : job_.workers) {
            replicas.push_back(
                {worker->model->parameters().raw(), worker->model->gradients().raw(), worker->optimizer.get()});
        }
        fusedWork_ = std::make_unique<UpdateAndAverage>(std::move(replicas), me_.model->dtype(),
                                                        me_.model->parameterCount(), config.averageUpdaters,
                                                        outerShared_ ? me_.outer.get() : nullptr);
    }
}

// Shared gradients: averaged bucket by bucket, overlapped with the backward pass by a
// communication thread on CPU workers (GPU workers would need a stream of their own for it:
// they average the same buckets after the pass); one replica has nothing to overlap.
void WorkerLoop::createGradientAveraging() {
    const ParallelConfig& config = job_.parallel;
    if (config.trainingMode == TrainingMode::SharedGradients) {
        const bool overlap = config.overlapGradientAveraging && !me_.location.isDevice() && config.totalReplicas > 1;
        gradientAveraging_ = std::make_unique<GradientAveraging>(job_.communicator, index_, *backend_, *me_.model,
                                                                 config.gradientBucketBytes, overlap, config.trace.get());
        if (overlap) trainingStep_->setGradientListener(gradientAveraging_.get());
    }
}

WorkerLoop::~WorkerLoop() = default;

memory::MemoryDemand WorkerLoop::memoryFor(const nn::Model& model, memory::MemoryLocation location,
                                           const ParallelConfig& config, const train::TrainerConfig& trainer,
                                           const data::DatasetSplits& data, bool reports, kernels::Backend& backend) {
    const std::int64_t batchSize = trainer.batchSize;
    const std::int64_t rows = std::clamp<std::int64_t>(std::int64_t(data.train.count), 1, batchSize);  // the largest batch a step runs
    // CUDA backends capture steps; the CPU backend does not.
    const bool capture = trainer.captureSteps && location.isDevice();
    memory::MemoryDemand demand = train::TrainingStep::memoryFor(model, location, rows, trainer.workspaceMode, capture, backend);
    if (!data.train.windowed()) {
        demand.outsideBudget(memory::saturatingMultiply(std::int64_t(data.train.count), sizeof(std::uint32_t)));  // batches_
    }
    const memory::MemoryLocation stagingLocation = location.isDevice() ? memory::MemoryLocation::pinnedHost() : location;
    demand += PrefetchBuffer::memoryFor(config.prefetchBuffer, std::size_t(batchSize), data.train.featureSize, stagingLocation,
                                        data.train.labelSize);
    demand += train::BatchStager::memoryFor(model, location, batchSize);
    if (location.isDevice() && model.dtype() == DType::Float32) demand += DeviceStaging::memoryFor(model, location, batchSize);
    if (reports) {
        demand += train::Evaluator::memoryFor(model, location, trainer.evaluationBatchSize, trainer.workspaceMode, data.test,
                                              backend);
    }
    return demand;
}

void WorkerLoop::restore(const TrainingSnapshot& snapshot) {
    const ReplicaProgress& progress = snapshot.replicas.at(std::size_t(globalReplica_));
    startEpoch_ = snapshot.epoch;
    startRound_ = snapshot.round;
    averagingPoints_ = snapshot.averagingPoints;
    trainingStep_->restoreStatistics(progress.pending);
    if (reports_) fit_.summary = snapshot.summary;
}

void WorkerLoop::run() {
    for (int epoch = startEpoch_; epoch < job_.trainer.epochs; ++epoch) {
        beginEpoch(epoch);
        const std::size_t firstRound = epoch == startEpoch_ ? std::size_t(startRound_) : 0;
        for (std::size_t round = firstRound; round < schedule_.rounds; ++round) {
            PrefetchedBatch batch;
            if (!nextBatch(batch)) throw std::logic_error("prefetch stream ended early");
            roundsDone_ = std::int64_t(round);
            step(batch);
            bool stop = false;
            if (averaging_) {
                if (!atAveragingPoint()) continue;
                averagingPoint(false);
                stop = pointStop_;
            } else {
                // Shared gradients (worker 0 voted before the step's gradient average) or one
                // replica (nothing to agree with): every step is a sync point.
                if (job_.parallel.totalReplicas == 1) castStopVote(fit_.stopVotes[0]);
                stop = fit_.stopVotes[job_.parallel.totalReplicas == 1 ? 0 : (trainingStep_->iteration() - 1) % 2].load(
                    std::memory_order_acquire);
            }
            if (syncPoint(stop, epoch, std::int64_t(round) + 1, false)) return finish();
        }
        endEpoch(epoch);
        const bool last = epoch + 1 == job_.trainer.epochs;
        if (syncPoint(fit_.epochStopVote.load(std::memory_order_acquire) && !last, epoch + 1, 0, true)) return finish();
    }
    finish();
}

void WorkerLoop::finish() {
    if (deviceStaging_) deviceStaging_->releaseAll();
    prefetch_->stop();
}

void WorkerLoop::castStopVote(std::atomic<bool>& slot) {
    double stop = job_.parallel.stopRequested && job_.parallel.stopRequested() ? 1.0 : 0.0;
    if (ProcessGroup* processes = job_.communicator.processes()) processes->allreduceSum(DType::Float64, &stop, 1);
    slot.store(stop > 0.0, std::memory_order_release);
}

bool WorkerLoop::syncPoint(bool stop, int epoch, std::int64_t roundsDone, bool atEpochEnd) {
    const ParallelConfig& config = job_.parallel;
    const std::int64_t iteration = trainingStep_->iteration();
    const bool last = atEpochEnd && epoch == job_.trainer.epochs;
    SnapshotReason reason = SnapshotReason::Periodic;
    bool due = false;
    if (stop) {
        due = true;
        reason = SnapshotReason::Stop;
    } else if (atEpochEnd) {
        due = config.snapshotEveryEpoch || (last && config.snapshotAtRunEnd);
        reason = last ? SnapshotReason::RunEnd : SnapshotReason::EpochEnd;
    } else {
        due = config.snapshotEvery > 0 && iteration - lastSnapshot_ >= config.snapshotEvery;
    }
    if (due) snapshot(epoch, roundsDone, atEpochEnd, reason);
    if (stop && reports_) fit_.summary.stopped = true;
    return stop;
}

void WorkerLoop::snapshot(int epoch, std::int64_t roundsDone, bool atEpochEnd, SnapshotReason reason) {
    Communicator& communicator = job_.communicator;
    const auto start = Clock::now();
    backend_->synchronize();
    ReplicaProgress& progress = fit_.progress[std::size_t(index_)];
    progress = {me_.epochStatistics, trainingStep_->peekStatistics(), me_.statistics.averagings, {}, {}};
    if (atEpochEnd) progress = {};  // the next epoch has not begun
    communicator.barrier(index_);  // every replica quiet and its progress written
    if (index_ == 0) {
        TrainingSnapshot snapshot;
        snapshot.epoch = epoch;
        snapshot.round = roundsDone;
        snapshot.iteration = trainingStep_->iteration();
        snapshot.averagingPoints = averagingPoints_;
        snapshot.atEpochEnd = atEpochEnd;
        assembleSnapshot(snapshot);
        if (!allFinite(snapshot.parameters, me_.model->dtype())) {
            throw DivergenceError("training diverged: a parameter is NaN or infinite at iteration " +
                                  std::to_string(snapshot.iteration) + "; lower {learningRate} or check the data");
        }
        if (reports_) {
            snapshot.summary = fit_.summary;
            if (fit_.listener) fit_.listener->onSnapshot(snapshot, reason);
        }
    }
    communicator.barrier(index_);  // nobody changes a buffer before it was copied
    lastSnapshot_ = trainingStep_->iteration();
    trace(SpanKind::Snapshot, start, Clock::now());
}

// Worker 0: this process's replicas, then every process's (gathered on every process in rank
// order, so global replica order).
void WorkerLoop::assembleSnapshot(TrainingSnapshot& snapshot) {
    const ParallelConfig& config = job_.parallel;
    const bool statePerReplica = config.trainingMode == TrainingMode::Averaging && !config.averageUpdaters &&
                                 config.totalReplicas > 1 && me_.optimizer->state().elementCount() > 0;
    const bool statisticsPerReplica = config.trainingMode == TrainingMode::SharedGradients && !snapshot.atEpochEnd &&
                                      config.totalReplicas > 1 && me_.model->statisticsCount() > 0;
    snapshot.parameters = hostBytes(me_.model->parameters());
    if (!statePerReplica) snapshot.optimizerState = hostBytes(me_.optimizer->state());
    if (!statisticsPerReplica) snapshot.statistics = hostBytes(me_.model->statistics());
    if (me_.outer && me_.outer->hasVelocity()) snapshot.outerVelocity = hostBytes(me_.outer->velocity());
    std::vector<double> numbers;  // per local replica: epoch and pending statistics, averagings
    std::vector<unsigned char> buffers;
    for (std::size_t w = 0; w < job_.workers.size(); ++w) {
        const ReplicaProgress& progress = fit_.progress[w];
        appendStatistics(numbers, progress.epoch);
        appendStatistics(numbers, progress.pending);
        numbers.push_back(double(progress.averagings));
        if (statePerReplica) {
            const auto bytes = hostBytes(job_.workers[w]->optimizer->state());
            buffers.insert(buffers.end(), bytes.begin(), bytes.end());
        }
        if (statisticsPerReplica) {
            const auto bytes = hostBytes(job_.workers[w]->model->statistics());
            buffers.insert(buffers.end(), bytes.begin(), bytes.end());
        }
    }
    const std::size_t stateBytes = statePerReplica ? me_.optimizer->state().byteCount() : 0;
    const std::size_t statisticsBytes = statisticsPerReplica ? me_.model->statistics().byteCount() : 0;
    constexpr std::size_t kNumbersPerReplica = 9;
    ProcessGroup* processes = job_.communicator.processes();
    const int ranks = processes ? processes->size() : 1;
    for (int rank = 0; rank < ranks; ++rank) {
        std::vector<double> theirNumbers = numbers;
        std::vector<unsigned char> theirBuffers = buffers;
        if (ranks > 1) {
            processes->broadcast(theirNumbers.data(), theirNumbers.size() * sizeof(double), rank);
            if (!theirBuffers.empty()) processes->broadcast(theirBuffers.data(), theirBuffers.size(), rank);
        }
        for (std::size_t w = 0; w < job_.workers.size(); ++w) {
            const double* at = theirNumbers.data() + w * kNumbersPerReplica;
            ReplicaProgress replica{statisticsAt(at), statisticsAt(at + 4), std::int64_t(at[8]), {}, {}};
            const unsigned char* bytes = theirBuffers.data() + w * (stateBytes + statisticsBytes);
            if (statePerReplica) replica.optimizerState.assign(bytes, bytes + stateBytes);
            if (statisticsPerReplica) replica.statistics.assign(bytes + stateBytes, bytes + stateBytes + statisticsBytes);
            snapshot.replicas.push_back(std::move(replica));
        }
    }
}

bool WorkerLoop::nextBatch(PrefetchedBatch& batch) {
    if (!job_.parallel.trace) return prefetch_->next(batch);
    const double waitedBefore = prefetch_->waitSeconds();
    const auto start = Clock::now();
    const bool more = prefetch_->next(batch);
    const auto waited = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(prefetch_->waitSeconds() - waitedBefore));
    trace(SpanKind::DataWait, start, start + waited);
    return more;
}

void WorkerLoop::trace(SpanKind kind, Clock::time_point begin, Clock::time_point end) {
    if (job_.parallel.trace) job_.parallel.trace->record(index_, kind, me_.epoch, trainingStep_->iteration(), begin, end);
}

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
        // This step is a sync point: worker 0 votes before the gradient average it must join.
        // From here to finishStep() the gradient averages may run on the communication thread,
        // which then takes this worker's place in the communicator.
        if (index_ == 0 && config.totalReplicas > 1) castStopVote(fit_.stopVotes[step.iteration() % 2]);
        gradientAveraging_->beginStep(me_.epoch, step.iteration() + 1);
        step.computeGradients(staged.input, staged.labels, rows);
        gradientAveraging_->finishStep();
        step.clipGradients();  // the averaged gradients: every replica clips alike
        step.applyUpdate(learningRate_);
    } else if (fuseUpdates_ && (step.iteration() + 1) % config.averagingFrequency == 0) {
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
    const auto computeEnd = Clock::now();
    me_.statistics.computeSeconds += secondsBetween(computeStart, computeEnd);
    trace(SpanKind::Compute, computeStart, computeEnd);
    if (reports_ && fit_.listener) {
        const train::StepStatistics recorded = trainingStep_->recordedStatistics();
        fit_.listener->onProgress({me_.epoch, job_.trainer.epochs, roundsDone_ + 1, std::int64_t(schedule_.rounds),
                                   step.iteration(), me_.epochStatistics.lossSum + recorded.lossSum,
                                   me_.epochStatistics.samples + recorded.samples, job_.parallel.totalReplicas});
    }
}

bool WorkerLoop::atAveragingPoint() const {
    return averaging_ && trainingStep_->iteration() % job_.parallel.averagingFrequency == 0;
}

void WorkerLoop::averagingPoint(bool atEpochEnd) {
    const ParallelConfig& config = job_.parallel;
    Communicator& communicator = job_.communicator;
    const DType dtype = me_.model->dtype();
    const auto waitStart = Clock::now();
    // A sync point (unless the epoch's end, which is one of its own): worker 0 votes before the
    // barrier, the others read the vote after the averaging.
    std::atomic<bool>& vote = fit_.stopVotes[averagingPoints_ % 2];
    if (index_ == 0 && !atEpochEnd) castStopVote(vote);
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
    const auto averageStart = Clock::now();
    me_.statistics.averagingWaitSeconds += secondsBetween(waitStart, averageStart);
    trace(SpanKind::AveragingWait, waitStart, averageStart);
    if (updatePending_ || outerShared_) {
        fusedWork_->setApplyUpdates(updatePending_);
        communicator.forEachSlice(index_, *backend_, me_.model->parameterCount(), *fusedWork_);
        updatePending_ = false;
    } else {
        communicator.average(index_, *backend_, dtype, me_.model->parameters().raw(), me_.model->parameterCount());
        Tensor& state = me_.optimizer->state();
        if (config.averageUpdaters && state.elementCount() > 0) {
            communicator.average(index_, *backend_, dtype, state.raw(), state.elementCount());
        }
        if (me_.outer) me_.outer->step(*backend_, me_.model->parameters().raw(), 0, me_.model->parameterCount());
    }
    averageStatistics();
    const auto averageEnd = Clock::now();
    const double seconds = secondsBetween(averageStart, averageEnd);
    trace(SpanKind::Averaging, averageStart, averageEnd);
    me_.statistics.averagingSeconds += seconds;
    ++me_.statistics.averagings;
    lastAveraged_ = trainingStep_->iteration();
    if (reports_ && fit_.listener && (config.reportScoreAfterAveraging || averagingPoints_ % sampleEvery_ == 0)) {
        fit_.listener->onAveraging(AveragingEvent{trainingStep_->iteration(), seconds, averagingBytes_, score});
    }
    ++averagingPoints_;
    pointStop_ = !atEpochEnd && vote.load(std::memory_order_acquire);
}

// Batch-norm running statistics: averaged like the parameters (every averaging point in
// averaging mode, every epoch end in shared-gradients mode).
void WorkerLoop::averageStatistics() {
    Tensor& statistics = me_.model->statistics();
    if (statistics.elementCount() > 0) {
        job_.communicator.average(index_, *backend_, me_.model->dtype(), statistics.raw(), statistics.elementCount());
    }
}

void WorkerLoop::beginEpoch(int epoch) {
    epochStart_ = Clock::now();
    me_.epoch = epoch + 1;
    me_.statistics = WorkerStatistics{index_, me_.statistics.device};
    me_.epochStatistics = {};
    dataWaitBefore_ = prefetch_->waitSeconds();
    learningRate_ = 0.0;
    if (fit_.resume && epoch == startEpoch_) {  // the epoch so far, as the snapshot saw it
        const ReplicaProgress& progress = fit_.resume->replicas.at(std::size_t(globalReplica_));
        me_.epochStatistics = progress.epoch;
        me_.statistics.averagings = progress.averagings;
        if (startRound_ > 0) learningRate_ = learningRates_.at(trainingStep_->iteration() - 1);
    }
}

void WorkerLoop::endEpoch(int epoch) {
    if (deviceStaging_) deviceStaging_->releaseAll();
    if (averaging_ && lastAveraged_ != trainingStep_->iteration()) averagingPoint(true);
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
    const auto trainEnd = Clock::now();
    trainSeconds_ = secondsBetween(epochStart_, trainEnd);
    trace(SpanKind::EpochEnd, trainEnd, trainEnd);
    statistics.samplesPerSecond = trainSeconds_ > 0 ? double(statistics.samples) / trainSeconds_ : 0.0;
    job_.communicator.barrier(index_);
    if (index_ == 0) reduceEpochTotals();
    if (reports_) reportEpoch(epoch);
    if (index_ == 0) castStopVote(fit_.epochStopVote);  // read by everyone after the barrier
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
    const auto evaluationStart = Clock::now();
    const train::EpochMetrics metrics = train::closeEpoch(job_.trainer, end, *evaluator_, fit_.data->test);
    trace(SpanKind::Evaluation, evaluationStart, Clock::now());
    train::recordEpoch(fit_.summary, metrics);
    if (fit_.listener) {
        std::vector<WorkerStatistics> all;
        for (const auto& worker : job_.workers) all.push_back(worker->statistics);
        fit_.listener->onWorkerStatistics(epoch + 1, all);
        fit_.listener->onEpoch(metrics);
    }
}

}  // namespace cohort::parallel
