#pragma once
// Scalar feature normalisation: (x - mean) / stddev, statistics over every feature of a Dataset.
#include "src/data/Dataset.h"

namespace cohort::data {

struct Normalization {
    float mean = 0.0f;
    float stddev = 1.0f;
};

// Mean and population standard deviation over all count*featureSize features, accumulated in
// double. A constant (or empty) data set gets stddev 1 so that normalising never divides by 0.
Normalization computeNormalization(const Dataset& dataset);

// In place: x = (x - mean) / stddev. Throws std::invalid_argument when stddev <= 0.
void normalize(Dataset& dataset, const Normalization& normalization);

// Computes statistics on train and applies them to both splits; returns them.
Normalization normalizeWithTrainStatistics(DatasetSplits& splits);

}  // namespace cohort::data
