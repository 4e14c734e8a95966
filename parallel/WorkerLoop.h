#pragma once
// WorkerLoop: the body of one ParallelWrapper worker thread, read top to bottom.
//
//   WorkerLoop(...)   on the worker's thread: its backend, training step, prefetch buffer (and
//                     device staging on a GPU), evaluator (worker 0 of the reporting process);
//                     the replicas start from global replica 0's parameters and statistics.
//   run(), per epoch, per round:
//     nextBatch()     the worker's next batch from its prefetch buffer (parallel/EpochSchedule:
//                     round r of epoch e is batch r*R + g of the epoch's shuffled order).
//     step()          forward, backward and update in the training mode's way: shared
//                     gradients average the gradients before the update (bucket by bucket,
//                     overlapped with the backward pass: parallel/GradientAveraging); with the fused
//                     update-and-average the step before an averaging point computes gradients
//                     only and the update happens at the point.
//     averagingPoint() every K iterations and at the end of an epoch: the replicas meet and
//                     average parameters (optimizer state, batch-norm statistics).
//     endEpoch()      the job's totals (this process's workers, then every process), the
//                     evaluation and the reports (worker 0).
//
//   syncPoint()     after an averaging point (every step in shared-gradients mode or with one
//                     replica) and after an epoch end: every replica has done the same steps, so
//                     the run can stop there (a stop request, agreed over processes) and be
//                     snapshot (parallel/TrainingSnapshot) for a checkpoint.
//
// A trace span belongs around a phase, a progress tick after a step. Errors propagate to
// ParallelWrapper, which aborts the communicator so that every other worker wakes.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kernels/Backend.h"
#include "parallel/Communicator.h"
#include "parallel/EpochSchedule.h"
#include "parallel/ParallelConfig.h"
#include "parallel/ParallelListener.h"
#include "parallel/TraceRecorder.h"
#include "parallel/TrainingSnapshot.h"
#include "src/data/Dataset.h"
#include "src/nn/Loss.h"
#include "src/nn/Model.h"
#include "src/optim/LearningRateSchedule.h"
#include "src/optim/Optimizer.h"
#include "src/train/BatchStager.h"
#include "src/train/Evaluation.h"
#include "src/train/Trainer.h"
#include "src/train/TrainingStep.h"

namespace cohort::parallel {

class DeviceStaging;
class GradientAveraging;
class PrefetchBuffer;
class OuterState;
class UpdateAndAverage;
struct PrefetchedBatch;

// One worker's lasting state: created once by ParallelWrapper and reused by every fit().
struct WorkerState {
    int index = 0;
    memory::MemoryLocation location;
    std::unique_ptr<nn::Model> model;
    std::unique_ptr<optim::Optimizer> optimizer;
    std::shared_ptr<OuterState> outer;     // with an outer optimizer; shared by replicas sharing memory
    int epoch = 0;                         // the epoch in progress, 1-based (for messages)
    WorkerStatistics statistics;           // of the current epoch
    train::StepStatistics epochStatistics;  // training loss and accuracy of the current epoch
};

// The job a worker belongs to: settings, communicator and every local worker's state.
struct JobSettings {
    const ParallelConfig& parallel;
    const train::TrainerConfig& trainer;
    const optim::OptimizerConfig& optimizer;
    Communicator& communicator;
    const std::vector<std::unique_ptr<WorkerState>>& workers;
};

// What the workers of one fit() share.
struct FitState {
    const data::DatasetSplits* data = nullptr;
    ParallelListener* listener = nullptr;
    const TrainingSnapshot* resume = nullptr;  // where the run starts (null: from the beginning)
    std::vector<double> scores;            // per worker: mean loss since the last averaging point
    train::EpochTotals epochTotals;         // the job's, written by worker 0
    train::RunSummary summary;
    // Worker 0's stop decisions, read by the others after a collective that worker 0 joins only
    // after writing: alternate slots, so the next decision never overwrites one still unread.
    std::atomic<bool> stopVotes[2] = {false, false};
    std::atomic<bool> epochStopVote{false};
    std::vector<ReplicaProgress> progress;  // per local worker, written for a snapshot
};

class WorkerLoop {
public:
    WorkerLoop(int index, const JobSettings& job, FitState& fit);
    ~WorkerLoop();
    // What a worker on `location` holds during a fit() besides its replica and optimizer (which
    // ParallelWrapper makes): what the constructor below creates, sized as it sizes it — the
    // training step, the stream of batches, the prefetch buffer, the staging buffers and, for the
    // worker that `reports`, the evaluator. For memory predictions; `backend` answers a
    // convolution's working memory.
    static memory::MemoryDemand memoryFor(const nn::Model& model, memory::MemoryLocation location,
                                          const ParallelConfig& config, const train::TrainerConfig& trainer,
                                          const data::DatasetSplits& data, bool reports, kernels::Backend& backend);
    WorkerLoop(const WorkerLoop&) = delete;
    WorkerLoop& operator=(const WorkerLoop&) = delete;

