#pragma once
// kernels/cuda/CudaKernels.cuh — the launchers of cohort's own CUDA kernels.
//
// CudaBackend.cpp (host compiler) calls these; the .cu files next to it define them for float
// and double. Each launcher enqueues its kernel(s) on ctx.stream, checks the launch, and returns
// without waiting. Pointers are device pointers of the stream's device.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/Backend.h"
#include "kernels/DTypeDispatch.h"
#include "kernels/cuda/CudaBackend.h"

namespace cohort::kernels::cuda_detail {

// Host-side helpers of the backend's .cpp files.
// The float/double dispatch is kernels/DTypeDispatch.h's.
using kernels::dispatch;

// The remedy cuDNN's dimension checks name.
inline constexpr const char* kCudnnIntRemedy = "cuDNN takes 32-bit dimensions; split the batch";

// A dimension for a library that takes int (cuBLAS, cuDNN): `value` when it lies in
// [0, INT_MAX], else std::invalid_argument naming the operation, the dimension and the remedy.
inline int intDimension(const char* operation, const char* name, std::int64_t value, const char* remedy) {
    if (value < 0 || value > INT_MAX) {
        throw std::invalid_argument(std::string(operation) + ": " + name + " = " + std::to_string(value) +
                                    " is outside [0, " + std::to_string(INT_MAX) + "] (" + remedy + ")");
    }
    return int(value);
}

// A dimension cuDNN takes as int, refused with cuDNN's remedy.
inline int cudnnDimension(const char* operation, const char* name, std::int64_t value) {
    return intDimension(operation, name, value, kCudnnIntRemedy);
}

struct LaunchContext {
    cudaStream_t stream = nullptr;
    int maxBlocks = 1;  // grid cap for grid-stride elementwise kernels (a few waves of the device)
};

// Reductions finish in one launch: every block writes its partial result, the last block to
// arrive (a ticket counter) adds the partials in index order. The block count depends only on
// the problem size, so the summation order, and hence the result, is reproducible.
inline constexpr int kMaxReductionBlocks = 1024;
struct ReductionScratch {
    double* partialSums = nullptr;           // kMaxReductionBlocks
    long long* partialCounts = nullptr;      // kMaxReductionBlocks
    unsigned int* ticket = nullptr;          // one counter; zero between launches
};

// Up to kMaxAverageSourcesPerLaunch source pointers travel by value in the kernel arguments.
struct AverageChunk {
    const void* sources[CudaBackend::kMaxAverageSourcesPerLaunch] = {};
    int count = 0;
};

template <typename T>
struct AdamCoefficients {
    T beta1, beta2, epsilon, learningRate, decay, correction1, correction2;
};

// Elementwise (ElementwiseKernels.cu)
template <typename T>
void launchBiasActivationForward(const LaunchContext& ctx, Activation activation, std::int64_t rows,
                                 std::int64_t cols, const T* x, const T* bias, T* y);
template <typename T>
void launchActivationBackward(const LaunchContext& ctx, Activation activation, std::int64_t count,
                              const T* y, const T* dy, T* dx);
template <typename T>
void launchDropoutForward(const LaunchContext& ctx, std::int64_t count, double rate,
                          std::uint64_t seed, std::uint64_t offset, const std::uint64_t* stepCounter,
                          const T* x, T* mask, T* y);
template <typename T>
void launchMultiply(const LaunchContext& ctx, std::int64_t count, const T* x, const T* y, T* z);
// GELU and layer normalisation (kernels/cuda/TransformerKernels.cu; the contract in Backend.h).
template <typename T>
void launchGeluForward(const LaunchContext& ctx, std::int64_t count, const T* x, T* y);
template <typename T>
void launchGeluBackward(const LaunchContext& ctx, std::int64_t count, const T* x, const T* dy, T* dx);
template <typename T>
void launchLayerNormForward(const LaunchContext& ctx, std::int64_t rows, std::int64_t features, double epsilon,
                            const T* x, const T* gain, const T* bias, T* y, T* mean, T* rstd);
template <typename T>
void launchLayerNormBackward(const LaunchContext& ctx, std::int64_t rows, std::int64_t features, const T* x,
                             const T* gain, const T* mean, const T* rstd, const T* dy, T* dx, T* dgain, T* dbias);
template <typename T>
void launchEmbeddingForward(const LaunchContext& ctx, std::int64_t rows, std::int64_t positions, std::int64_t width,
                            const T* ids, const T* tokens, const T* positionTable, T* y);
template <typename T>
void launchEmbeddingBackward(const LaunchContext& ctx, std::int64_t rows, std::int64_t positions, std::int64_t width,
                             std::int64_t vocabulary, const T* ids, const T* dy, T* dTokens, T* dPositions);
// Causal multi-head self-attention (kernels/cuda/AttentionKernels.cu; the contract in Backend.h):
// cuBLAS strided-batched GEMMs on `cublas` (bound to ctx.stream) and row kernels on ctx.stream.
template <typename T>
void launchAttentionForward(const LaunchContext& ctx, cublasHandle_t cublas, std::int64_t batch,
                            std::int64_t positions, std::int64_t heads, std::int64_t headWidth, const T* qkv,
                            T* probabilities, T* y);
template <typename T>
void launchAttentionBackward(const LaunchContext& ctx, cublasHandle_t cublas, std::int64_t batch,
                             std::int64_t positions, std::int64_t heads, std::int64_t headWidth, const T* qkv,
                             const T* probabilities, const T* dy, T* scratch, T* dqkv);
template <typename T>
void launchFill(const LaunchContext& ctx, std::int64_t count, T value, T* x);
template <typename T>
void launchAxpby(const LaunchContext& ctx, std::int64_t count, T alpha, const T* x, T beta, T* y);
// out[i] = scale * (runningSum[i] (or 0 when null) + sum of the chunk's sources[i], in order)
template <typename T>
void launchAverageChunk(const LaunchContext& ctx, std::int64_t length, const AverageChunk& chunk,
                        const T* runningSum, T scale, T* out);

// Reductions and row-wise operations (ReductionKernels.cu)
template <typename T>
void launchColumnSum(const LaunchContext& ctx, std::int64_t rows, std::int64_t cols, const T* x,
                     T* out, bool accumulate);
template <typename T>
void launchSumOfSquares(const LaunchContext& ctx, const ReductionScratch& scratch,
                        std::int64_t count, const T* x, T* out);
template <typename T>
void launchSquaredError(const LaunchContext& ctx, const ReductionScratch& scratch,
                        std::int64_t count, const T* prediction, const T* target, T* lossSum,
                        T* grad, double gradScale);
template <typename T>
void launchSoftmaxCrossEntropy(const LaunchContext& ctx, const ReductionScratch& scratch,
                               std::int64_t rows, std::int64_t classes, const T* logits,
                               const std::int32_t* labels, T* lossSum, T* grad, double gradScale,
                               std::int64_t* correct);
template <typename T>
void launchSoftmax(const LaunchContext& ctx, std::int64_t rows, std::int64_t classes, const T* x,
                   T* y);

// Fused optimizer updates (OptimizerKernels.cu): one launch each, float4 when aligned.
template <typename T>
void launchSgdUpdate(const LaunchContext& ctx, std::int64_t count, T learningRate, T weightDecay,
                     const T* gradient, T* parameters);
template <typename T>
void launchNesterovUpdate(const LaunchContext& ctx, std::int64_t count, T learningRate, T momentum,
                          T weightDecay, const T* gradient, T* velocity, T* parameters);
// The outer step of an averaging point (Backend::outerUpdate); velocity null: plain SGD.
template <typename T>
void launchOuterUpdate(const LaunchContext& ctx, std::int64_t count, double learningRate, double momentum,
                       T* parameters, T* anchor, T* velocity);
template <typename T>
void launchAdamUpdate(const LaunchContext& ctx, std::int64_t count,
                      const AdamCoefficients<T>& coefficients, const T* gradient, T* firstMoment,
                      T* secondMoment, T* parameters);

}  // namespace cohort::kernels::cuda_detail
