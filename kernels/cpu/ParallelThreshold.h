#pragma once
// kernels/cpu/ParallelThreshold.h — when the CPU backend's OpenMP loops go parallel: loops over
// fewer elements than kParallelElements stay on the calling thread (a thread team costs more than
// it saves there). Every loop that splits writes each output element from one thread in a fixed
// order, so results do not depend on the thread count.
#include <cstdint>

namespace cohort::kernels::cpu_detail {

inline constexpr std::int64_t kParallelElements = 1 << 15;

}  // namespace cohort::kernels::cpu_detail
