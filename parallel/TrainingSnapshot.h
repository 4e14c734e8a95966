#pragma once
// TrainingSnapshot: everything that decides the rest of a ParallelWrapper run, taken at a sync
// point (an averaging point, a shared-gradients step, an epoch end) where every replica has
// done the same number of steps. A run restored from it continues bit for bit as the run it was
// taken from would have.
//
// What is not stored, because it is a pure function of what is: the learning rate (of the
// step count), the shuffled order of an epoch (of the seed and the epoch), dropout masks (of
// the replica's seed and the step count), the batch a replica takes (of epoch, round, replica).
//
// Parameters are identical on every replica at a sync point. Optimizer state is too, unless
// averaging mode does not average it (averageUpdaters false); batch-norm statistics are, except
// inside a shared-gradients epoch (they are averaged at its end). Where replicas differ, each
// replica's copy is kept (`perReplica`).
#include <cstdint>
#include <string>
#include <vector>

#include "src/nn/Model.h"
#include "src/optim/Optimizer.h"
#include "src/train/CheckpointFile.h"
#include "src/train/EpochReport.h"
#include "src/train/TrainingStep.h"

namespace cohort::parallel {

struct ReplicaProgress {
    train::StepStatistics epoch;    // the epoch's loss and accuracy so far (taken at averaging points)
    train::StepStatistics pending;  // recorded by the training step since
    std::int64_t averagings = 0;    // averaging points of the epoch so far
    std::vector<unsigned char> optimizerState;  // own copy when the replicas' states differ
    std::vector<unsigned char> statistics;      // own copy when the replicas' statistics differ
};

struct TrainingSnapshot {
    int epoch = 0;                 // the epoch in progress, 0-based (== epochs when the run is over)
    std::int64_t round = 0;        // rounds of that epoch done
    std::int64_t iteration = 0;    // optimizer steps of every replica
    std::int64_t averagingPoints = 0;
    bool atEpochEnd = false;       // taken after an epoch's evaluation (round is then 0)
    train::RunSummary summary;     // the last finished epoch's test results
    std::vector<unsigned char> parameters;      // the model's dtype, flat layout
    std::vector<unsigned char> optimizerState;  // shared by every replica (empty when per replica or none)
    std::vector<unsigned char> statistics;      // shared by every replica (empty when per replica or none)
    std::vector<unsigned char> outerVelocity;   // the outer Nesterov velocity (empty without one); the
                                                // outer anchor is the parameters themselves
    std::vector<ReplicaProgress> replicas;      // every replica of the job, global order

    // As a checkpoint file: the counters and per-replica sums as JSON in metadata "state"; the
    // buffers as one tensor per named block of `model` ("layers.0.weight", optimizer state as
    // "optimizer.<segment>.layers.0.weight", the outer velocity as "outer.velocity.layers.0.weight",
    // a replica's own copies under "replicas.<r>.").
    // `segments` names the optimizer state's segments (Adam: exp_avg, exp_avg_sq).
    train::CheckpointFile toCheckpoint(const nn::Model& model, const std::vector<std::string>& segments) const;
    // The snapshot in `file`, checked against `model` and `segments`; throws CheckpointError
    // naming `source` and the first tensor that does not fit.
    static TrainingSnapshot fromCheckpoint(const train::CheckpointFile& file, const nn::Model& model,
                                           const std::vector<std::string>& segments, const std::string& source);
};

// A job resumed with another number of replicas (other hosts, another --workers): the snapshot of
// R replicas made into one of `replicas`. The position keeps the samples seen: round r of R
// replicas (r x R batches of the epoch) becomes round floor(r x R / R') of R' (up to R' - 1 batches
// are trained on again), and the iteration follows (epoch x rounds' + round', so the learning-rate
// schedule stays at the same fraction of the run). `byIteration` (windowed text, whose rounds do
// not depend on R) keeps round and iteration instead. Copies that replicas held of their own
// (optimizer state with --average-updaters false, batch-norm statistics inside a shared-gradients
// epoch) become their element-wise mean, shared by every new replica; the epoch's loss, accuracy
// and sample sums are kept in total, split as evenly as whole numbers allow.
struct ReplicaChange {
    int replicas = 1;                // R'
    std::int64_t roundsBefore = 1;   // rounds per epoch with the snapshot's replicas
    std::int64_t roundsAfter = 1;    // with R'
    bool byIteration = false;
    kernels::DType dtype = kernels::DType::Float32;
};
TrainingSnapshot changeReplicas(TrainingSnapshot snapshot, const ReplicaChange& change);

// The names of an optimizer's state segments, in its flat state's order.
std::vector<std::string> optimizerSegmentNames(optim::OptimizerKind kind);

}  // namespace cohort::parallel
