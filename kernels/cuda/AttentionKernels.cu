// Causal multi-head self-attention on the GPU (the contract in kernels/Backend.h, the reference in
// kernels/cpu/CpuTransformer.cpp). The products are cuBLAS strided-batched GEMMs on the backend's
// handle (bound to ctx.stream): one call per sequence with the heads as the batch (stride
// headWidth inside a row of qkv), or one call per head with the sequences as the batch where
// there are more sequences than heads. cuBLAS is column-major: a row-major M (rows x cols, leading
// dimension ld) is the column-major M^T, so row-major C = A B is computed as C^T = B^T A^T.
// Scaling, the causal mask and the row softmax (forward), and the softmax backward are one warp per
// row of [batch, heads, positions, positions], summed in double in a fixed order. Deterministic.
#include <cmath>

#include "kernels/cuda/KernelSupport.cuh"

namespace cohort::kernels::cuda_detail {
namespace {

constexpr int kRowsPerBlock = kThreadsPerBlock / kWarpSize;

// In every lane: the maximum (NaNs ignored) and the sum over the warp, lane 0's values (the
// butterfly leaves every lane the same result; the broadcast makes that explicit).
__device__ inline double warpAllMax(double value) {
    for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
        value = fmax(value, __shfl_xor_sync(0xffffffffu, value, offset));
    }
    return __shfl_sync(0xffffffffu, value, 0);
}

__device__ inline double warpAllSum(double value) { return __shfl_sync(0xffffffffu, warpSum(value), 0); }

// Row r of the [batch * heads * positions, positions] scores holds query position r % positions,
// which sees keys [0, r % positions]. In place: p = softmax(scale * s) over the visible keys, 0
// for the others.
template <typename T>
__global__ void causalSoftmaxKernel(std::int64_t rows, std::int64_t positions, double scale, T* scores) {
    const int lane = threadIdx.x % kWarpSize;
    const int warpsPerBlock = int(blockDim.x) / kWarpSize;
    for (std::int64_t r = std::int64_t(blockIdx.x) * warpsPerBlock + threadIdx.x / kWarpSize; r < rows;
         r += std::int64_t(gridDim.x) * warpsPerBlock) {
        T* row = scores + r * positions;
        const std::int64_t last = r % positions;
        double maximum = -INFINITY;
        for (std::int64_t j = lane; j <= last; j += kWarpSize) maximum = fmax(maximum, scale * double(row[j]));
        maximum = warpAllMax(maximum);
        double sum = 0.0;
        for (std::int64_t j = lane; j <= last; j += kWarpSize) sum += exp(scale * double(row[j]) - maximum);
        const double inverse = 1.0 / warpAllSum(sum);
        for (std::int64_t j = lane; j < positions; j += kWarpSize) {
            row[j] = j <= last ? T(exp(scale * double(row[j]) - maximum) * inverse) : T(0);
        }
    }
}

// In place on gradient (dP in, dS out): dS = P (dP - sum_j dP_j P_j) scale on the visible keys, 0
// on the others.
template <typename T>
__global__ void causalSoftmaxBackwardKernel(std::int64_t rows, std::int64_t positions, double scale,
                                            const T* probabilities, T* gradient) {
    const int lane = threadIdx.x % kWarpSize;
    const int warpsPerBlock = int(blockDim.x) / kWarpSize;
    for (std::int64_t r = std::int64_t(blockIdx.x) * warpsPerBlock + threadIdx.x / kWarpSize; r < rows;
         r += std::int64_t(gridDim.x) * warpsPerBlock) {
        const T* p = probabilities + r * positions;
        T* g = gradient + r * positions;
        const std::int64_t last = r % positions;
        double dot = 0.0;
        for (std::int64_t j = lane; j <= last; j += kWarpSize) dot += double(g[j]) * double(p[j]);
        dot = warpAllSum(dot);
        for (std::int64_t j = lane; j < positions; j += kWarpSize) {
            g[j] = j <= last ? T(double(p[j]) * (double(g[j]) - dot) * scale) : T(0);
        }
    }
}

int rowBlocks(const LaunchContext& ctx, std::int64_t rows) {
    const std::int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
    return int(blocks < ctx.maxBlocks ? blocks : ctx.maxBlocks);
}

// Where one operand of the per-head products starts: sequence b, head h at b * sequence + h * head
// elements.
struct Strides {
    std::int64_t sequence, head;
};

cublasStatus_t gemmStridedBatched(cublasHandle_t handle, cublasOperation_t opA, cublasOperation_t opB, int m, int n,
                                  int k, const float* alpha, const float* a, int lda, long long strideA,
                                  const float* b, int ldb, long long strideB, const float* beta, float* c, int ldc,
                                  long long strideC, int count) {
    return cublasSgemmStridedBatched(handle, opA, opB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc,
                                     strideC, count);
}

cublasStatus_t gemmStridedBatched(cublasHandle_t handle, cublasOperation_t opA, cublasOperation_t opB, int m, int n,
                                  int k, const double* alpha, const double* a, int lda, long long strideA,
                                  const double* b, int ldb, long long strideB, const double* beta, double* c,
                                  int ldc, long long strideC, int count) {
    return cublasDgemmStridedBatched(handle, opA, opB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc,
                                     strideC, count);
}

// The shapes of one attention call, checked for cuBLAS's int dimensions.
struct AttentionShape {
    std::int64_t positions, heads, headWidth;
    int t, d, qkvLd, yLd, batchCount, calls;
    bool perSequence;  // one call per sequence, the heads batched (else one per head)

