#pragma once
// BatchIterator: walks a Dataset in a given order, batchSize samples at a time.
#include <cstddef>
#include <cstdint>
#include <span>

#include "src/data/Batch.h"
#include "src/data/Dataset.h"

namespace cohort::data {

// Batch j holds the samples order[j*batchSize .. (j+1)*batchSize) (the parallel coordinator
// gives batch j to worker j mod N). The last batch is smaller unless dropLast, which skips it.
// Rows are copied into the caller's Batch buffers (capacity batchSize); no allocation per batch.
// The Dataset and the order are not copied: both must outlive the iterator.
class BatchIterator {
public:
    // Throws std::invalid_argument for batchSize 0 and std::out_of_range for an index in
    // `order` that is not below dataset.count.
    BatchIterator(const Dataset& dataset, std::span<const std::uint32_t> order,
                  std::size_t batchSize, bool dropLast = false);

    // Fills the next batch; false (and batch.size 0) when the epoch is done.
    bool next(Batch& batch);

    // Fills batch `index` directly (for a worker that takes every N-th batch); false when out
    // of range.
    bool fill(std::size_t index, Batch& batch) const;

    // Back to batch 0.
    void reset() { nextBatch_ = 0; }

    std::size_t batchesPerEpoch() const;
    std::size_t batchSize() const { return batchSize_; }

private:
    const Dataset& dataset_;
    std::span<const std::uint32_t> order_;
    std::size_t batchSize_;
    bool dropLast_;
    std::size_t nextBatch_ = 0;
};

}  // namespace cohort::data
