#pragma once
// Uniform values in [-1, 1) from a seed, for the kernel tests' inputs.
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace cohort::testing {

inline std::vector<double> randomVector(std::size_t count, std::uint64_t seed) {
    std::mt19937_64 generator(seed);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    std::vector<double> values(count);
    for (double& v : values) v = uniform(generator);
    return values;
}

}  // namespace cohort::testing
