// GELU, layer normalisation and embeddings on the GPU, the same formulas as the CPU backend
// (kernels/cpu/CpuTransformer.cpp). Layer norm: one block per row, statistics summed in double in a
// fixed order (blockSum); dgain/dbias one thread per feature over the rows in order. Deterministic.
#include "kernels/cuda/KernelSupport.cuh"

namespace cohort::kernels::cuda_detail {
namespace {

constexpr double kGeluScale = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kGeluCubic = 0.044715;
constexpr int kLayerNormThreads = 256;

template <typename T>
__device__ inline T gelu(T x) {
    const T u = T(kGeluScale) * (x + T(kGeluCubic) * x * x * x);
    return T(0.5) * x * (T(1) + deviceTanh(u));
}

template <typename T>
__device__ inline T geluDerivative(T x) {
    const T u = T(kGeluScale) * (x + T(kGeluCubic) * x * x * x);
    const T t = deviceTanh(u);
    const T du = T(kGeluScale) * (T(1) + T(3 * kGeluCubic) * x * x);
    return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du;
}

template <typename T>
__global__ void geluForwardKernel(std::int64_t count, const T* x, T* y) {
    COHORT_GRID_STRIDE(i, count) { y[i] = gelu(x[i]); }
}

template <typename T>
__global__ void geluBackwardKernel(std::int64_t count, const T* x, const T* dy, T* dx) {
    COHORT_GRID_STRIDE(i, count) { dx[i] = dy[i] * geluDerivative(x[i]); }
}

template <typename T>
__global__ void layerNormForwardKernel(std::int64_t features, double epsilon, const T* x, const T* gain,
                                       const T* bias, T* y, T* mean, T* rstd) {
    __shared__ double shared[2];
    const std::int64_t row = blockIdx.x;
    const T* in = x + row * features;
    double sum = 0.0;
    for (std::int64_t f = threadIdx.x; f < features; f += blockDim.x) sum += double(in[f]);
    sum = blockSum(sum);
    if (threadIdx.x == 0) shared[0] = sum / double(features);
    __syncthreads();
    const double mu = shared[0];
    double squares = 0.0;
    for (std::int64_t f = threadIdx.x; f < features; f += blockDim.x) squares += (double(in[f]) - mu) * (double(in[f]) - mu);
    squares = blockSum(squares);
    if (threadIdx.x == 0) {
        shared[1] = 1.0 / sqrt(squares / double(features) + epsilon);
        mean[row] = T(mu);
        rstd[row] = T(shared[1]);
    }
    __syncthreads();
    const T muT = T(mu), inverse = T(shared[1]);
    T* out = y + row * features;
    for (std::int64_t f = threadIdx.x; f < features; f += blockDim.x) out[f] = (in[f] - muT) * inverse * gain[f] + bias[f];
}

template <typename T>
__global__ void layerNormParameterGradientKernel(std::int64_t rows, std::int64_t features, const T* x, const T* mean,
                                                 const T* rstd, const T* dy, T* dgain, T* dbias) {
    COHORT_GRID_STRIDE(f, features) {
        T gainSum = T(0), biasSum = T(0);
        for (std::int64_t r = 0; r < rows; ++r) {
            const T d = dy[r * features + f];
            gainSum += d * (x[r * features + f] - mean[r]) * rstd[r];
            biasSum += d;
        }
        dgain[f] = gainSum;
        dbias[f] = biasSum;
    }
}

template <typename T>
__global__ void layerNormInputGradientKernel(std::int64_t features, const T* x, const T* gain, const T* mean,
                                             const T* rstd, const T* dy, T* dx) {
    __shared__ double shared[2];
    const std::int64_t row = blockIdx.x;
    const T* in = x + row * features;
    const T* d = dy + row * features;
    const double mu = double(mean[row]), inverse = double(rstd[row]);
    double meanD = 0.0, meanDX = 0.0;
    for (std::int64_t f = threadIdx.x; f < features; f += blockDim.x) {
        const double dxhat = double(d[f]) * double(gain[f]);
        meanD += dxhat;
        meanDX += dxhat * (double(in[f]) - mu) * inverse;
    }
    meanD = blockSum(meanD);
    if (threadIdx.x == 0) shared[0] = meanD / double(features);
    meanDX = blockSum(meanDX);
    if (threadIdx.x == 0) shared[1] = meanDX / double(features);
    __syncthreads();
    T* out = dx + row * features;
    for (std::int64_t f = threadIdx.x; f < features; f += blockDim.x) {
        const double xhat = (double(in[f]) - mu) * inverse;
        out[f] = T(inverse * (double(d[f]) * double(gain[f]) - shared[0] - xhat * shared[1]));
    }
}

template <typename T>
__global__ void embeddingForwardKernel(std::int64_t rows, std::int64_t positions, std::int64_t width, const T* ids,
                                       const T* tokens, const T* positionTable, T* y) {
    COHORT_GRID_STRIDE(i, rows * width) {
        const std::int64_t r = i / width, c = i % width;
        y[i] = tokens[std::int64_t(ids[r]) * width + c] + positionTable[(r % positions) * width + c];
    }
}

// One thread per (token id, column): the rows with that id in row order, as the CPU sums them.
template <typename T>
__global__ void embeddingTokenGradientKernel(std::int64_t rows, std::int64_t width, std::int64_t vocabulary,
                                             const T* ids, const T* dy, T* dTokens) {
    COHORT_GRID_STRIDE(i, vocabulary * width) {
        const std::int64_t v = i / width, c = i % width;
        T sum = T(0);
        for (std::int64_t r = 0; r < rows; ++r) {
            if (std::int64_t(ids[r]) == v) sum += dy[r * width + c];
        }
        dTokens[i] = sum;
    }
}

template <typename T>
__global__ void embeddingPositionGradientKernel(std::int64_t rows, std::int64_t positions, std::int64_t width,
                                                const T* dy, T* dPositions) {
    COHORT_GRID_STRIDE(i, positions * width) {
        const std::int64_t p = i / width, c = i % width;
        T sum = T(0);
        for (std::int64_t r = p; r < rows; r += positions) sum += dy[r * width + c];
        dPositions[i] = sum;
    }
}

}  // namespace

template <typename T>
void launchEmbeddingForward(const LaunchContext& ctx, std::int64_t rows, std::int64_t positions, std::int64_t width,
                            const T* ids, const T* tokens, const T* positionTable, T* y) {
    if (rows * width == 0) return;
    embeddingForwardKernel<T><<<gridFor(ctx, rows * width), kThreadsPerBlock, 0, ctx.stream>>>(
        rows, positions, width, ids, tokens, positionTable, y);
    COHORT_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launchEmbeddingBackward(const LaunchContext& ctx, std::int64_t rows, std::int64_t positions, std::int64_t width,
                             std::int64_t vocabulary, const T* ids, const T* dy, T* dTokens, T* dPositions) {
    if (width == 0) return;
    embeddingTokenGradientKernel<T><<<gridFor(ctx, vocabulary * width), kThreadsPerBlock, 0, ctx.stream>>>(
        rows, width, vocabulary, ids, dy, dTokens);
    COHORT_CUDA_CHECK_LAUNCH();
    embeddingPositionGradientKernel<T><<<gridFor(ctx, positions * width), kThreadsPerBlock, 0, ctx.stream>>>(
        rows, positions, width, dy, dPositions);
    COHORT_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launchGeluForward(const LaunchContext& ctx, std::int64_t count, const T* x, T* y) {
    if (count == 0) return;
    geluForwardKernel<T><<<gridFor(ctx, count), kThreadsPerBlock, 0, ctx.stream>>>(count, x, y);
    COHORT_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launchGeluBackward(const LaunchContext& ctx, std::int64_t count, const T* x, const T* dy, T* dx) {
    if (count == 0) return;
    geluBackwardKernel<T><<<gridFor(ctx, count), kThreadsPerBlock, 0, ctx.stream>>>(count, x, dy, dx);
    COHORT_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launchLayerNormForward(const LaunchContext& ctx, std::int64_t rows, std::int64_t features, double epsilon,
                            const T* x, const T* gain, const T* bias, T* y, T* mean, T* rstd) {
    if (rows == 0 || features == 0) return;
    layerNormForwardKernel<T><<<unsigned(rows), kLayerNormThreads, 0, ctx.stream>>>(features, epsilon, x, gain, bias,
                                                                                      y, mean, rstd);
    COHORT_CUDA_CHECK_LAUNCH();
}

template <typename T>
void launchLayerNormBackward(const LaunchContext& ctx, std::int64_t rows, std::int64_t features, const T* x,
                             const T* gain, const T* mean, const T* rstd, const T* dy, T* dx, T* dgain, T* dbias) {
    if (rows == 0 || features == 0) return;
    layerNormParameterGradientKernel<T><<<gridFor(ctx, features), kThreadsPerBlock, 0, ctx.stream>>>(
        rows, features, x, mean, rstd, dy, dgain, dbias);
    COHORT_CUDA_CHECK_LAUNCH();
    if (dx == nullptr) return;
    layerNormInputGradientKernel<T><<<unsigned(rows), kLayerNormThreads, 0, ctx.stream>>>(features, x, gain, mean,
                                                                                            rstd, dy, dx);
    COHORT_CUDA_CHECK_LAUNCH();
}

#define COHORT_INSTANTIATE_TRANSFORMER(T)                                                                             \
    template void launchGeluForward<T>(const LaunchContext&, std::int64_t, const T*, T*);                              \
    template void launchGeluBackward<T>(const LaunchContext&, std::int64_t, const T*, const T*, T*);                   \
    template void launchLayerNormForward<T>(const LaunchContext&, std::int64_t, std::int64_t, double, const T*,        \
                                            const T*, const T*, T*, T*, T*);                                          \
    template void launchLayerNormBackward<T>(const LaunchContext&, std::int64_t, std::int64_t, const T*, const T*,     \
                                             const T*, const T*, const T*, T*, T*, T*);                             \
    template void launchEmbeddingForward<T>(const LaunchContext&, std::int64_t, std::int64_t, std::int64_t, const T*,   \
                                            const T*, const T*, T*);                                                  \
    template void launchEmbeddingBackward<T>(const LaunchContext&, std::int64_t, std::int64_t, std::int64_t,            \
                                             std::int64_t, const T*, const T*, T*, T*);
COHORT_INSTANTIATE_TRANSFORMER(float)
COHORT_INSTANTIATE_TRANSFORMER(double)

}  // namespace cohort::kernels::cuda_detail
