// The CPU backend: GEMM through OpenBLAS (cblas_sgemm/dgemm), everything else as OpenMP loops
// that go parallel only when the work is large enough to pay for the threads
// (ParallelThreshold.h). Float convolutions through oneDNN when built with it (DnnlConvolution),
// others and pooling (CpuConvolution), batch norm (CpuBatchNorm) and
// the optimizer updates (CpuOptimizers) have their own files; the elementwise operations, losses,
// reductions and copies are here.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "kernels/Backend.h"
#include "kernels/DTypeDispatch.h"
#include "kernels/cpu/CpuBatchNorm.h"
#include "kernels/cpu/CpuConvolution.h"
#include "kernels/cpu/CpuOptimizers.h"
#include "kernels/cpu/CpuGemm.h"
#include "kernels/cpu/CpuTransformer.h"
#include "kernels/cpu/DnnlConvolution.h"
#include "kernels/cpu/ParallelThreshold.h"

namespace cohort::kernels {
namespace {

using cpu_detail::kParallelElements;

// Activations as compile-time choices, so each elementwise loop is a plain vector loop.
template <Activation A, typename T>
T activate(T v) {
    if constexpr (A == Activation::Relu) return v > T(0) ? v : T(0);
    else if constexpr (A == Activation::Tanh) return std::tanh(v);
    else if constexpr (A == Activation::Sigmoid) return T(1) / (T(1) + std::exp(-v));
    else return v;
}

// d act / d x expressed through the activation's output y.
template <Activation A, typename T>
T derivativeFromOutput(T y) {
    if constexpr (A == Activation::Relu) return y > T(0) ? T(1) : T(0);
    else if constexpr (A == Activation::Tanh) return T(1) - y * y;
    else if constexpr (A == Activation::Sigmoid) return y * (T(1) - y);
    else return T(1);
}

template <typename Function>
void dispatchActivation(Activation activation, Function&& function) {
    switch (activation) {
        case Activation::Relu: function(std::integral_constant<Activation, Activation::Relu>{}); return;
        case Activation::Tanh: function(std::integral_constant<Activation, Activation::Tanh>{}); return;
        case Activation::Sigmoid: function(std::integral_constant<Activation, Activation::Sigmoid>{}); return;
        case Activation::Identity: break;
    }
    function(std::integral_constant<Activation, Activation::Identity>{});
}


class CpuBackend final : public Backend {
public:
    explicit CpuBackend(int threads) : threads_(threads) {
        if (threads_ > 0) omp_set_num_threads(threads_);
    }

    std::string name() const override {
        return "cpu (OpenBLAS, " + std::to_string(threads_ > 0 ? threads_ : omp_get_max_threads()) +
               " threads)";
    }
    memory::MemoryLocation location() const override { return memory::MemoryLocation::host(); }

    void gemm(DType dtype, bool transposeA, bool transposeB, std::int64_t m, std::int64_t n,
              std::int64_t k, double alpha, const void* a, std::int64_t lda, const void* b,
              std::int64_t ldb, double beta, void* c, std::int64_t ldc) override {
        bindThreads();
        if (dtype == DType::Float32) {
            cpu_detail::rowMajorGemm(transposeA, transposeB, m, n, k, float(alpha), static_cast<const float*>(a), lda,
                                     static_cast<const float*>(b), ldb, float(beta), static_cast<float*>(c), ldc);
        } else {
            cpu_detail::rowMajorGemm(transposeA, transposeB, m, n, k, alpha, static_cast<const double*>(a), lda,
                                     static_cast<const double*>(b), ldb, beta, static_cast<double*>(c), ldc);
        }
    }

    // Without an activation: y starts as the bias rows (plus the addend's) and the product is
    // accumulated onto them (beta = 1): one pass over y, where a zeroed product, a bias pass and a
    // residual sum took three.
    void denseForward(DType dtype, Activation activation, std::int64_t rows, std::int64_t outputs,
                      std::int64_t inputs, const void* x, const void* w, const void* bias, const void* addend,
                      void* y) override {
        if (activation != Activation::Identity || bias == nullptr) {
            Backend::denseForward(dtype, activation, rows, outputs, inputs, x, w, bias, addend, y);
            return;
        }
        bindThreads();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            const T* b = static_cast<const T*>(bias);
            const T* add = static_cast<const T*>(addend);
            T* out = static_cast<T*>(y);
#pragma omp parallel for schedule(static) if (rows * outputs >= kParallelElements)
            for (std::int64_t r = 0; r < rows; ++r) {
                T* row = out + r * outputs;
                if (add == nullptr) {
                    std::copy_n(b, outputs, row);
                } else {
                    for (std::int64_t c = 0; c < outputs; ++c) row[c] = add[r * outputs + c] + b[c];
                }
            }
            cpu_detail::rowMajorGemm(false, false, rows, outputs, inputs, T(1), static_cast<const T*>(x), inputs,
                                     static_cast<const T*>(w), outputs, T(1), out, outputs);
        });
    }

