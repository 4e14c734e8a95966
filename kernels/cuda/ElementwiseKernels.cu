// Elementwise kernels of the CUDA backend: bias + activation, activation backward, dropout,
// multiply, fill, axpby and the N-buffer average. Grid-stride loops, one launch per operation.
#include "kernels/cuda/KernelSupport.cuh"

namespace cohort::kernels::cuda_detail {
namespace {

template <typename T>
__global__ void biasActivationForwardKernel(Activation activation, std::int64_t rows,
                                            std::int64_t cols, const T* x, const T* bias, T* y) {
    const std::int64_t count = rows * cols;
    const std::int64_t first = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
    // The column advances by stride % cols per iteration: two divisions per thread, not one
    // per element.
    const std::int64_t columnStep = stride % cols;
    std::int64_t col = first % cols;
    for (std::int64_t i = first; i < count; i += stride) {
        const T shift = bias ? bias[col] : T(0);
        y[i] = activate(activation, x[i] + shift);
        col += columnStep;
        if (col >= cols) col -= cols;
    }
}

template <typename T>
__global__ void activationBackwardKernel(Activation activation, std::int64_t count, const T* y,
                                         const T* dy, T* dx) {
    COHORT_GRID_STRIDE(i, count) { dx[i] = dy[i] * derivativeFromOutput(activation, y[i]); }
}

template <typename T>
__global__ void dropoutForwardKernel(std::int64_t count, double rate, std::uint64_t seed,
                                     std::uint64_t offset, const std::uint64_t* stepCounter,
                                     T keepScale, const T* x, T* mask, T* y) {
    // The step counter is read on the device, so a replayed graph sees the current step.
    if (stepCounter) offset += stepCounter[0] * std::uint64_t(count);
    COHORT_GRID_STRIDE(i, count) {
        const T factor = counterUniform(seed, offset + std::uint64_t(i)) >= rate ? keepScale : T(0);
        mask[i] = factor;
        y[i] = x[i] * factor;
    }
}

template <typename T>
__global__ void multiplyKernel(std::int64_t count, const T* x, const T* y, T* z) {
    COHORT_GRID_STRIDE(i, count) { z[i] = x[i] * y[i]; }
}

template <typename T>
__global__ void fillKernel(std::int64_t count, T value, T* x) {
    COHORT_GRID_STRIDE(i, count) { x[i] = value; }
}

template <typename T>
__global__ void axpbyKernel(std::int64_t count, T alpha, const T* x, T beta, T* y) {
    COHORT_GRID_STRIDE(i, count) { y[i] = alpha * x[i] + beta * y[i]; }
}

// Same order of additions as the CPU backend: running sum (or 0), then the sources in order.
template <typename T>
__global__ void averageChunkKernel(std::int64_t length, AverageChunk chunk, const T* runningSum,
                                   T scale, T* out) {
    COHORT_GRID_STRIDE(i, length) {
        T sum = runningSum ? runningSum[i] : T(0);
        for (int s = 0; s < chunk.count; ++s) sum += static_cast<const T*>(chunk.sources[s])[i];
        out[i] = sum * scale;
    }
}

}  // namespace

template <typename T>
void launchBiasActivationForward(const LaunchContext& ctx, Activation activation, std::int64_t rows,
                                 std::int64_t cols, const T* x, const T* bias, T* y) {
    if (rows * cols == 0) return;
    biasActivationForwardKernel<T><<<gridFor(ctx, rows * cols), kThreadsPerBlock, 0, ctx.stream>>>(
        activation, rows, cols, x, bias, y);
    COHORT_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launchActivationBackward(const LaunchContext& ctx, Activation activation, std::int64_t count,
                              const T* y, const T* dy, T* dx) {
    if (count == 0) return;
    activationBackwardKernel<T><<<gridFor(ctx, count), kThreadsPerBlock, 0, ctx.stream>>>(
        activation, count, y, dy, dx);
    COHORT_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launchDropoutForward(const LaunchContext& ctx, std::int64_t count, double rate,
                          std::uint64_t seed, std::uint64_t offset, const std::uint64_t* stepCounter,
                          const T* x, T* mask, T* y) {
    if (count == 0) return;
    const T keepScale = T(1.0 / (1.0 - rate));  // as the CPU backend computes it
    dropoutForwardKernel<T><<<gridFor(ctx, count), kThreadsPerBlock, 0, ctx.stream>>>(
        count, rate, seed, offset, stepCounter, keepScale, x, mask, y);
    COHORT_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launchMultiply(const LaunchContext& ctx, std::int64_t count, const T* x, const T* y, T* z) {
    if (count == 0) return;
    multiplyKernel<T><<<gridFor(ctx, count), kThreadsPerBlock, 0, ctx.stream>>>(count, x, y, z);
    COHORT_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launchFill(const LaunchContext& ctx, std::int64_t count, T value, T* x) {
    if (count == 0) return;
    fillKernel<T><<<gridFor(ctx, count), kThreadsPerBlock, 0, ctx.stream>>>(count, value, x);
    COHORT_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launchAxpby(const LaunchContext& ctx, std::int64_t count, T alpha, const T* x, T beta, T* y) {
    if (count == 0) return;
    axpbyKernel<T><<<gridFor(ctx, count), kThreadsPerBlock, 0, ctx.stream>>>(count, alpha, x, beta,
                                                                            y);
    COHORT_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launchAverageChunk(const LaunchContext& ctx, std::int64_t length, const AverageChunk& chunk,
                        const T* runningSum, T scale, T* out) {
    if (length == 0) return;
    averageChunkKernel<T><<<gridFor(ctx, length), kThreadsPerBlock, 0, ctx.stream>>>(
        length, chunk, runningSum, scale, out);
    COHORT_CUDA_CHECK_LAUNCH();
}

#define COHORT_INSTANTIATE_ELEMENTWISE(T)                                                          \
    template void launchBiasActivationForward<T>(const LaunchContext&, Activation, std::int64_t, \
                                                 std::int64_t, const T*, const T*, T*);           \
    template void launchActivationBackward<T>(const LaunchContext&, Activation, std::int64_t,    \
                                              const T*, const T*, T*);                            \
    template void launchDropoutForward<T>(const LaunchContext&, std::int64_t, double,             \
                                          std::uint64_t, std::uint64_t, const std::uint64_t*,     \
                                          const T*, T*, T*);                                      \
    template void launchMultiply<T>(const LaunchContext&, std::int64_t, const T*, const T*, T*);  \
    template void launchFill<T>(const LaunchContext&, std::int64_t, T, T*);                       \
    template void launchAxpby<T>(const LaunchContext&, std::int64_t, T, const T*, T, T*);         \
    template void launchAverageChunk<T>(const LaunchContext&, std::int64_t, const AverageChunk&,  \
                                        const T*, T, T*);
COHORT_INSTANTIATE_ELEMENTWISE(float)
COHORT_INSTANTIATE_ELEMENTWISE(double)

}  // namespace cohort::kernels::cuda_detail
