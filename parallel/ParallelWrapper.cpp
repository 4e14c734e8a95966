#include "parallel/ParallelWrapper.h"

#include <chrono>
#include <cmath>
#include <mutex>
#include <thread>

#include "parallel/AbortableBarrier.h"
#include "parallel/EpochSchedule.h"
#include "parallel/OuterOptimizer.h"
#include "parallel/WorkerLoop.h"
#include "src/core/Errors.h"

namespace cohort::parallel {
namespace {

// The first failure of a fit(), preferring a root cause over a worker woken by another's abort.
class FailureRecord {
public:
    void record(int worker, const std::string& message, std::exception_ptr cause, std::string context, bool rootCause) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (worker_ >= 0 && !(rootCause && !rootCause_)) return;
        worker_ = worker;
        message_ = message;
        cause_ = std::move(cause);
        context_ = std::move(context);
        rootCause_ = rootCause;
    }
    void throwIfFailed() const {
        if (worker_ >= 0) throw WorkerError(worker_, message_, cause_, context_);
    }

private:
    std::mutex mutex_;
    int worker_ = -1;
    std::string message_;
    std::exception_ptr cause_;
    std::string context_;
    bool rootCause_ = false;  // not a consequence of another worker's abort
};

}  // namespace

void ParallelConfig::validate() const {
    if (workers < 1) throw SettingError("{workers} must be at least 1, got " + std::to_string(workers));
    if (averagingFrequency < 1) {
        throw SettingError("{averagingFrequency} must be at least 1 (average every K iterations), got " +
                           std::to_string(averagingFrequency));
    }
    if (outer.enabled()) {
        if (trainingMode != TrainingMode::Averaging) {
            throw SettingError("{outerOptimizer} steps at averaging points: it needs {trainingMode} averaging");
        }
        if (!(outer.learningRate > 0.0) || !std::isfinite(outer.learningRate)) {
            throw SettingError("{outerLearningRate} must be > 0, got " + std::to_string(outer.learningRate));
        }
        if (!(outer.momentum >= 0.0 && outer.momentum < 1.0)) {
            throw SettingError("{outerMomentum} must be in [0, 1), got " + std::to_string(outer.momentum));
        }
    }
    if (gradientBucketBytes < 1) {
        throw SettingError("{gradientBucketBytes} must be at least 1 byte, got " + std::to_string(gradientBucketBytes));
    }
    if (prefetchBuffer < 0) throw SettingError("{prefetchBuffer} must be >= 0, got " + std::to_string(prefetchBuffer));
    if (threadsPerWorker < 0) {
        throw SettingError("{threadsPerWorker} must be >= 0, got " + std::to_string(threadsPerWorker));
    }
    if (totalReplicas != 0 && (firstGlobalReplica < 0 || firstGlobalReplica + workers > totalReplicas)) {
        throw InputError("inconsistent replica layout: first " + std::to_string(firstGlobalReplica) + " + " +
                         std::to_string(workers) + " workers > " + std::to_string(totalReplicas) + " replicas");
    }
}

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
        auto worker = std::make_unique<WorkerState>();
        worker->index = w;
        worker->location = config_.devices.empty()
                               ? memory::MemoryLocation::host()
                               : memory::MemoryLocation::onDevice(config_.devices[std::size_t(w) % config_.devices.size()]);
        worker->model = root.replicate(worker->location);
        worker->optimizer = std::make_unique<optim::Optimizer>(optimizerConfig_, root.parameterCount(), root.dtype(),
                                                               worker->location);
        if (config_.outer.enabled()) {
            // One outer state per process when the replicas share memory (updated inside the
            // averaging pass), else one per replica.
            const bool shared = w > 0 && config_.workers > 1 && communicator_->sharesReplicaMemory();
            worker->outer = shared ? workers_[0]->outer
                                   : std::make_shared<OuterState>(config_.outer, root.parameterCount(), root.dtype(),
                                                                  worker->location);
        }
        worker->statistics.worker = w;
        worker->statistics.device = memory::toString(worker->location);
        workers_.push_back(std::move(worker));
    }
}

ParallelWrapper::~ParallelWrapper() = default;

