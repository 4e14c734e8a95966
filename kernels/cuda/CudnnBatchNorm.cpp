// Batch normalisation through cuDNN's legacy batch-norm API (see CudnnBatchNorm.cuh).
#include "kernels/cuda/CudnnBatchNorm.cuh"

#include <cuda_runtime_api.h>

#include <climits>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "kernels/cuda/CudaCheck.cuh"

namespace cohort::kernels::cuda_detail {

#ifdef COHORT_HAVE_CUDNN_HEADER
namespace {

// [n, channels, spatial] in cuDNN's int dimensions.
struct BatchNormShape {
    int n = 0, channels = 0, spatial = 0;
    std::int64_t valuesPerChannel() const { return std::int64_t(n) * spatial; }
    std::int64_t elements() const { return valuesPerChannel() * channels; }
};

BatchNormShape checkedShape(const char* operation, std::int64_t n, std::int64_t channels, std::int64_t spatial) {
    BatchNormShape shape;
    shape.n = cudnnDimension(operation, "n", n);
    shape.channels = cudnnDimension(operation, "channels", channels);
    shape.spatial = cudnnDimension(operation, "spatial", spatial);
    // cuDNN's packed strides are ints: the whole tensor must be indexable by one.
    if (shape.channels > 0 && shape.valuesPerChannel() > INT_MAX / shape.channels) {
        throw std::invalid_argument(std::string(operation) + ": n * channels * spatial = " + std::to_string(n) + " * " +
                                    std::to_string(channels) + " * " + std::to_string(spatial) + " exceeds " +
                                    std::to_string(INT_MAX) + " (" + kCudnnIntRemedy + ")");
    }
    return shape;
}

void checkEpsilon(const char* operation, double epsilon) {
    if (epsilon >= CUDNN_BN_MIN_EPSILON) return;  // false for NaN too
    char text[128];
    std::snprintf(text, sizeof(text), "epsilon = %g is below cuDNN's minimum CUDNN_BN_MIN_EPSILON = %g", epsilon,
                  double(CUDNN_BN_MIN_EPSILON));
    throw std::invalid_argument(std::string(operation) + ": " + text + " (use a positive epsilon such as 1e-5)");
}

// x (and y, dx, dy) as NCHW [n, channels, spatial, 1]; the per-channel tensors derived from it.
void describe(const CudnnContext& cudnn, DType dtype, const BatchNormShape& shape) {
    const cudnnDataType_t type = cudnnDataTypeOf(dtype);
    COHORT_CUDNN_CHECK(cudnnSetTensor4dDescriptor(cudnn.dataDescriptor(), CUDNN_TENSOR_NCHW, type, shape.n,
                                                  shape.channels, shape.spatial, 1));
    COHORT_CUDNN_CHECK(
        cudnnDeriveBNTensorDescriptor(cudnn.channelDescriptor(), cudnn.dataDescriptor(), CUDNN_BATCHNORM_SPATIAL));
}

void copyOnDevice(const LaunchContext& launch, std::size_t bytes, const void* source, void* destination) {
    if (bytes == 0 || source == destination) return;
    COHORT_CUDA_CHECK(cudaMemcpyAsync(destination, source, bytes, cudaMemcpyDeviceToDevice, launch.stream));
}

// One value per channel (n * spatial == 1, so x holds `channels` values): mean = x, biased
// variance 0, invStd = 1 / sqrt(epsilon), y = gamma * 0 * invStd + beta = beta; the running mean
// moves towards x, the running variance towards 0. y is written last, so y may alias x.
template <typename T>
void forwardTrainingOneValuePerChannel(const LaunchContext& launch, std::int64_t channels, const T* x, const T* beta,
                                       double epsilon, double momentum, T* runningMean, T* runningVariance,
                                       T* savedMean, T* savedInverseStd, T* y) {
    launchAxpby<T>(launch, channels, T(momentum), x, T(1.0 - momentum), runningMean);
    launchAxpby<T>(launch, channels, T(0), runningVariance, T(1.0 - momentum), runningVariance);
    copyOnDevice(launch, std::size_t(channels) * sizeof(T), x, savedMean);
    launchFill<T>(launch, channels, T(1.0 / std::sqrt(epsilon)), savedInverseStd);
    copyOnDevice(launch, std::size_t(channels) * sizeof(T), beta, y);
}

// At most one value per channel: xhat = (x - mean) * invStd is 0 (or there is none), so
// dgamma = sum(dy * xhat) = 0, dbeta = sum(dy) (dy itself, or 0) and dx = 0.
template <typename T>
void backwardAtMostOneValuePerChannel(const LaunchContext& launch, const BatchNormShape& shape, const T* dy, T* dx,
                                      T* dgamma, T* dbeta) {
    launchFill<T>(launch, shape.channels, T(0), dgamma);
    if (shape.valuesPerChannel() == 1) {
        copyOnDevice(launch, std::size_t(shape.channels) * sizeof(T), dy, dbeta);
    } else {
        launchFill<T>(launch, shape.channels, T(0), dbeta);
    }
    if (dx) launchFill<T>(launch, shape.elements(), T(0), dx);
}

}  // namespace

void batchNormForwardTraining(const CudnnContext& cudnn, const LaunchContext& launch, DType dtype, std::int64_t n,
                              std::int64_t channels, std::int64_t spatial, const void* x, const void* gamma,
                              const void* beta, double epsilon, double momentum, void* runningMean,
                              void* runningVariance, void* savedMean, void* savedInverseStd, void* y) {
    constexpr const char* kOperation = "batchNormForwardTraining";
    const BatchNormShape shape = checkedShape(kOperation, n, channels, spatial);
    checkEpsilon(kOperation, epsilon);
    if (shape.channels == 0) return;
    if (shape.valuesPerChannel() == 0) {
        throw std::invalid_argument(std::string(kOperation) + ": n * spatial = " + std::to_string(n) + " * " +
                                    std::to_string(spatial) +
                                    " leaves no value per channel to take batch statistics from (pass a "
                                    "non-empty batch)");
    }
    if (shape.valuesPerChannel() == 1) {
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            forwardTrainingOneValuePerChannel<T>(
                launch, shape.channels, static_cast<const T*>(x), static_cast<const T*>(beta), epsilon, momentum,
                static_cast<T*>(runningMean), static_cast<T*>(runningVariance), static_cast<T*>(savedMean),
                static_cast<T*>(savedInverseStd), static_cast<T*>(y));
        });
        return;
    }
    describe(cudnn, dtype, shape);
    COHORT_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
        cudnn.cudnn(), CUDNN_BATCHNORM_SPATIAL, kOne.of(dtype), kZero.of(dtype), cudnn.dataDescriptor(), x,
        cudnn.dataDescriptor(), y, cudnn.channelDescriptor(), gamma, beta, momentum, runningMean, runningVariance,
        epsilon, savedMean, savedInverseStd));
}

