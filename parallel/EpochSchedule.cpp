#include "parallel/EpochSchedule.h"

#include "src/data/BatchIterator.h"
#include "src/data/Shuffle.h"

namespace cohort::parallel {

EpochSchedule::EpochSchedule(std::size_t samples, std::size_t batchSize, int replicas)
    : batchesPerEpoch((samples + batchSize - 1) / batchSize),
      rounds(replicas == 1 ? batchesPerEpoch : batchesPerEpoch / std::size_t(replicas)),
      replicas(replicas) {}

ReplicaBatches::ReplicaBatches(const data::Dataset& train, std::size_t batchSize, std::uint64_t seed, int epochs,
                               const EpochSchedule& schedule, int globalReplica, std::int64_t firstSequence)
    : train_(train), batchSize_(batchSize), seed_(seed), epochs_(epochs), schedule_(schedule),
      globalReplica_(globalReplica), firstSequence_(firstSequence) {}

bool ReplicaBatches::fill(std::int64_t streamSequence, data::Batch& batch) {
    const std::int64_t sequence = firstSequence_ + streamSequence;
    const std::int64_t epoch = sequence / std::int64_t(schedule_.rounds);
    if (epoch >= epochs_) return false;
    if (epoch != orderEpoch_) {
        order_ = data::shuffledOrder(train_.count, seed_, std::uint64_t(epoch));
        orderEpoch_ = epoch;
    }
    const std::size_t round = std::size_t(sequence % std::int64_t(schedule_.rounds));
    data::BatchIterator iterator(train_, order_, batchSize_);
    return iterator.fill(schedule_.batchIndex(round, globalReplica_), batch);
}

}  // namespace cohort::parallel
