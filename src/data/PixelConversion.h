#pragma once
// Internal: 8-bit pixels to floats in [0, 1], shared by the image loaders.
#include <array>
#include <cstddef>
#include <cstdint>

namespace cohort::data::detail {

inline void pixelsToUnitFloats(const std::uint8_t* pixels, std::size_t count, float* out) {
    static const std::array<float, 256> table = [] {
        std::array<float, 256> values{};
        for (int v = 0; v < 256; ++v) values[v] = static_cast<float>(v) / 255.0f;
        return values;
    }();
    for (std::size_t i = 0; i < count; ++i) out[i] = table[pixels[i]];
}

}  // namespace cohort::data::detail
