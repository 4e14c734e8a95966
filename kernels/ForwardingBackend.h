#pragma once
// kernels/ForwardingBackend.h — a Backend that hands every operation to an inner backend, for
// wrappers that add one thing around each operation (wait for it, record it, ...).
//
// Every operation that works on buffers (gemm ... adamUpdate, copy, copyToHost, copyFromHost)
// goes through forward(Operation&), which a wrapper overrides: the default runs it at once on the
// inner backend. name(), location(), convolutionWorkspaceBytes() (a host-side query) and
// synchronize() go to the inner backend directly. Capture and staging are not forwarded: they
// keep the Backend defaults (no capture; stageFromHost is this backend's copyFromHost), so work
// never reaches the inner backend around forward(); a wrapper that supports them overrides them.
// Adding a Backend operation means adding its forwarding here once.
#include <functional>
#include <memory>
#include <string>

#include "kernels/Backend.h"

namespace cohort::kernels {

class ForwardingBackend : public Backend {
public:
    // One call of the inner backend, bound to its arguments (copied: scalars, shapes, pointers).
    class Operation {
    public:
        virtual void run() = 0;  // makes the call now
        // The same call as a closure that may run later; it copies the pointers, not the memory
        // they point to (average's list of sources included).
        virtual std::function<void()> keep() const = 0;

    protected:
        ~Operation() = default;
    };

    explicit ForwardingBackend(std::unique_ptr<Backend> inner);

    std::string name() const override;
    memory::MemoryLocation location() const override;

