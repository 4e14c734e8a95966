// Fused optimizer updates of the CUDA backend: SGD, Nesterov and AdamW over a whole flat buffer
// in one launch each. For float buffers whose pointers are all 16-byte aligned the kernel moves
// float4 groups (one 16-byte load per array per group) and thread 0..2 of block 0 take the tail.
// The per-element formulas are the CPU backend's, written once as "steps" shared by both paths.
#include <cstdint>
#include <type_traits>

#include "kernels/cuda/KernelSupport.cuh"

namespace cohort::kernels::cuda_detail {
namespace {

// A step updates one element: gradient g, up to two state values a, b, the parameter p.
template <typename T>
struct SgdStep {
    static constexpr int kStates = 0;
    T learningRate, weightDecay;
    __device__ void operator()(T g, T&, T&, T& p) const { p -= learningRate * (g + weightDecay * p); }
};

template <typename T>
struct NesterovStep {
    static constexpr int kStates = 1;
    T learningRate, momentum, weightDecay;
    __device__ void operator()(T g, T& velocity, T&, T& p) const {
        const T decayed = g + weightDecay * p;
        velocity = momentum * velocity + decayed;
        p -= learningRate * (decayed + momentum * velocity);
    }
};

template <typename T>
struct AdamStep {
    static constexpr int kStates = 2;
    AdamCoefficients<T> c;
    __device__ void operator()(T g, T& m, T& v, T& p) const {
        m = c.beta1 * m + (T(1) - c.beta1) * g;
        v = c.beta2 * v + (T(1) - c.beta2) * g * g;
        const T mHat = m * c.correction1;
        const T vHat = v * c.correction2;
        p -= c.decay * p + c.learningRate * mHat / (deviceSqrt(vHat) + c.epsilon);
    }
};

// The outer steps (Backend::outerUpdate): "gradient" is the mean itself (read before p is
// written), state a the anchor, state b the velocity; p and the anchor both become the result.
template <typename T>
struct OuterSgdStep {
    static constexpr int kStates = 1;
    T keep;  // 1 - lr
    __device__ void operator()(T, T& anchor, T&, T& p) const {
        const T delta = anchor - p;
        p = p + keep * delta;
        anchor = p;
    }
};

template <typename T>
struct OuterNesterovStep {
    static constexpr int kStates = 2;
    T keep, learningRate, momentum;
    __device__ void operator()(T, T& anchor, T& velocity, T& p) const {
        const T delta = anchor - p;
        velocity = momentum * velocity + delta;
        p = p + keep * delta - learningRate * momentum * velocity;
        anchor = p;
    }
};

template <typename T, typename Step>
__device__ inline void updateOne(const Step& step, std::int64_t i, const T* g, T* a, T* b, T* p) {
    T stateA = Step::kStates > 0 ? a[i] : T(0);
    T stateB = Step::kStates > 1 ? b[i] : T(0);
    T parameter = p[i];
    step(g[i], stateA, stateB, parameter);
    p[i] = parameter;
    if (Step::kStates > 0) a[i] = stateA;
    if (Step::kStates > 1) b[i] = stateB;
}

template <typename T, typename Step>
__global__ void updateKernel(std::int64_t count, Step step, const T* g, T* a, T* b, T* p) {
    COHORT_GRID_STRIDE(i, count) { updateOne(step, i, g, a, b, p); }
}

template <typename Step>
__global__ void updateKernelFloat4(std::int64_t count, Step step, const float* g, float* a,
                                   float* b, float* p) {
    const std::int64_t groups = count / 4;
    const auto* g4 = reinterpret_cast<const float4*>(g);
    auto* a4 = reinterpret_cast<float4*>(a);
    auto* b4 = reinterpret_cast<float4*>(b);
    auto* p4 = reinterpret_cast<float4*>(p);
    COHORT_GRID_STRIDE(i, groups) {
        const float4 gradient = g4[i];
        float4 stateA = Step::kStates > 0 ? a4[i] : float4{};
        float4 stateB = Step::kStates > 1 ? b4[i] : float4{};
        float4 parameter = p4[i];
        step(gradient.x, stateA.x, stateB.x, parameter.x);
        step(gradient.y, stateA.y, stateB.y, parameter.y);
        step(gradient.z, stateA.z, stateB.z, parameter.z);
        step(gradient.w, stateA.w, stateB.w, parameter.w);
        p4[i] = parameter;
        if (Step::kStates > 0) a4[i] = stateA;
        if (Step::kStates > 1) b4[i] = stateB;
    }
    const std::int64_t tail = groups * 4 + std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (blockIdx.x == 0 && tail < count) updateOne(step, tail, g, a, b, p);
}

bool aligned16(const void* pointer) { return reinterpret_cast<std::uintptr_t>(pointer) % 16 == 0; }

template <typename T, typename Step>
void launchUpdate(const LaunchContext& ctx, std::int64_t count, const Step& step, const T* g, T* a,
                  T* b, T* p) {
    if (count == 0) return;
    if constexpr (std::is_same_v<T, float>) {
        const bool vectorized = aligned16(g) && aligned16(p) &&
                                (Step::kStates < 1 || aligned16(a)) &&
                                (Step::kStates < 2 || aligned16(b));
        if (vectorized) {
            // At least one block so the tail (count % 4 elements) is always covered.
            updateKernelFloat4<Step><<<gridFor(ctx, count / 4), kThreadsPerBlock, 0, ctx.stream>>>(
                count, step, g, a, b, p);
            COHORT_CUDA_CHECK_LAUNCH();
            return;
        }
    }
    updateKernel<T, Step><<<gridFor(ctx, count), kThreadsPerBlock, 0, ctx.stream>>>(count, step, g,
                                                                                    a, b, p);
    COHORT_CUDA_CHECK_LAUNCH();
}

}  // namespace

template <typename T>
void launchSgdUpdate(const LaunchContext& ctx, std::int64_t count, T learningRate, T weightDecay,
                     const T* gradient, T* parameters) {
    launchUpdate<T>(ctx, count, SgdStep<T>{learningRate, weightDecay}, gradient, nullptr, nullptr,
                    parameters);
}

template <typename T>
void launchNesterovUpdate(const LaunchContext& ctx, std::int64_t count, T learningRate, T momentum,
                          T weightDecay, const T* gradient, T* velocity, T* parameters) {
    launchUpdate<T>(ctx, count, NesterovStep<T>{learningRate, momentum, weightDecay}, gradient,
                    velocity, nullptr, parameters);
}

template <typename T>
void launchAdamUpdate(const LaunchContext& ctx, std::int64_t count,
                      const AdamCoefficients<T>& coefficients, const T* gradient, T* firstMoment,
                      T* secondMoment, T* parameters) {
    launchUpdate<T>(ctx, count, AdamStep<T>{coefficients}, gradient, firstMoment, secondMoment,
                    parameters);
}

template <typename T>
void launchOuterUpdate(const LaunchContext& ctx, std::int64_t count, double learningRate, double momentum,
                       T* parameters, T* anchor, T* velocity) {
    const T keep = T(1.0 - learningRate);
    if (velocity == nullptr) {
        launchUpdate<T>(ctx, count, OuterSgdStep<T>{keep}, parameters, anchor, nullptr, parameters);
    } else {
        launchUpdate<T>(ctx, count, OuterNesterovStep<T>{keep, T(learningRate), T(momentum)}, parameters, anchor,
                        velocity, parameters);
    }
}

#define COHORT_INSTANTIATE_OPTIMIZERS(T)                                                          \
    template void launchSgdUpdate<T>(const LaunchContext&, std::int64_t, T, T, const T*, T*);    \
    template void launchNesterovUpdate<T>(const LaunchContext&, std::int64_t, T, T, T, const T*, \
                                          T*, T*);                                              \
    template void launchAdamUpdate<T>(const LaunchContext&, std::int64_t,                        \
                                      const AdamCoefficients<T>&, const T*, T*, T*, T*);       \
    template void launchOuterUpdate<T>(const LaunchContext&, std::int64_t, double, double, T*, T*, T*);
COHORT_INSTANTIATE_OPTIMIZERS(float)
COHORT_INSTANTIATE_OPTIMIZERS(double)

}  // namespace cohort::kernels::cuda_detail
