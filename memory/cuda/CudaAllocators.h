#pragma once
// Internal to memory/: the CUDA-backed system allocators (compiled only with COHORT_WITH_CUDA).
#include "memory/SystemAllocator.h"

namespace cohort::memory::detail {

SystemAllocator& pinnedHostAllocator();      // cudaHostAlloc / cudaFreeHost
SystemAllocator& deviceAllocator(int ordinal);  // cudaMalloc / cudaFree on that device
int cudaDeviceCount();                       // 0 when the driver reports no device

}  // namespace cohort::memory::detail
