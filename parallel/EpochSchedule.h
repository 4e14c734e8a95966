#pragma once
// Which batches each replica trains on.
//
// Epoch e walks the training set in shuffledOrder(seed, e); batch j of the epoch goes to global
// replica j mod R (R = replicas of the whole job). An epoch has floor(batches / R) full rounds;
// when R > 1 the remaining batches are skipped (the next epoch reshuffles), so every round gives
// each replica one batch and averaging weighs replicas equally. With R = 1 every batch is used,
// including a smaller last one. Results therefore depend on the global replica index only, not
// on how replicas are split into processes.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "src/data/Batch.h"
#include "src/data/Dataset.h"

namespace cohort::parallel {

struct EpochSchedule {
    EpochSchedule(std::size_t samples, std::size_t batchSize, int replicas);
    std::size_t batchesPerEpoch = 0;
    std::size_t rounds = 0;  // batches each replica trains on per epoch
    int replicas = 1;
    // The epoch's batch index (in its shuffled order) that `globalReplica` takes in `round`.
    std::size_t batchIndex(std::size_t round, int globalReplica) const {
        return round * std::size_t(replicas) + std::size_t(globalReplica);
    }
};

// One replica's stream of batches over the whole run, as its prefetch loader reads it: sequence
// number s is round s % rounds of epoch s / rounds. Windowed text (Dataset::windowed) has no
// order: step s of global replica r reads the windows data::trainingWindowStart(seed, r, s, row)
// (an "epoch" of text is one evaluation interval). A stream that starts later (a resumed run)
// counts its sequence from `firstSequence`. Not thread-safe (one loader thread).
class ReplicaBatches {
public:
    ReplicaBatches(const data::Dataset& train, std::size_t batchSize, std::uint64_t seed, int epochs,
                   const EpochSchedule& schedule, int globalReplica, std::int64_t firstSequence = 0);
    // Writes batch `firstSequence + sequence` into `batch`; false after the last epoch.
    bool fill(std::int64_t sequence, data::Batch& batch);

private:
    bool fillWindows(std::int64_t sequence, data::Batch& batch) const;

    const data::Dataset& train_;
    std::size_t batchSize_;
    std::uint64_t seed_;
    int epochs_;
    EpochSchedule schedule_;
    int globalReplica_;
    std::int64_t firstSequence_;
    std::vector<std::uint32_t> order_;  // the shuffled order of orderEpoch_
    std::int64_t orderEpoch_ = -1;
};

}  // namespace cohort::parallel
