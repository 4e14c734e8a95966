#include "src/data/Synthetic.h"

#include <random>
#include <stdexcept>
#include <utility>

#include "kernels/SeedMixing.h"
#include "src/data/DeterministicRandom.h"

namespace cohort::data {

Dataset makeSynthetic(std::size_t count, std::vector<std::size_t> sampleShape, int numClasses,
                      std::uint64_t seed) {
    if (numClasses < 1)
        throw std::invalid_argument("makeSynthetic: numClasses must be >= 1, got " +
                                    std::to_string(numClasses));
    Dataset dataset;
    dataset.name = "synthetic";
    dataset.featureSize = shapeElementCount(sampleShape);
    dataset.sampleShape = std::move(sampleShape);
    dataset.count = count;
    dataset.numClasses = numClasses;

    const std::size_t featureSize = dataset.featureSize;
    std::mt19937_64 engine(kernels::dataStreamSeed(seed, 0));
    std::vector<float> prototypes(static_cast<std::size_t>(numClasses) * featureSize);
    for (float& value : prototypes) value = detail::symmetricUnitFloat(engine);

    constexpr float kNoiseAmplitude = 0.5f;
    dataset.labels.resize(count);
    dataset.features.resize(count * featureSize);
    for (std::size_t i = 0; i < count; ++i) {
        const auto label = static_cast<std::int32_t>(
            detail::boundedDraw(engine, static_cast<std::uint64_t>(numClasses)));
        dataset.labels[i] = label;
        const float* prototype = prototypes.data() + static_cast<std::size_t>(label) * featureSize;
        float* out = dataset.features.data() + i * featureSize;
        for (std::size_t f = 0; f < featureSize; ++f)
            out[f] = prototype[f] + kNoiseAmplitude * detail::symmetricUnitFloat(engine);
    }
    return dataset;
}

}  // namespace cohort::data
