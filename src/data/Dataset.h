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
    std::vector<std::int32_t> labels;      // count * labelSize labels
    // Labels per sample: 1 for a classifier; a language model's samples of `positions` tokens
    // carry one label (the next token) per position.
    std::size_t labelSize = 1;
    // Text to draw training windows from (parallel::ReplicaBatches): when not empty, the samples
    // are windows of sampleShape[0] + 1 tokens starting where data::trainingWindowStart says,
    // `features` and `labels` are empty and `count` is the samples one evaluation interval reads.
    std::vector<std::int32_t> tokens;
    bool windowed() const { return !tokens.empty(); }
    // Text: the vocabulary (data::Vocabulary::text()), which a checkpoint carries.
    std::string vocabulary;

    // The featureSize floats of sample i (no bounds check).
    const float* sample(std::size_t i) const { return features.data() + i * featureSize; }
    // The labelSize labels of sample i.
    const std::int32_t* labelsOf(std::size_t i) const { return labels.data() + i * labelSize; }
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
