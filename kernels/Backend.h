#pragma once
// kernels/ — the contract of the math layer.
//
// A Backend performs every numeric operation a model needs on raw buffers that live in its
// memory location (host memory for the CPU backend, one GPU's memory for a CUDA backend).
// Buffers are row-major and dense; element types are float32 or float64 (double exists for
// gradient checks and references; training uses float32). A backend instance belongs to one
// worker thread at a time (it may carry a CUDA stream / cuBLAS handle or a BLAS thread count);
// operations are ordered on it. Scalars that an operation produces (a loss, a count of correct
// predictions) are written into buffers of the backend's location so GPU work never has to
// synchronise inside a step; copyToHost reads them when needed.
//
// Knows nothing about layers, models, training or communication.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "kernels/SeedMixing.h"  // counterUniform: the dropout generator of dropoutForward
#include "memory/SystemAllocator.h"

namespace cohort::kernels {

enum class DType : std::uint8_t { Float32, Float64 };
std::size_t sizeOf(DType dtype);
const char* toString(DType dtype);

enum class Activation : std::uint8_t { Identity, Relu, Tanh, Sigmoid };
const char* toString(Activation activation);

struct AdamHyper {
    double learningRate = 1e-3, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, weightDecay = 0.0;
    std::int64_t step = 1;  // 1-based step count, for bias correction
};

// A 2-D convolution over NCHW data: input [batch, inChannels, height, width], weights
// [outChannels, inChannels, kernel, kernel] (row-major, i.e. [outChannels, patch()]), bias
// [outChannels], output [batch, outChannels, outHeight(), outWidth()]; square kernel, the same
// stride on both axes, zero padding on every side. Cross-correlation, as in cuDNN and PyTorch.
struct ConvolutionShape {
    std::int64_t batch = 0, inChannels = 0, height = 0, width = 0;
    std::int64_t outChannels = 0, kernel = 1, stride = 1, padding = 0;
    std::int64_t outHeight() const { return (height + 2 * padding - kernel) / stride + 1; }
    std::int64_t outWidth() const { return (width + 2 * padding - kernel) / stride + 1; }
    std::int64_t patch() const { return inChannels * kernel * kernel; }
    bool operator==(const ConvolutionShape&) const = default;
};
enum class ConvolutionPass : std::uint8_t { Forward, Backward };

// 2-D pooling over NCHW data without padding: input [batch, channels, height, width], output
// [batch, channels, outHeight(), outWidth()], square window, the same stride on both axes.
struct PoolingShape {
    std::int64_t batch = 0, channels = 0, height = 0, width = 0, window = 1, stride = 1;
    // Backward only: x is a ReLU's output and dx is also that ReLU's backward (zero where x <= 0).
    bool reluMask = false;
    std::int64_t outHeight() const { return (height - window) / stride + 1; }
    std::int64_t outWidth() const { return (width - window) / stride + 1; }
    bool operator==(const PoolingShape&) const = default;
};
enum class PoolingMode : std::uint8_t { Max, Average };
const char* toString(PoolingMode mode);

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;
    virtual memory::MemoryLocation location() const = 0;

    // C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, row-major with leading dimensions.
    virtual void gemm(DType dtype, bool transposeA, bool transposeB, std::int64_t m, std::int64_t n,
                      std::int64_t k, double alpha, const void* a, std::int64_t lda, const void* b,
                      std::int64_t ldb, double beta, void* c, std::int64_t ldc) = 0;

