#include "src/data/BatchIterator.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace cohort::data {

BatchIterator::BatchIterator(const Dataset& dataset, std::span<const std::uint32_t> order,
                             std::size_t batchSize, bool dropLast)
    : dataset_(dataset), order_(order), batchSize_(batchSize), dropLast_(dropLast) {
    if (batchSize == 0) throw std::invalid_argument("BatchIterator: batch size must be positive");
    for (std::uint32_t index : order)
        if (index >= dataset.count)
            throw std::out_of_range("BatchIterator: order holds sample " + std::to_string(index) +
                                    " but the data set has " + std::to_string(dataset.count));
}

std::size_t BatchIterator::batchesPerEpoch() const {
    const std::size_t full = order_.size() / batchSize_;
    const bool partial = order_.size() % batchSize_ != 0;
    return full + (partial && !dropLast_ ? 1 : 0);
}

bool BatchIterator::fill(std::size_t index, Batch& batch) const {
    if (index >= batchesPerEpoch()) {
        batch.size = 0;
        return false;
    }
    const std::size_t begin = index * batchSize_;
    const std::size_t end = std::min(begin + batchSize_, order_.size());
    const std::size_t featureSize = dataset_.featureSize;
    for (std::size_t row = 0; begin + row < end; ++row) {
        const std::uint32_t sample = order_[begin + row];
        std::memcpy(batch.features + row * featureSize, dataset_.sample(sample),
                    featureSize * sizeof(float));
        std::memcpy(batch.labels + row * dataset_.labelSize, dataset_.labelsOf(sample),
                    dataset_.labelSize * sizeof(std::int32_t));
    }
    batch.size = end - begin;
    return true;
}

bool BatchIterator::next(Batch& batch) {
    if (!fill(nextBatch_, batch)) return false;
    ++nextBatch_;
    return true;
}

}  // namespace cohort::data
