#include "src/data/Shuffle.h"

#include <limits>
#include <random>
#include <stdexcept>
#include <utility>

#include "kernels/SeedMixing.h"
#include "src/data/DeterministicRandom.h"

namespace cohort::data {

std::vector<std::uint32_t> shuffledOrder(std::size_t count, std::uint64_t seed,
                                         std::uint64_t epoch) {
    if (count > std::numeric_limits<std::uint32_t>::max())
        throw std::length_error("shuffledOrder: " + std::to_string(count) +
                                " samples do not fit 32-bit indices");
    std::vector<std::uint32_t> order(count);
    for (std::size_t i = 0; i < count; ++i) order[i] = static_cast<std::uint32_t>(i);
    std::mt19937_64 engine(kernels::dataStreamSeed(seed, epoch));
    // Fisher-Yates: position i takes a uniform pick among positions 0..i.
    for (std::size_t i = count; i > 1; --i) {
        const std::size_t j = detail::boundedDraw(engine, i);
        std::swap(order[i - 1], order[j]);
    }
    return order;
}

}  // namespace cohort::data
