#pragma once
// Synthetic learnable data for tests and benchmarks.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "src/data/Dataset.h"

namespace cohort::data {

// `count` samples of `sampleShape` in `numClasses` classes. Each class has a prototype with
// features uniform in [-1, 1]; a sample is its class prototype plus noise uniform in
// [-0.5, 0.5]; labels are uniform at random. Bit-identical on every platform for a given
// seed (only raw mt19937_64 output and integer arithmetic are used). Name "synthetic".
// Throws std::invalid_argument when numClasses < 1.
Dataset makeSynthetic(std::size_t count, std::vector<std::size_t> sampleShape, int numClasses,
                      std::uint64_t seed);

}  // namespace cohort::data
