#pragma once
// ScalingModel: how fast a data-parallel job trains, predicted from the time of one training step
// and a model of the link between processes (`cohort plan`, docs/PLANNER.md).
//
// Link: an allreduce of n bytes over P processes costs t(n) = a(P)·α + b(P)·n/β, α the latency
// of one message, β the bytes per second of one link, a and b the algorithm's counts:
//   binomial (reduce up a binomial tree, broadcast down it; Open MPI's nonblocking allreduce in
//             place, which is what cohort's processes use): a = b = 2·ceil(log2 P)
//   ring     (reduce-scatter then allgather):               a = 2(P−1), b = 2(P−1)/P
// A barrier (gather at rank 0, release) costs 2α.
//
// Synchronisation: one averaging point (or, with shared gradients, one step's gradient average)
// costs its in-process part (measured: W replicas averaged in memory) plus its collectives across
// processes. Compute and communication are not overlapped (workers meet at the point and wait).
//
// Prediction for R = P·W replicas of B samples each, averaging every K steps:
//   samples/s = R·B / (t_step + t_point/K),  averaging fraction = (t_point/K) / (t_step + t_point/K)
// With one replica there is nothing to average (t_point = 0). Shared gradients: K = 1 and
// t_point is the gradient average.
//
// Pure arithmetic: no clock, no MPI. Invalid inputs throw SettingError naming the field.
#include <cstdint>
#include <vector>

#include "parallel/ParallelConfig.h"

namespace cohort::parallel {

enum class AllreduceAlgorithm { Binomial, Ring };
const char* toString(AllreduceAlgorithm algorithm);

struct LinkModel {
    double latencySeconds = 0.0;  // α: one message's latency
    double bytesPerSecond = 0.0;  // β: one link's bandwidth
};

// t(n) = latencyTerms·α + byteTerms·n/β.
struct AllreduceCoefficients {
    double latencyTerms = 0.0;
    double byteTerms = 0.0;
};
AllreduceCoefficients allreduceCoefficients(AllreduceAlgorithm algorithm, int processes);
double allreduceSeconds(const LinkModel& link, AllreduceAlgorithm algorithm, int processes, double bytes);

// One timed allreduce size (median seconds of repeated allreduces of `bytes`).
struct LinkSample {
    double bytes = 0.0;
    double seconds = 0.0;
};
// α and β from timed allreduces over `processes` processes: t = c0 + c1·n fitted by least squares
// on the relative error (every size counts alike, whether it takes microseconds or seconds), then
// α = c0 / a(P), β = b(P) / c1. A fit that comes out non-positive falls back to the smallest
// size's time as the intercept and the largest size's slope from it. Throws SettingError with
// fewer than two distinct sizes, one process, or samples that give no positive β.
LinkModel fitLinkModel(const std::vector<LinkSample>& samples, AllreduceAlgorithm algorithm, int processes);

// What one synchronisation exchanges.
struct SyncCost {
    double localSeconds = 0.0;            // in-process part: W replicas averaged in memory (measured)
    std::vector<double> allreduceBytes;   // each allreduce across processes
    int barriers = 0;                     // barriers across processes
};
// The collectives of one averaging point (parallel/WorkerLoop): worker 0's stop vote (one
// 8-byte allreduce), a barrier, then one allreduce each for the parameters, the optimizer state
// (when averaged and not empty) and the batch-norm statistics (when the model has any).
SyncCost averagingPointCost(double localSeconds, std::int64_t parameterBytes, std::int64_t stateBytes,
                            std::int64_t statisticsBytes);
// The collectives of one shared-gradients step: the stop vote and the gradients.
SyncCost sharedGradientsStepCost(double localSeconds, std::int64_t gradientBytes);
// One allreduce of `bytes`: read off `probed` (timed allreduces over these `processes`, any order)
// when it covers the size — linear between the two neighbouring sizes, the smallest size's time
// below it, the largest's plus the model's slope above it — else the model. The link is seldom
// as straight as the fit (caches, the transport's protocol switches), and the probed sizes are
// the truth for the P that was probed.
double allreduceSeconds(const LinkModel& link, AllreduceAlgorithm algorithm, int processes, double bytes,
                        const std::vector<LinkSample>& probed);
// The across-process part of `cost` (allreduces priced as above).
double linkSeconds(const SyncCost& cost, const LinkModel& link, AllreduceAlgorithm algorithm, int processes,
                   const std::vector<LinkSample>& probed = {});

struct ScalingInputs {
    int processes = 1;              // P
    int workers = 1;                // W, per process
    std::int64_t batchSize = 1;     // B, per worker
    double stepSeconds = 0.0;       // one training step of one worker, W workers (per process) running
    TrainingMode mode = TrainingMode::Averaging;
    SyncCost sync;                  // one averaging point, or one shared-gradients step
    LinkModel link;                 // needed when processes > 1
    AllreduceAlgorithm algorithm = AllreduceAlgorithm::Binomial;
    std::vector<LinkSample> probed; // allreduces timed over exactly `processes` processes (may be empty)
    // Rounds (steps of every replica) in an epoch; 0: epochs long enough that their ends do not
    // count. Averaging also happens at each epoch's end that is not already a point.
    std::int64_t roundsPerEpoch = 0;

    int replicas() const { return processes * workers; }
    void validate() const;
};

struct ScalingPrediction {
    int averagingFrequency = 1;            // K (1 with shared gradients)
    double samplesPerSecond = 0.0;
    double averagingFraction = 0.0;        // of wall time spent in synchronisation
    double secondsPerAveragingPoint = 0.0; // t_point: local + link
};

// t_point: the in-process part plus the link's; 0 with one replica.
double secondsPerSync(const ScalingInputs& inputs);
ScalingPrediction predict(const ScalingInputs& inputs, int averagingFrequency);
// Averaging points per round at averaging frequency K: one every K rounds (the iteration count
// runs on across epochs), plus one at every epoch end that is not a multiple of K; over many
// epochs that is 1/K + (1 − gcd(rounds, K)/K) / rounds (1/K when roundsPerEpoch is 0).
double pointsPerRound(std::int64_t roundsPerEpoch, int averagingFrequency);
// Shared gradients whose average overlaps the backward pass: at best a step costs
// max(t_step, t_point), so samples/s ≤ R·B / max(t_step, t_point).
double overlappedSamplesPerSecondBound(const ScalingInputs& inputs);
// The smallest K whose averaging fraction is at most `targetFraction` (in (0, 1)): K ≥
// (1 − f)·t_point / (f·t_step) in steady state. 1 when there is nothing to average, and with
// shared gradients (which have no K). When the averaging at epoch ends alone exceeds the target,
// the rounds of an epoch (averaging once an epoch, the least there is; the caller sees the
// prediction's fraction over the target).
int smallestAveragingFrequency(const ScalingInputs& inputs, double targetFraction);

}  // namespace cohort::parallel
