#include "src/tensor/Tensor.h"

#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>

namespace cohort {
namespace {

std::shared_ptr<void> ownSystemBytes(void* pointer, std::size_t bytes, MemoryLocation location) {
    return std::shared_ptr<void>(pointer, [bytes, location](void* p) {
        memory::systemAllocator(location).deallocate(p, bytes);
    });
}

Tensor fromAllocation(const memory::ScopedAllocation& allocation, const Shape& shape, DType dtype,
                      MemoryLocation location, std::shared_ptr<void>* owner) {
    if (allocation.ownedBySystem) {
        *owner = ownSystemBytes(allocation.pointer, std::size_t(shape.elementCount()) * kernels::sizeOf(dtype),
                                location);
    }
    return Tensor::view(allocation.pointer, shape, dtype, location, allocation.ticket);
}

}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, MemoryLocation location) {
    const std::size_t bytes = std::size_t(shape.elementCount()) * kernels::sizeOf(dtype);
    auto allocation = memory::WorkspaceManager::forCurrentThread().allocateInCurrentScope(bytes, location);
    std::shared_ptr<void> owner;
    Tensor tensor = fromAllocation(allocation, shape, dtype, location, &owner);
    tensor.owner_ = std::move(owner);
    return tensor;
}

Tensor Tensor::persistent(const Shape& shape, DType dtype, MemoryLocation location) {
    const std::size_t bytes = std::size_t(shape.elementCount()) * kernels::sizeOf(dtype);
    Tensor tensor;
    tensor.shape_ = shape;
    tensor.dtype_ = dtype;
    tensor.location_ = location;
    tensor.data_ = memory::systemAllocator(location).allocate(bytes);
    tensor.owner_ = ownSystemBytes(tensor.data_, bytes, location);
    return tensor;
}

Tensor Tensor::view(void* data, const Shape& shape, DType dtype, MemoryLocation location,
                    memory::WorkspaceTicket ticket) {
    Tensor tensor;
    tensor.shape_ = shape;
    tensor.dtype_ = dtype;
    tensor.location_ = location;
    tensor.data_ = data;
    tensor.ticket_ = std::move(ticket);
    return tensor;
}

Tensor Tensor::reshape(const Shape& shape) const {
    if (shape.elementCount() != elementCount()) {
        throw std::invalid_argument("reshape: " + shape_.toString() + " has " +
                                    std::to_string(elementCount()) + " elements, " +
                                    shape.toString() + " needs " + std::to_string(shape.elementCount()));
    }
    Tensor result = *this;
    result.shape_ = shape;
    return result;
}

Tensor Tensor::slice(std::int64_t begin, std::int64_t end) const {
    if (rank() == 0 || begin < 0 || end < begin || end > dim(0)) {
        throw std::out_of_range("slice [" + std::to_string(begin) + "," + std::to_string(end) +
                                ") outside " + shape_.toString());
    }
    Tensor result = *this;
    result.shape_ = shape_.withFirst(end - begin);
    result.data_ = static_cast<char*>(data_) + std::size_t(begin * shape_.innerCount()) * kernels::sizeOf(dtype_);
    return result;
}

Tensor Tensor::copyInto(const memory::ScopedAllocation& allocation) const {
    std::shared_ptr<void> owner;
    Tensor copy = fromAllocation(allocation, shape_, dtype_, location_, &owner);
    copy.owner_ = std::move(owner);
    defaultBackendFor(location_).copy(byteCount(), data_, copy.data_);
    return copy;
}

Tensor Tensor::detach() const {
    ticket_.check("detach", "this");
    if (!isAttached()) return *this;
    memory::ScopedAllocation allocation;
    allocation.pointer = memory::systemAllocator(location_).allocate(byteCount());
    allocation.ownedBySystem = true;
    return copyInto(allocation);
}

Tensor Tensor::leverage() const {
    ticket_.check("leverage", "this");
    if (!isAttached()) return *this;
    auto& manager = memory::WorkspaceManager::forCurrentThread();
    const memory::Workspace* own = manager.find(ticket_.state->name);
    const memory::Workspace* parent = own ? manager.activeParentOf(own) : nullptr;
    if (!parent) return detach();
    return copyInto(manager.allocateIn(parent->name(), byteCount()));
}

Tensor Tensor::leverageTo(std::string_view workspaceName) const {
    ticket_.check("leverageTo", "this");
    auto& manager = memory::WorkspaceManager::forCurrentThread();
    return copyInto(manager.allocateIn(workspaceName, byteCount()));
}

void Tensor::copyFromHost(const void* source, std::size_t bytes) {
    if (bytes != byteCount()) {
        throw std::invalid_argument("copyFromHost: " + std::to_string(bytes) + " bytes for a tensor of " +
                                    std::to_string(byteCount()));
    }
    defaultBackendFor(location_).copyFromHost(bytes, source, checked("copyFromHost", "this"));
}

