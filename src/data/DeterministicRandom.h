#pragma once
// Internal: platform-independent random helpers on top of std::mt19937_64's raw output
// (the standard distributions are implementation-defined, so we never use them).
#include <cstdint>
#include <random>

namespace cohort::data::detail {

// splitmix64 finaliser (Steele, Lea, Flood 2014): a strong 64-bit mixing function.
inline std::uint64_t splitmix64(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

// Engine seed for a (seed, stream) pair, e.g. (user seed, epoch).
inline std::uint64_t mixSeed(std::uint64_t seed, std::uint64_t stream) {
    return splitmix64(splitmix64(seed) ^ splitmix64(stream + 0x632BE59BD9B4E019ULL));
}

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
