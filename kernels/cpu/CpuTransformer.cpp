// GELU, layer normalisation, embeddings and attention on the CPU (see kernels/cpu/CpuTransformer.h).
#include "kernels/cpu/CpuTransformer.h"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "kernels/DTypeDispatch.h"
#include "kernels/cpu/CpuClones.h"
#include "kernels/cpu/CpuBandedProduct.h"
#include "kernels/cpu/CpuVectors.h"
#include "kernels/cpu/ParallelThreshold.h"

namespace cohort::kernels::cpu_detail {
namespace {

constexpr double kGeluScale = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kGeluCubic = 0.044715;

// Float GELU without libm: GPT-2's x/2 (1 + tanh u) is exactly x * s with s = 1 / (1 + e^(-2u)) (the
// logistic of 2u, no cancellation near u = 0), and its derivative s + 2 x s (1 - s) du/dx. e^z by
// Cephes' expf: z = n ln 2 + r, a degree-6 polynomial in r, 2^n from the exponent bits; within 2
// ulp, and a loop of it vectorises (libm's tanhf does not: it was most of a GPT step).
// The pieces expOf below is written with, for one float and for 8 lanes (vectors::Floats): it is one
// template, so each lane of the vector form is bitwise the scalar form's value.
[[gnu::always_inline]] inline float clampTo(float z, float low, float high) { return std::min(high, std::max(low, z)); }
[[gnu::always_inline]] inline vectors::Floats clampTo(vectors::Floats z, float low, float high) {
    return vectors::min(vectors::splat(high), vectors::max(vectors::splat(low), z));
}
[[gnu::always_inline]] inline std::int32_t bitsOf(float x) { return std::bit_cast<std::int32_t>(x); }
[[gnu::always_inline]] inline vectors::Ints bitsOf(vectors::Floats x) { return vectors::Ints(x); }
[[gnu::always_inline]] inline float floatsOf(std::int32_t bits) { return std::bit_cast<float>(bits); }
[[gnu::always_inline]] inline vectors::Floats floatsOf(vectors::Ints bits) { return vectors::Floats(bits); }

template <typename F>  // float or vectors::Floats
[[gnu::always_inline]] inline F expOf(F z) {
    // (min and max, not comparisons and blends: a third of the GELU's time went to the blends)
    z = clampTo(z, -87.0f, 88.0f);
    // n = z log2 e rounded to the nearest integer by adding 1.5 x 2^23, whose float keeps no
    // fraction: the sum's low mantissa bits are n itself (no float-int conversions, which cost as
    // much again).
    const F shifted = z * 1.44269504088896341f + 12582912.0f;
    const F n = shifted - 12582912.0f;
    const auto k = bitsOf(shifted) - 0x4B400000;
    const F r = z - n * 0.693359375f + n * 2.12194440e-4f;
    F p = F{} + 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    return p * floatsOf((k + 127) << 23);
}

template <typename F>  // float or vectors::Floats, as expOf
[[gnu::always_inline]] inline F geluLogistic(F x) {  // s above
    const F u = float(kGeluScale) * (x + float(kGeluCubic) * x * x * x);
    return 1.0f / (1.0f + expOf(-2.0f * u));
}

COHORT_CPU_CLONES void geluForwardFloat(std::int64_t begin, std::int64_t end, const float* x, float* y) {
    for (std::int64_t i = begin; i < end; ++i) y[i] = x[i] * geluLogistic(x[i]);
}

template <typename F>
[[gnu::always_inline]] inline F geluDerivativeOf(F v, F s) {  // s = geluLogistic(v)
    const F du = float(kGeluScale) * (1.0f + float(3 * kGeluCubic) * v * v);
    return s + 2.0f * v * s * (1.0f - s) * du;
}

COHORT_CPU_CLONES void geluBackwardFloat(std::int64_t begin, std::int64_t end, const float* x, const float* dy,
                                         float* dx) {
    for (std::int64_t i = begin; i < end; ++i) {
        const float v = x[i];
        dx[i] = dy[i] * geluDerivativeOf(v, geluLogistic(v));
    }
}

// The training forward pass on four vectors at a time (each step of the four side by side: the
// exponential is one long chain of dependent operations, and four of them keep the vector units
// busy), the same operations in the same order as the loops above, so bitwise their values.
constexpr std::int64_t kGeluVectors = 4;

[[gnu::always_inline]] inline void geluWithDerivativeInVectors(std::int64_t begin, std::int64_t end, const float* x,
                                                               float* y, float* dydx) {
    using vectors::Floats;
    constexpr std::int64_t lanes = vectors::kLanes<float>, step = kGeluVectors * lanes;
    std::int64_t i = begin;
    for (; i + step <= end; i += step) {
        Floats v[kGeluVectors], s[kGeluVectors];
        for (int k = 0; k < kGeluVectors; ++k) v[k] = vectors::load(x + i + k * lanes);
        for (int k = 0; k < kGeluVectors; ++k) s[k] = geluLogistic(v[k]);
        for (int k = 0; k < kGeluVectors; ++k) {
            vectors::store(y + i + k * lanes, v[k] * s[k]);
            vectors::store(dydx + i + k * lanes, geluDerivativeOf(v[k], s[k]));
        }
    }
    for (; i < end; ++i) {
        const float v = x[i], s = geluLogistic(v);
        y[i] = v * s;
        dydx[i] = geluDerivativeOf(v, s);
    }
}

COHORT_CPU_CLONES void geluWithDerivativeFloat(std::int64_t begin, std::int64_t end, const float* x, float* y,
                                               float* dydx) {
    geluWithDerivativeInVectors(begin, end, x, y, dydx);
}

// The sum of term(f) for f in [0, count), in 8 interleaved partial sums added pairwise at the end:
// independent lanes, so the loop vectorises (one running sum is a chain of dependent additions),
// and the order is fixed, so the result is too.
// (The entries past the last whole 8 go to a ninth sum, added last: lanes indexed by a variable
// would live in memory, not registers.) Sums in Acc: double by default, the element type where a
// float sum of a row is accurate enough (layer norm's statistics of a few hundred features).
template <typename Acc = double, typename Term>
[[gnu::always_inline]] inline Acc laneSum(std::int64_t count, Term term) {
    Acc lanes[8] = {};
    std::int64_t f = 0;
    for (; f + 8 <= count; f += 8) {
        for (int l = 0; l < 8; ++l) lanes[l] += Acc(term(f + l));
    }
    Acc rest = Acc(0);
    for (; f < count; ++f) rest += Acc(term(f));
    return (((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))) + rest;
}

template <typename T>
T gelu(T x) {
    const T u = T(kGeluScale) * (x + T(kGeluCubic) * x * x * x);
    return T(0.5) * x * (T(1) + std::tanh(u));
}

template <typename T>
T geluDerivative(T x) {
    const T u = T(kGeluScale) * (x + T(kGeluCubic) * x * x * x);
    const T t = std::tanh(u);
    const T du = T(kGeluScale) * (T(1) + T(3 * kGeluCubic) * x * x);
    return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du;
}

// Where one (sequence, head) pair's pieces live.
struct AttentionPair {
    std::int64_t positions, width, stride;  // rows, head width, row stride of qkv (3 C)
    std::int64_t queryOffset, outputOffset, outputStride, scoresOffset;