    void biasActivationForward(DType dtype, Activation activation, std::int64_t rows,
                               std::int64_t cols, const void* x, const void* bias,
                               void* y) override {
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            const T* in = static_cast<const T*>(x);
            const T* b = static_cast<const T*>(bias);
            T* out = static_cast<T*>(y);
            dispatchActivation(activation, [&](auto kind) {
                constexpr Activation A = decltype(kind)::value;
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelElements)
                for (std::int64_t r = 0; r < rows; ++r) {
                    const T* row = in + r * cols;
                    T* target = out + r * cols;
                    if (b) {
                        for (std::int64_t c = 0; c < cols; ++c) target[c] = activate<A>(row[c] + b[c]);
                    } else {
                        for (std::int64_t c = 0; c < cols; ++c) target[c] = activate<A>(row[c]);
                    }
                }
            });
        });
    }

    void activationBackward(DType dtype, Activation activation, std::int64_t count, const void* y,
                            const void* dy, void* dx) override {
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            const T* out = static_cast<const T*>(y);
            const T* gradOut = static_cast<const T*>(dy);
            T* gradIn = static_cast<T*>(dx);
            dispatchActivation(activation, [&](auto kind) {
                constexpr Activation A = decltype(kind)::value;
                if constexpr (A == Activation::Relu) {
                    // A select, as the pooling that folds a ReLU's backward into its own does
                    // (PoolingShape::reluMask): the fused and unfused paths agree bit for bit.
                    // Local restrict copies and an unconditional load let the loop vectorise
                    // as a blend; through the lambda's captures it was a branch per element,
                    // mispredicted half the time on ReLU outputs.
                    const T* __restrict y0 = out;
                    const T* __restrict dy0 = gradOut;
                    T* __restrict dx0 = gradIn;
#pragma omp parallel for schedule(static) if (count >= kParallelElements)
                    for (std::int64_t i = 0; i < count; ++i) {
                        const T g = dy0[i];
                        dx0[i] = y0[i] > T(0) ? g : T(0);
                    }
                } else {
#pragma omp parallel for schedule(static) if (count >= kParallelElements)
                    for (std::int64_t i = 0; i < count; ++i) gradIn[i] = gradOut[i] * derivativeFromOutput<A>(out[i]);
                }
            });
        });
    }

    void columnSum(DType dtype, std::int64_t rows, std::int64_t cols, const void* x, void* out,
                   bool accumulate) override {
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            const T* in = static_cast<const T*>(x);
            T* sums = static_cast<T*>(out);
            // Split over columns so each thread owns its outputs (deterministic, no reduction).
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelElements)
            for (std::int64_t c0 = 0; c0 < cols; c0 += 64) {
                const std::int64_t c1 = std::min(cols, c0 + 64);
                T local[64];
                for (std::int64_t c = c0; c < c1; ++c) local[c - c0] = accumulate ? sums[c] : T(0);
                for (std::int64_t r = 0; r < rows; ++r) {
                    const T* row = in + r * cols;
                    for (std::int64_t c = c0; c < c1; ++c) local[c - c0] += row[c];
                }
                for (std::int64_t c = c0; c < c1; ++c) sums[c] = local[c - c0];
            }
        });
    }

    void softmaxCrossEntropy(DType dtype, std::int64_t rows, std::int64_t classes,
                             const void* logits, const std::int32_t* labels, void* lossSum,
                             void* grad, double gradScale, std::int64_t* correct) override {
        cpu_detail::softmaxCrossEntropy(dtype, rows, classes, logits, labels, lossSum, grad, gradScale, correct);
    }

    void squaredError(DType dtype, std::int64_t count, const void* prediction, const void* target,
                      void* lossSum, void* grad, double gradScale) override {
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            const T* p = static_cast<const T*>(prediction);
            const T* t = static_cast<const T*>(target);
            T* g = static_cast<T*>(grad);
            double total = 0.0;
            for (std::int64_t i = 0; i < count; ++i) {
                const double d = double(p[i]) - double(t[i]);
                total += d * d;
                if (g) g[i] = T(gradScale * 2.0 * d);
            }
            *static_cast<T*>(lossSum) = T(total);
        });
    }

    void softmax(DType dtype, std::int64_t rows, std::int64_t classes, const void* x,
                 void* y) override {
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            const T* in = static_cast<const T*>(x);
            T* out = static_cast<T*>(y);
            for (std::int64_t r = 0; r < rows; ++r) {
                const T* row = in + r * classes;
                T* target = out + r * classes;
                const T maximum = *std::max_element(row, row + classes);
                double sum = 0.0;
                for (std::int64_t c = 0; c < classes; ++c) sum += std::exp(double(row[c] - maximum));
                for (std::int64_t c = 0; c < classes; ++c) {
                    target[c] = T(std::exp(double(row[c] - maximum)) / sum);
                }
            }
        });
    }

    void dropoutForward(DType dtype, std::int64_t count, double rate, std::uint64_t seed,
                        std::uint64_t offset, const std::uint64_t* stepCounter, const void* x, void* mask,
                        void* y) override {
        if (stepCounter) offset += stepCounter[0] * std::uint64_t(count);
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            const T* in = static_cast<const T*>(x);
            T* m = static_cast<T*>(mask);
            T* out = static_cast<T*>(y);
            const T keepScale = T(1.0 / (1.0 - rate));
#pragma omp parallel for schedule(static) if (count >= kParallelElements)
            for (std::int64_t i = 0; i < count; ++i) {
                const T factor = counterUniform(seed, offset + std::uint64_t(i)) >= rate ? keepScale : T(0);
                m[i] = factor;
                out[i] = in[i] * factor;
            }
        });
    }

    void multiply(DType dtype, std::int64_t count, const void* x, const void* y, void* z) override {
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            const T* a = static_cast<const T*>(x);
            const T* b = static_cast<const T*>(y);
            T* out = static_cast<T*>(z);
#pragma omp parallel for schedule(static) if (count >= kParallelElements)
            for (std::int64_t i = 0; i < count; ++i) out[i] = a[i] * b[i];
        });
    }

    void geluForward(DType dtype, std::int64_t count, const void* x, void* y) override {
        cpu_detail::geluForward(dtype, count, x, y);
    }
    void geluBackward(DType dtype, std::int64_t count, const void* x, const void* dy, void* dx) override {
        cpu_detail::geluBackward(dtype, count, x, dy, dx);
    }
    void geluForwardWithDerivative(DType dtype, std::int64_t count, const void* x, void* y, void* dydx) override {
        cpu_detail::geluForwardWithDerivative(dtype, count, x, y, dydx);
    }
    void layerNormForward(DType dtype, std::int64_t rows, std::int64_t features, double epsilon, const void* x,
                          const void* gain, const void* bias, void* y, void* mean, void* rstd) override {
        cpu_detail::layerNormForward(dtype, rows, features, epsilon, x, gain, bias, y, mean, rstd);
    }
    void layerNormBackward(DType dtype, std::int64_t rows, std::int64_t features, const void* x, const void* gain,
                           const void* mean, const void* rstd, const void* dy, void* dx, void* dgain,
                           void* dbias) override {
        cpu_detail::layerNormBackward(dtype, rows, features, x, gain, mean, rstd, dy, dx, dgain, dbias);
    }
    void embeddingForward(DType dtype, std::int64_t rows, std::int64_t positions, std::int64_t width, const void* ids,
                          const void* tokens, const void* positionTable, void* y) override {
        cpu_detail::embeddingForward(dtype, rows, positions, width, ids, tokens, positionTable, y);
    }
    void embeddingBackward(DType dtype, std::int64_t rows, std::int64_t positions, std::int64_t width,
                           std::int64_t vocabulary, const void* ids, const void* dy, void* dTokens,
                           void* dPositions) override {
        cpu_detail::embeddingBackward(dtype, rows, positions, width, vocabulary, ids, dy, dTokens, dPositions);
    }
    void attentionForward(DType dtype, std::int64_t batch, std::int64_t positions, std::int64_t heads,
                          std::int64_t headWidth, const void* qkv, void* probabilities, void* y,
                          void* scratch) override {
        bindThreads();
        cpu_detail::attentionForward(dtype, batch, positions, heads, headWidth, qkv, probabilities, y, scratch);
    }
    void attentionBackward(DType dtype, std::int64_t batch, std::int64_t positions, std::int64_t heads,
                           std::int64_t headWidth, const void* qkv, const void* probabilities, const void* dy,
                           void* scratch, void* dqkv) override {
        bindThreads();
        cpu_detail::attentionBackward(dtype, batch, positions, heads, headWidth, qkv, probabilities, dy, scratch,
                                      dqkv);
    }

    std::size_t convolutionWorkspaceBytes(DType dtype, const ConvolutionShape& shape, ConvolutionPass pass) override {
        if (usesDnnl(dtype)) {
            const std::lock_guard<std::mutex> lock(dnnlMutex_);
            return dnnl().workspaceBytes(shape, pass);
        }
        return cpu_detail::convolutionWorkspaceBytes(dtype, shape, pass);
    }
    void convolutionForward(DType dtype, const ConvolutionShape& shape, const void* x, const void* weights,
                            const void* bias, void* y, void* workspace, std::size_t workspaceBytes) override {
        bindThreads();
        if (usesDnnl(dtype)) {
            const std::lock_guard<std::mutex> lock(dnnlMutex_);
            return dnnl().forward(shape, static_cast<const float*>(x), static_cast<const float*>(weights),
                                  static_cast<const float*>(bias), static_cast<float*>(y), workspace, workspaceBytes);
        }
        cpu_detail::convolutionForward(*this, dtype, shape, x, weights, bias, y, workspace, workspaceBytes);
    }
    void convolutionBackward(DType dtype, const ConvolutionShape& shape, const void* x, const void* weights,
                             const void* dy, void* dx, void* dweights, void* dbias, const void* forwardWorkspace,
                             void* workspace, std::size_t workspaceBytes) override {
        bindThreads();
        if (usesDnnl(dtype)) {
            const std::lock_guard<std::mutex> lock(dnnlMutex_);
            return dnnl().backward(shape, static_cast<const float*>(x), static_cast<const float*>(weights),
                                   static_cast<const float*>(dy), static_cast<float*>(dx), static_cast<float*>(dweights),
                                   static_cast<float*>(dbias), forwardWorkspace, workspace, workspaceBytes);
        }
        cpu_detail::convolutionBackward(*this, dtype, shape, x, weights, dy, dx, dweights, dbias, forwardWorkspace,
                                        workspace, workspaceBytes);
    }
    void poolingForward(DType dtype, PoolingMode mode, const PoolingShape& shape, const void* x, void* y) override {
        bindThreads();
        cpu_detail::poolingForward(dtype, mode, shape, x, y);
    }
    void poolingBackward(DType dtype, PoolingMode mode, const PoolingShape& shape, const void* x, const void*,
                         const void* dy, void* dx) override {
        bindThreads();
        cpu_detail::poolingBackward(dtype, mode, shape, x, dy, dx);
    }

    void fill(DType dtype, std::int64_t count, double value, void* x) override {
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            std::fill_n(static_cast<T*>(x), count, T(value));
        });
    }

    void copy(std::size_t bytes, const void* source, void* destination) override {
        if (bytes != 0 && source != destination) std::memmove(destination, source, bytes);
    }

    void axpby(DType dtype, std::int64_t count, double alpha, const void* x, double beta,
               void* y) override {
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            const T* in = static_cast<const T*>(x);
            T* out = static_cast<T*>(y);
            const T a = T(alpha), b = T(beta);
#pragma omp parallel for schedule(static) if (count >= kParallelElements)
            for (std::int64_t i = 0; i < count; ++i) out[i] = a * in[i] + b * out[i];
        });
    }

    void average(DType dtype, std::int64_t length, const void* const* sources, int count,
                 void* destination) override {
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            T* out = static_cast<T*>(destination);
            const T scale = T(1) / T(count);
            // Chunks summed source by source in a local buffer: each pass is a plain vector
            // loop, the order of the additions is the sources' order, and the destination (which
            // may be a source) is written only after every source has been read.
            constexpr std::int64_t kChunk = 256;
#pragma omp parallel for schedule(static) if (length >= kParallelElements)
            for (std::int64_t first = 0; first < length; first += kChunk) {
                const std::int64_t n = std::min(kChunk, length - first);
                T sum[kChunk];
                const T* source = static_cast<const T*>(sources[0]) + first;
                for (std::int64_t j = 0; j < n; ++j) sum[j] = source[j];
                for (int s = 1; s < count; ++s) {
                    source = static_cast<const T*>(sources[s]) + first;
                    for (std::int64_t j = 0; j < n; ++j) sum[j] += source[j];
                }
                for (std::int64_t j = 0; j < n; ++j) out[first + j] = sum[j] * scale;
            }
        });
    }

    void batchNormForwardTraining(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial,
                                  const void* x, const void* gamma, const void* beta, double epsilon, double momentum,
                                  void* runningMean, void* runningVariance, void* savedMean, void* savedInverseStd,
                                  void* y) override {
        cpu_detail::batchNormForwardTraining(dtype, n, channels, spatial, x, gamma, beta, epsilon, momentum,
                                             runningMean, runningVariance, savedMean, savedInverseStd, y);
    }

    void batchNormForwardInference(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial,
                                   const void* x, const void* gamma, const void* beta, const void* runningMean,
                                   const void* runningVariance, double epsilon, void* y) override {
        cpu_detail::batchNormForwardInference(dtype, n, channels, spatial, x, gamma, beta, runningMean, runningVariance,
                                              epsilon, y);
    }

    void batchNormBackward(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial, const void* x,
                           const void* dy, const void* gamma, const void* savedMean, const void* savedInverseStd, double epsilon,
                           void* dx, void* dgamma, void* dbeta) override {
        cpu_detail::batchNormBackward(dtype, n, channels, spatial, x, dy, gamma, savedMean, savedInverseStd, epsilon, dx, dgamma,
                                      dbeta);
    }

    void sumOfSquares(DType dtype, std::int64_t count, const void* x, void* out) override {
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            const T* in = static_cast<const T*>(x);
            double total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : total) if (count >= kParallelElements)
            for (std::int64_t i = 0; i < count; ++i) total += double(in[i]) * double(in[i]);
            *static_cast<T*>(out) = T(total);
        });
    }

    void sgdUpdate(DType dtype, std::int64_t count, double learningRate, double weightDecay,
                   const void* gradient, void* parameters) override {
        cpu_detail::sgdUpdate(dtype, count, learningRate, weightDecay, gradient, parameters);
    }

    void nesterovUpdate(DType dtype, std::int64_t count, double learningRate, double momentum,
                        double weightDecay, const void* gradient, void* velocity,
                        void* parameters) override {
        cpu_detail::nesterovUpdate(dtype, count, learningRate, momentum, weightDecay, gradient, velocity, parameters);
    }

    void outerUpdate(DType dtype, std::int64_t count, double learningRate, double momentum, void* parameters,
                     void* anchor, void* velocity) override {
        cpu_detail::outerUpdate(dtype, count, learningRate, momentum, parameters, anchor, velocity);
    }

    void adamUpdate(DType dtype, std::int64_t count, const AdamHyper& hyper, const void* gradient,
                    void* firstMoment, void* secondMoment, void* parameters) override {
        cpu_detail::adamUpdate(dtype, count, hyper, gradient, firstMoment, secondMoment, parameters);
    }

    void copyToHost(std::size_t bytes, const void* source, void* hostDestination) override {
        copy(bytes, source, hostDestination);
    }
    void copyFromHost(std::size_t bytes, const void* hostSource, void* destination) override {
        copy(bytes, hostSource, destination);
    }
    void synchronize() override {}