memory::MemoryDemand ParallelWrapper::memoryFor(const nn::Model& root, const optim::OptimizerConfig& optimizer,
                                                const train::TrainerConfig& trainer, const ParallelConfig& config,
                                                const data::DatasetSplits& data, bool resuming, kernels::Backend& backend) {
    const auto element = std::int64_t(kernels::sizeOf(root.dtype()));
    const std::int64_t parameterBytes = memory::saturatingMultiply(root.parameterCount(), element);
    const std::int64_t statisticsBytes = memory::saturatingMultiply(root.statisticsCount(), element);
    const std::int64_t stateBytes =
        memory::saturatingMultiply(optim::stateElementCount(optimizer.kind, root.parameterCount()), element);
    memory::MemoryDemand demand;
    for (int w = 0; w < config.workers; ++w) {
        const memory::MemoryLocation location =
            config.devices.empty() ? memory::MemoryLocation::host()
                                   : memory::MemoryLocation::onDevice(config.devices[std::size_t(w) % config.devices.size()]);
        // The replica (parameters, gradients, statistics: nn::Model) and its optimizer's state.
        demand.charge(location, memory::saturatingAdd(memory::saturatingMultiply(parameterBytes, 2), statisticsBytes));
        demand.charge(location, stateBytes);
        // The outer optimizer's state: one per replica at most (replicas that share memory share one).
        demand += OuterState::memoryFor(config.outer, root.parameterCount(), root.dtype(), location);
        demand += WorkerLoop::memoryFor(root, location, config, trainer, data, w == 0 && config.reportingProcess, backend);
    }
    // The snapshot a resumed fit holds (resume()): the parameters and the outer velocity, and at
    // most the statistics and optimizer state of every replica of the job.
    if (resuming) {
        const std::int64_t replicas = std::max(config.totalReplicas, config.workers);
        const std::int64_t velocity = config.outer.kind == OuterOptimizerKind::Nesterov ? parameterBytes : 0;
        demand.outsideBudget(memory::saturatingAdd(
            memory::saturatingAdd(parameterBytes, velocity),
            memory::saturatingMultiply(memory::saturatingAdd(statisticsBytes, stateBytes), replicas)));
    }
    return demand;
}

void ParallelWrapper::resume(TrainingSnapshot snapshot) {
    const nn::Model& model = *workers_[0]->model;
    const std::size_t element = kernels::sizeOf(model.dtype());
    const std::size_t stateBytes = std::size_t(workers_[0]->optimizer->state().elementCount()) * element;
    const std::size_t statisticsBytes = std::size_t(model.statisticsCount()) * element;
    auto require = [](bool condition, const std::string& what) {
        if (!condition) throw std::invalid_argument("the snapshot does not fit this job: " + what);
    };
    require(snapshot.replicas.size() == std::size_t(config_.totalReplicas),
            std::to_string(snapshot.replicas.size()) + " replicas, the job has " + std::to_string(config_.totalReplicas));
    require(snapshot.parameters.size() == std::size_t(model.parameterCount()) * element, "parameter bytes differ");
    require(snapshot.epoch <= trainerConfig_.epochs, "it is at epoch " + std::to_string(snapshot.epoch + 1) + " of " +
                                                         std::to_string(trainerConfig_.epochs));
    for (const ReplicaProgress& replica : snapshot.replicas) {
        require(snapshot.optimizerState.size() == stateBytes || replica.optimizerState.size() == stateBytes,
                "optimizer state bytes differ");
        require(snapshot.statistics.size() == statisticsBytes || replica.statistics.size() == statisticsBytes,
                "statistics bytes differ");
    }
    const bool nesterov = config_.outer.kind == OuterOptimizerKind::Nesterov;
    require(snapshot.outerVelocity.size() == (nesterov ? std::size_t(model.parameterCount()) * element : 0),
            nesterov ? "it has no outer Nesterov velocity" : "it has an outer velocity, this job no outer Nesterov optimizer");
    resume_ = std::make_unique<TrainingSnapshot>(std::move(snapshot));
}

