#pragma once
// Splitting one Dataset into train and test, and taking a subset of samples.
#include <cstdint>
#include <span>

#include "src/data/Dataset.h"

namespace cohort::data {

// The samples at `indices` (in that order), with the same name, shape and numClasses.
Dataset selectSamples(const Dataset& source, std::span<const std::uint32_t> indices);

// Shuffles (shuffledOrder(count, seed, 0)) and puts round(testFraction * count) samples in test.
// Throws std::invalid_argument unless 0 <= testFraction < 1.
DatasetSplits splitTrainTest(const Dataset& all, double testFraction, std::uint64_t seed);

}  // namespace cohort::data
