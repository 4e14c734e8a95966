#pragma once
// GradientBuckets: how a model's flat gradient buffer is cut for averaging in shared-gradients
// mode. A bucket is a run of whole layers, so a contiguous range of the buffer; buckets are
// filled from the last layer backwards (the order backward() writes gradients) until each holds
// at least the bucket size in bytes; the first layers' bucket holds what is left. Every layer
// belongs to exactly one bucket and the buckets cover [0, parameterCount) exactly, bucket 0 at
// the end of the buffer.
//
// The plan depends only on the model's layout, the dtype's size and the bucket size, so every
// replica of a job cuts the same buckets: overlapped or not, the same averages of the same
// ranges run in the same order, which is what makes the two bitwise equal under mpirun too.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "src/nn/Model.h"

namespace cohort::parallel {

struct GradientBucket {
    std::size_t firstLayer = 0;  // layers [firstLayer, lastLayer]
    std::size_t lastLayer = 0;
    // The bucket's gradients are all written once backward() has passed this layer: its first
    // layer with parameters (firstLayer when it has none).
    std::size_t readyAfterLayer = 0;
    std::int64_t begin = 0;  // in elements of the flat buffer
    std::int64_t count = 0;
};

// Throws std::invalid_argument when `bucketBytes` < 1.
std::vector<GradientBucket> planGradientBuckets(const nn::Model& model, std::int64_t bucketBytes);

}  // namespace cohort::parallel
