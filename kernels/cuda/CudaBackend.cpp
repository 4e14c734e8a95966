// The CUDA backend: one device, one non-blocking stream, cuBLAS and cuDNN handles bound to it.
// GEMMs go to cuBLAS (row-major through the C^T = B^T A^T identity), batch norm, convolution and
// pooling to cuDNN (CudnnBatchNorm.cuh, CudnnConvolution.cuh); everything else is one of cohort's
// own kernels (CudaKernels.cuh). Scratch memory is allocated in the constructor or grown once on
// first use (DeviceScratch), and convolution algorithms are chosen on a shape's first call, so
// after a warm-up step a training step allocates nothing and can be captured into a CUDA graph.
#include "kernels/cuda/CudaBackend.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

#include "kernels/cuda/CudaCheck.cuh"
#include "kernels/cuda/CudaEntry.h"
#include "kernels/cuda/CudaKernels.cuh"
#include "kernels/cuda/CudnnBatchNorm.cuh"
#include "kernels/cuda/CudnnContext.cuh"
#include "kernels/cuda/CudnnConvolution.cuh"
#include "kernels/cuda/CudaGraph.cuh"
#include "kernels/cuda/CudaStaging.cuh"
#include "kernels/cuda/DeviceScratch.cuh"

namespace cohort::kernels {
namespace {

using cuda_detail::AdamCoefficients;
using cuda_detail::AverageChunk;
using cuda_detail::kMaxReductionBlocks;
using cuda_detail::LaunchContext;
using cuda_detail::ReductionScratch;

// cuBLAS's own recommendation for Hopper; a fixed workspace keeps cuBLAS from allocating inside
// a captured graph.
constexpr std::size_t kCublasWorkspaceBytes = std::size_t(32) << 20;

using cuda_detail::DeviceScratch;
using cuda_detail::dispatch;
using cuda_detail::reportTeardownFailure;

// cuBLAS takes int dimensions.
int gemmDimension(std::int64_t value, const char* name) {
    return cuda_detail::intDimension("gemm", name, value, "cuBLAS takes 32-bit dimensions; split the product");
}

class CudaStreamBackend final : public CudaBackend {
public:
    CudaStreamBackend(int device, bool allowTf32) : device_(device), allowTf32_(allowTf32) {
        makeCurrent();
        try {
            cudaDeviceProp properties{};
            COHORT_CUDA_CHECK(cudaGetDeviceProperties(&properties, device_));
            deviceName_ = properties.name;
            maxBlocks_ = properties.multiProcessorCount *
                         (properties.maxThreadsPerMultiProcessor / 256 > 0
                              ? properties.maxThreadsPerMultiProcessor / 256
                              : 1);
            COHORT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));

            COHORT_CUBLAS_CHECK(cublasCreate(&cublas_));
            COHORT_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
            COHORT_CUDA_CHECK(cudaMalloc(&cublasWorkspace_, kCublasWorkspaceBytes));
            // After cublasSetStream, which resets the workspace to cuBLAS's default.
            COHORT_CUBLAS_CHECK(cublasSetWorkspace(cublas_, cublasWorkspace_, kCublasWorkspaceBytes));
            COHORT_CUBLAS_CHECK(cublasSetPointerMode(cublas_, CUBLAS_POINTER_MODE_HOST));
            COHORT_CUBLAS_CHECK(cublasSetMathMode(
                cublas_, allowTf32_ ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
            cudnn_ = std::make_unique<cuda_detail::CudnnContext>(stream_);
            convolution_ = std::make_unique<cuda_detail::CudnnConvolution>(*cudnn_, allowTf32_);

            const std::size_t partialBytes = kMaxReductionBlocks * sizeof(double);
            const std::size_t countBytes = kMaxReductionBlocks * sizeof(long long);
            COHORT_CUDA_CHECK(cudaMalloc(&reductionMemory_, partialBytes + countBytes + 256));
            // One allocation carved in three (each part 256-byte aligned by construction).
            auto* bytes = static_cast<unsigned char*>(reductionMemory_);
            scratch_.partialSums = static_cast<double*>(reductionMemory_);
            scratch_.partialCounts = static_cast<long long*>(static_cast<void*>(bytes + partialBytes));
            scratch_.ticket =
                static_cast<unsigned int*>(static_cast<void*>(bytes + partialBytes + countBytes));
            COHORT_CUDA_CHECK(cudaMemsetAsync(scratch_.ticket, 0, sizeof(unsigned int), stream_));
            COHORT_CUDA_CHECK(cudaStreamSynchronize(stream_));
        } catch (...) {
            release();
            throw;
        }
    }

