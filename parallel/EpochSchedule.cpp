#include "parallel/EpochSchedule.h"

#include "src/data/BatchIterator.h"
#include "src/data/Shuffle.h"
#include "src/data/TextCorpus.h"

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
    if (train_.windowed()) return fillWindows(sequence, batch);
    if (epoch != orderEpoch_) {
        order_ = data::shuffledOrder(train_.count, seed_, std::uint64_t(epoch));
        orderEpoch_ = epoch;
    }
    const std::size_t round = std::size_t(sequence % std::int64_t(schedule_.rounds));
    data::BatchIterator iterator(train_, order_, batchSize_);
    return iterator.fill(schedule_.batchIndex(round, globalReplica_), batch);
}

// Text: row r of this replica's step `sequence` is the window data::trainingWindowStart places,
// its first `positions` tokens the sample and the `positions` after the first its labels.
bool ReplicaBatches::fillWindows(std::int64_t sequence, data::Batch& batch) const {
    const auto positions = std::int64_t(train_.sampleShape.at(0));
    const auto tokens = std::int64_t(train_.tokens.size());
    for (std::size_t row = 0; row < batchSize_; ++row) {
        const std::int64_t start =
            data::trainingWindowStart(seed_, globalReplica_, sequence, std::int64_t(row), tokens, positions + 1);
        const std::int32_t* window = train_.tokens.data() + start;
        float* features = batch.features + row * std::size_t(positions);
        std::int32_t* labels = batch.labels + row * std::size_t(positions);
        for (std::int64_t t = 0; t < positions; ++t) {
            features[t] = float(window[t]);
            labels[t] = window[t + 1];
        }
    }
    batch.size = batchSize_;
    return true;
}

}  // namespace cohort::parallel
