#pragma once
// What a ParallelWrapper reports beyond a single-worker Trainer: per-worker statistics at each
// epoch end and the averaging points. Called on worker 0's thread of the reporting process.
#include <cstdint>
#include <string>
#include <vector>

#include "src/train/EpochReport.h"

namespace cohort::parallel {

struct TrainingSnapshot;
enum class SnapshotReason { Periodic, EpochEnd, RunEnd, Stop };

struct WorkerStatistics {
    int worker = 0;
    std::string device;
    std::int64_t samples = 0, iterations = 0, averagings = 0;
    double samplesPerSecond = 0.0;
    double computeSeconds = 0.0, dataWaitSeconds = 0.0, averagingWaitSeconds = 0.0, averagingSeconds = 0.0;
    double trainLoss = 0.0;
};

// After each step of worker 0 of the reporting process: where the run is (for a progress line).
struct ProgressTick {
    int epoch = 0, epochs = 0;           // 1-based epoch in progress, of
    std::int64_t round = 0, rounds = 0;  // rounds of the epoch done (this step included), of
    std::int64_t iteration = 0;
    double lossSum = 0.0;                // worker 0's losses recorded this epoch (read back so far)
    std::int64_t samples = 0;            // and the samples they cover
    int replicas = 1;                    // of the job: samples/s of the job ≈ replicas × worker 0's
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
    // Called every step: keep it cheap (a clock check before anything else).
    virtual void onProgress(const ProgressTick& tick) { (void)tick; }
    // A snapshot (ParallelConfig::snapshotEvery and friends); every worker waits until it returns.
    virtual void onSnapshot(const TrainingSnapshot& snapshot, SnapshotReason reason) { (void)snapshot; (void)reason; }
};

}  // namespace cohort::parallel