    AttentionPair(std::int64_t pair, std::int64_t heads, std::int64_t positions_, std::int64_t headWidth)
        : positions(positions_), width(headWidth), stride(3 * heads * headWidth) {
        const std::int64_t sequence = pair / heads, head = pair % heads;
        queryOffset = sequence * positions * stride + head * headWidth;
        outputStride = heads * headWidth;
        outputOffset = sequence * positions * outputStride + head * headWidth;
        scoresOffset = pair * positions * positions;
    }
    std::int64_t keyOffset() const { return queryOffset + stride / 3; }
    std::int64_t valueOffset() const { return queryOffset + 2 * (stride / 3); }
};

// e^z: the vectorisable float exp above, libm's in double (the gradient checks' precision).
[[gnu::always_inline]] inline float exponential(float z) { return expOf(z); }
inline double exponential(double z) { return std::exp(z); }

// The largest of row[0, count) in 8 interleaved lanes (a loop that vectorises, in a fixed order).
template <typename T>
[[gnu::always_inline]] inline T laneMax(const T* row, std::int64_t count) {
    T lanes[8];
    for (T& lane : lanes) lane = row[0];
    std::int64_t f = 0;
    for (; f + 8 <= count; f += 8) {
        for (int l = 0; l < 8; ++l) lanes[l] = std::max(lanes[l], row[f + l]);
    }
    for (; f < count; ++f) lanes[0] = std::max(lanes[0], row[f]);
    return std::max(std::max(std::max(lanes[0], lanes[1]), std::max(lanes[2], lanes[3])),
                    std::max(std::max(lanes[4], lanes[5]), std::max(lanes[6], lanes[7])));
}

// Row i of the scores in place: the causal softmax of its first i + 1 entries, zeros after.
template <typename T>
[[gnu::always_inline]] inline void causalSoftmaxRows(T* scores, std::int64_t positions) {
    for (std::int64_t i = 0; i < positions; ++i) {
        T* row = scores + i * positions;
        const T maximum = laneMax(row, i + 1);
        for (std::int64_t j = 0; j <= i; ++j) row[j] = exponential(row[j] - maximum);
        const T inverse = T(1.0 / laneSum(i + 1, [&](std::int64_t j) { return double(row[j]); }));
        for (std::int64_t j = 0; j <= i; ++j) row[j] *= inverse;
        for (std::int64_t j = i + 1; j < positions; ++j) row[j] = T(0);
    }
}

// dS = P * (dP - rowsum(dP * P)) * scale, in place over dP (masked entries stay 0 as P is 0 there).
template <typename T>
[[gnu::always_inline]] inline void softmaxBackwardRows(const T* probabilities, T* gradient, std::int64_t positions,
                                                       T scale) {
    for (std::int64_t i = 0; i < positions; ++i) {
        const T* p = probabilities + i * positions;
        T* g = gradient + i * positions;
        const T dot = T(laneSum(i + 1, [&](std::int64_t j) { return double(p[j]) * double(g[j]); }));
        for (std::int64_t j = 0; j <= i; ++j) g[j] = p[j] * (g[j] - dot) * scale;
        for (std::int64_t j = i + 1; j < positions; ++j) g[j] = T(0);
    }
}

// One row of the softmax cross-entropy: its loss (log sum e^(x - max) - (x[label] - max), in double)
// and, when g is given, g = gradScale (softmax - onehot). e^(x - max) is computed once per entry
// (kept in g while the sum is taken); the float path's is the vectorised expOf.
template <typename T>
[[gnu::always_inline]] inline double crossEntropyRow(const T* row, std::int64_t classes, std::int32_t label,
                                                     T maximum, T* g, double gradScale) {
    double sum = 0.0;
    if (g == nullptr) {
        sum = laneSum(classes, [&](std::int64_t c) { return double(exponential(row[c] - maximum)); });
    } else {
        for (std::int64_t c = 0; c < classes; ++c) g[c] = exponential(row[c] - maximum);
        sum = laneSum(classes, [&](std::int64_t c) { return double(g[c]); });
        const double scale = gradScale / sum;
        for (std::int64_t c = 0; c < classes; ++c) g[c] = T(double(g[c]) * scale);
        g[label] = T(double(g[label]) - gradScale);
    }
    return std::log(sum) - double(row[label] - maximum);
}

// The float rows in vectors when a row is whole vectors (the baby GPT's 64 positions; other lengths
// take the loops above). The band's last vector is masked in registers: its entries past the
// diagonal count as row[0] for the maximum and as 0 in the sum, and are stored as 0. Sums in 8
// lanes added in pairs: a fixed order, so the result does not depend on the CPU.
constexpr std::int64_t kSoftmaxLanes = vectors::kLanes<float>;

[[gnu::always_inline]] inline vectors::Ints bandMask(std::int64_t i, std::int64_t last) {  // lanes of row i's last vector
    const vectors::Ints lane = {0, 1, 2, 3, 4, 5, 6, 7};
    return lane < vectors::Ints{} + std::int32_t(i + 1 - last);
}

// (The vector code sits in always-inlined helpers, not in the clones themselves: Clang checks calls
// that pass vectors in the baseline clone's own body, and the helpers' are checked once inlined.)
[[gnu::always_inline]] inline void causalSoftmaxInVectors(float* scores, std::int64_t positions) {
    using vectors::Floats;
    for (std::int64_t i = 0; i < positions; ++i) {
        float* row = scores + i * positions;
        const std::int64_t last = i / kSoftmaxLanes * kSoftmaxLanes;
        const vectors::Ints inBand = bandMask(i, last);
        Floats maxima = vectors::select(inBand, vectors::load(row + last), vectors::splat(row[0]));
        for (std::int64_t j = 0; j < last; j += kSoftmaxLanes) maxima = vectors::max(maxima, vectors::load(row + j));
        const float maximum = vectors::largest(maxima);
        Floats sums{};
        for (std::int64_t j = 0; j < last; j += kSoftmaxLanes) {
            const Floats e = expOf(vectors::load(row + j) - maximum);
            vectors::store(row + j, e);
            sums += e;
        }
        const Floats lastExponentials = vectors::select(inBand, expOf(vectors::load(row + last) - maximum), Floats{});
        sums += lastExponentials;
        const float inverse = 1.0f / vectors::sum(sums);
        for (std::int64_t j = 0; j < last; j += kSoftmaxLanes) vectors::store(row + j, vectors::load(row + j) * inverse);
        vectors::store(row + last, lastExponentials * inverse);
        for (std::int64_t j = last + kSoftmaxLanes; j < positions; j += kSoftmaxLanes) vectors::store(row + j, Floats{});
    }
}

[[gnu::always_inline]] inline void softmaxBackwardInVectors(const float* probabilities, float* gradient,
                                                            std::int64_t positions, float scale) {
    using vectors::Floats;
    for (std::int64_t i = 0; i < positions; ++i) {
        const float* p = probabilities + i * positions;
        float* g = gradient + i * positions;
        const std::int64_t last = i / kSoftmaxLanes * kSoftmaxLanes;
        const vectors::Ints inBand = bandMask(i, last);
        Floats sums{};
        for (std::int64_t j = 0; j < last; j += kSoftmaxLanes) sums += vectors::load(p + j) * vectors::load(g + j);
        const Floats pLast = vectors::load(p + last), gLast = vectors::select(inBand, vectors::load(g + last), Floats{});
        sums += pLast * gLast;
        const float dot = vectors::sum(sums);
        for (std::int64_t j = 0; j < last; j += kSoftmaxLanes) {
            vectors::store(g + j, vectors::load(p + j) * (vectors::load(g + j) - dot) * scale);
        }
        vectors::store(g + last, vectors::select(inBand, pLast * (gLast - dot) * scale, Floats{}));
        for (std::int64_t j = last + kSoftmaxLanes; j < positions; j += kSoftmaxLanes) vectors::store(g + j, Floats{});
    }
}

// Each loop above as a pair of overloads: the float one compiled for the vector units the CPU has
// (target clones), the double one (the gradient checks' reference) for the baseline.
COHORT_CPU_CLONES void causalSoftmax(float* scores, std::int64_t positions) {
    if (positions % kSoftmaxLanes == 0) {
        causalSoftmaxInVectors(scores, positions);
    } else {
        causalSoftmaxRows(scores, positions);
    }
}
void causalSoftmax(double* scores, std::int64_t positions) { causalSoftmaxRows(scores, positions); }
COHORT_CPU_CLONES void softmaxBackward(const float* probabilities, float* gradient, std::int64_t positions,
                                       float scale) {
    if (positions % kSoftmaxLanes == 0) {
        softmaxBackwardInVectors(probabilities, gradient, positions, scale);
    } else {
        softmaxBackwardRows(probabilities, gradient, positions, scale);
    }
}
void softmaxBackward(const double* probabilities, double* gradient, std::int64_t positions, double scale) {
    softmaxBackwardRows(probabilities, gradient, positions, scale);
}
COHORT_CPU_CLONES double crossEntropyOfRow(const float* row, std::int64_t classes, std::int32_t label, float maximum,
                                           float* g, double gradScale) {
    return crossEntropyRow(row, classes, label, maximum, g, gradScale);
}
double crossEntropyOfRow(const double* row, std::int64_t classes, std::int32_t label, double maximum, double* g,
                         double gradScale) {
    return crossEntropyRow(row, classes, label, maximum, g, gradScale);
}

}  // namespace

void softmaxCrossEntropy(DType dtype, std::int64_t rows, std::int64_t classes, const void* logits,
                         const std::int32_t* labels, void* lossSum, void* grad, double gradScale, std::int64_t* correct) {
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        const T* in = static_cast<const T*>(logits);
        T* gradOut = static_cast<T*>(grad);
        double total = 0.0;
        std::int64_t hits = 0;
        for (std::int64_t r = 0; r < rows; ++r) {
            const T* row = in + r * classes;
            const std::int32_t label = labels[r];
            if (label < 0 || label >= classes) {
                throw std::invalid_argument("softmaxCrossEntropy: label " + std::to_string(label) + " outside [0, " +
                                            std::to_string(classes) + ")");
            }
            std::int64_t best = 0;  // the first largest logit
            bool undefined = std::isnan(row[0]);
            for (std::int64_t c = 1; c < classes; ++c) {
                best = row[c] > row[best] ? c : best;
                undefined = undefined || std::isnan(row[c]);
            }
            if (best == label) ++hits;
            T* g = gradOut ? gradOut + r * classes : nullptr;
            if (undefined) {  // a NaN logit makes the loss and the row's gradients NaN (divergence is seen)
                total += std::numeric_limits<double>::quiet_NaN();
                if (g) std::fill_n(g, classes, std::numeric_limits<T>::quiet_NaN());
                continue;
            }
            total += crossEntropyOfRow(row, classes, label, row[best], g, gradScale);
        }
        *static_cast<T*>(lossSum) = T(total);
        if (correct) *correct = hits;
    });
}

