#pragma once
// kernels/cuda/CudnnBatchNorm.cuh — the Backend's batch normalisation on cuDNN.
//
// Same contract as Backend::batchNorm* (kernels/Backend.h; the CPU backend is the reference), with
// the CUDA backend's context in front. x is described as the NCHW tensor [n, channels, spatial, 1]
// and normalised in CUDNN_BATCHNORM_SPATIAL mode (cuDNN's legacy batch-norm API), which matches the
// contract term for term: cuDNN's exponentialAverageFactor is our momentum (running = (1 - f) *
// running + f * batch), its running variance takes the unbiased batch variance, its saved "inverse
// variance" is 1 / sqrt(var + epsilon). Scale, bias and statistics share one descriptor derived
// from x's (cudnnDeriveBNTensorDescriptor: float for float data, double for double).
//
// Beyond cuDNN:
// - n * spatial == 1 (one value per channel) does not go to cuDNN: mean = x, the biased variance is
//   0 and, with no unbiased variance to take (n - 1 = 0), the running variance decays with it, as
//   the contract says; a few of cohort's own kernels do that.
// - batchNormBackward with dx == nullptr: cuDNN always writes dx, so it writes into `dxScratch`,
//   grown once to the largest such input (nothing allocates after a warm-up step).
// - cuDNN takes int dimensions (n * channels * spatial <= INT_MAX) and epsilon >=
//   CUDNN_BN_MIN_EPSILON: std::invalid_argument otherwise. Training with no value per channel
//   (n * spatial == 0) is std::invalid_argument too (the statistics would be 0 / 0).
// - Built without cuDNN, each throws std::runtime_error("batch norm on CUDA needs cuDNN ...").
// The caller makes the backend's device current.
#include <cstdint>

#include "kernels/Backend.h"
#include "kernels/cuda/CudaKernels.cuh"
#include "kernels/cuda/CudnnContext.cuh"
#include "kernels/cuda/DeviceScratch.cuh"

namespace cohort::kernels::cuda_detail {

void batchNormForwardTraining(const CudnnContext& cudnn, const LaunchContext& launch, DType dtype, std::int64_t n,
                              std::int64_t channels, std::int64_t spatial, const void* x, const void* gamma,
                              const void* beta, double epsilon, double momentum, void* runningMean,
                              void* runningVariance, void* savedMean, void* savedInverseStd, void* y);

void batchNormForwardInference(const CudnnContext& cudnn, DType dtype, std::int64_t n, std::int64_t channels,
                               std::int64_t spatial, const void* x, const void* gamma, const void* beta,
                               const void* runningMean, const void* runningVariance, double epsilon, void* y);

void batchNormBackward(const CudnnContext& cudnn, const LaunchContext& launch, DeviceScratch& dxScratch, DType dtype,
                       std::int64_t n, std::int64_t channels, std::int64_t spatial, const void* x, const void* dy,
                       const void* gamma, const void* savedMean, const void* savedInverseStd, double epsilon, void* dx, void* dgamma,
                       void* dbeta);

}  // namespace cohort::kernels::cuda_detail
