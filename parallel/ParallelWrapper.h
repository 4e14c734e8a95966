#pragma once
// ParallelWrapper: data-parallel training with one persistent thread per worker.
//
// Each worker is bound to a device (round-robin over the listed GPUs, or the CPU with its own
// BLAS thread count) and owns a model replica (created once, initialised from the root model),
// its optimizer, its workspaces (destroyed when its thread ends) and its prefetch buffer. What a
// worker thread does is parallel/WorkerLoop; which batches it trains on, parallel/EpochSchedule.
//
// Training modes: averaging (workers run free; every K of its iterations each worker meets the
// others and the communicator averages the flat parameters, and with averageUpdaters the flat
// optimizer state) or shared-gradients (gradients averaged every step before the update). At
// the end of each epoch the replicas are averaged (if the last iteration was not an averaging
// point) and worker 0 evaluates. The epoch's training loss and accuracy are the job's: summed
// over this process's workers and, under mpirun, over processes (communicator.processes()).
// After fit() the root model holds the trained parameters.
//
// Errors: an exception in any worker or loader aborts the communicator (waking everyone),
// every thread is joined, and fit() throws WorkerError naming the worker and carrying the
// root cause.
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "parallel/Communicator.h"
#include "parallel/ParallelConfig.h"
#include "parallel/ParallelListener.h"
#include "parallel/TraceRecorder.h"
#include "parallel/TrainingSnapshot.h"
#include "src/data/Dataset.h"
#include "src/nn/Model.h"
#include "src/optim/Optimizer.h"
#include "src/train/Trainer.h"

namespace cohort::parallel {

struct WorkerState;

// A worker failed. what() is "worker W failed: <cause>"; cause() is the exception that started
// it (null when it was not a std::exception), so a caller can describe it in its own terms.
class WorkerError : public std::runtime_error {
public:
    WorkerError(int worker, const std::string& cause, std::exception_ptr original = nullptr,
                std::string context = {})
        : std::runtime_error(describe(worker, cause, context)), worker_(worker), cause_(std::move(original)),
          context_(std::move(context)) {}
    int worker() const { return worker_; }
    std::exception_ptr cause() const { return cause_; }
    // The message with the cause described as `cause`.
    std::string describe(const std::string& cause) const { return describe(worker_, cause, context_); }

private:
    static std::string describe(int worker, const std::string& cause, const std::string& context) {
        return "worker " + std::to_string(worker) + " failed: " + cause + context;
    }
    int worker_;
    std::exception_ptr cause_;
    std::string context_;  // e.g. " (at iteration 12)"
};

class ParallelWrapper {
public:
    // `communicator` defaults to a local one for config.workers threads.
    ParallelWrapper(nn::Model& root, const optim::OptimizerConfig& optimizer, const train::TrainerConfig& trainer,
                    const ParallelConfig& config, std::shared_ptr<Communicator> communicator = nullptr);
    ~ParallelWrapper();

    // The most memory a ParallelWrapper for `root` holds from its construction to the end of a
    // fit() on `data`, per location kind and outside the budget: every worker's replica and
    // optimizer state (made here) and what its WorkerLoop makes (WorkerLoop::memoryFor), plus,
    // when the fit is `resuming`, the snapshot it holds meanwhile. The root model itself is not
    // included: it exists already. `backend` is one of the workers' kind; it answers a
    // convolution's working memory. For memory predictions: an up-front check that a budget holds
    // the run. (Snapshots taken during the fit are host copies freed before the next charge.)
    static memory::MemoryDemand memoryFor(const nn::Model& root, const optim::OptimizerConfig& optimizer,
                                          const train::TrainerConfig& trainer, const ParallelConfig& config,
                                          const data::DatasetSplits& data, bool resuming, kernels::Backend& backend);

    train::RunSummary fit(const data::DatasetSplits& data, ParallelListener* listener = nullptr);
    // The next fit() continues the run `snapshot` was taken from instead of starting one: every
    // replica's buffers, step counts and position come from it, and the result is bitwise the
    // uninterrupted run's. Throws std::invalid_argument when it does not fit this job (replicas,
    // buffer sizes, position beyond the configured epochs).
    void resume(TrainingSnapshot snapshot);
    // The iteration a resumed fit continues from (0 when not resuming).
    std::int64_t resumeIteration() const { return resume_ ? resume_->iteration : 0; }
    int resumeEpoch() const { return resume_ ? resume_->epoch : 0; }  // epochs finished before it
    // Records where each worker's time goes from the next fit() on (parallel/TraceRecorder.h).
    void setTrace(std::shared_ptr<TraceRecorder> trace) { config_.trace = std::move(trace); }

    int workers() const { return config_.workers; }
    nn::Model& replica(int worker);
    optim::Optimizer& optimizer(int worker);
    const Communicator& communicator() const { return *communicator_; }

private:
    void restoreReplicas(const TrainingSnapshot& snapshot);

    nn::Model& root_;
    optim::OptimizerConfig optimizerConfig_;
    train::TrainerConfig trainerConfig_;
    ParallelConfig config_;
    std::shared_ptr<Communicator> communicator_;
    std::vector<std::unique_ptr<WorkerState>> workers_;
    std::unique_ptr<TrainingSnapshot> resume_;
};

}  // namespace cohort::parallel