void geluForward(DType dtype, std::int64_t count, const void* x, void* y) {
    if (dtype == DType::Float32) {  // (y may alias x: one element read, then written, at a time)
        inBlocks(count, [&](std::int64_t begin, std::int64_t end) {
            geluForwardFloat(begin, end, static_cast<const float*>(x), static_cast<float*>(y));
        });
        return;
    }
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        const T* in = static_cast<const T*>(x);
        T* out = static_cast<T*>(y);
#pragma omp parallel for schedule(static) if (count >= kParallelElements)
        for (std::int64_t i = 0; i < count; ++i) out[i] = gelu(in[i]);
    });
}

void geluBackward(DType dtype, std::int64_t count, const void* x, const void* dy, void* dx) {
    if (dtype == DType::Float32) {
        inBlocks(count, [&](std::int64_t begin, std::int64_t end) {
            geluBackwardFloat(begin, end, static_cast<const float*>(x), static_cast<const float*>(dy),
                              static_cast<float*>(dx));
        });
        return;
    }
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        const T* in = static_cast<const T*>(x);
        const T* gradOut = static_cast<const T*>(dy);
        T* gradIn = static_cast<T*>(dx);
#pragma omp parallel for schedule(static) if (count >= kParallelElements)
        for (std::int64_t i = 0; i < count; ++i) gradIn[i] = gradOut[i] * geluDerivative(in[i]);
    });
}