    ~CudaStreamBackend() override { release(); }

    CudaStreamBackend(const CudaStreamBackend&) = delete;
    CudaStreamBackend& operator=(const CudaStreamBackend&) = delete;

    std::string name() const override {
        return "cuda:" + std::to_string(device_) + " (" + deviceName_ + ", " +
               (allowTf32_ ? "TF32" : "fp32") + " GEMM)";
    }
    memory::MemoryLocation location() const override {
        return memory::MemoryLocation::onDevice(device_);
    }
    int device() const override { return device_; }
    bool tf32Allowed() const override { return allowTf32_; }
    void* streamHandle() const override { return stream_; }
    void* cublasHandle() const override { return cublas_; }
    void* cudnnHandle() const override { return cudnn_ ? cudnn_->handle() : nullptr; }

    void gemm(DType dtype, bool transposeA, bool transposeB, std::int64_t m, std::int64_t n,
              std::int64_t k, double alpha, const void* a, std::int64_t lda, const void* b,
              std::int64_t ldb, double beta, void* c, std::int64_t ldc) override {
        makeCurrent();
        const int rowsC = gemmDimension(m, "m"), colsC = gemmDimension(n, "n");
        const int inner = gemmDimension(k, "k");
        const int strideA = gemmDimension(lda, "lda"), strideB = gemmDimension(ldb, "ldb");
        const int strideC = gemmDimension(ldc, "ldc");
        if (rowsC == 0 || colsC == 0) return;
        // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands.
        const cublasOperation_t opA = transposeA ? CUBLAS_OP_T : CUBLAS_OP_N;
        const cublasOperation_t opB = transposeB ? CUBLAS_OP_T : CUBLAS_OP_N;
        if (dtype == DType::Float32) {
            const float alphaF = float(alpha), betaF = float(beta);
            COHORT_CUBLAS_CHECK(cublasSgemm(cublas_, opB, opA, colsC, rowsC, inner, &alphaF,
                                            static_cast<const float*>(b), strideB,
                                            static_cast<const float*>(a), strideA, &betaF,
                                            static_cast<float*>(c), strideC));
        } else {
            COHORT_CUBLAS_CHECK(cublasDgemm(cublas_, opB, opA, colsC, rowsC, inner, &alpha,
                                            static_cast<const double*>(b), strideB,
                                            static_cast<const double*>(a), strideA, &beta,
                                            static_cast<double*>(c), strideC));
        }
    }

    void biasActivationForward(DType dtype, Activation activation, std::int64_t rows,
                               std::int64_t cols, const void* x, const void* bias,
                               void* y) override {
        makeCurrent();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchBiasActivationForward<T>(context(), activation, rows, cols,
                                                        static_cast<const T*>(x),
                                                        static_cast<const T*>(bias),
                                                        static_cast<T*>(y));
        });
    }

