// Reductions and row-wise kernels of the CUDA backend: column sums, sum of squares, the two
// losses (fused with their gradients) and softmax. Every reduction has a fixed summation order:
// column sums use one block per tile of columns, the others a block count that depends only on
// the problem size plus the last-block finish of ReductionScratch, so no floating-point atomics.
#include <math.h>

#include <cstdint>

#include "kernels/cuda/KernelSupport.cuh"

namespace cohort::kernels::cuda_detail {
namespace {

constexpr int kColumnTile = 32;  // columns per block (one warp wide: coalesced rows)
constexpr int kRowLanes = 16;    // rows read in parallel per block
constexpr std::int64_t kNoIndex = INT64_MAX;

template <typename T>
__global__ void columnSumKernel(std::int64_t rows, std::int64_t cols, const T* x, T* out,
                                bool accumulate) {
    __shared__ T partial[kRowLanes][kColumnTile + 1];
    const std::int64_t col = std::int64_t(blockIdx.x) * kColumnTile + threadIdx.x;
    T sum = T(0);
    if (col < cols) {
        for (std::int64_t r = threadIdx.y; r < rows; r += kRowLanes) sum += x[r * cols + col];
    }
    partial[threadIdx.y][threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.y == 0 && col < cols) {
        T total = accumulate ? out[col] : T(0);
        for (int lane = 0; lane < kRowLanes; ++lane) total += partial[lane][threadIdx.x];
        out[col] = total;
    }
}

// Blocks for a reduction over `items`: a function of the size only (never of the device), so
// the order of additions is the same wherever it runs.
int reductionBlocks(std::int64_t items, std::int64_t itemsPerBlock) {
    const std::int64_t blocks = (items + itemsPerBlock - 1) / itemsPerBlock;
    return int(blocks < 1 ? 1 : (blocks > kMaxReductionBlocks ? kMaxReductionBlocks : blocks));
}

template <typename T>
__global__ void sumOfSquaresKernel(ReductionScratch scratch, std::int64_t count, const T* x,
                                   T* out) {
    double total = 0.0;
    COHORT_GRID_STRIDE(i, count) {
        const double v = double(x[i]);
        total += v * v;
    }
    finishReduction(scratch, blockSum(total), 0LL, out, nullptr);
}

template <typename T>
__global__ void squaredErrorKernel(ReductionScratch scratch, std::int64_t count,
                                   const T* prediction, const T* target, T* lossSum, T* grad,
                                   double gradScale) {
    double total = 0.0;
    COHORT_GRID_STRIDE(i, count) {
        const double d = double(prediction[i]) - double(target[i]);
        total += d * d;
        if (grad) grad[i] = T(gradScale * 2.0 * d);
    }
    finishReduction(scratch, blockSum(total), 0LL, lossSum, nullptr);
}

// Maximum of a row and the first column holding it (the CPU backend's tie rule), in every lane.
template <typename T>
__device__ inline void warpRowArgMax(const T* row, std::int64_t classes, T& maximum,
                                     std::int64_t& best) {
    const int lane = threadIdx.x % kWarpSize;
    maximum = T(-INFINITY);
    best = kNoIndex;
    for (std::int64_t c = lane; c < classes; c += kWarpSize) {
        if (best == kNoIndex || row[c] > maximum) {
            maximum = row[c];
            best = c;
        }
    }
    for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
        const T otherMaximum = __shfl_xor_sync(0xffffffffu, maximum, offset);
        const std::int64_t otherBest = __shfl_xor_sync(0xffffffffu, best, offset);
        if (otherMaximum > maximum || (otherMaximum == maximum && otherBest < best)) {
            maximum = otherMaximum;
            best = otherBest;
        }
    }
    // With NaNs the lanes can disagree; lane 0 decides for all.
    maximum = __shfl_sync(0xffffffffu, maximum, 0);
    best = __shfl_sync(0xffffffffu, best, 0);
}

// sum_c exp(row[c] - maximum) in double, as the CPU backend computes it, in every lane.
template <typename T>
__device__ inline double warpRowExpSum(const T* row, std::int64_t classes, T maximum) {
    double sum = 0.0;
    for (std::int64_t c = threadIdx.x % kWarpSize; c < classes; c += kWarpSize) {
        sum += exp(double(row[c] - maximum));
    }
    return __shfl_sync(0xffffffffu, warpSum(sum), 0);
}

// One warp per row. A label outside [0, classes) cannot throw here: its row adds NaN to the
// loss (the CPU backend throws std::invalid_argument instead).
template <typename T>
__global__ void softmaxCrossEntropyKernel(ReductionScratch scratch, std::int64_t rows,
                                          std::int64_t classes, const T* logits,
                                          const std::int32_t* labels, T* lossSum, T* grad,
                                          double gradScale, std::int64_t* correct) {
    const int lane = threadIdx.x % kWarpSize;
    const int warpsPerBlock = int(blockDim.x) / kWarpSize;
    double loss = 0.0;
    long long hits = 0;
    for (std::int64_t r = std::int64_t(blockIdx.x) * warpsPerBlock + threadIdx.x / kWarpSize;
         r < rows; r += std::int64_t(gridDim.x) * warpsPerBlock) {
        const T* row = logits + r * classes;
        T maximum;
        std::int64_t best;
        warpRowArgMax(row, classes, maximum, best);
        const double logSum = log(warpRowExpSum(row, classes, maximum));
        const std::int32_t label = labels[r];
        const bool validLabel = label >= 0 && label < classes;
        if (lane == 0) {
            loss += validLabel ? logSum - double(row[label] - maximum) : double(NAN);
            if (validLabel && best == label) ++hits;
        }
        if (grad) {
            T* g = grad + r * classes;
            for (std::int64_t c = lane; c < classes; c += kWarpSize) {
                const double p = exp(double(row[c] - maximum) - logSum);
                g[c] = T(gradScale * (p - (c == label ? 1.0 : 0.0)));
            }
        }
    }
    loss = blockSum(loss);
    hits = blockSum(hits);
    finishReduction(scratch, loss, hits, lossSum, correct);
}

template <typename T>
__global__ void softmaxKernel(std::int64_t rows, std::int64_t classes, const T* x, T* y) {
    const int warpsPerBlock = int(blockDim.x) / kWarpSize;
    for (std::int64_t r = std::int64_t(blockIdx.x) * warpsPerBlock + threadIdx.x / kWarpSize;
         r < rows; r += std::int64_t(gridDim.x) * warpsPerBlock) {
        const T* row = x + r * classes;
        T maximum;
        std::int64_t best;
        warpRowArgMax(row, classes, maximum, best);
        const double sum = warpRowExpSum(row, classes, maximum);
        T* target = y + r * classes;
        for (std::int64_t c = threadIdx.x % kWarpSize; c < classes; c += kWarpSize) {
            target[c] = T(exp(double(row[c] - maximum)) / sum);
        }
    }
}

constexpr std::int64_t kElementsPerReductionBlock = std::int64_t(kThreadsPerBlock) * 8;
constexpr int kRowsPerBlock = kThreadsPerBlock / kWarpSize;

}  // namespace

