#pragma once
// kernels/SeedMixing.h — every seed cohort derives, from one mixing function.
//
// mixBits is the splitmix64 finaliser (Steele, Lea, Flood 2014); each function below is one
// documented use of it, and each formula is fixed: changing one changes every run's numbers
// (tests/kernels/SeedMixingTest.cpp pins their values). Header-only and free of everything else
// in kernels/, so src/data (which links no kernels) may include it; usable in CUDA device code.
#include <cstdint>

#if defined(__CUDACC__)
#define COHORT_HOST_AND_DEVICE __host__ __device__
#else
#define COHORT_HOST_AND_DEVICE
#endif

namespace cohort::kernels {

// splitmix64's increment, 2^64 divided by the golden ratio.
inline constexpr std::uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ULL;
// An odd constant that keeps streams and counters apart from plain seeds.
inline constexpr std::uint64_t kStreamOffset = 0x632BE59BD9B4E019ULL;

// The splitmix64 finaliser: a well-mixed 64-bit value from any 64-bit input (0 maps to 0).
COHORT_HOST_AND_DEVICE constexpr std::uint64_t mixBits(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// One splitmix64 output for state x: mixBits(x + kGoldenGamma).
COHORT_HOST_AND_DEVICE constexpr std::uint64_t splitmix64(std::uint64_t x) { return mixBits(x + kGoldenGamma); }

// A seed for stream `salt` of a run seeded with `seed`: a model's layer i (its initial weights
// and its dropout masks) and a replica's copy of the run seed (replica r).
// deriveSeed(seed, 0) == splitmix64(seed).
COHORT_HOST_AND_DEVICE constexpr std::uint64_t deriveSeed(std::uint64_t seed, std::uint64_t salt) {
    return mixBits(seed + kGoldenGamma * (salt + 1));
}

// The std::mt19937_64 seed of the data library's stream `stream` of a run seeded with `seed`:
// the sample order of epoch e is stream e (data::shuffledOrder), synthetic data is stream 0.
COHORT_HOST_AND_DEVICE constexpr std::uint64_t dataStreamSeed(std::uint64_t seed, std::uint64_t stream) {
    return splitmix64(splitmix64(seed) ^ splitmix64(stream + kStreamOffset));
}

// Deterministic uniform [0,1) from (seed, index): the dropout generator of every backend
// (element i of a mask draws counterUniform(seed, start + i); see Backend::dropoutForward).
COHORT_HOST_AND_DEVICE constexpr double counterUniform(std::uint64_t seed, std::uint64_t index) {
    return static_cast<double>(mixBits(seed * kGoldenGamma + index + kStreamOffset) >> 11) * 0x1.0p-53;
}

}  // namespace cohort::kernels

#undef COHORT_HOST_AND_DEVICE
