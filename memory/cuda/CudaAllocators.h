#pragma once
// Internal to memory/: the CUDA-backed system allocators. They live in the CUDA module
// (memory/CudaModule.h); the executable reaches them through this table, which carries no CUDA
// types.
#include "memory/CudaModule.h"
#include "memory/SystemAllocator.h"

namespace cohort::memory::detail {

struct CudaMemoryEntry {
    int abi = kCudaModuleAbi;
    SystemAllocator& (*pinnedHostAllocator)();      // cudaHostAlloc / cudaFreeHost
    SystemAllocator& (*deviceAllocator)(int ordinal);  // cudaMalloc / cudaFree on that device
    int (*deviceCount)();                           // 0 when the driver reports no device
};
// Inside the module (memory/cuda/*.cpp), what the table points at.
SystemAllocator& pinnedHostAllocator();
SystemAllocator& deviceAllocator(int ordinal);
int cudaDeviceCount();

// The module's extern "C" function that returns the table.
inline constexpr const char* kCudaMemoryEntryName = "cohort_cuda_memory_entry";

}  // namespace cohort::memory::detail