private:
    // OpenMP's thread count is per calling thread: re-assert it in case the backend is used from
    // a thread other than the one that created it (cheap: one ICV write).
    void bindThreads() const {
        if (threads_ > 0 && omp_get_max_threads() != threads_) omp_set_num_threads(threads_);
    }
    // Float convolutions go through oneDNN when this build has it, unless
    // COHORT_CPU_CONVOLUTION=im2col asks for the own path (benchmarks compare the two in one run).
    static bool dnnlWanted() {
        static const bool wanted = [] {
            const char* choice = std::getenv("COHORT_CPU_CONVOLUTION");
            return cpu_detail::haveDnnl() && !(choice != nullptr && std::string(choice) == "im2col");
        }();
        return wanted;
    }
    bool usesDnnl(DType dtype) const { return dtype == DType::Float32 && dnnlWanted(); }
    cpu_detail::DnnlConvolutions& dnnl() {
        if (!dnnl_) dnnl_ = std::make_unique<cpu_detail::DnnlConvolutions>();
        return *dnnl_;
    }

    int threads_;
    std::mutex dnnlMutex_;  // primitives and their memory objects are per shape, not per call
    std::unique_ptr<cpu_detail::DnnlConvolutions> dnnl_;
};

}  // namespace

std::unique_ptr<Backend> makeCpuBackend(int threads) { return std::make_unique<CpuBackend>(threads); }

}  // namespace cohort::kernels
