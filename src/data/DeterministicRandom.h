#pragma once
// Internal: platform-independent random helpers on top of std::mt19937_64's raw output
// (the standard distributions are implementation-defined, so we never use them). Engines are
// seeded with kernels::dataStreamSeed (kernels/SeedMixing.h, header-only).
#include <cstdint>
#include <random>

namespace cohort::data::detail {

// Uniform integer in [0, range) without modulo bias: reject raw draws below 2^64 mod range.
inline std::uint64_t boundedDraw(std::mt19937_64& engine, std::uint64_t range) {
    const std::uint64_t threshold = (0 - range) % range;  // == 2^64 mod range
    for (;;) {
        const std::uint64_t raw = engine();
        if (raw >= threshold) return raw % range;
    }
}

// Uniform float in [-1, 1): the top 24 bits of one draw (exact in float, no libm involved).
inline float symmetricUnitFloat(std::mt19937_64& engine) {
    const auto top24 = static_cast<std::int32_t>(engine() >> 40);  // [0, 2^24)
    return static_cast<float>(top24 - (1 << 23)) * (1.0f / static_cast<float>(1 << 23));
}

}  // namespace cohort::data::detail