    void activationBackward(DType dtype, Activation activation, std::int64_t count, const void* y,
                            const void* dy, void* dx) override {
        makeCurrent();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchActivationBackward<T>(context(), activation, count,
                                                     static_cast<const T*>(y),
                                                     static_cast<const T*>(dy), static_cast<T*>(dx));
        });
    }

    void columnSum(DType dtype, std::int64_t rows, std::int64_t cols, const void* x, void* out,
                   bool accumulate) override {
        makeCurrent();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchColumnSum<T>(context(), rows, cols, static_cast<const T*>(x),
                                            static_cast<T*>(out), accumulate);
        });
    }

    void softmaxCrossEntropy(DType dtype, std::int64_t rows, std::int64_t classes,
                             const void* logits, const std::int32_t* labels, void* lossSum,
                             void* grad, double gradScale, std::int64_t* correct) override {
        makeCurrent();
        if (classes <= 0) {
            throw std::invalid_argument("softmaxCrossEntropy: classes = " +
                                        std::to_string(classes) + " (must be at least 1)");
        }
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchSoftmaxCrossEntropy<T>(
                context(), scratch_, rows, classes, static_cast<const T*>(logits), labels,
                static_cast<T*>(lossSum), static_cast<T*>(grad), gradScale, correct);
        });
    }

    void squaredError(DType dtype, std::int64_t count, const void* prediction, const void* target,
                      void* lossSum, void* grad, double gradScale) override {
        makeCurrent();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchSquaredError<T>(context(), scratch_, count,
                                               static_cast<const T*>(prediction),
                                               static_cast<const T*>(target),
                                               static_cast<T*>(lossSum), static_cast<T*>(grad),
                                               gradScale);
        });
    }

    void softmax(DType dtype, std::int64_t rows, std::int64_t classes, const void* x,
                 void* y) override {
        makeCurrent();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchSoftmax<T>(context(), rows, classes, static_cast<const T*>(x),
                                          static_cast<T*>(y));
        });
    }

    void dropoutForward(DType dtype, std::int64_t count, double rate, std::uint64_t seed,
                        std::uint64_t offset, const std::uint64_t* stepCounter, const void* x, void* mask,
                        void* y) override {
        makeCurrent();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchDropoutForward<T>(context(), count, rate, seed, offset, stepCounter,
                                                 static_cast<const T*>(x), static_cast<T*>(mask),
                                                 static_cast<T*>(y));
        });
    }

    void geluForward(DType dtype, std::int64_t count, const void* x, void* y) override {
        makeCurrent();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchGeluForward<T>(context(), count, static_cast<const T*>(x), static_cast<T*>(y));
        });
    }

    void geluBackward(DType dtype, std::int64_t count, const void* x, const void* dy, void* dx) override {
        makeCurrent();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchGeluBackward<T>(context(), count, static_cast<const T*>(x), static_cast<const T*>(dy),
                                               static_cast<T*>(dx));
        });
    }

    void layerNormForward(DType dtype, std::int64_t rows, std::int64_t features, double epsilon, const void* x,
                          const void* gain, const void* bias, void* y, void* mean, void* rstd) override {
        makeCurrent();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchLayerNormForward<T>(context(), rows, features, epsilon, static_cast<const T*>(x),
                                                   static_cast<const T*>(gain), static_cast<const T*>(bias),
                                                   static_cast<T*>(y), static_cast<T*>(mean), static_cast<T*>(rstd));
        });
    }

    void layerNormBackward(DType dtype, std::int64_t rows, std::int64_t features, const void* x, const void* gain,
                           const void* mean, const void* rstd, const void* dy, void* dx, void* dgain,
                           void* dbias) override {
        makeCurrent();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchLayerNormBackward<T>(
                context(), rows, features, static_cast<const T*>(x), static_cast<const T*>(gain),
                static_cast<const T*>(mean), static_cast<const T*>(rstd), static_cast<const T*>(dy),
                static_cast<T*>(dx), static_cast<T*>(dgain), static_cast<T*>(dbias));
        });
    }

    void embeddingForward(DType dtype, std::int64_t rows, std::int64_t positions, std::int64_t width, const void* ids,
                          const void* tokens, const void* positionTable, void* y) override {
        makeCurrent();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchEmbeddingForward<T>(context(), rows, positions, width, static_cast<const T*>(ids),
                                                   static_cast<const T*>(tokens), static_cast<const T*>(positionTable),
                                                   static_cast<T*>(y));
        });
    }

    void embeddingBackward(DType dtype, std::int64_t rows, std::int64_t positions, std::int64_t width,
                           std::int64_t vocabulary, const void* ids, const void* dy, void* dTokens,
                           void* dPositions) override {
        makeCurrent();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchEmbeddingBackward<T>(context(), rows, positions, width, vocabulary,
                                                    static_cast<const T*>(ids), static_cast<const T*>(dy),
                                                    static_cast<T*>(dTokens), static_cast<T*>(dPositions));
        });
    }

    void attentionForward(DType dtype, std::int64_t batch, std::int64_t positions, std::int64_t heads,
                          std::int64_t headWidth, const void* qkv, void* probabilities, void* y,
                          void* scratch) override {
        (void)scratch;  // the kernels keep their keys where they are
        makeCurrent();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchAttentionForward<T>(context(), cublas_, batch, positions, heads, headWidth,
                                                   static_cast<const T*>(qkv), static_cast<T*>(probabilities),
                                                   static_cast<T*>(y));
        });
    }

    void attentionBackward(DType dtype, std::int64_t batch, std::int64_t positions, std::int64_t heads,
                           std::int64_t headWidth, const void* qkv, const void* probabilities, const void* dy,
                           void* scratch, void* dqkv) override {
        makeCurrent();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchAttentionBackward<T>(context(), cublas_, batch, positions, heads, headWidth,
                                                    static_cast<const T*>(qkv), static_cast<const T*>(probabilities),
                                                    static_cast<const T*>(dy), static_cast<T*>(scratch),
                                                    static_cast<T*>(dqkv));
        });
    }

    void multiply(DType dtype, std::int64_t count, const void* x, const void* y, void* z) override {
        makeCurrent();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchMultiply<T>(context(), count, static_cast<const T*>(x),
                                           static_cast<const T*>(y), static_cast<T*>(z));
        });
    }

    void batchNormForwardTraining(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial,
                                  const void* x, const void* gamma, const void* beta, double epsilon, double momentum,
                                  void* runningMean, void* runningVariance, void* savedMean, void* savedInverseStd,
                                  void* y) override {
        makeCurrent();
        cuda_detail::batchNormForwardTraining(*cudnn_, context(), dtype, n, channels, spatial, x, gamma, beta, epsilon,
                                              momentum, runningMean, runningVariance, savedMean, savedInverseStd, y);
    }

    void batchNormForwardInference(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial,
                                   const void* x, const void* gamma, const void* beta, const void* runningMean,
                                   const void* runningVariance, double epsilon, void* y) override {
        makeCurrent();
        cuda_detail::batchNormForwardInference(*cudnn_, dtype, n, channels, spatial, x, gamma, beta, runningMean,
                                               runningVariance, epsilon, y);
    }

    void batchNormBackward(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial, const void* x,
                           const void* dy, const void* gamma, const void* savedMean, const void* savedInverseStd, double epsilon,
                           void* dx, void* dgamma, void* dbeta) override {
        makeCurrent();
        cuda_detail::batchNormBackward(*cudnn_, context(), batchNormDxScratch_, dtype, n, channels, spatial, x, dy,
                                       gamma, savedMean, savedInverseStd, epsilon, dx, dgamma, dbeta);
    }

    // Convolution and pooling through cuDNN (CudnnConvolution.cuh).
    std::size_t convolutionWorkspaceBytes(DType dtype, const ConvolutionShape& shape, ConvolutionPass pass) override {
        makeCurrent();
        return convolution_->workspaceBytes(dtype, shape, pass);
    }
    void convolutionForward(DType dtype, const ConvolutionShape& shape, const void* x, const void* weights,
                            const void* bias, void* y, void* workspace, std::size_t workspaceBytes) override {
        makeCurrent();
        convolution_->forward(dtype, shape, x, weights, bias, y, workspace, workspaceBytes);
    }
    // forwardWorkspace is not needed: cuDNN's backward algorithms work from x and dy.
    void convolutionBackward(DType dtype, const ConvolutionShape& shape, const void* x, const void* weights,
                             const void* dy, void* dx, void* dweights, void* dbias, const void*, void* workspace,
                             std::size_t workspaceBytes) override {
        makeCurrent();
        convolution_->backward(dtype, shape, x, weights, dy, dx, dweights, dbias, workspace, workspaceBytes);
    }
    void poolingForward(DType dtype, PoolingMode mode, const PoolingShape& shape, const void* x, void* y) override {
        makeCurrent();
        convolution_->poolingForward(dtype, mode, shape, x, y);
    }
    void poolingBackward(DType dtype, PoolingMode mode, const PoolingShape& shape, const void* x, const void* y,
                         const void* dy, void* dx) override {
        makeCurrent();
        convolution_->poolingBackward(dtype, mode, shape, x, y, dy, dx);
        if (shape.reluMask) {  // the producer's ReLU derivative, in place (cuDNN has no such mode)
            activationBackward(dtype, Activation::Relu, shape.batch * shape.channels * shape.height * shape.width, x, dx, dx);
        }
    }

    void fill(DType dtype, std::int64_t count, double value, void* x) override {
        makeCurrent();
        if (count <= 0) return;
        if (value == 0.0 && !std::signbit(value)) {  // +0.0 is all zero bits in both dtypes
            COHORT_CUDA_CHECK(cudaMemsetAsync(x, 0, std::size_t(count) * sizeOf(dtype), stream_));
            return;
        }
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchFill<T>(context(), count, T(value), static_cast<T*>(x));
        });
    }

    void copy(std::size_t bytes, const void* source, void* destination) override {
        makeCurrent();
        if (bytes == 0 || source == destination) return;
        COHORT_CUDA_CHECK(
            cudaMemcpyAsync(destination, source, bytes, cudaMemcpyDeviceToDevice, stream_));
    }

    void axpby(DType dtype, std::int64_t count, double alpha, const void* x, double beta,
               void* y) override {
        makeCurrent();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchAxpby<T>(context(), count, T(alpha), static_cast<const T*>(x),
                                        T(beta), static_cast<T*>(y));
        });
    }

    void average(DType dtype, std::int64_t length, const void* const* sources, int count,
                 void* destination) override {
        makeCurrent();
        if (count <= 0) {
            throw std::invalid_argument("average: count = " + std::to_string(count) +
                                        " (need at least one source buffer)");
        }
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            const T scale = T(1) / T(count);
            T* out = static_cast<T*>(destination);
            // More sources than one launch carries: add chunk by chunk into a staging buffer
            // (never into destination, which may itself be a source of a later chunk).
            T* running = count > kMaxAverageSourcesPerLaunch
                             ? static_cast<T*>(averageStaging_.atLeast(std::size_t(length) * sizeof(T), stream_))
                             : nullptr;
            for (int first = 0; first < count; first += kMaxAverageSourcesPerLaunch) {
                AverageChunk chunk;
                chunk.count = std::min(kMaxAverageSourcesPerLaunch, count - first);
                for (int s = 0; s < chunk.count; ++s) chunk.sources[s] = sources[first + s];
                const bool last = first + chunk.count == count;
                cuda_detail::launchAverageChunk<T>(context(), length, chunk,
                                                   first == 0 ? nullptr : running,
                                                   last ? scale : T(1), last ? out : running);
            }
        });
    }

    void sumOfSquares(DType dtype, std::int64_t count, const void* x, void* out) override {
        makeCurrent();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchSumOfSquares<T>(context(), scratch_, count,
                                               static_cast<const T*>(x), static_cast<T*>(out));
        });
    }

    void sgdUpdate(DType dtype, std::int64_t count, double learningRate, double weightDecay,
                   const void* gradient, void* parameters) override {
        makeCurrent();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchSgdUpdate<T>(context(), count, T(learningRate), T(weightDecay),
                                            static_cast<const T*>(gradient),
                                            static_cast<T*>(parameters));
        });
    }

    void nesterovUpdate(DType dtype, std::int64_t count, double learningRate, double momentum,
                        double weightDecay, const void* gradient, void* velocity,
                        void* parameters) override {
        makeCurrent();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchNesterovUpdate<T>(context(), count, T(learningRate), T(momentum),
                                                 T(weightDecay), static_cast<const T*>(gradient),
                                                 static_cast<T*>(velocity),
                                                 static_cast<T*>(parameters));
        });
    }

    void outerUpdate(DType dtype, std::int64_t count, double learningRate, double momentum, void* parameters,
                     void* anchor, void* velocity) override {
        makeCurrent();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            cuda_detail::launchOuterUpdate<T>(context(), count, learningRate, momentum, static_cast<T*>(parameters),
                                              static_cast<T*>(anchor), static_cast<T*>(velocity));
        });
    }

    void adamUpdate(DType dtype, std::int64_t count, const AdamHyper& hyper, const void* gradient,
                    void* firstMoment, void* secondMoment, void* parameters) override {
        makeCurrent();
        dispatch(dtype, [&](auto zero) {
            using T = decltype(zero);
            // Coefficients exactly as the CPU backend derives them.
            const AdamCoefficients<T> coefficients{
                T(hyper.beta1),
                T(hyper.beta2),
                T(hyper.epsilon),
                T(hyper.learningRate),
                T(hyper.learningRate * hyper.weightDecay),
                T(1.0 / (1.0 - std::pow(hyper.beta1, double(hyper.step)))),
                T(1.0 / (1.0 - std::pow(hyper.beta2, double(hyper.step))))};
            cuda_detail::launchAdamUpdate<T>(context(), count, coefficients,
                                             static_cast<const T*>(gradient),
                                             static_cast<T*>(firstMoment),
                                             static_cast<T*>(secondMoment),
                                             static_cast<T*>(parameters));
        });
    }

    void copyToHost(std::size_t bytes, const void* source, void* hostDestination) override {
        makeCurrent();
        if (bytes == 0) return;
        COHORT_CUDA_CHECK(
            cudaMemcpyAsync(hostDestination, source, bytes, cudaMemcpyDeviceToHost, stream_));
        COHORT_CUDA_CHECK(cudaStreamSynchronize(stream_));  // the caller reads it next
    }

    // A pageable source may be reused on return (CUDA stages it); a pinned one must stay
    // unchanged until the stream has passed the copy (synchronize() or a later event).
    void copyFromHost(std::size_t bytes, const void* hostSource, void* destination) override {
        makeCurrent();
        if (bytes == 0) return;
        COHORT_CUDA_CHECK(
            cudaMemcpyAsync(destination, hostSource, bytes, cudaMemcpyHostToDevice, stream_));
    }

    void synchronize() override {
        makeCurrent();
        COHORT_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }

    // Staging ahead on a second stream (CudaStaging.cuh), made on first use.
    std::uint64_t mark() override {
        makeCurrent();
        return staging().mark();
    }
    std::uint64_t stageFromHost(std::size_t bytes, const void* hostSource, void* destination,
                                std::uint64_t after) override {
        makeCurrent();
        return staging().stage(bytes, hostSource, destination, after);
    }
    void awaitStaged(std::uint64_t ticket) override {
        makeCurrent();
        staging().await(ticket);
    }
    void stagedOnHost(std::uint64_t ticket) override {
        makeCurrent();
        staging().hostWait(ticket);
    }

    // CUDA graphs (CudaGraph.cuh): the stream's work between the two calls becomes one graph.
    std::uint64_t scratchGeneration() const override {
        return averageStaging_.generation() + batchNormDxScratch_.generation();
    }
    bool canCapture() const override { return true; }
    void beginCapture() override {
        makeCurrent();
        cuda_detail::beginStreamCapture(stream_);
    }
    std::unique_ptr<Captured> endCapture(std::string* whyNot) override {
        makeCurrent();
        return cuda_detail::endStreamCapture(stream_, device_, whyNot);
    }