    void run();  // every epoch (from the resume point); returns early when the run is stopped

private:
    // The constructor's steps, in its order.
    void createTrainingStep();
    void startReplica();
    void createBatchPipeline();
    void createFusedWork();
    void createGradientAveraging();
    bool nextBatch(PrefetchedBatch& batch);
    void step(PrefetchedBatch& batch);
    bool atAveragingPoint() const;
    void averagingPoint(bool atEpochEnd);
    void averageStatistics();
    void beginEpoch(int epoch);
    void endEpoch(int epoch);
    void reduceEpochTotals();
    void reportEpoch(int epoch);
    // Sync points: true when the run stops here.
    void castStopVote(std::atomic<bool>& slot);
    bool syncPoint(bool stop, int epoch, std::int64_t roundsDone, bool atEpochEnd);
    void snapshot(int epoch, std::int64_t roundsDone, bool atEpochEnd, SnapshotReason reason);
    void assembleSnapshot(TrainingSnapshot& snapshot);
    void restore(const TrainingSnapshot& snapshot);
    void finish();
    void trace(SpanKind kind, std::chrono::steady_clock::time_point begin, std::chrono::steady_clock::time_point end);

    const JobSettings& job_;
    FitState& fit_;
    WorkerState& me_;
    const int index_;
    const int globalReplica_;
    const EpochSchedule schedule_;
    const bool reports_;       // worker 0 of the reporting process
    const bool averaging_;     // averaging mode with more than one replica in the job

    std::unique_ptr<kernels::Backend> backend_;
    nn::SoftmaxCrossEntropy loss_;
    std::unique_ptr<train::TrainingStep> trainingStep_;
    ReplicaBatches batches_;
    std::unique_ptr<PrefetchBuffer> prefetch_;
    std::unique_ptr<train::BatchStager> stager_;
    std::unique_ptr<DeviceStaging> deviceStaging_;  // GPU workers: batches copied on the staging stream
    std::unique_ptr<train::Evaluator> evaluator_;
    const optim::LearningRateSchedule learningRates_;
    std::unique_ptr<UpdateAndAverage> fusedWork_;   // fused update-and-average, when replicas share memory
    bool fuseUpdates_ = false;   // the step before an averaging point leaves its update to fusedWork_
    bool outerShared_ = false;   // one outer state for this process's replicas, stepped by fusedWork_

    std::int64_t averagingBytes_ = 0;
    std::int64_t sampleEvery_ = 1;        // averaging events reported: one in sampleEvery_
    std::int64_t averagingPoints_ = 0;
    std::int64_t lastAveraged_ = 0;       // iteration of the last averaging point
    bool updatePending_ = false;          // gradients computed, the update left to the fused averaging
    double learningRate_ = 0.0;           // of the last step
    std::chrono::steady_clock::time_point epochStart_;
    double trainSeconds_ = 0.0;           // the epoch's training, without evaluation
    double dataWaitBefore_ = 0.0;
    int startEpoch_ = 0;                  // where run() starts (a resumed run: the snapshot's position)
    std::int64_t startRound_ = 0;
    std::int64_t lastSnapshot_ = 0;       // iteration of the last snapshot (or of the start)
    bool pointStop_ = false;              // the stop decision of the last averaging point
    std::int64_t roundsDone_ = 0;         // rounds of the epoch before the current step
    // Shared gradients: the step's gradient average. Last, so its thread ends before anything
    // above goes.
    std::unique_ptr<GradientAveraging> gradientAveraging_;
};

}  // namespace cohort::parallel
