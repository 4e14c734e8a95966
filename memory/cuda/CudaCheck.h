#pragma once
// Internal to memory/: every CUDA runtime call in memory/cuda goes through COHORT_MEMORY_CUDA_CHECK,
// which throws std::runtime_error naming the call, file:line and cudaGetErrorString.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace cohort::memory::detail {

[[noreturn]] inline void throwCudaError(cudaError_t status, const char* call, const char* file,
                                        int line) {
    throw std::runtime_error(std::string("CUDA call ") + call + " failed at " + file + ":" +
                             std::to_string(line) + ": " + cudaGetErrorString(status) + " (" +
                             cudaGetErrorName(status) + ")");
}

}  // namespace cohort::memory::detail

#define COHORT_MEMORY_CUDA_CHECK(call)                                                   \
    do {                                                                                 \
        const cudaError_t cohortCudaStatus_ = (call);                                    \
        if (cohortCudaStatus_ != cudaSuccess)                                            \
            ::cohort::memory::detail::throwCudaError(cohortCudaStatus_, #call, __FILE__, \
                                                     __LINE__);                          \
    } while (0)