    AttentionShape(const char* operation, std::int64_t batch, std::int64_t positions_, std::int64_t heads_,
                   std::int64_t headWidth_)
        : positions(positions_), heads(heads_), headWidth(headWidth_) {
        const char* remedy = "cuBLAS takes 32-bit dimensions; split the batch or the sequence";
        t = intDimension(operation, "positions", positions, remedy);
        d = intDimension(operation, "headWidth", headWidth, remedy);
        intDimension(operation, "heads", heads, remedy);
        intDimension(operation, "batch", batch, remedy);
        yLd = intDimension(operation, "heads * headWidth", heads * headWidth, remedy);
        qkvLd = intDimension(operation, "3 * heads * headWidth", 3 * heads * headWidth, remedy);
        perSequence = heads >= batch;
        batchCount = int(perSequence ? heads : batch);
        calls = int(perSequence ? batch : heads);
    }

    // Strides of qkv, y / dy, and the [positions, positions] matrices.
    Strides qkv() const { return {positions * 3 * heads * headWidth, headWidth}; }
    Strides y() const { return {positions * heads * headWidth, headWidth}; }
    Strides square() const { return {heads * positions * positions, positions * positions}; }

    // Element offset of call `i`'s first matrix, and the stride between its batched matrices.
    std::int64_t offset(const Strides& s, int i) const { return std::int64_t(i) * (perSequence ? s.sequence : s.head); }
    long long stride(const Strides& s) const { return perSequence ? s.head : s.sequence; }

    // Row-major C = op(A) op(B) per head, every head of every sequence, in column-major terms
    // (opA/opB, m, n, k, lda... as cuBLAS takes them, A and B already swapped by the caller).
    template <typename T>
    void gemm(cublasHandle_t handle, cublasOperation_t opA, cublasOperation_t opB, int m, int n, int k, const T* a,
              const Strides& sa, int lda, const T* b, const Strides& sb, int ldb, T* c, const Strides& sc,
              int ldc) const {
        const T one = T(1), zero = T(0);
        for (int i = 0; i < calls; ++i) {
            COHORT_CUBLAS_CHECK(gemmStridedBatched(handle, opA, opB, m, n, k, &one, a + offset(sa, i), lda, stride(sa),
                                                   b + offset(sb, i), ldb, stride(sb), &zero, c + offset(sc, i), ldc,
                                                   stride(sc), batchCount));
        }
    }
};

}  // namespace

