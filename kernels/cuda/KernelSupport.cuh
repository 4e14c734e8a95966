#pragma once
// kernels/cuda/KernelSupport.cuh — device-side helpers shared by the .cu files: grid sizing,
// the activations and deterministic block reductions (the dropout generator is
// kernels::counterUniform, kernels/SeedMixing.h, host and device alike).
// Included only by .cu files.
#include <cstdint>

#include "kernels/Backend.h"
#include "kernels/cuda/CudaCheck.cuh"
#include "kernels/cuda/CudaKernels.cuh"

// for (std::int64_t i = first index of this thread; i < count; i += threads in the grid)
#define COHORT_GRID_STRIDE(i, count)                                                          \
    for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (count); \
         i += std::int64_t(gridDim.x) * blockDim.x)

namespace cohort::kernels::cuda_detail {

inline constexpr int kThreadsPerBlock = 256;
inline constexpr int kWarpSize = 32;

// Blocks for a grid-stride loop over `count` items, `perThread` items per thread before capping.
inline int gridFor(const LaunchContext& ctx, std::int64_t count, std::int64_t perThread = 1) {
    const std::int64_t perBlock = std::int64_t(kThreadsPerBlock) * perThread;
    const std::int64_t blocks = (count + perBlock - 1) / perBlock;
    return int(blocks < ctx.maxBlocks ? (blocks < 1 ? 1 : blocks) : ctx.maxBlocks);
}

__device__ inline float deviceExp(float v) { return expf(v); }
__device__ inline double deviceExp(double v) { return exp(v); }
__device__ inline float deviceTanh(float v) { return tanhf(v); }
__device__ inline double deviceTanh(double v) { return tanh(v); }
__device__ inline float deviceSqrt(float v) { return sqrtf(v); }
__device__ inline double deviceSqrt(double v) { return sqrt(v); }

// Same formulas as the CPU backend (kernels/cpu/CpuBackend.cpp).
template <typename T>
__device__ inline T activate(Activation activation, T v) {
    switch (activation) {
        case Activation::Relu: return v > T(0) ? v : T(0);
        case Activation::Tanh: return deviceTanh(v);
        case Activation::Sigmoid: return T(1) / (T(1) + deviceExp(-v));
        case Activation::Identity: break;
    }
    return v;
}

template <typename T>
__device__ inline T derivativeFromOutput(Activation activation, T y) {
    switch (activation) {
        case Activation::Relu: return y > T(0) ? T(1) : T(0);
        case Activation::Tanh: return T(1) - y * y;
        case Activation::Sigmoid: return y * (T(1) - y);
        case Activation::Identity: break;
    }
    return T(1);
}

template <typename V>
__device__ inline V warpSum(V value) {
    for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
        value += __shfl_down_sync(0xffffffffu, value, offset);
    }
    return value;
}

// Sum over the block, fixed order; the result is valid in thread 0. Every thread of the block
// must call it (it synchronises); blockDim.x must be a multiple of 32 and at most 1024.
template <typename V>
__device__ inline V blockSum(V value) {
    __shared__ V perWarp[kWarpSize];
    const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
    value = warpSum(value);
    __syncthreads();  // perWarp may still be read by a previous call
    if (lane == 0) perWarp[warp] = value;
    __syncthreads();
    if (warp == 0) {
        const int warps = int(blockDim.x) / kWarpSize;
        value = lane < warps ? perWarp[lane] : V(0);
        value = warpSum(value);
    }
    return value;
}

// The last step of a one-launch reduction (see ReductionScratch): this block's partial goes to
// scratch; the last block to finish adds all partials in block order and writes the result.
template <typename T>
__device__ inline void finishReduction(const ReductionScratch& scratch, double blockTotal,
                                       long long blockCount, T* out, std::int64_t* countOut) {
    __shared__ bool isLastBlock;
    if (threadIdx.x == 0) {
        scratch.partialSums[blockIdx.x] = blockTotal;
        scratch.partialCounts[blockIdx.x] = blockCount;
        __threadfence();
        const unsigned int ticket = atomicAdd(scratch.ticket, 1u);
        isLastBlock = ticket == gridDim.x - 1;
    }
    __syncthreads();
    if (!isLastBlock) return;
    double total = 0.0;
    long long count = 0;
    for (unsigned int b = threadIdx.x; b < gridDim.x; b += blockDim.x) {
        total += __ldcg(scratch.partialSums + b);
        count += __ldcg(scratch.partialCounts + b);
    }
    total = blockSum(total);
    count = blockSum(count);
    if (threadIdx.x == 0) {
        *out = T(total);
        if (countOut) *countOut = std::int64_t(count);
        *scratch.ticket = 0;  // ready for the next reduction on this stream
    }
}

}  // namespace cohort::kernels::cuda_detail
