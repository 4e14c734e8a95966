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
    // A snapshot (ParallelConfig::snapshotEvery and friends); every worker waits until it returns.
    virtual void onSnapshot(const TrainingSnapshot& snapshot, SnapshotReason reason) { (void)snapshot; (void)reason; }
};

}  // namespace cohort::parallel