void ParallelWrapper::restoreReplicas(const TrainingSnapshot& snapshot) {
    for (auto& worker : workers_) {
        const ReplicaProgress& own = snapshot.replicas[std::size_t(config_.firstGlobalReplica + worker->index)];
        auto load = [](Tensor& tensor, const std::vector<unsigned char>& bytes) {
            if (!bytes.empty()) tensor.copyFromHost(bytes.data(), bytes.size());
        };
        load(worker->model->parameters(), snapshot.parameters);
        load(worker->optimizer->state(), snapshot.optimizerState.empty() ? own.optimizerState : snapshot.optimizerState);
        load(worker->model->statistics(), snapshot.statistics.empty() ? own.statistics : snapshot.statistics);
        worker->optimizer->setStepCount(snapshot.iteration);
    }
}

nn::Model& ParallelWrapper::replica(int worker) { return *workers_.at(std::size_t(worker))->model; }
optim::Optimizer& ParallelWrapper::optimizer(int worker) { return *workers_.at(std::size_t(worker))->optimizer; }

train::RunSummary ParallelWrapper::fit(const data::DatasetSplits& data, ParallelListener* listener) {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    if (data.train.featureSize != std::size_t(root_.inputSample().elementCount())) {
        throw InputError("data set '" + data.train.name + "' has " + std::to_string(data.train.featureSize) +
                         " features per sample but the model expects " + std::to_string(root_.inputSample().elementCount()));
    }
    const EpochSchedule schedule(data.train.count, std::size_t(trainerConfig_.batchSize), config_.totalReplicas);
    if (schedule.batchesPerEpoch < std::size_t(config_.totalReplicas)) {
        throw SettingError("the training set gives " + std::to_string(schedule.batchesPerEpoch) +
                           " batches per epoch, fewer than the " + std::to_string(config_.totalReplicas) +
                           " replicas; lower {batchSize} or {workers}");
    }
    const std::unique_ptr<TrainingSnapshot> resume = std::move(resume_);
    if (resume) {
        restoreReplicas(*resume);
    } else {
        // Every replica starts from the root model's current parameters (copied without host
        // copies: memory predicted before training must not meet one here).
        for (auto& worker : workers_) worker->model->copyBuffersFrom(root_);
    }

    FitState fit;
    fit.data = &data;
    fit.listener = listener;
    fit.resume = resume.get();
    fit.scores.assign(std::size_t(config_.workers), 0.0);
    fit.progress.resize(std::size_t(config_.workers));
    const JobSettings job{config_, trainerConfig_, optimizerConfig_, *communicator_, workers_};
    FailureRecord failure;
    auto workerThread = [&](int index) {
        auto fail = [&](const std::string& message, std::exception_ptr cause, std::string context, bool rootCause) {
            failure.record(index, message, std::move(cause), std::move(context), rootCause);
            communicator_->abort("worker " + std::to_string(index) + " failed: " + message + context);
        };
        // The loop outlives a failure until the communicator is aborted: its communication
        // thread may be waiting on the others.
        std::unique_ptr<WorkerLoop> loop;
        try {
            loop = std::make_unique<WorkerLoop>(index, job, fit);
            loop->run();
        } catch (const BarrierAborted& aborted) {
            fail(aborted.what(), nullptr, {}, false);
        } catch (const std::exception& error) {
            const WorkerState& worker = *workers_[std::size_t(index)];
            const std::string context = " (epoch " + std::to_string(worker.epoch) + ", iteration " +
                                        std::to_string(worker.optimizer->stepCount()) + ")";
            fail(error.what(), std::current_exception(), context, true);
        } catch (...) {
            fail("unknown exception", nullptr, {}, true);
        }
        try {
            loop.reset();
        } catch (...) {
        }
        try {
            memory::WorkspaceManager::forCurrentThread().destroyAllWorkspacesForCurrentThread();
        } catch (...) {
        }
    };
    std::vector<std::thread> threads;
    for (int w = 0; w < config_.workers; ++w) threads.emplace_back(workerThread, w);
    for (auto& thread : threads) thread.join();
    failure.throwIfFailed();
    root_.copyBuffersFrom(*workers_[0]->model);
    fit.summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (listener && config_.reportingProcess) listener->onDone(fit.summary);
    return fit.summary;
}

}  // namespace cohort::parallel
