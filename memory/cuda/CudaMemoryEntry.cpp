// The CUDA module's entry for memory/: the pinned-host and device allocators.
#include "memory/cuda/CudaAllocators.h"

extern "C" __attribute__((visibility("default"))) const void* cohort_cuda_memory_entry() {
    using namespace cohort::memory::detail;
    static const CudaMemoryEntry entry{cohort::memory::kCudaModuleAbi, &pinnedHostAllocator, &deviceAllocator,
                                       &cudaDeviceCount};
    return &entry;
}