void geluForwardWithDerivative(DType dtype, std::int64_t count, const void* x, void* y, void* dydx) {
    if (dtype == DType::Float32) {  // (y may alias x: one element read, then written, at a time)
        inBlocks(count, [&](std::int64_t begin, std::int64_t end) {
            geluWithDerivativeFloat(begin, end, static_cast<const float*>(x), static_cast<float*>(y),
                                    static_cast<float*>(dydx));
        });
        return;
    }
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        const T* in = static_cast<const T*>(x);
        T* out = static_cast<T*>(y);
        T* derivative = static_cast<T*>(dydx);
#pragma omp parallel for schedule(static) if (count >= kParallelElements)
        for (std::int64_t i = 0; i < count; ++i) {
            const T v = in[i];
            derivative[i] = geluDerivative(v);
            out[i] = gelu(v);
        }
    });
}

namespace {

// Rows [begin, end) of layer normalisation's forward pass (statistics in double).
template <typename T>
[[gnu::always_inline]] inline void layerNormRows(std::int64_t begin, std::int64_t end, std::int64_t features,
                                                 double epsilon, const T* in, const T* g, const T* b, T* out, T* means,
                                                 T* rstds) {
    for (std::int64_t r = begin; r < end; ++r) {
        const T* row = in + r * features;
        const T mu = laneSum<T>(features, [&](std::int64_t f) { return row[f]; }) / T(features);
        const T squares = laneSum<T>(features, [&](std::int64_t f) { return (row[f] - mu) * (row[f] - mu); });
        const T inverse = T(1.0 / std::sqrt(double(squares) / double(features) + epsilon));
        means[r] = mu;
        rstds[r] = inverse;
        T* o = out + r * features;
        for (std::int64_t f = 0; f < features; ++f) o[f] = (row[f] - mu) * inverse * g[f] + b[f];
    }
}

// dgain and dbias over the features [begin, begin + width) (width <= kFeatureBlock), each feature's
// rows summed in row order.
constexpr std::int64_t kFeatureBlock = 64;
template <typename T>
[[gnu::always_inline]] inline void layerNormParameterGradients(std::int64_t begin, std::int64_t width,
                                                               std::int64_t rows, std::int64_t features, const T* in,
                                                               const T* means, const T* rstds, const T* gradOut,
                                                               T* gradGain, T* gradBias) {
    T gainSum[kFeatureBlock] = {}, biasSum[kFeatureBlock] = {};
    for (std::int64_t r = 0; r < rows; ++r) {
        const T* d = gradOut + r * features + begin;
        const T* row = in + r * features + begin;
        const T mu = means[r], inverse = rstds[r];
        for (std::int64_t f = 0; f < width; ++f) {
            gainSum[f] += d[f] * (row[f] - mu) * inverse;
            biasSum[f] += d[f];
        }
    }
    for (std::int64_t f = 0; f < width; ++f) gradGain[begin + f] = gainSum[f], gradBias[begin + f] = biasSum[f];
}

// dx rows [begin, end): rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), dxhat = dy * gain, in T
// (the two means summed in lanes of T, as the forward pass's statistics).
template <typename T>
[[gnu::always_inline]] inline void layerNormInputGradientRows(std::int64_t begin, std::int64_t end,
                                                              std::int64_t features, const T* in, const T* g,
                                                              const T* means, const T* rstds, const T* gradOut,
                                                              T* gradIn) {
    for (std::int64_t r = begin; r < end; ++r) {
        const T* row = in + r * features;
        const T* d = gradOut + r * features;
        const T mu = means[r], inverse = rstds[r];
        const T meanD = laneSum<T>(features, [&](std::int64_t f) { return d[f] * g[f]; }) / T(features);
        const T meanDX = laneSum<T>(features, [&](std::int64_t f) { return d[f] * g[f] * ((row[f] - mu) * inverse); }) /
                         T(features);
        for (std::int64_t f = 0; f < features; ++f) {
            const T xhat = (row[f] - mu) * inverse;
            gradIn[r * features + f] = inverse * (d[f] * g[f] - meanD - xhat * meanDX);
        }
    }
}

// The three loops as overload pairs, float cloned and double baseline (as the softmax's above).
COHORT_CPU_CLONES void normalizeRows(std::int64_t begin, std::int64_t end, std::int64_t features, double epsilon,
                                     const float* in, const float* g, const float* b, float* out, float* means,
                                     float* rstds) {
    layerNormRows(begin, end, features, epsilon, in, g, b, out, means, rstds);
}
void normalizeRows(std::int64_t begin, std::int64_t end, std::int64_t features, double epsilon, const double* in,
                   const double* g, const double* b, double* out, double* means, double* rstds) {
    layerNormRows(begin, end, features, epsilon, in, g, b, out, means, rstds);
}
COHORT_CPU_CLONES void normParameterGradients(std::int64_t begin, std::int64_t width, std::int64_t rows,
                                              std::int64_t features, const float* in, const float* means,
                                              const float* rstds, const float* gradOut, float* gradGain,
                                              float* gradBias) {
    layerNormParameterGradients(begin, width, rows, features, in, means, rstds, gradOut, gradGain, gradBias);
}
void normParameterGradients(std::int64_t begin, std::int64_t width, std::int64_t rows, std::int64_t features,
                            const double* in, const double* means, const double* rstds, const double* gradOut,
                            double* gradGain, double* gradBias) {
    layerNormParameterGradients(begin, width, rows, features, in, means, rstds, gradOut, gradGain, gradBias);
}
COHORT_CPU_CLONES void normInputGradientRows(std::int64_t begin, std::int64_t end, std::int64_t features,
                                             const float* in, const float* g, const float* means, const float* rstds,
                                             const float* gradOut, float* gradIn) {
    layerNormInputGradientRows(begin, end, features, in, g, means, rstds, gradOut, gradIn);
}
void normInputGradientRows(std::int64_t begin, std::int64_t end, std::int64_t features, const double* in,
                           const double* g, const double* means, const double* rstds, const double* gradOut,
                           double* gradIn) {
    layerNormInputGradientRows(begin, end, features, in, g, means, rstds, gradOut, gradIn);
}

// body(begin, end) over [0, rows) in blocks of 8 rows, split across threads when `parallel`.
template <typename Body>
void inRowBlocks(std::int64_t rows, bool parallel, Body body) {
    constexpr std::int64_t kRows = 8;
    const std::int64_t blocks = (rows + kRows - 1) / kRows;
#pragma omp parallel for schedule(static) if (parallel)
    for (std::int64_t block = 0; block < blocks; ++block) body(block * kRows, std::min(rows, (block + 1) * kRows));
}

}  // namespace