void Tensor::copyToHost(void* destination, std::size_t bytes) const {
    if (bytes != byteCount()) {
        throw std::invalid_argument("copyToHost: " + std::to_string(bytes) + " bytes for a tensor of " +
                                    std::to_string(byteCount()));
    }
    defaultBackendFor(location_).copyToHost(bytes, checked("copyToHost", "this"), destination);
}

namespace {

// A device's default backend: every operation has finished on the device when the call returns.
// Its stream is its own, unordered with the workers' streams that read the same buffers next (a
// replica's initial parameters and statistics, an optimizer's zeroed state, a model's zeroed
// gradients): asynchronous work left queued here could still be running when a worker's first
// kernel reads those buffers. It is shared by every thread, hence the lock.
class FinishedOnReturnBackend final : public kernels::Backend {
public:
    explicit FinishedOnReturnBackend(std::unique_ptr<kernels::Backend> inner) : inner_(std::move(inner)) {}

    std::string name() const override { return inner_->name(); }
    MemoryLocation location() const override { return inner_->location(); }

    void gemm(DType dtype, bool transposeA, bool transposeB, std::int64_t m, std::int64_t n, std::int64_t k,
              double alpha, const void* a, std::int64_t lda, const void* b, std::int64_t ldb, double beta, void* c,
              std::int64_t ldc) override {
        finished([&] { inner_->gemm(dtype, transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); });
    }
    void biasActivationForward(DType dtype, kernels::Activation activation, std::int64_t rows, std::int64_t cols,
                               const void* x, const void* bias, void* y) override {
        finished([&] { inner_->biasActivationForward(dtype, activation, rows, cols, x, bias, y); });
    }
    void activationBackward(DType dtype, kernels::Activation activation, std::int64_t count, const void* y,
                            const void* dy, void* dx) override {
        finished([&] { inner_->activationBackward(dtype, activation, count, y, dy, dx); });
    }
    void columnSum(DType dtype, std::int64_t rows, std::int64_t cols, const void* x, void* out,
                   bool accumulate) override {
        finished([&] { inner_->columnSum(dtype, rows, cols, x, out, accumulate); });
    }
    void softmaxCrossEntropy(DType dtype, std::int64_t rows, std::int64_t classes, const void* logits,
                             const std::int32_t* labels, void* lossSum, void* grad, double gradScale,
                             std::int64_t* correct) override {
        finished([&] {
            inner_->softmaxCrossEntropy(dtype, rows, classes, logits, labels, lossSum, grad, gradScale, correct);
        });
    }
    void squaredError(DType dtype, std::int64_t count, const void* prediction, const void* target, void* lossSum,
                      void* grad, double gradScale) override {
        finished([&] { inner_->squaredError(dtype, count, prediction, target, lossSum, grad, gradScale); });
    }
    void softmax(DType dtype, std::int64_t rows, std::int64_t classes, const void* x, void* y) override {
        finished([&] { inner_->softmax(dtype, rows, classes, x, y); });
    }
    void dropoutForward(DType dtype, std::int64_t count, double rate, std::uint64_t seed, std::uint64_t offset,
                        const std::uint64_t* stepCounter, const void* x, void* mask, void* y) override {
        finished([&] { inner_->dropoutForward(dtype, count, rate, seed, offset, stepCounter, x, mask, y); });
    }
    void multiply(DType dtype, std::int64_t count, const void* x, const void* y, void* z) override {
        finished([&] { inner_->multiply(dtype, count, x, y, z); });
    }
    void batchNormForwardTraining(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial,
                                  const void* x, const void* gamma, const void* beta, double epsilon, double momentum,
                                  void* runningMean, void* runningVariance, void* savedMean, void* savedInverseStd,
                                  void* y) override {
        finished([&] {
            inner_->batchNormForwardTraining(dtype, n, channels, spatial, x, gamma, beta, epsilon, momentum,
                                             runningMean, runningVariance, savedMean, savedInverseStd, y);
        });
    }
    void batchNormForwardInference(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial,
                                   const void* x, const void* gamma, const void* beta, const void* runningMean,
                                   const void* runningVariance, double epsilon, void* y) override {
        finished([&] {
            inner_->batchNormForwardInference(dtype, n, channels, spatial, x, gamma, beta, runningMean,
                                              runningVariance, epsilon, y);
        });
    }
    void batchNormBackward(DType dtype, std::int64_t n, std::int64_t channels, std::int64_t spatial, const void* x,
                           const void* dy, const void* gamma, const void* savedMean, const void* savedInverseStd,
                           void* dx, void* dgamma, void* dbeta) override {
        finished([&] {
            inner_->batchNormBackward(dtype, n, channels, spatial, x, dy, gamma, savedMean, savedInverseStd, dx,
                                      dgamma, dbeta);
        });
    }
    std::size_t convolutionWorkspaceBytes(DType dtype, const kernels::ConvolutionShape& shape,
                                          kernels::ConvolutionPass pass) override {
        std::lock_guard<std::mutex> lock(mutex_);
        return inner_->convolutionWorkspaceBytes(dtype, shape, pass);
    }
    void convolutionForward(DType dtype, const kernels::ConvolutionShape& shape, const void* x, const void* weights,
                            const void* bias, void* y, void* workspace, std::size_t workspaceBytes) override {
        finished([&] { inner_->convolutionForward(dtype, shape, x, weights, bias, y, workspace, workspaceBytes); });
    }
    void convolutionBackward(DType dtype, const kernels::ConvolutionShape& shape, const void* x, const void* weights,
                             const void* dy, void* dx, void* dweights, void* dbias, const void* forwardWorkspace,
                             void* workspace, std::size_t workspaceBytes) override {
        finished([&] {
            inner_->convolutionBackward(dtype, shape, x, weights, dy, dx, dweights, dbias, forwardWorkspace, workspace,
                                        workspaceBytes);
        });
    }
    void poolingForward(DType dtype, kernels::PoolingMode mode, const kernels::PoolingShape& shape, const void* x,
                        void* y) override {
        finished([&] { inner_->poolingForward(dtype, mode, shape, x, y); });
    }
    void poolingBackward(DType dtype, kernels::PoolingMode mode, const kernels::PoolingShape& shape, const void* x,
                         const void* y, const void* dy, void* dx) override {
        finished([&] { inner_->poolingBackward(dtype, mode, shape, x, y, dy, dx); });
    }
    void fill(DType dtype, std::int64_t count, double value, void* x) override {
        finished([&] { inner_->fill(dtype, count, value, x); });
    }
    void copy(std::size_t bytes, const void* source, void* destination) override {
        finished([&] { inner_->copy(bytes, source, destination); });
    }
    void axpby(DType dtype, std::int64_t count, double alpha, const void* x, double beta, void* y) override {
        finished([&] { inner_->axpby(dtype, count, alpha, x, beta, y); });
    }
    void average(DType dtype, std::int64_t length, const void* const* sources, int count,
                 void* destination) override {
        finished([&] { inner_->average(dtype, length, sources, count, destination); });
    }
    void sumOfSquares(DType dtype, std::int64_t count, const void* x, void* out) override {
        finished([&] { inner_->sumOfSquares(dtype, count, x, out); });
    }
    void sgdUpdate(DType dtype, std::int64_t count, double learningRate, double weightDecay, const void* gradient,
                   void* parameters) override {
        finished([&] { inner_->sgdUpdate(dtype, count, learningRate, weightDecay, gradient, parameters); });
    }
    void nesterovUpdate(DType dtype, std::int64_t count, double learningRate, double momentum, double weightDecay,
                        const void* gradient, void* velocity, void* parameters) override {
        finished([&] {
            inner_->nesterovUpdate(dtype, count, learningRate, momentum, weightDecay, gradient, velocity, parameters);
        });
    }
    void adamUpdate(DType dtype, std::int64_t count, const kernels::AdamHyper& hyper, const void* gradient,
                    void* firstMoment, void* secondMoment, void* parameters) override {
        finished([&] { inner_->adamUpdate(dtype, count, hyper, gradient, firstMoment, secondMoment, parameters); });
    }
    void copyToHost(std::size_t bytes, const void* source, void* hostDestination) override {
        finished([&] { inner_->copyToHost(bytes, source, hostDestination); });
    }
    void copyFromHost(std::size_t bytes, const void* hostSource, void* destination) override {
        finished([&] { inner_->copyFromHost(bytes, hostSource, destination); });
    }
    void synchronize() override {
        std::lock_guard<std::mutex> lock(mutex_);
        inner_->synchronize();
    }

private:
    template <typename Operation>
    void finished(Operation operation) {
        std::lock_guard<std::mutex> lock(mutex_);
        operation();
        inner_->synchronize();
    }

    std::unique_ptr<kernels::Backend> inner_;
    std::mutex mutex_;
};

}  // namespace

kernels::Backend& defaultBackendFor(MemoryLocation location) {
    if (!location.isDevice()) {
        static const std::unique_ptr<kernels::Backend> cpu = kernels::makeCpuBackend(0);
        return *cpu;
    }
    static std::mutex mutex;
    static std::map<int, std::unique_ptr<kernels::Backend>> devices;
    std::lock_guard<std::mutex> lock(mutex);
    auto& backend = devices[location.device];
    if (!backend) backend = std::make_unique<FinishedOnReturnBackend>(kernels::makeCudaBackend(location.device));
    return *backend;
}

}  // namespace cohort
