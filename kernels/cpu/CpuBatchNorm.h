#pragma once
// kernels/cpu/CpuBatchNorm.h — the CPU backend's batch normalisation (see Backend.h for the
// contract; this is the reference the CUDA backend is tested against). One channel per loop
// iteration (threads own channels: deterministic), sums in double.
#include <cstdint>

#include "kernels/Backend.h"

namespace cohort::kernels::cpu_detail {

void batchNormForwardTraining(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial, const void* x,
                              const void* gamma, const void* beta, double epsilon, double momentum, void* runningMean,
                              void* runningVariance, void* savedMean, void* savedInverseStd, void* y);
void batchNormForwardInference(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial, const void* x,
                               const void* gamma, const void* beta, const void* runningMean,
                               const void* runningVariance, double epsilon, void* y);
void batchNormBackward(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial, const void* x,
                       const void* dy, const void* gamma, const void* savedMean, const void* savedInverseStd, double epsilon, void* dx,
                       void* dgamma, void* dbeta);

}  // namespace cohort::kernels::cpu_detail
