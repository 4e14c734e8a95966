#pragma once
// What a training run reports, and how an epoch is closed: the one piece the single-worker
// Trainer and every ParallelWrapper worker share.
//
// The evaluation rule: the test set is evaluated after every epoch when
// TrainerConfig::evaluateEachEpoch is set, and always after the last one. An epoch's metrics are
// assembled from the job's training totals (every replica of every process, summed by the
// caller) and that evaluation; the run summary follows the last closed epoch.
#include <chrono>
#include <cstdint>
#include <vector>

#include "src/data/Dataset.h"

namespace cohort::train {

struct TrainerConfig;
class Evaluator;

struct EpochMetrics {
    int epoch = 0;
    double trainLoss = 0.0, trainAccuracy = 0.0;
    double testLoss = 0.0, testAccuracy = 0.0;
    double samplesPerSecond = 0.0, seconds = 0.0, learningRate = 0.0;
    std::int64_t iterations = 0;
    int classes = 0;                       // of the test evaluation, when there was one
    std::vector<std::int64_t> confusion;   // classes x classes, row = true label
};

struct RunSummary {
    double testAccuracy = 0.0, testLoss = 0.0, seconds = 0.0;
    int epochs = 0;                 // epochs finished
    std::int64_t iterations = 0;
    bool stopped = false;           // stopped on request before the last epoch ended
    int classes = 0;                // the last evaluation's confusion matrix
    std::vector<std::int64_t> confusion;
};

// Receives progress; every method has a no-op default.
class TrainingListener {
public:
    virtual ~TrainingListener() = default;
    virtual void onEpoch(const EpochMetrics& metrics) { (void)metrics; }
    virtual void onDone(const RunSummary& summary) { (void)summary; }
};

// Training totals of one epoch over the whole job.
struct EpochTotals {
    double lossSum = 0.0;  // sum of per-sample losses
    double correct = 0.0;  // samples whose argmax matched the label
    double samples = 0.0;
};

// What the caller knows when an epoch's training is over.
struct EpochEnd {
    int epoch = 0;                    // 1-based
    EpochTotals totals;
    std::int64_t iterations = 0;      // optimizer steps so far (this replica's)
    double learningRate = 0.0;        // of the epoch's last step
    double trainSeconds = 0.0;        // the epoch's training, without evaluation
    std::chrono::steady_clock::time_point started;
};

// True when the test set is evaluated after `epoch` (1-based).
bool evaluatesAfterEpoch(const TrainerConfig& config, int epoch);

// The epoch's metrics: training loss, accuracy and throughput from the totals; test loss and
// accuracy from `evaluator` on `test` when the evaluation rule says so; `seconds` up to now.
EpochMetrics closeEpoch(const TrainerConfig& config, const EpochEnd& end, Evaluator& evaluator,
                        const data::Dataset& test);

// The summary after the closed epoch `metrics`.
void recordEpoch(RunSummary& summary, const EpochMetrics& metrics);

}  // namespace cohort::train