void batchNormForwardInference(const CudnnContext& cudnn, DType dtype, std::int64_t n, std::int64_t channels,
                               std::int64_t spatial, const void* x, const void* gamma, const void* beta,
                               const void* runningMean, const void* runningVariance, double epsilon, void* y) {
    constexpr const char* kOperation = "batchNormForwardInference";
    const BatchNormShape shape = checkedShape(kOperation, n, channels, spatial);
    checkEpsilon(kOperation, epsilon);
    if (shape.elements() == 0) return;
    describe(cudnn, dtype, shape);
    COHORT_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(
        cudnn.cudnn(), CUDNN_BATCHNORM_SPATIAL, kOne.of(dtype), kZero.of(dtype), cudnn.dataDescriptor(), x,
        cudnn.dataDescriptor(), y, cudnn.channelDescriptor(), gamma, beta, runningMean, runningVariance, epsilon));
}

void batchNormBackward(const CudnnContext& cudnn, const LaunchContext& launch, DeviceScratch& dxScratch, DType dtype,
                       std::int64_t n, std::int64_t channels, std::int64_t spatial, const void* x, const void* dy,
                       const void* gamma, const void* savedMean, const void* savedInverseStd, double epsilon, void* dx, void* dgamma,
                       void* dbeta) {
    const BatchNormShape shape = checkedShape("batchNormBackward", n, channels, spatial);
    if (shape.channels == 0) return;
    if (shape.valuesPerChannel() <= 1) {
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            backwardAtMostOneValuePerChannel<T>(launch, shape, static_cast<const T*>(dy), static_cast<T*>(dx),
                                                static_cast<T*>(dgamma), static_cast<T*>(dbeta));
        });
        return;
    }
    describe(cudnn, dtype, shape);
    void* inputGradient = dx ? dx : dxScratch.atLeast(std::size_t(shape.elements()) * sizeOf(dtype), launch.stream);
    // Blend factors (1, 0) overwrite dx, dgamma and dbeta. cuDNN wants the forward pass's epsilon
    // here too (its documentation: "the same epsilon value should be used in forward and
    // backward"), even though it reads invStd from the saved statistics.
    checkEpsilon("batchNormBackward", epsilon);
    COHORT_CUDNN_CHECK(cudnnBatchNormalizationBackward(
        cudnn.cudnn(), CUDNN_BATCHNORM_SPATIAL, kOne.of(dtype), kZero.of(dtype), kOne.of(dtype), kZero.of(dtype),
        cudnn.dataDescriptor(), x, cudnn.dataDescriptor(), dy, cudnn.dataDescriptor(), inputGradient,
        cudnn.channelDescriptor(), gamma, dgamma, dbeta, epsilon, savedMean, savedInverseStd));
}

#else  // built without cudnn.h: the operations exist and say what is missing

void batchNormForwardTraining(const CudnnContext&, const LaunchContext&, DType, std::int64_t, std::int64_t,
                              std::int64_t, const void*, const void*, const void*, double, double, void*, void*, void*,
                              void*, void*) {
    requireCudnn("batch norm");
}

void batchNormForwardInference(const CudnnContext&, DType, std::int64_t, std::int64_t, std::int64_t, const void*,
                               const void*, const void*, const void*, const void*, double, void*) {
    requireCudnn("batch norm");
}

void batchNormBackward(const CudnnContext&, const LaunchContext&, DeviceScratch&, DType, std::int64_t, std::int64_t,
                       std::int64_t, const void*, const void*, const void*, const void*, const void*, double, void*, void*,
                       void*) {
    requireCudnn("batch norm");
}

#endif

}  // namespace cohort::kernels::cuda_detail