private:
    // The backend may move between threads (one at a time); the device is per thread in CUDA.
    void makeCurrent() const { COHORT_CUDA_CHECK(cudaSetDevice(device_)); }

    LaunchContext context() const { return LaunchContext{stream_, maxBlocks_}; }

    cuda_detail::CudaStaging& staging() {
        if (!staging_) staging_ = std::make_unique<cuda_detail::CudaStaging>(stream_);
        return *staging_;
    }

    void release() noexcept {
        reportTeardownFailure(cudaSetDevice(device_), "cudaSetDevice");
        if (stream_) reportTeardownFailure(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
        staging_.reset();      // waits for its copies; its events refer to the stream
        convolution_.reset();  // uses the cuDNN handle
        cudnn_.reset();        // before the stream it is bound to
        if (cublas_ && cublasDestroy(cublas_) != CUBLAS_STATUS_SUCCESS) {
            std::cerr << "cohort: CUDA backend teardown: cublasDestroy failed\n";
        }
        if (cublasWorkspace_) reportTeardownFailure(cudaFree(cublasWorkspace_), "cudaFree");
        if (reductionMemory_) reportTeardownFailure(cudaFree(reductionMemory_), "cudaFree");
        averageStaging_.release();
        batchNormDxScratch_.release();
        if (stream_) reportTeardownFailure(cudaStreamDestroy(stream_), "cudaStreamDestroy");
        cublas_ = nullptr;
        cublasWorkspace_ = reductionMemory_ = nullptr;
        stream_ = nullptr;
    }

    int device_;
    bool allowTf32_;
    std::string deviceName_;
    int maxBlocks_ = 1;
    cudaStream_t stream_ = nullptr;
    cublasHandle_t cublas_ = nullptr;
    void* cublasWorkspace_ = nullptr;
    void* reductionMemory_ = nullptr;
    ReductionScratch scratch_;
    std::unique_ptr<cuda_detail::CudnnContext> cudnn_;            // always set once constructed
    std::unique_ptr<cuda_detail::CudnnConvolution> convolution_;  // always set; descriptors, chosen algorithms
    DeviceScratch averageStaging_;      // average() over more than kMaxAverageSourcesPerLaunch buffers
    DeviceScratch batchNormDxScratch_;  // dx for batchNormBackward(dx = nullptr)
    std::unique_ptr<cuda_detail::CudaStaging> staging_;  // staging stream and events, on first use
};

}  // namespace

namespace cuda_detail {
namespace {

std::string deviceName(int device) {
    cudaDeviceProp properties{};
    if (cudaGetDeviceProperties(&properties, device) != cudaSuccess) {
        (void)cudaGetLastError();
        return "CUDA device " + std::to_string(device);
    }
    return properties.name;
}

// (kernels/CudaBackendLoader.cpp has checked that the ordinal is visible.)
std::unique_ptr<Backend> makeBackend(int device, bool allowTf32) {
    return std::make_unique<CudaStreamBackend>(device, allowTf32);
}

}  // namespace
}  // namespace cuda_detail

}  // namespace cohort::kernels

extern "C" __attribute__((visibility("default"))) const void* cohort_cuda_kernels_entry() {
    using namespace cohort::kernels::cuda_detail;
    static const CudaKernelsEntry entry{cohort::memory::kCudaModuleAbi, &deviceName, &makeBackend, &libraryVersions};
    return &entry;
}
