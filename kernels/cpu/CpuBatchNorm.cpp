// The CPU backend's batch normalisation loops. Element (i, c, j) of [n, channels, spatial] is at
// (i * channels + c) * spatial + j.
#include "kernels/cpu/CpuBatchNorm.h"

#include <cmath>

#include "kernels/DTypeDispatch.h"
#include "kernels/cpu/ParallelThreshold.h"

namespace cohort::kernels::cpu_detail {

void batchNormForwardTraining(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial, const void* x,
                              const void* gamma, const void* beta, double epsilon, double momentum, void* runningMean,
                              void* runningVariance, void* savedMean, void* savedInverseStd, void* y) {
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        const T* in = static_cast<const T*>(x);
        const T* scale = static_cast<const T*>(gamma);
        const T* shift = static_cast<const T*>(beta);
        T* out = static_cast<T*>(y);
        T* runMean = static_cast<T*>(runningMean);
        T* runVariance = static_cast<T*>(runningVariance);
        T* mean = static_cast<T*>(savedMean);
        T* inverseStd = static_cast<T*>(savedInverseStd);
        const double count = double(n * spatial);
#pragma omp parallel for schedule(static) if (n * channels * spatial >= kParallelElements)
        for (std::int64_t c = 0; c < channels; ++c) {
            double sum = 0.0;
            for (std::int64_t i = 0; i < n; ++i) {
                const T* row = in + (i * channels + c) * spatial;
                for (std::int64_t j = 0; j < spatial; ++j) sum += double(row[j]);
            }
            const double mu = sum / count;
            double squares = 0.0;
            for (std::int64_t i = 0; i < n; ++i) {
                const T* row = in + (i * channels + c) * spatial;
                for (std::int64_t j = 0; j < spatial; ++j) squares += (double(row[j]) - mu) * (double(row[j]) - mu);
            }
            const double variance = squares / count;
            const double invStd = 1.0 / std::sqrt(variance + epsilon);
            const T a = T(double(scale[c]) * invStd);
            const T b = T(double(shift[c]) - mu * double(scale[c]) * invStd);
            for (std::int64_t i = 0; i < n; ++i) {
                const T* row = in + (i * channels + c) * spatial;
                T* target = out + (i * channels + c) * spatial;
                for (std::int64_t j = 0; j < spatial; ++j) target[j] = a * row[j] + b;
            }
            mean[c] = T(mu);
            inverseStd[c] = T(invStd);
            const double unbiased = count > 1.0 ? squares / (count - 1.0) : variance;
            runMean[c] = T((1.0 - momentum) * double(runMean[c]) + momentum * mu);
            runVariance[c] = T((1.0 - momentum) * double(runVariance[c]) + momentum * unbiased);
        }
    });
}

void batchNormForwardInference(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial, const void* x,
                               const void* gamma, const void* beta, const void* runningMean,
                               const void* runningVariance, double epsilon, void* y) {
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        const T* in = static_cast<const T*>(x);
        const T* scale = static_cast<const T*>(gamma);
        const T* shift = static_cast<const T*>(beta);
        const T* runMean = static_cast<const T*>(runningMean);
        const T* runVariance = static_cast<const T*>(runningVariance);
        T* out = static_cast<T*>(y);
#pragma omp parallel for schedule(static) if (n * channels * spatial >= kParallelElements)
        for (std::int64_t i = 0; i < n; ++i) {
            for (std::int64_t c = 0; c < channels; ++c) {
                const double invStd = 1.0 / std::sqrt(double(runVariance[c]) + epsilon);
                const T a = T(double(scale[c]) * invStd);
                const T b = T(double(shift[c]) - double(runMean[c]) * double(scale[c]) * invStd);
                const T* row = in + (i * channels + c) * spatial;
                T* target = out + (i * channels + c) * spatial;
                for (std::int64_t j = 0; j < spatial; ++j) target[j] = a * row[j] + b;
            }
        }
    });
}

void batchNormBackward(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial, const void* x,
                       const void* dy, const void* gamma, const void* savedMean, const void* savedInverseStd, double epsilon, void* dx,
                       void* dgamma, void* dbeta) {
    (void)epsilon;  // the saved inverse standard deviations already hold it
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        const T* in = static_cast<const T*>(x);
        const T* gradOut = static_cast<const T*>(dy);
        const T* scale = static_cast<const T*>(gamma);
        const T* mean = static_cast<const T*>(savedMean);
        const T* inverseStd = static_cast<const T*>(savedInverseStd);
        T* gradIn = static_cast<T*>(dx);
        T* gradScale = static_cast<T*>(dgamma);
        T* gradShift = static_cast<T*>(dbeta);
        const double count = double(n * spatial);
#pragma omp parallel for schedule(static) if (n * channels * spatial >= kParallelElements)
        for (std::int64_t c = 0; c < channels; ++c) {
            const double mu = double(mean[c]), invStd = double(inverseStd[c]);
            double sumDy = 0.0, sumDyXhat = 0.0;
            for (std::int64_t i = 0; i < n; ++i) {
                const std::int64_t base = (i * channels + c) * spatial;
                for (std::int64_t j = 0; j < spatial; ++j) {
                    const double g = double(gradOut[base + j]);
                    sumDy += g;
                    sumDyXhat += g * (double(in[base + j]) - mu) * invStd;
                }
            }
            gradScale[c] = T(sumDyXhat);
            gradShift[c] = T(sumDy);
            if (!gradIn) continue;
            // dx = gamma * invStd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat))
            const double factor = double(scale[c]) * invStd / count;
            for (std::int64_t i = 0; i < n; ++i) {
                const std::int64_t base = (i * channels + c) * spatial;
                for (std::int64_t j = 0; j < spatial; ++j) {
                    const double xhat = (double(in[base + j]) - mu) * invStd;
                    gradIn[base + j] = T(factor * (count * double(gradOut[base + j]) - sumDy - xhat * sumDyXhat));
                }
            }
        }
    });
}

}  // namespace cohort::kernels::cpu_detail
