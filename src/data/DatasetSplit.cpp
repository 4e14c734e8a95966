#include "src/data/DatasetSplit.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "src/data/Shuffle.h"

namespace cohort::data {

Dataset selectSamples(const Dataset& source, std::span<const std::uint32_t> indices) {
    Dataset subset;
    subset.name = source.name;
    subset.sampleShape = source.sampleShape;
    subset.featureSize = source.featureSize;
    subset.numClasses = source.numClasses;
    subset.count = indices.size();
    subset.features.resize(subset.count * subset.featureSize);
    subset.labels.resize(subset.count);
    for (std::size_t row = 0; row < indices.size(); ++row) {
        const std::uint32_t sample = indices[row];
        if (sample >= source.count)
            throw std::out_of_range("selectSamples: index " + std::to_string(sample) +
                                    " but the data set has " + std::to_string(source.count));
        std::memcpy(subset.features.data() + row * subset.featureSize, source.sample(sample),
                    subset.featureSize * sizeof(float));
        subset.labels[row] = source.labels[sample];
    }
    return subset;
}

DatasetSplits splitTrainTest(const Dataset& all, double testFraction, std::uint64_t seed) {
    if (!(testFraction >= 0.0 && testFraction < 1.0))
        throw std::invalid_argument("splitTrainTest: test fraction must lie in [0, 1), got " +
                                    std::to_string(testFraction));
    const std::vector<std::uint32_t> order = shuffledOrder(all.count, seed, 0);
    const auto testCount = std::min(
        all.count,
        static_cast<std::size_t>(std::llround(testFraction * static_cast<double>(all.count))));
    const std::span<const std::uint32_t> indices(order);
    DatasetSplits splits;
    splits.test = selectSamples(all, indices.first(testCount));
    splits.train = selectSamples(all, indices.subspan(testCount));
    return splits;
}

}  // namespace cohort::data
