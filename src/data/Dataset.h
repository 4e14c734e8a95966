#pragma once
// Dataset: labelled samples held in memory, features row-major as float.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cohort::data {

struct Dataset {
    std::string name;                      // e.g. "fashion-mnist", "cifar10", "synthetic"
    std::vector<std::size_t> sampleShape;  // per-sample shape: {1,28,28}, {3,32,32} or {F}
    std::size_t count = 0;                 // number of samples
    std::size_t featureSize = 0;           // product of sampleShape
    int numClasses = 0;                    // labels lie in [0, numClasses)
    std::vector<float> features;           // count * featureSize floats, sample i at i*featureSize
    std::vector<std::int32_t> labels;      // count labels

    // The featureSize floats of sample i (no bounds check).
    const float* sample(std::size_t i) const { return features.data() + i * featureSize; }
};

struct DatasetSplits {
    Dataset train;
    Dataset test;
};

// Product of the dimensions of a sample shape (1 for an empty shape).
inline std::size_t shapeElementCount(const std::vector<std::size_t>& shape) {
    std::size_t product = 1;
    for (std::size_t dimension : shape) product *= dimension;
    return product;
}

}  // namespace cohort::data