template <typename T>
void launchAttentionForward(const LaunchContext& ctx, cublasHandle_t cublas, std::int64_t batch,
                            std::int64_t positions, std::int64_t heads, std::int64_t headWidth, const T* qkv,
                            T* probabilities, T* y) {
    const AttentionShape shape("attentionForward", batch, positions, heads, headWidth);
    const std::int64_t rows = batch * heads * positions;
    if (rows == 0) return;
    const T* queries = qkv;
    const T* keys = qkv + heads * headWidth;
    const T* values = qkv + 2 * heads * headWidth;
    double scale = 0.0;  // headWidth 0: every score is 0, the visible keys equally likely
    if (headWidth == 0) {
        COHORT_CUDA_CHECK(cudaMemsetAsync(probabilities, 0, std::size_t(rows * positions) * sizeof(T), ctx.stream));
    } else {
        scale = 1.0 / std::sqrt(double(headWidth));
        // S = Q K^T (row-major [T, T]) is S^T = K Q^T column-major: A = K^T viewed, transposed.
        shape.gemm<T>(cublas, CUBLAS_OP_T, CUBLAS_OP_N, shape.t, shape.t, shape.d, keys, shape.qkv(), shape.qkvLd,
                      queries, shape.qkv(), shape.qkvLd, probabilities, shape.square(), shape.t);
    }
    causalSoftmaxKernel<T><<<rowBlocks(ctx, rows), kThreadsPerBlock, 0, ctx.stream>>>(rows, positions, scale,
                                                                                      probabilities);
    COHORT_CUDA_CHECK_LAUNCH();
    if (headWidth == 0) return;
    // Y = P V (row-major [T, d]) is Y^T = V^T P^T column-major. The masked P entries are 0.
    shape.gemm<T>(cublas, CUBLAS_OP_N, CUBLAS_OP_N, shape.d, shape.t, shape.t, values, shape.qkv(), shape.qkvLd,
                  probabilities, shape.square(), shape.t, y, shape.y(), shape.yLd);
}

template <typename T>
void launchAttentionBackward(const LaunchContext& ctx, cublasHandle_t cublas, std::int64_t batch,
                             std::int64_t positions, std::int64_t heads, std::int64_t headWidth, const T* qkv,
                             const T* probabilities, const T* dy, T* scratch, T* dqkv) {
    const AttentionShape shape("attentionBackward", batch, positions, heads, headWidth);
    const std::int64_t rows = batch * heads * positions;
    if (rows == 0 || headWidth == 0) return;  // dqkv is empty
    const double scale = 1.0 / std::sqrt(double(headWidth));
    const std::int64_t width = heads * headWidth;
    const T* queries = qkv;
    const T* keys = qkv + width;
    const T* values = qkv + 2 * width;
    T* dQueries = dqkv;
    T* dKeys = dqkv + width;
    T* dValues = dqkv + 2 * width;
    // dV = P^T dY (row-major [T, d]) is dV^T = dY^T P column-major.
    shape.gemm<T>(cublas, CUBLAS_OP_N, CUBLAS_OP_T, shape.d, shape.t, shape.t, dy, shape.y(), shape.yLd,
                  probabilities, shape.square(), shape.t, dValues, shape.qkv(), shape.qkvLd);
    // dP = dY V^T (row-major [T, T]) is dP^T = V dY^T column-major, into scratch.
    shape.gemm<T>(cublas, CUBLAS_OP_T, CUBLAS_OP_N, shape.t, shape.t, shape.d, values, shape.qkv(), shape.qkvLd, dy,
                  shape.y(), shape.yLd, scratch, shape.square(), shape.t);
    // dS = P (dP - rowsum(dP P)) / sqrt(d), masked entries 0, in place.
    causalSoftmaxBackwardKernel<T><<<rowBlocks(ctx, rows), kThreadsPerBlock, 0, ctx.stream>>>(
        rows, positions, scale, probabilities, scratch);
    COHORT_CUDA_CHECK_LAUNCH();
    // dQ = dS K (row-major [T, d]) is dQ^T = K^T dS^T column-major.
    shape.gemm<T>(cublas, CUBLAS_OP_N, CUBLAS_OP_N, shape.d, shape.t, shape.t, keys, shape.qkv(), shape.qkvLd,
                  scratch, shape.square(), shape.t, dQueries, shape.qkv(), shape.qkvLd);
    // dK = dS^T Q (row-major [T, d]) is dK^T = Q^T dS column-major.
    shape.gemm<T>(cublas, CUBLAS_OP_N, CUBLAS_OP_T, shape.d, shape.t, shape.t, queries, shape.qkv(), shape.qkvLd,
                  scratch, shape.square(), shape.t, dKeys, shape.qkv(), shape.qkvLd);
}

#define COHORT_INSTANTIATE_ATTENTION(T)                                                                               \
    template void launchAttentionForward<T>(const LaunchContext&, cublasHandle_t, std::int64_t, std::int64_t,          \
                                            std::int64_t, std::int64_t, const T*, T*, T*);                             \
    template void launchAttentionBackward<T>(const LaunchContext&, cublasHandle_t, std::int64_t, std::int64_t,         \
                                             std::int64_t, std::int64_t, const T*, const T*, const T*, T*, T*);
COHORT_INSTANTIATE_ATTENTION(float)
COHORT_INSTANTIATE_ATTENTION(double)

}  // namespace cohort::kernels::cuda_detail
