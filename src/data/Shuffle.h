#pragma once
// Deterministic per-epoch sample order, identical on every platform and standard library.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cohort::data {

// A permutation of 0..count-1 for (seed, epoch): std::mt19937_64 seeded with
// kernels::dataStreamSeed(seed, epoch), then Fisher-Yates with an unbiased bounded draw on the engine's raw output.
// Throws std::length_error when count does not fit in 32 bits.
std::vector<std::uint32_t> shuffledOrder(std::size_t count, std::uint64_t seed,
                                         std::uint64_t epoch);

}  // namespace cohort::data
