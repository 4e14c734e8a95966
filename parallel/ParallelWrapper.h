#pragma once
// ParallelWrapper: data-parallel training with one persistent thread per worker.
//
// Each worker is bound to a device (round-robin over the listed GPUs, or the CPU with its own
// BLAS thread count) and owns a model replica (created once, initialised from the root model),
// its optimizer, its workspaces (destroyed when its thread ends) and its prefetch buffer.
//
// Data: epoch e walks the training set in shuffledOrder(seed, e); batch j goes to global replica
// j mod R (R = replicas of the whole job). Each epoch has floor(batches / R) full rounds; when
// R > 1 the remaining batches of the epoch are skipped (the next epoch reshuffles), so every
// round gives each replica one batch and averaging weighs replicas equally. With R = 1 every
// batch is used, including a smaller last one.
//
// Training modes: averaging (workers run free; every K of its iterations each worker meets the
// others and the communicator averages the flat parameters, and with averageUpdaters the flat
// optimizer state) or shared-gradients (gradients averaged every step before the update). At
// the end of each epoch the replicas are averaged (if the last iteration was not an averaging
// point) and worker 0 evaluates. The epoch's training loss and accuracy are the job's: summed
// over this process's workers and, under mpirun, over processes (communicator.processes()). After fit() the root model holds the trained parameters.
//
// Errors: an exception in any worker or loader aborts the communicator (waking everyone),
// every thread is joined, and fit() throws WorkerError naming the worker.
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "parallel/Communicator.h"
#include "src/data/Dataset.h"
#include "src/nn/Model.h"
#include "src/optim/Optimizer.h"
#include "src/train/Trainer.h"

namespace cohort::parallel {

enum class TrainingMode { Averaging, SharedGradients };
TrainingMode parseTrainingMode(const std::string& text);  // throws InputError

struct ParallelConfig {
    int workers = 1;
    std::vector<int> devices;         // CUDA ordinals; empty: CPU workers
    int prefetchBuffer = 4;           // batches per worker; 0 loads synchronously
    int averagingFrequency = 1;       // K >= 1
    bool averageUpdaters = true;
    bool reportScoreAfterAveraging = false;
    TrainingMode trainingMode = TrainingMode::Averaging;
    int threadsPerWorker = 1;         // CPU BLAS threads per worker (0: library default)
    bool allowTf32 = false;           // GPU workers: TF32 tensor cores for fp32 GEMMs/convolutions
    // Averaging mode, replicas sharing memory: fuse the optimizer update of each averaging step
    // with the averaging (parallel/FusedAveraging.h). Same result bit for bit; off for tests
    // that compare the two.
    bool fuseUpdateWithAveraging = true;
    // Job layout under mpirun: this process's first global replica index and the job's total.
    int firstGlobalReplica = 0;
    int totalReplicas = 0;            // 0: workers (single process)
    bool reportingProcess = true;     // evaluates and reports (rank 0)
    // Test hook, called by each worker before each step (fault injection).
    std::function<void(int worker, std::int64_t iteration)> beforeStep;

    void validate() const;            // throws InputError naming the flag
};

class WorkerError : public std::runtime_error {
public:
    WorkerError(int worker, const std::string& message) : std::runtime_error(message), worker_(worker) {}
    int worker() const { return worker_; }

private:
    int worker_;
};

struct WorkerStatistics {
    int worker = 0;
    std::string device;
    std::int64_t samples = 0, iterations = 0, averagings = 0;
    double samplesPerSecond = 0.0;
    double computeSeconds = 0.0, dataWaitSeconds = 0.0, averagingWaitSeconds = 0.0, averagingSeconds = 0.0;
    double trainLoss = 0.0;
};

struct AveragingEvent {
    std::int64_t iteration = 0;
    double seconds = 0.0;
    std::int64_t bytes = 0;
    double score = -1.0;  // mean training loss of the replicas since the last point, when asked
};

class ParallelListener : public train::TrainingListener {
public:
    virtual void onWorkerStatistics(int epoch, const std::vector<WorkerStatistics>& workers) {
        (void)epoch; (void)workers;
    }
    virtual void onAveraging(const AveragingEvent& event) { (void)event; }
};

class ParallelWrapper {
public:
    // `communicator` defaults to a local one for config.workers threads.
    ParallelWrapper(nn::Model& root, const optim::OptimizerConfig& optimizer, const train::TrainerConfig& trainer,
                    const ParallelConfig& config, std::shared_ptr<Communicator> communicator = nullptr);
    ~ParallelWrapper();

    train::RunSummary fit(const data::DatasetSplits& data, ParallelListener* listener = nullptr);

    int workers() const { return config_.workers; }
    nn::Model& replica(int worker);
    optim::Optimizer& optimizer(int worker);
    const Communicator& communicator() const { return *communicator_; }

private:
    struct Worker;
    struct Shared;
    void workerMain(int index, Shared& shared);

    nn::Model& root_;
    optim::OptimizerConfig optimizerConfig_;
    train::TrainerConfig trainerConfig_;
    ParallelConfig config_;
    std::shared_ptr<Communicator> communicator_;
    std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace cohort::parallel
