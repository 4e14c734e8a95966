// The CPU backend's optimizer update loops.
#include "kernels/cpu/CpuClones.h"
#include "kernels/cpu/CpuOptimizers.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels/DTypeDispatch.h"
#include "kernels/cpu/ParallelThreshold.h"

namespace cohort::kernels::cpu_detail {

void sgdUpdate(DType dtype, std::int64_t count, double learningRate, double weightDecay, const void* gradient,
               void* parameters) {
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        const T* g = static_cast<const T*>(gradient);
        T* p = static_cast<T*>(parameters);
        const T lr = T(learningRate), wd = T(weightDecay);
#pragma omp parallel for schedule(static) if (count >= kParallelElements)
        for (std::int64_t i = 0; i < count; ++i) p[i] -= lr * (g[i] + wd * p[i]);
    });
}

void nesterovUpdate(DType dtype, std::int64_t count, double learningRate, double momentum, double weightDecay,
                    const void* gradient, void* velocity, void* parameters) {
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        const T* g = static_cast<const T*>(gradient);
        T* v = static_cast<T*>(velocity);
        T* p = static_cast<T*>(parameters);
        const T lr = T(learningRate), mu = T(momentum), wd = T(weightDecay);
#pragma omp parallel for schedule(static) if (count >= kParallelElements)
        for (std::int64_t i = 0; i < count; ++i) {
            const T gradient_i = g[i] + wd * p[i];
            v[i] = mu * v[i] + gradient_i;
            p[i] -= lr * (gradient_i + mu * v[i]);
        }
    });
}

void outerUpdate(DType dtype, std::int64_t count, double learningRate, double momentum, void* parameters, void* anchor,
                 void* velocity) {
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        T* p = static_cast<T*>(parameters);
        T* a = static_cast<T*>(anchor);
        T* v = static_cast<T*>(velocity);
        const T lr = T(learningRate), keep = T(1.0 - learningRate), mu = T(momentum);
        if (v == nullptr) {
#pragma omp parallel for schedule(static) if (count >= kParallelElements)
            for (std::int64_t i = 0; i < count; ++i) {
                const T delta = a[i] - p[i];
                a[i] = p[i] = p[i] + keep * delta;
            }
            return;
        }
#pragma omp parallel for schedule(static) if (count >= kParallelElements)
        for (std::int64_t i = 0; i < count; ++i) {
            const T delta = a[i] - p[i];
            v[i] = mu * v[i] + delta;
            a[i] = p[i] = p[i] + keep * delta - lr * mu * v[i];
        }
    });
}

namespace {

// One block of Adam. The float version is compiled for AVX-512 and AVX2 as well as the baseline
// and the best the CPU has is picked at load time (GCC's target_clones): the update streams four
// arrays and is a tenth of the MLP's CPU step. The file is built without floating-point
// contraction, so every clone rounds exactly as the baseline does and results do not depend on
// the CPU.
template <typename T>
void adamBlock(std::int64_t begin, std::int64_t end, const T* __restrict g, T* __restrict m, T* __restrict v,
               T* __restrict p, T b1, T b2, T eps, T lr, T decay, T correction1, T correction2) {
    for (std::int64_t i = begin; i < end; ++i) {
        m[i] = b1 * m[i] + (T(1) - b1) * g[i];
        v[i] = b2 * v[i] + (T(1) - b2) * g[i] * g[i];
        const T mHat = m[i] * correction1;
        const T vHat = v[i] * correction2;
        p[i] -= decay * p[i] + lr * mHat / (std::sqrt(vHat) + eps);
    }
}


COHORT_CPU_CLONES void adamBlockFloat(
    std::int64_t begin, std::int64_t end, const float* __restrict g, float* __restrict m, float* __restrict v,
    float* __restrict p, float b1, float b2, float eps, float lr, float decay, float correction1, float correction2) {
    adamBlock<float>(begin, end, g, m, v, p, b1, b2, eps, lr, decay, correction1, correction2);
}

}  // namespace

void adamUpdate(DType dtype, std::int64_t count, const AdamHyper& hyper, const void* gradient, void* firstMoment,
                void* secondMoment, void* parameters) {
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        const T* g = static_cast<const T*>(gradient);
        T* m = static_cast<T*>(firstMoment);
        T* v = static_cast<T*>(secondMoment);
        T* p = static_cast<T*>(parameters);
        const T b1 = T(hyper.beta1), b2 = T(hyper.beta2), eps = T(hyper.epsilon);
        const T lr = T(hyper.learningRate), decay = T(hyper.learningRate * hyper.weightDecay);
        const T correction1 = T(1.0 / (1.0 - std::pow(hyper.beta1, double(hyper.step))));
        const T correction2 = T(1.0 / (1.0 - std::pow(hyper.beta2, double(hyper.step))));
        inBlocks(count, [&](std::int64_t begin, std::int64_t end) {
            if constexpr (std::is_same_v<T, float>) {
                adamBlockFloat(begin, end, g, m, v, p, b1, b2, eps, lr, decay, correction1, correction2);
            } else {
                adamBlock<T>(begin, end, g, m, v, p, b1, b2, eps, lr, decay, correction1, correction2);
            }
        });
    });
}

}  // namespace cohort::kernels::cpu_detail