void layerNormForward(DType dtype, std::int64_t rows, std::int64_t features, double epsilon, const void* x,
                      const void* gain, const void* bias, void* y, void* mean, void* rstd) {
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        const T* in = static_cast<const T*>(x);
        inRowBlocks(rows, rows * features >= kParallelElements, [&](std::int64_t begin, std::int64_t end) {
            normalizeRows(begin, end, features, epsilon, in, static_cast<const T*>(gain),
                            static_cast<const T*>(bias), static_cast<T*>(y), static_cast<T*>(mean),
                            static_cast<T*>(rstd));
        });
    });
}

void layerNormBackward(DType dtype, std::int64_t rows, std::int64_t features, const void* x, const void* gain,
                       const void* mean, const void* rstd, const void* dy, void* dx, void* dgain, void* dbias) {
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        const T* in = static_cast<const T*>(x);
        const T* means = static_cast<const T*>(mean);
        const T* rstds = static_cast<const T*>(rstd);
        const T* gradOut = static_cast<const T*>(dy);
        const bool parallel = rows * features >= kParallelElements;
        // dgain[f] = sum_r dy * xhat, dbias[f] = sum_r dy: threads own blocks of features and walk
        // the rows, so the inner loop runs along a row.
        const std::int64_t blocks = (features + kFeatureBlock - 1) / kFeatureBlock;
#pragma omp parallel for schedule(static) if (parallel)
        for (std::int64_t block = 0; block < blocks; ++block) {
            const std::int64_t begin = block * kFeatureBlock;
            normParameterGradients(begin, std::min(kFeatureBlock, features - begin), rows, features, in, means,
                                   rstds, gradOut, static_cast<T*>(dgain), static_cast<T*>(dbias));
        }
        if (dx == nullptr) return;
        inRowBlocks(rows, parallel, [&](std::int64_t begin, std::int64_t end) {
            normInputGradientRows(begin, end, features, in, static_cast<const T*>(gain), means, rstds, gradOut,
                                  static_cast<T*>(dx));
        });
    });
}