template <typename T>
void launchColumnSum(const LaunchContext& ctx, std::int64_t rows, std::int64_t cols, const T* x,
                     T* out, bool accumulate) {
    if (cols == 0) return;
    const dim3 block(kColumnTile, kRowLanes);
    const auto tiles = static_cast<unsigned int>((cols + kColumnTile - 1) / kColumnTile);
    columnSumKernel<T><<<tiles, block, 0, ctx.stream>>>(rows, cols, x, out, accumulate);
    COHORT_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launchSumOfSquares(const LaunchContext& ctx, const ReductionScratch& scratch,
                        std::int64_t count, const T* x, T* out) {
    sumOfSquaresKernel<T>
        <<<reductionBlocks(count, kElementsPerReductionBlock), kThreadsPerBlock, 0, ctx.stream>>>(
            scratch, count, x, out);
    COHORT_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launchSquaredError(const LaunchContext& ctx, const ReductionScratch& scratch,
                        std::int64_t count, const T* prediction, const T* target, T* lossSum,
                        T* grad, double gradScale) {
    squaredErrorKernel<T>
        <<<reductionBlocks(count, kElementsPerReductionBlock), kThreadsPerBlock, 0, ctx.stream>>>(
            scratch, count, prediction, target, lossSum, grad, gradScale);
    COHORT_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launchSoftmaxCrossEntropy(const LaunchContext& ctx, const ReductionScratch& scratch,
                               std::int64_t rows, std::int64_t classes, const T* logits,
                               const std::int32_t* labels, T* lossSum, T* grad, double gradScale,
                               std::int64_t* correct) {
    softmaxCrossEntropyKernel<T>
        <<<reductionBlocks(rows, kRowsPerBlock), kThreadsPerBlock, 0, ctx.stream>>>(
            scratch, rows, classes, logits, labels, lossSum, grad, gradScale, correct);
    COHORT_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launchSoftmax(const LaunchContext& ctx, std::int64_t rows, std::int64_t classes, const T* x,
                   T* y) {
    if (rows == 0 || classes == 0) return;
    const std::int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
    softmaxKernel<T><<<int(blocks < ctx.maxBlocks ? blocks : ctx.maxBlocks), kThreadsPerBlock, 0,
                       ctx.stream>>>(rows, classes, x, y);
    COHORT_CUDA_CHECK_LAUNCH();
}

#define COHORT_INSTANTIATE_REDUCTIONS(T)                                                          \
    template void launchColumnSum<T>(const LaunchContext&, std::int64_t, std::int64_t, const T*, \
                                     T*, bool);                                                  \
    template void launchSumOfSquares<T>(const LaunchContext&, const ReductionScratch&,           \
                                        std::int64_t, const T*, T*);                             \
    template void launchSquaredError<T>(const LaunchContext&, const ReductionScratch&,          \
                                        std::int64_t, const T*, const T*, T*, T*, double);       \
    template void launchSoftmaxCrossEntropy<T>(const LaunchContext&, const ReductionScratch&,   \
                                               std::int64_t, std::int64_t, const T*,            \
                                               const std::int32_t*, T*, T*, double,             \
                                               std::int64_t*);                                   \
    template void launchSoftmax<T>(const LaunchContext&, std::int64_t, std::int64_t, const T*, T*);
COHORT_INSTANTIATE_REDUCTIONS(float)
COHORT_INSTANTIATE_REDUCTIONS(double)

}  // namespace cohort::kernels::cuda_detail
