#pragma once
// kernels/cuda/CudaCheck.cuh — the kernels' checks on top of COHORT_CUDA_CHECK
// (memory/cuda/CudaCheck.h, the one CUDA runtime check): cuBLAS and cuDNN calls, kernel launches
// and teardown.
//
// COHORT_CUBLAS_CHECK(call) and COHORT_CUDNN_CHECK(call) throw std::runtime_error worded as
// COHORT_CUDA_CHECK's ("cuBLAS call `...` failed at kernels/cuda/CudaBackend.cpp:88: <the
// library's text>"). After every kernel launch, COHORT_CUDA_CHECK_LAUNCH() reports a bad launch
// configuration at the launch site instead of at some later call. Teardown cannot throw:
// reportTeardownFailure(status, call) reports a failing release on stderr.
// Usable from .cpp (host compiler) and .cu files alike.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <iostream>
#include <string>

#include "memory/cuda/CudaCheck.h"

#if __has_include(<cudnn.h>)
#include <cudnn.h>
#define COHORT_HAVE_CUDNN_HEADER 1
#endif

namespace cohort::kernels::cuda_detail {

inline void checkCublas(cublasStatus_t status, const char* call, const char* file, int line) {
    if (status == CUBLAS_STATUS_SUCCESS) return;
    memory::cuda_check::throwCallFailure(
        "cuBLAS", call, file, line,
        std::string(cublasGetStatusString(status)) + " (" + cublasGetStatusName(status) + ")");
}

#ifdef COHORT_HAVE_CUDNN_HEADER
inline void checkCudnn(cudnnStatus_t status, const char* call, const char* file, int line) {
    if (status == CUDNN_STATUS_SUCCESS) return;
    memory::cuda_check::throwCallFailure("cuDNN", call, file, line, cudnnGetErrorString(status));
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

#define COHORT_CUBLAS_CHECK(call) \
    ::cohort::kernels::cuda_detail::checkCublas((call), #call, __FILE__, __LINE__)
#ifdef COHORT_HAVE_CUDNN_HEADER
#define COHORT_CUDNN_CHECK(call) \
    ::cohort::kernels::cuda_detail::checkCudnn((call), #call, __FILE__, __LINE__)
#endif
// After a <<<...>>> launch: a bad configuration or an earlier asynchronous fault surfaces here.
#define COHORT_CUDA_CHECK_LAUNCH() \
    ::cohort::memory::cuda_check::checkCuda(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