    // y[r,c] = act(x[r,c] + bias[c]); bias may be null; y may alias x.
    virtual void biasActivationForward(DType dtype, Activation activation, std::int64_t rows,
                                       std::int64_t cols, const void* x, const void* bias,
                                       void* y) = 0;
    // A dense layer's forward pass: y [rows, outputs] = act(x [rows, inputs] * w [inputs, outputs]
    // + bias) + addend, all row-major; addend (nullable, [rows, outputs]) is a residual block's
    // input when the layer ends the block. By default gemm, biasActivationForward in place, then
    // axpby; a backend may fuse them (the CPU's starts y as bias + addend and accumulates the
    // product onto it).
    virtual void denseForward(DType dtype, Activation activation, std::int64_t rows, std::int64_t outputs,
                              std::int64_t inputs, const void* x, const void* w, const void* bias, const void* addend,
                              void* y) {
        gemm(dtype, false, false, rows, outputs, inputs, 1.0, x, inputs, w, outputs, 0.0, y, outputs);
        biasActivationForward(dtype, activation, rows, outputs, y, bias, y);
        if (addend != nullptr) axpby(dtype, rows * outputs, 1.0, addend, 1.0, y);
    }
    // dx = dy * act'(.) expressed through the activation's output y; dx may alias dy.
    virtual void activationBackward(DType dtype, Activation activation, std::int64_t count,
                                    const void* y, const void* dy, void* dx) = 0;
    // out[c] = sum_r x[r,c] (+ out[c] when accumulate).
    virtual void columnSum(DType dtype, std::int64_t rows, std::int64_t cols, const void* x,
                           void* out, bool accumulate) = 0;

    // Numerically stable softmax cross-entropy over rows of logits with integer labels.
    // lossSum[0] = sum over rows of -log softmax(logits)[label]; grad (nullable) =
    // gradScale * (softmax - onehot); correct[0] (nullable, int64) = rows whose argmax == label.
    virtual void softmaxCrossEntropy(DType dtype, std::int64_t rows, std::int64_t classes,
                                     const void* logits, const std::int32_t* labels, void* lossSum,
                                     void* grad, double gradScale, std::int64_t* correct) = 0;
    // Mean-squared error against a target: lossSum[0] = sum (p - t)^2; grad = gradScale*2(p - t).
    virtual void squaredError(DType dtype, std::int64_t count, const void* prediction,
                              const void* target, void* lossSum, void* grad, double gradScale) = 0;
    // Row-wise softmax (inference).
    virtual void softmax(DType dtype, std::int64_t rows, std::int64_t classes, const void* x,
                         void* y) = 0;

    // Inverted dropout with a counter-based generator: element i is kept when
    // counterUniform(seed, start + i) >= rate (kernels/SeedMixing.h); y = keep ? x / (1 - rate)
    // : 0; mask (same dtype) holds the factor applied (0 or 1/(1-rate)) for the backward pass.
    // Identical on every backend.
    // start = offset + (stepCounter ? stepCounter[0] * count : 0): stepCounter (nullable) is one
    // uint64 in this backend's memory read when the operation runs, so a captured step (see
    // beginCapture) draws a fresh mask on every replay.
    virtual void dropoutForward(DType dtype, std::int64_t count, double rate, std::uint64_t seed,
                                std::uint64_t offset, const std::uint64_t* stepCounter, const void* x,
                                void* mask, void* y) = 0;
    // z = x * y elementwise (dropout backward: dx = dy * mask).
    virtual void multiply(DType dtype, std::int64_t count, const void* x, const void* y,
                          void* z) = 0;

    // GELU in GPT-2's tanh form: y = x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3). Its
    // derivative needs x itself (not y): dx = dy (1/2 (1 + tanh u) + x/2 (1 - tanh^2 u) du/dx).
    // y may alias x; dx may alias dy.
    virtual void geluForward(DType dtype, std::int64_t count, const void* x, void* y) = 0;
    virtual void geluBackward(DType dtype, std::int64_t count, const void* x, const void* dy, void* dx) = 0;
    // The training forward pass: y as geluForward and dydx, the derivative at x, so the backward
    // pass is multiply(dy, dydx), the exponential computed once per element instead of twice. By
    // default geluForward, then geluBackward of ones; a backend may compute both in one pass.
    virtual void geluForwardWithDerivative(DType dtype, std::int64_t count, const void* x, void* y, void* dydx) {
        fill(dtype, count, 1.0, dydx);
        geluBackward(dtype, count, x, dydx, dydx);
        geluForward(dtype, count, x, y);
    }