void embeddingForward(DType dtype, std::int64_t rows, std::int64_t positions, std::int64_t width, const void* ids,
                      const void* tokens, const void* positionTable, void* y) {
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        const T* id = static_cast<const T*>(ids);
        const T* token = static_cast<const T*>(tokens);
        const T* position = static_cast<const T*>(positionTable);
        T* out = static_cast<T*>(y);
#pragma omp parallel for schedule(static) if (rows * width >= kParallelElements)
        for (std::int64_t r = 0; r < rows; ++r) {
            const T* t = token + std::int64_t(id[r]) * width;
            const T* p = position + (r % positions) * width;
            for (std::int64_t c = 0; c < width; ++c) out[r * width + c] = t[c] + p[c];
        }
    });
}

void embeddingBackward(DType dtype, std::int64_t rows, std::int64_t positions, std::int64_t width,
                       std::int64_t vocabulary, const void* ids, const void* dy, void* dTokens, void* dPositions) {
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        const T* id = static_cast<const T*>(ids);
        const T* gradOut = static_cast<const T*>(dy);
        T* gradToken = static_cast<T*>(dTokens);
        T* gradPosition = static_cast<T*>(dPositions);
        const bool parallel = rows * width >= kParallelElements;
#pragma omp parallel for schedule(static) if (parallel)
        for (std::int64_t v = 0; v < vocabulary; ++v) {
            T* g = gradToken + v * width;
            for (std::int64_t c = 0; c < width; ++c) g[c] = T(0);
            for (std::int64_t r = 0; r < rows; ++r) {
                if (std::int64_t(id[r]) != v) continue;
                for (std::int64_t c = 0; c < width; ++c) g[c] += gradOut[r * width + c];
            }
        }
#pragma omp parallel for schedule(static) if (parallel)
        for (std::int64_t p = 0; p < positions; ++p) {
            T* g = gradPosition + p * width;
            for (std::int64_t c = 0; c < width; ++c) g[c] = T(0);
            for (std::int64_t r = p; r < rows; r += positions) {
                for (std::int64_t c = 0; c < width; ++c) g[c] += gradOut[r * width + c];
            }
        }
    });
}

