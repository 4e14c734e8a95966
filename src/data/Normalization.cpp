#include "src/data/Normalization.h"

#include <cmath>
#include <stdexcept>

namespace cohort::data {

Normalization computeNormalization(const Dataset& dataset) {
    const std::size_t n = dataset.features.size();
    if (n == 0) return {};
    double sum = 0.0;
    for (float x : dataset.features) sum += x;
    const double mean = sum / static_cast<double>(n);
    // Second pass on deviations: no catastrophic cancellation as with sum of squares - mean^2.
    double squaredDeviations = 0.0;
    for (float x : dataset.features) {
        const double deviation = x - mean;
        squaredDeviations += deviation * deviation;
    }
    const double stddev = std::sqrt(squaredDeviations / static_cast<double>(n));
    Normalization result;
    result.mean = static_cast<float>(mean);
    result.stddev = stddev > 1e-12 ? static_cast<float>(stddev) : 1.0f;
    return result;
}

void normalize(Dataset& dataset, const Normalization& normalization) {
    if (!(normalization.stddev > 0.0f))
        throw std::invalid_argument("normalize: stddev must be positive, got " +
                                    std::to_string(normalization.stddev));
    const float mean = normalization.mean;
    const float scale = 1.0f / normalization.stddev;
    for (float& x : dataset.features) x = (x - mean) * scale;
}

Normalization normalizeWithTrainStatistics(DatasetSplits& splits) {
    const Normalization statistics = computeNormalization(splits.train);
    normalize(splits.train, statistics);
    normalize(splits.test, statistics);
    return statistics;
}

}  // namespace cohort::data