    // Layer normalisation of each row of x [rows, features]: y = (x - mean) * rstd * gain + bias
    // with the row's mean and biased variance, rstd = 1 / sqrt(var + epsilon); mean and rstd
    // (rows each) are kept for the backward pass. gain and bias hold `features` elements.
    virtual void layerNormForward(DType dtype, std::int64_t rows, std::int64_t features, double epsilon,
                                  const void* x, const void* gain, const void* bias, void* y, void* mean,
                                  void* rstd) = 0;
    // Gradients of layerNormForward: dgain, dbias (overwritten, summed over rows in row order, so
    // every backend's sum is deterministic) and dx (nullable).
    virtual void layerNormBackward(DType dtype, std::int64_t rows, std::int64_t features, const void* x,
                                   const void* gain, const void* mean, const void* rstd, const void* dy, void* dx,
                                   void* dgain, void* dbias) = 0;

    // Token and position embeddings of `rows` tokens, each row one position of a sequence of
    // `positions` (row r is position r % positions): y[r] = tokens[ids[r]] + positionTable[r %
    // positions], `width` wide. ids hold token ids as values of `dtype` (exact below 2^24; the data
    // pipeline carries samples as floating-point features), each in [0, vocabulary).
    virtual void embeddingForward(DType dtype, std::int64_t rows, std::int64_t positions, std::int64_t width,
                                  const void* ids, const void* tokens, const void* positionTable, void* y) = 0;
    // dTokens[v] = sum of dy[r] over the rows whose id is v, dPositions[p] = sum of dy[r] over the
    // rows at position p (both overwritten; each sum in row order, so every backend's is the same).
    virtual void embeddingBackward(DType dtype, std::int64_t rows, std::int64_t positions, std::int64_t width,
                                   std::int64_t vocabulary, const void* ids, const void* dy, void* dTokens,
                                   void* dPositions) = 0;

    // Causal multi-head self-attention of `batch` sequences of `positions` tokens, after the fused
    // QKV projection. qkv is [batch, positions, 3 C] (C = heads * headWidth): columns [0, C) are the
    // queries, [C, 2C) the keys, [2C, 3C) the values, head h at columns h * headWidth of each.
    // probabilities [batch, heads, positions, positions] receives softmax(Q K^T / sqrt(headWidth))
    // with the causal mask (entries above the diagonal are written as 0), y [batch, positions, C]
    // the weighted sums P V, head h at columns h * headWidth. scratch holds
    // batch * heads * headWidth * positions elements (the CPU's transposed keys), its contents
    // undefined on return.
    virtual void attentionForward(DType dtype, std::int64_t batch, std::int64_t positions, std::int64_t heads,
                                  std::int64_t headWidth, const void* qkv, void* probabilities, void* y,
                                  void* scratch) = 0;
    // Gradients of attentionForward: dqkv [batch, positions, 3 C] (overwritten) from dy
    // [batch, positions, C]. scratch holds batch * heads * positions * (positions + headWidth)
    // elements (the gradient of the scores, then the CPU's transposed values), its contents
    // undefined on return.
    virtual void attentionBackward(DType dtype, std::int64_t batch, std::int64_t positions, std::int64_t heads,
                                   std::int64_t headWidth, const void* qkv, const void* probabilities,
                                   const void* dy, void* scratch, void* dqkv) = 0;

    // Batch normalisation of x viewed as [n, channels, spatial], per channel: statistics over n
    // and spatial (cuDNN's spatial mode; spatial = 1 after a dense layer). gamma, beta, the
    // running and the saved statistics hold `channels` elements each.
    // Training: y = gamma * (x - mean) * invStd + beta with the batch mean and biased variance,
    // invStd = 1 / sqrt(var + epsilon); savedMean / savedInverseStd receive mean and invStd for
    // the backward pass; running = (1 - momentum) * running + momentum * batch value, with the
    // unbiased variance (n * spatial > 1) for the running variance.
    virtual void batchNormForwardTraining(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial,
                                          const void* x, const void* gamma, const void* beta, double epsilon,
                                          double momentum, void* runningMean, void* runningVariance,
                                          void* savedMean, void* savedInverseStd, void* y) = 0;
    // Inference: y = gamma * (x - runningMean) / sqrt(runningVariance + epsilon) + beta.
    virtual void batchNormForwardInference(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial,
                                           const void* x, const void* gamma, const void* beta,
                                           const void* runningMean, const void* runningVariance, double epsilon,
                                           void* y) = 0;
    // Gradients of the training-mode forward: dgamma, dbeta (overwritten) and dx (nullable).
    // `epsilon` is the forward pass's (cuDNN asks for it; the CPU reads savedInverseStd only).
    virtual void batchNormBackward(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial,
                                   const void* x, const void* dy, const void* gamma, const void* savedMean,
                                   const void* savedInverseStd, double epsilon, void* dx, void* dgamma, void* dbeta) = 0;

