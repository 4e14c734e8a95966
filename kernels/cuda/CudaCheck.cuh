#pragma once
// kernels/cuda/CudaCheck.cuh — the one way cohort checks CUDA, cuBLAS and cuDNN calls.
//
// Every call is wrapped: COHORT_CUDA_CHECK(cudaMemcpyAsync(...)). A failure throws
// std::runtime_error naming the call as written, the file:line and the library's own error
// text, e.g. "cudaMalloc(&bytes, 1 << 30) failed at kernels/cuda/CudaBackend.cpp:88: out of
// memory (cudaErrorMemoryAllocation)". After every kernel launch, COHORT_CUDA_CHECK_LAUNCH()
// reports a bad launch configuration at the launch site instead of at some later call.
// Teardown cannot throw: reportTeardownFailure(status, call) reports a failing release on stderr.
// Usable from .cpp (host compiler) and .cu files alike.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <iostream>
#include <stdexcept>
#include <string>

#if __has_include(<cudnn.h>)
#include <cudnn.h>
#define COHORT_HAVE_CUDNN_HEADER 1
#endif

namespace cohort::kernels::cuda_detail {

// Path from the repository root when the file lies inside it ("kernels/cuda/X.cpp").
inline const char* shortPath(const char* file) {
    const std::string path(file);
    const auto at = path.rfind("kernels/");
    return at == std::string::npos ? file : file + at;
}

[[noreturn]] inline void throwCallFailure(const char* library, const char* call, const char* file,
                                          int line, const std::string& reason) {
    throw std::runtime_error(std::string(library) + " call `" + call + "` failed at " +
                             shortPath(file) + ":" + std::to_string(line) + ": " + reason);
}

inline void checkCuda(cudaError_t status, const char* call, const char* file, int line) {
    if (status == cudaSuccess) return;
    throwCallFailure("CUDA", call, file, line,
                     std::string(cudaGetErrorString(status)) + " (" + cudaGetErrorName(status) + ")");
}

inline void checkCublas(cublasStatus_t status, const char* call, const char* file, int line) {
    if (status == CUBLAS_STATUS_SUCCESS) return;
    throwCallFailure("cuBLAS", call, file, line,
                     std::string(cublasGetStatusString(status)) + " (" +
                         cublasGetStatusName(status) + ")");
}

#ifdef COHORT_HAVE_CUDNN_HEADER
inline void checkCudnn(cudnnStatus_t status, const char* call, const char* file, int line) {
    if (status == CUDNN_STATUS_SUCCESS) return;
    throwCallFailure("cuDNN", call, file, line, cudnnGetErrorString(status));
}
#endif

inline void reportTeardownFailure(cudaError_t status, const char* call) {
    if (status != cudaSuccess) {
        std::cerr << "cohort: CUDA backend teardown: " << call << " failed: " << cudaGetErrorString(status) << '\n';
    }
}

#ifdef COHORT_HAVE_CUDNN_HEADER
inline void reportTeardownFailure(cudnnStatus_t status, const char* call) {
    if (status != CUDNN_STATUS_SUCCESS) {
        std::cerr << "cohort: CUDA backend teardown: " << call << " failed: " << cudnnGetErrorString(status) << '\n';
    }
}
#endif

}  // namespace cohort::kernels::cuda_detail

#define COHORT_CUDA_CHECK(call) \
    ::cohort::kernels::cuda_detail::checkCuda((call), #call, __FILE__, __LINE__)
#define COHORT_CUBLAS_CHECK(call) \
    ::cohort::kernels::cuda_detail::checkCublas((call), #call, __FILE__, __LINE__)
#ifdef COHORT_HAVE_CUDNN_HEADER
#define COHORT_CUDNN_CHECK(call) \
    ::cohort::kernels::cuda_detail::checkCudnn((call), #call, __FILE__, __LINE__)
#endif
// After a <<<...>>> launch: a bad configuration or an earlier asynchronous fault surfaces here.
#define COHORT_CUDA_CHECK_LAUNCH() \
    ::cohort::kernels::cuda_detail::checkCuda(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
