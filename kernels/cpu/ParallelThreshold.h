#pragma once
// kernels/cpu/ParallelThreshold.h — when the CPU backend's OpenMP loops go parallel: loops over
// fewer elements than kParallelElements stay on the calling thread (a thread team costs more than
// it saves there). Every loop that splits writes each output element from one thread in a fixed
// order, so results do not depend on the thread count.
#include <algorithm>
#include <cstdint>

namespace cohort::kernels::cpu_detail {

inline constexpr std::int64_t kParallelElements = 1 << 15;

// block(begin, end) over [0, count) in blocks of 4096 elements, handed out statically: each element
// is written by one thread, the same one for any thread count above one.
template <typename Block>
void inBlocks(std::int64_t count, Block block) {
    constexpr std::int64_t kBlock = 4096;
    const std::int64_t blocks = (count + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (count >= kParallelElements)
    for (std::int64_t b = 0; b < blocks; ++b) block(b * kBlock, std::min(count, (b + 1) * kBlock));
}

}  // namespace cohort::kernels::cpu_detail