    // Convolutions. The caller provides each pass's working memory (from its workspace), sized
    // by convolutionWorkspaceBytes for that shape; a backend that chooses among algorithms (cuDNN)
    // does so there, once per shape, and remembers the choice.
    virtual std::size_t convolutionWorkspaceBytes(DType dtype, const ConvolutionShape& shape,
                                                  ConvolutionPass pass) = 0;
    // y = conv(x, weights) + bias (bias nullable). y must not alias x.
    virtual void convolutionForward(DType dtype, const ConvolutionShape& shape, const void* x,
                                    const void* weights, const void* bias, void* y, void* workspace,
                                    std::size_t workspaceBytes) = 0;
    // From dy: dweights and dbias (overwritten; dbias nullable) and, when dx is not null, dx
    // (overwritten). forwardWorkspace is the workspace the forward pass of this same batch used,
    // untouched since, or nullptr: a backend may reuse what it left there (the CPU keeps the
    // lowered input) instead of recomputing it.
    virtual void convolutionBackward(DType dtype, const ConvolutionShape& shape, const void* x,
                                     const void* weights, const void* dy, void* dx, void* dweights,
                                     void* dbias, const void* forwardWorkspace, void* workspace,
                                     std::size_t workspaceBytes) = 0;
    // Pooling. Max pooling's backward routes each dy to its window's first maximum in x
    // (row-major scan), so it needs no saved indices; average pooling spreads dy evenly.
    virtual void poolingForward(DType dtype, PoolingMode mode, const PoolingShape& shape,
                                const void* x, void* y) = 0;
    // dx overwritten (windows that overlap accumulate). y is the forward output (cuDNN needs it).
    virtual void poolingBackward(DType dtype, PoolingMode mode, const PoolingShape& shape,
                                 const void* x, const void* y, const void* dy, void* dx) = 0;

    virtual void fill(DType dtype, std::int64_t count, double value, void* x) = 0;
    virtual void copy(std::size_t bytes, const void* source, void* destination) = 0;
    // y = alpha * x + beta * y
    virtual void axpby(DType dtype, std::int64_t count, double alpha, const void* x, double beta,
                       void* y) = 0;
    // destination = mean of `count` buffers of `length` elements (destination may be one of them).
    virtual void average(DType dtype, std::int64_t length, const void* const* sources, int count,
                         void* destination) = 0;
    // out[0] = sum of squares (NaN/Inf propagate, so this doubles as a divergence check).
    virtual void sumOfSquares(DType dtype, std::int64_t count, const void* x, void* out) = 0;

    // Fused optimizer updates over a whole flat buffer (one pass each).
    // SGD: p -= lr * (g + wd * p)
    virtual void sgdUpdate(DType dtype, std::int64_t count, double learningRate,
                           double weightDecay, const void* gradient, void* parameters) = 0;
    // Nesterov (PyTorch form): g' = g + wd*p; v = mu*v + g'; p -= lr * (g' + mu*v)
    virtual void nesterovUpdate(DType dtype, std::int64_t count, double learningRate,
                                double momentum, double weightDecay, const void* gradient,
                                void* velocity, void* parameters) = 0;
    // Adam with decoupled weight decay (AdamW): p -= lr*wd*p; m,v moments; p -= lr*mhat/(sqrt(vhat)+eps)
    virtual void adamUpdate(DType dtype, std::int64_t count, const AdamHyper& hyper,
                            const void* gradient, void* firstMoment, void* secondMoment,
                            void* parameters) = 0;

