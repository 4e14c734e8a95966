#include "parallel/GradientBuckets.h"

#include <stdexcept>
#include <string>

namespace cohort::parallel {

std::vector<GradientBucket> planGradientBuckets(const nn::Model& model, std::int64_t bucketBytes) {
    if (bucketBytes < 1) {
        throw std::invalid_argument("a gradient bucket must hold at least 1 byte, got " + std::to_string(bucketBytes));
    }
    const auto element = std::int64_t(kernels::sizeOf(model.dtype()));
    const std::size_t layers = model.layerCount();
    // Layer i's block (with its alignment padding) ends where layer i + 1's begins.
    auto layerEnd = [&](std::size_t layer) {
        return layer + 1 < layers ? model.parameterOffset(layer + 1) : model.parameterCount();
    };
    std::vector<GradientBucket> buckets;
    std::size_t last = layers;  // one past the first layer not yet in a bucket, counting down
    for (std::size_t layer = layers; layer-- > 0;) {
        const std::int64_t begin = model.parameterOffset(layer);
        const std::int64_t end = layerEnd(last - 1);
        if ((end - begin) * element < bucketBytes && layer > 0) continue;
        GradientBucket bucket{layer, last - 1, layer, begin, end - begin};
        for (std::size_t i = layer; i < last; ++i) {
            if (layerEnd(i) > model.parameterOffset(i)) {
                bucket.readyAfterLayer = i;
                break;
            }
        }
        // What is left below the last full bucket and holds no parameters joins it.
        if (bucket.count == 0 && !buckets.empty()) {
            buckets.back().firstLayer = layer;
        } else {
            buckets.push_back(bucket);
        }
        last = layer;
    }
    return buckets;
}

}  // namespace cohort::parallel
