#pragma once
// Checked CUDA runtime and NCCL calls for the NCCL communicators (in-process and over MPI): a
// failed call throws std::runtime_error naming the call and the library's reason. Include only
// from files compiled with NCCL.
#include <cuda_runtime.h>
#include <nccl.h>

#include <stdexcept>
#include <string>

namespace cohort::parallel::nccl_detail {

inline void checkCuda(cudaError_t code, const char* call) {
    if (code != cudaSuccess) throw std::runtime_error(std::string(call) + " failed: " + cudaGetErrorString(code));
}
inline void checkNccl(ncclResult_t code, const char* call) {
    if (code != ncclSuccess) throw std::runtime_error(std::string(call) + " failed: " + ncclGetErrorString(code));
}

}  // namespace cohort::parallel::nccl_detail

#define COHORT_CUDA_CHECK(call) ::cohort::parallel::nccl_detail::checkCuda((call), #call)
#define COHORT_NCCL_CHECK(call) ::cohort::parallel::nccl_detail::checkNccl((call), #call)