    // The outer step of an averaging point (DiLoCo; parallel/OuterOptimizer.h). `parameters`
    // holds the replicas' mean, `anchor` the parameters of the previous point; d = anchor - mean
    // is the pseudo-gradient. With `velocity` (Nesterov, PyTorch form): v = mu*v + d and
    // p = mean + (1 - lr)*d - lr*mu*v; without (null, plain SGD): p = mean + (1 - lr)*d. Both are
    // anchor - lr*(step), written so that lr 1 without momentum leaves the mean bit for bit. Then
    // anchor = p.
    virtual void outerUpdate(DType dtype, std::int64_t count, double learningRate, double momentum,
                             void* parameters, void* anchor, void* velocity) = 0;

    // Capture (CUDA graphs): between beginCapture() and endCapture() the operations are recorded
    // instead of run; replay() runs the recording again on the same buffers (same addresses,
    // so callers keep inputs in fixed buffers and scalars that change per step in backend
    // memory). Operations that wait for the device (copyToHost, synchronize) are not allowed
    // while capturing. A backend that cannot capture says so with canCapture() == false.
    class Captured {
    public:
        virtual ~Captured() = default;
        virtual void replay() = 0;
    };
    virtual bool canCapture() const { return false; }
    // Counts the times the backend replaced an area of its own (scratch grown for a larger call).
    // A recording made under another count refers to freed memory: the caller records again.
    virtual std::uint64_t scratchGeneration() const { return 0; }
    virtual void beginCapture();
    // Ends the capture; returns nullptr when the recording cannot be replayed (the reason in
    // `whyNot` when given), in which case the caller runs the work normally.
    virtual std::unique_ptr<Captured> endCapture(std::string* whyNot = nullptr);

    // Staging ahead: host -> backend copies on a second queue (a GPU's copy engine), so the next
    // batch's transfer overlaps this step's work. Ordering uses 64-bit tokens (0 = none), never
    // a host wait unless asked:
    //   mark()                  a marker at the current end of this backend's operations;
    //   stageFromHost(.., after) copies once the operations up to marker `after` are done (so a
    //                           buffer is overwritten only after its last reader) and returns a
    //                           staging ticket;
    //   awaitStaged(ticket)     makes this backend's later operations wait for that copy;
    //   stagedOnHost(ticket)    blocks the host until the copy has read its source (a pinned
    //                           buffer may then be refilled).
    // Tokens are recycled after 16 newer ones of their kind: keep fewer outstanding. The default
    // (CPU) copies at once: stageFromHost is copyFromHost, the rest do nothing.
    virtual std::uint64_t mark() { return 0; }
    virtual std::uint64_t stageFromHost(std::size_t bytes, const void* hostSource, void* destination,
                                        std::uint64_t after) {
        (void)after;
        copyFromHost(bytes, hostSource, destination);
        return 0;
    }
    virtual void awaitStaged(std::uint64_t ticket) { (void)ticket; }
    virtual void stagedOnHost(std::uint64_t ticket) { (void)ticket; }

    // Transfers between this backend's memory and host memory, ordered with the operations.
    virtual void copyToHost(std::size_t bytes, const void* source, void* hostDestination) = 0;
    virtual void copyFromHost(std::size_t bytes, const void* hostSource, void* destination) = 0;
    virtual void synchronize() = 0;
};

// The CPU backend; `threads` is the BLAS/OpenMP thread count used by the calling thread
// (0: leave the process default).
std::unique_ptr<Backend> makeCpuBackend(int threads = 0);

// CUDA backends, one per worker (own stream and library handles), from the CUDA module, which is
// loaded on the first of these calls that needs it (memory/CudaModule.h). makeCudaBackend throws
// std::runtime_error when the build has no CUDA, the module cannot load or the ordinal is not
// visible.
bool cudaCompiledIn();  // the build has a CUDA module
int cudaDeviceCount();  // 0 without CUDA, a driver, a loadable module or a visible device
std::string cudaDeviceName(int device);  // e.g. "NVIDIA H100 80GB HBM3"
std::unique_ptr<Backend> makeCudaBackend(int device, bool allowTf32 = false);
// The CUDA libraries the loaded module uses, one "name version file" line each; "" when the module
// is not loaded (it is not loaded by this call).
std::string cudaLibraries();

}  // namespace cohort::kernels