namespace {

template <typename T>
void attentionPairForward(const AttentionPair& at, const T* in, T* s, T* keysT, T* out) {
    const std::int64_t positions = at.positions, width = at.width;
    const T scale = T(1.0 / std::sqrt(double(width)));
    // S = Q K^T / sqrt(d) on and below the diagonal, the causal softmax per row, Y = P V (P is 0
    // above the diagonal, so row i sums the first i + 1 values only).
    transposeRows(keysT, in + at.keyOffset(), positions, width, at.stride);
    bandedProduct<T>(Band::ColumnsToDiagonal, positions, positions, width, scale,
                     {in + at.queryOffset, at.stride, 1, keysT, positions, s, positions});
    causalSoftmax(s, positions);
    bandedProduct<T>(Band::DepthToDiagonal, positions, width, positions, T(1),
                     {s, positions, 1, in + at.valueOffset(), at.stride, out + at.outputOffset, at.outputStride});
}

template <typename T>
void attentionPairBackward(const AttentionPair& at, const T* in, const T* p, const T* dY, T* g, T* valuesT,
                           T* gradIn) {
    const std::int64_t positions = at.positions, width = at.width;
    const T scale = T(1.0 / std::sqrt(double(width)));
    // dV = P^T dY; dP = dY V^T; dS = softmax backward of dP, scaled; dQ = dS K; dK = dS^T Q. P and
    // dS are 0 above the diagonal: P^T and dS^T rows j sum i >= j only.
    bandedProduct<T>(Band::DepthFromDiagonal, positions, width, positions, T(1),
                     {p, 1, positions, dY, at.outputStride, gradIn + at.valueOffset(), at.stride});
    transposeRows(valuesT, in + at.valueOffset(), positions, width, at.stride);
    bandedProduct<T>(Band::ColumnsToDiagonal, positions, positions, width, T(1),
                     {dY, at.outputStride, 1, valuesT, positions, g, positions});
    softmaxBackward(p, g, positions, scale);
    bandedProduct<T>(Band::DepthToDiagonal, positions, width, positions, T(1),
                     {g, positions, 1, in + at.keyOffset(), at.stride, gradIn + at.queryOffset, at.stride});
    bandedProduct<T>(Band::DepthFromDiagonal, positions, width, positions, T(1),
                     {g, 1, positions, in + at.queryOffset, at.stride, gradIn + at.keyOffset(), at.stride});
}

}  // namespace