    void gemm(DType dtype, bool transposeA, bool transposeB, std::int64_t m, std::int64_t n, std::int64_t k,
              double alpha, const void* a, std::int64_t lda, const void* b, std::int64_t ldb, double beta, void* c,
              std::int64_t ldc) override;
    void denseForward(DType dtype, Activation activation, std::int64_t rows, std::int64_t outputs, std::int64_t inputs,
                      const void* x, const void* w, const void* bias, const void* addend, void* y) override;
    void biasActivationForward(DType dtype, Activation activation, std::int64_t rows, std::int64_t cols, const void* x,
                               const void* bias, void* y) override;
    void activationBackward(DType dtype, Activation activation, std::int64_t count, const void* y, const void* dy,
                            void* dx) override;
    void columnSum(DType dtype, std::int64_t rows, std::int64_t cols, const void* x, void* out,
                   bool accumulate) override;
    void softmaxCrossEntropy(DType dtype, std::int64_t rows, std::int64_t classes, const void* logits,
                             const std::int32_t* labels, void* lossSum, void* grad, double gradScale,
                             std::int64_t* correct) override;
    void squaredError(DType dtype, std::int64_t count, const void* prediction, const void* target, void* lossSum,
                      void* grad, double gradScale) override;
    void softmax(DType dtype, std::int64_t rows, std::int64_t classes, const void* x, void* y) override;
    void dropoutForward(DType dtype, std::int64_t count, double rate, std::uint64_t seed, std::uint64_t offset,
                        const std::uint64_t* stepCounter, const void* x, void* mask, void* y) override;
    void multiply(DType dtype, std::int64_t count, const void* x, const void* y, void* z) override;
    void geluForward(DType dtype, std::int64_t count, const void* x, void* y) override;
    void geluBackward(DType dtype, std::int64_t count, const void* x, const void* dy, void* dx) override;
    void geluForwardWithDerivative(DType dtype, std::int64_t count, const void* x, void* y, void* dydx) override;
    void layerNormForward(DType dtype, std::int64_t rows, std::int64_t features, double epsilon, const void* x,
                          const void* gain, const void* bias, void* y, void* mean, void* rstd) override;
    void layerNormBackward(DType dtype, std::int64_t rows, std::int64_t features, const void* x, const void* gain,
                           const void* mean, const void* rstd, const void* dy, void* dx, void* dgain,
                           void* dbias) override;
    void embeddingForward(DType dtype, std::int64_t rows, std::int64_t positions, std::int64_t width, const void* ids,
                          const void* tokens, const void* positionTable, void* y) override;
    void embeddingBackward(DType dtype, std::int64_t rows, std::int64_t positions, std::int64_t width,
                           std::int64_t vocabulary, const void* ids, const void* dy, void* dTokens,
                           void* dPositions) override;
    void attentionForward(DType dtype, std::int64_t batch, std::int64_t positions, std::int64_t heads,
                          std::int64_t headWidth, const void* qkv, void* probabilities, void* y,
                          void* scratch) override;
    void attentionBackward(DType dtype, std::int64_t batch, std::int64_t positions, std::int64_t heads,
                           std::int64_t headWidth, const void* qkv, const void* probabilities, const void* dy,
                           void* scratch, void* dqkv) override;
    void batchNormForwardTraining(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial,
                                  const void* x, const void* gamma, const void* beta, double epsilon, double momentum,
                                  void* runningMean, void* runningVariance, void* savedMean, void* savedInverseStd,
                                  void* y) override;
    void batchNormForwardInference(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial,
                                   const void* x, const void* gamma, const void* beta, const void* runningMean,
                                   const void* runningVariance, double epsilon, void* y) override;
    void batchNormBackward(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial, const void* x,
                           const void* dy, const void* gamma, const void* savedMean, const void* savedInverseStd, double epsilon,
                           void* dx, void* dgamma, void* dbeta) override;
    std::size_t convolutionWorkspaceBytes(DType dtype, const ConvolutionShape& shape, ConvolutionPass pass) override;
    void convolutionForward(DType dtype, const ConvolutionShape& shape, const void* x, const void* weights,
                            const void* bias, void* y, void* workspace, std::size_t workspaceBytes) override;
    void convolutionBackward(DType dtype, const ConvolutionShape& shape, const void* x, const void* weights,
                             const void* dy, void* dx, void* dweights, void* dbias, const void* forwardWorkspace,
                             void* workspace, std::size_t workspaceBytes) override;
    void poolingForward(DType dtype, PoolingMode mode, const PoolingShape& shape, const void* x, void* y) override;
    void poolingBackward(DType dtype, PoolingMode mode, const PoolingShape& shape, const void* x, const void* y,
                         const void* dy, void* dx) override;
    void fill(DType dtype, std::int64_t count, double value, void* x) override;
    void copy(std::size_t bytes, const void* source, void* destination) override;
    void axpby(DType dtype, std::int64_t count, double alpha, const void* x, double beta, void* y) override;
    void average(DType dtype, std::int64_t length, const void* const* sources, int count, void* destination) override;
    void sumOfSquares(DType dtype, std::int64_t count, const void* x, void* out) override;
    void sgdUpdate(DType dtype, std::int64_t count, double learningRate, double weightDecay, const void* gradient,
                   void* parameters) override;
    void nesterovUpdate(DType dtype, std::int64_t count, double learningRate, double momentum, double weightDecay,
                        const void* gradient, void* velocity, void* parameters) override;
    void adamUpdate(DType dtype, std::int64_t count, const AdamHyper& hyper, const void* gradient, void* firstMoment,
                    void* secondMoment, void* parameters) override;
    void outerUpdate(DType dtype, std::int64_t count, double learningRate, double momentum, void* parameters,
                     void* anchor, void* velocity) override;
    void copyToHost(std::size_t bytes, const void* source, void* hostDestination) override;
    void copyFromHost(std::size_t bytes, const void* hostSource, void* destination) override;
    void synchronize() override;

protected:
    Backend& inner() const { return *inner_; }
    // Each forwarded operation passes through here; the default runs it.
    virtual void forward(Operation& operation) { operation.run(); }

private:
    template <typename Call>
    void forwardCall(Call call);

    std::unique_ptr<Backend> inner_;
};

}  // namespace cohort::kernels
