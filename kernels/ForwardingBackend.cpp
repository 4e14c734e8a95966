// ForwardingBackend: each operation binds its call of the inner backend and passes it to forward().
#include "kernels/ForwardingBackend.h"

#include <utility>

namespace cohort::kernels {
namespace {

template <typename Call>
class BoundOperation final : public ForwardingBackend::Operation {
public:
    explicit BoundOperation(Call call) : call_(std::move(call)) {}
    void run() override { call_(); }
    std::function<void()> keep() const override { return call_; }

private:
    Call call_;
};

}  // namespace

ForwardingBackend::ForwardingBackend(std::unique_ptr<Backend> inner) : inner_(std::move(inner)) {}

template <typename Call>
void ForwardingBackend::forwardCall(Call call) {
    BoundOperation<Call> operation(std::move(call));
    forward(operation);
}

std::string ForwardingBackend::name() const { return inner_->name(); }
memory::MemoryLocation ForwardingBackend::location() const { return inner_->location(); }

void ForwardingBackend::gemm(DType dtype, bool transposeA, bool transposeB, std::int64_t m, std::int64_t n,
                             std::int64_t k, double alpha, const void* a, std::int64_t lda, const void* b,
                             std::int64_t ldb, double beta, void* c, std::int64_t ldc) {
    forwardCall([=, inner = inner_.get()] {
        inner->gemm(dtype, transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    });
}
void ForwardingBackend::denseForward(DType dtype, Activation activation, std::int64_t rows, std::int64_t outputs,
                                     std::int64_t inputs, const void* x, const void* w, const void* bias,
                                     const void* addend, void* y) {
    forwardCall([=, inner = inner_.get()] {
        inner->denseForward(dtype, activation, rows, outputs, inputs, x, w, bias, addend, y);
    });
}

void ForwardingBackend::biasActivationForward(DType dtype, Activation activation, std::int64_t rows, std::int64_t cols,
                                              const void* x, const void* bias, void* y) {
    forwardCall([=, inner = inner_.get()] { inner->biasActivationForward(dtype, activation, rows, cols, x, bias, y); });
}
void ForwardingBackend::activationBackward(DType dtype, Activation activation, std::int64_t count, const void* y,
                                           const void* dy, void* dx) {
    forwardCall([=, inner = inner_.get()] { inner->activationBackward(dtype, activation, count, y, dy, dx); });
}
void ForwardingBackend::columnSum(DType dtype, std::int64_t rows, std::int64_t cols, const void* x, void* out,
                                  bool accumulate) {
    forwardCall([=, inner = inner_.get()] { inner->columnSum(dtype, rows, cols, x, out, accumulate); });
}
void ForwardingBackend::softmaxCrossEntropy(DType dtype, std::int64_t rows, std::int64_t classes, const void* logits,
                                            const std::int32_t* labels, void* lossSum, void* grad, double gradScale,
                                            std::int64_t* correct) {
    forwardCall([=, inner = inner_.get()] {
        inner->softmaxCrossEntropy(dtype, rows, classes, logits, labels, lossSum, grad, gradScale, correct);
    });
}
void ForwardingBackend::squaredError(DType dtype, std::int64_t count, const void* prediction, const void* target,
                                     void* lossSum, void* grad, double gradScale) {
    forwardCall(
        [=, inner = inner_.get()] { inner->squaredError(dtype, count, prediction, target, lossSum, grad, gradScale); });
}
void ForwardingBackend::softmax(DType dtype, std::int64_t rows, std::int64_t classes, const void* x, void* y) {
    forwardCall([=, inner = inner_.get()] { inner->softmax(dtype, rows, classes, x, y); });
}
void ForwardingBackend::dropoutForward(DType dtype, std::int64_t count, double rate, std::uint64_t seed,
                                       std::uint64_t offset, const std::uint64_t* stepCounter, const void* x,
                                       void* mask, void* y) {
    forwardCall([=, inner = inner_.get()] {
        inner->dropoutForward(dtype, count, rate, seed, offset, stepCounter, x, mask, y);
    });
}
void ForwardingBackend::multiply(DType dtype, std::int64_t count, const void* x, const void* y, void* z) {
    forwardCall([=, inner = inner_.get()] { inner->multiply(dtype, count, x, y, z); });
}

void ForwardingBackend::geluForward(DType dtype, std::int64_t count, const void* x, void* y) {
    forwardCall([=, inner = inner_.get()] { inner->geluForward(dtype, count, x, y); });
}

void ForwardingBackend::geluBackward(DType dtype, std::int64_t count, const void* x, const void* dy, void* dx) {
    forwardCall([=, inner = inner_.get()] { inner->geluBackward(dtype, count, x, dy, dx); });
}

void ForwardingBackend::geluForwardWithDerivative(DType dtype, std::int64_t count, const void* x, void* y,
                                                  void* dydx) {
    forwardCall([=, inner = inner_.get()] { inner->geluForwardWithDerivative(dtype, count, x, y, dydx); });
}

void ForwardingBackend::layerNormForward(DType dtype, std::int64_t rows, std::int64_t features, double epsilon,
                                         const void* x, const void* gain, const void* bias, void* y, void* mean,
                                         void* rstd) {
    forwardCall([=, inner = inner_.get()] {
        inner->layerNormForward(dtype, rows, features, epsilon, x, gain, bias, y, mean, rstd);
    });
}

void ForwardingBackend::layerNormBackward(DType dtype, std::int64_t rows, std::int64_t features, const void* x,
                                          const void* gain, const void* mean, const void* rstd, const void* dy,
                                          void* dx, void* dgain, void* dbias) {
    forwardCall([=, inner = inner_.get()] {
        inner->layerNormBackward(dtype, rows, features, x, gain, mean, rstd, dy, dx, dgain, dbias);
    });
}

void ForwardingBackend::embeddingForward(DType dtype, std::int64_t rows, std::int64_t positions, std::int64_t width,
                                         const void* ids, const void* tokens, const void* positionTable, void* y) {
    forwardCall([=, inner = inner_.get()] {
        inner->embeddingForward(dtype, rows, positions, width, ids, tokens, positionTable, y);
    });
}

void ForwardingBackend::embeddingBackward(DType dtype, std::int64_t rows, std::int64_t positions, std::int64_t width,
                                          std::int64_t vocabulary, const void* ids, const void* dy, void* dTokens,
                                          void* dPositions) {
    forwardCall([=, inner = inner_.get()] {
        inner->embeddingBackward(dtype, rows, positions, width, vocabulary, ids, dy, dTokens, dPositions);
    });
}

void ForwardingBackend::attentionForward(DType dtype, std::int64_t batch, std::int64_t positions, std::int64_t heads,
                                         std::int64_t headWidth, const void* qkv, void* probabilities, void* y,
                                         void* scratch) {
    forwardCall([=, inner = inner_.get()] {
        inner->attentionForward(dtype, batch, positions, heads, headWidth, qkv, probabilities, y, scratch);
    });
}

void ForwardingBackend::attentionBackward(DType dtype, std::int64_t batch, std::int64_t positions, std::int64_t heads,
                                          std::int64_t headWidth, const void* qkv, const void* probabilities,
                                          const void* dy, void* scratch, void* dqkv) {
    forwardCall([=, inner = inner_.get()] {
        inner->attentionBackward(dtype, batch, positions, heads, headWidth, qkv, probabilities, dy, scratch, dqkv);
    });
}
void ForwardingBackend::batchNormForwardTraining(DType dtype, std::int64_t n, std::int64_t channels,
                                                 std::int64_t spatial, const void* x, const void* gamma,
                                                 const void* beta, double epsilon, double momentum, void* runningMean,
                                                 void* runningVariance, void* savedMean, void* savedInverseStd,
                                                 void* y) {
    forwardCall([=, inner = inner_.get()] {
        inner->batchNormForwardTraining(dtype, n, channels, spatial, x, gamma, beta, epsilon, momentum, runningMean,
                                        runningVariance, savedMean, savedInverseStd, y);
    });
}
void ForwardingBackend::batchNormForwardInference(DType dtype, std::int64_t n, std::int64_t channels,
                                                  std::int64_t spatial, const void* x, const void* gamma,
                                                  const void* beta, const void* runningMean,
                                                  const void* runningVariance, double epsilon, void* y) {
    forwardCall([=, inner = inner_.get()] {
        inner->batchNormForwardInference(dtype, n, channels, spatial, x, gamma, beta, runningMean, runningVariance,
                                         epsilon, y);
    });
}
void ForwardingBackend::batchNormBackward(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial,
                                          const void* x, const void* dy, const void* gamma, const void* savedMean,
                                          const void* savedInverseStd, double epsilon, void* dx, void* dgamma, void* dbeta) {
    forwardCall([=, inner = inner_.get()] {
        inner->batchNormBackward(dtype, n, channels, spatial, x, dy, gamma, savedMean, savedInverseStd, epsilon, dx, dgamma,
                                 dbeta);
    });
}
std::size_t ForwardingBackend::convolutionWorkspaceBytes(DType dtype, const ConvolutionShape& shape,
                                                         ConvolutionPass pass) {
    return inner_->convolutionWorkspaceBytes(dtype, shape, pass);
}
void ForwardingBackend::convolutionForward(DType dtype, const ConvolutionShape& shape, const void* x,
                                           const void* weights, const void* bias, void* y, void* workspace,
                                           std::size_t workspaceBytes) {
    forwardCall([=, inner = inner_.get()] {
        inner->convolutionForward(dtype, shape, x, weights, bias, y, workspace, workspaceBytes);
    });
}
void ForwardingBackend::convolutionBackward(DType dtype, const ConvolutionShape& shape, const void* x,
                                            const void* weights, const void* dy, void* dx, void* dweights, void* dbias,
                                            const void* forwardWorkspace, void* workspace, std::size_t workspaceBytes) {
    forwardCall([=, inner = inner_.get()] {
        inner->convolutionBackward(dtype, shape, x, weights, dy, dx, dweights, dbias, forwardWorkspace, workspace,
                                   workspaceBytes);
    });
}
void ForwardingBackend::poolingForward(DType dtype, PoolingMode mode, const PoolingShape& shape, const void* x,
                                       void* y) {
    forwardCall([=, inner = inner_.get()] { inner->poolingForward(dtype, mode, shape, x, y); });
}
void ForwardingBackend::poolingBackward(DType dtype, PoolingMode mode, const PoolingShape& shape, const void* x,
                                        const void* y, const void* dy, void* dx) {
    forwardCall([=, inner = inner_.get()] { inner->poolingBackward(dtype, mode, shape, x, y, dy, dx); });
}
void ForwardingBackend::fill(DType dtype, std::int64_t count, double value, void* x) {
    forwardCall([=, inner = inner_.get()] { inner->fill(dtype, count, value, x); });
}
void ForwardingBackend::copy(std::size_t bytes, const void* source, void* destination) {
    forwardCall([=, inner = inner_.get()] { inner->copy(bytes, source, destination); });
}
void ForwardingBackend::axpby(DType dtype, std::int64_t count, double alpha, const void* x, double beta, void* y) {
    forwardCall([=, inner = inner_.get()] { inner->axpby(dtype, count, alpha, x, beta, y); });
}
void ForwardingBackend::average(DType dtype, std::int64_t length, const void* const* sources, int count,
                                void* destination) {
    forwardCall([=, inner = inner_.get()] { inner->average(dtype, length, sources, count, destination); });
}
void ForwardingBackend::sumOfSquares(DType dtype, std::int64_t count, const void* x, void* out) {
    forwardCall([=, inner = inner_.get()] { inner->sumOfSquares(dtype, count, x, out); });
}
void ForwardingBackend::sgdUpdate(DType dtype, std::int64_t count, double learningRate, double weightDecay,
                                  const void* gradient, void* parameters) {
    forwardCall(
        [=, inner = inner_.get()] { inner->sgdUpdate(dtype, count, learningRate, weightDecay, gradient, parameters); });
}
void ForwardingBackend::nesterovUpdate(DType dtype, std::int64_t count, double learningRate, double momentum,
                                       double weightDecay, const void* gradient, void* velocity, void* parameters) {
    forwardCall([=, inner = inner_.get()] {
        inner->nesterovUpdate(dtype, count, learningRate, momentum, weightDecay, gradient, velocity, parameters);
    });
}
void ForwardingBackend::outerUpdate(DType dtype, std::int64_t count, double learningRate, double momentum,
                                    void* parameters, void* anchor, void* velocity) {
    forwardCall([=, inner = inner_.get()] {
        inner->outerUpdate(dtype, count, learningRate, momentum, parameters, anchor, velocity);
    });
}
void ForwardingBackend::adamUpdate(DType dtype, std::int64_t count, const AdamHyper& hyper, const void* gradient,
                                   void* firstMoment, void* secondMoment, void* parameters) {
    forwardCall([=, inner = inner_.get()] {
        inner->adamUpdate(dtype, count, hyper, gradient, firstMoment, secondMoment, parameters);
    });
}
void ForwardingBackend::copyToHost(std::size_t bytes, const void* source, void* hostDestination) {
    forwardCall([=, inner = inner_.get()] { inner->copyToHost(bytes, source, hostDestination); });
}
void ForwardingBackend::copyFromHost(std::size_t bytes, const void* hostSource, void* destination) {
    forwardCall([=, inner = inner_.get()] { inner->copyFromHost(bytes, hostSource, destination); });
}
void ForwardingBackend::synchronize() { inner_->synchronize(); }

}  // namespace cohort::kernels