void attentionForward(DType dtype, std::int64_t batch, std::int64_t positions, std::int64_t heads,
                      std::int64_t headWidth, const void* qkv, void* probabilities, void* y, void* scratch) {
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        const std::int64_t pairs = batch * heads;
#pragma omp parallel for schedule(static) if (pairs > 1 && batch * positions * positions * heads >= kParallelElements)
        for (std::int64_t pair = 0; pair < pairs; ++pair) {
            const AttentionPair at(pair, heads, positions, headWidth);
            // Each thread reuses one slice of the scratch (a static schedule gives a team larger than
            // `pairs` one pair per thread, so the slices stay inside it): it stays in cache.
            attentionPairForward(at, static_cast<const T*>(qkv), static_cast<T*>(probabilities) + at.scoresOffset,
                                 static_cast<T*>(scratch) + omp_get_thread_num() * positions * headWidth,
                                 static_cast<T*>(y));
        }
    });
}

void attentionBackward(DType dtype, std::int64_t batch, std::int64_t positions, std::int64_t heads,
                       std::int64_t headWidth, const void* qkv, const void* probabilities, const void* dy,
                       void* scratch, void* dqkv) {
    dispatch(dtype, [&](auto zero) {
        using T = decltype(zero);
        const std::int64_t pairs = batch * heads;
        T* scoreGradients = static_cast<T*>(scratch);
        T* transposedValues = scoreGradients + pairs * positions * positions;
#pragma omp parallel for schedule(static) if (pairs > 1 && batch * positions * positions * heads >= kParallelElements)
        for (std::int64_t pair = 0; pair < pairs; ++pair) {
            const AttentionPair at(pair, heads, positions, headWidth);
            const std::int64_t slice = omp_get_thread_num();  // one per thread, as in the forward pass
            attentionPairBackward(at, static_cast<const T*>(qkv),
                                  static_cast<const T*>(probabilities) + at.scoresOffset,
                                  static_cast<const T*>(dy) + at.outputOffset, scoreGradients + slice * positions * positions,
                                  transposedValues + slice * positions * headWidth, static_cast<T*>(dqkv));
        }
    });
}

}  // namespace cohort::kernels::cpu_detail
