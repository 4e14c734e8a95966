#pragma once
// memory/cuda/CudaCheck.h — the one check of CUDA runtime calls, for every layer.
//
// Every call is wrapped: COHORT_CUDA_CHECK(cudaMalloc(&pointer, bytes)). A failure throws
// std::runtime_error naming the call as written, the file:line (from the repository root) and
// CUDA's error string and name, e.g. "CUDA call `cudaMalloc(&pointer, bytes)` failed at
// memory/cuda/DeviceAllocator.cpp:49: out of memory (cudaErrorMemoryAllocation)".
// throwCallFailure words the other libraries' failures the same way (cuBLAS and cuDNN:
// kernels/cuda/CudaCheck.cuh; NCCL: parallel/NcclCheck.h).
// Include only from files compiled with the CUDA toolkit (host compiler or nvcc).
#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace cohort::memory::cuda_check {

// `file` (a __FILE__) from the repository root when it lies inside the repository, else as given.
inline const char* repositoryPath(const char* file) {
    constexpr std::string_view thisHeader = __FILE__, fromRoot = "memory/cuda/CudaCheck.h";
    if (!thisHeader.ends_with(fromRoot)) return file;
    const std::string_view root = thisHeader.substr(0, thisHeader.size() - fromRoot.size());
    return std::string_view(file).starts_with(root) ? file + root.size() : file;
}

// "<library> call `<call>` failed at <file>:<line>: <reason>"
[[noreturn]] inline void throwCallFailure(const char* library, const char* call, const char* file, int line,
                                          const std::string& reason) {
    throw std::runtime_error(std::string(library) + " call `" + call + "` failed at " + repositoryPath(file) + ":" +
                             std::to_string(line) + ": " + reason);
}

inline void checkCuda(cudaError_t status, const char* call, const char* file, int line) {
    if (status == cudaSuccess) return;
    throwCallFailure("CUDA", call, file, line,
                     std::string(cudaGetErrorString(status)) + " (" + cudaGetErrorName(status) + ")");
}

// The answer of a completion query (cudaStreamQuery, cudaEventQuery): true when the work is done,
// false while it still runs. cudaErrorNotReady is not a failure, but the runtime may leave it as
// the thread's last error, where the next launch check (cudaGetLastError) would report it as one:
// it is cleared here. Any other result throws like COHORT_CUDA_CHECK.
inline bool queryDone(cudaError_t status, const char* call, const char* file, int line) {
    if (status == cudaSuccess) return true;
    if (status == cudaErrorNotReady) {
        if (cudaPeekAtLastError() == cudaErrorNotReady) (void)cudaGetLastError();
        return false;
    }
    checkCuda(status, call, file, line);
    return false;
}

}  // namespace cohort::memory::cuda_check

#define COHORT_CUDA_CHECK(call) ::cohort::memory::cuda_check::checkCuda((call), #call, __FILE__, __LINE__)
// while (!COHORT_CUDA_QUERY_DONE(cudaStreamQuery(stream))) { ... }
#define COHORT_CUDA_QUERY_DONE(call) ::cohort::memory::cuda_check::queryDone((call), #call, __FILE__, __LINE__)
