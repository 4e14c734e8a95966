#pragma once
// parallel/NcclCheck.h — COHORT_NCCL_CHECK for the NCCL communicators (in-process and over MPI):
// a failed call throws std::runtime_error worded as COHORT_CUDA_CHECK's ("NCCL call `...` failed
// at parallel/NcclCommunicator.cpp:76: <NCCL's reason>"). CUDA runtime calls use
// COHORT_CUDA_CHECK (memory/cuda/CudaCheck.h), included here. Include only from files compiled
// with NCCL.
#include <nccl.h>

#include "memory/cuda/CudaCheck.h"

namespace cohort::parallel::nccl_detail {

inline void checkNccl(ncclResult_t code, const char* call, const char* file, int line) {
    if (code != ncclSuccess) memory::cuda_check::throwCallFailure("NCCL", call, file, line, ncclGetErrorString(code));
}

}  // namespace cohort::parallel::nccl_detail

#define COHORT_NCCL_CHECK(call) ::cohort::parallel::nccl_detail::checkNccl((call), #call, __FILE__, __LINE__)
