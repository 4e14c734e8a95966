// SynchronousBackend: a ForwardingBackend that runs each operation under a lock and waits for it.
#include "kernels/SynchronousBackend.h"

#include <mutex>

#include "kernels/ForwardingBackend.h"

namespace cohort::kernels {
namespace {

class SynchronousBackend final : public ForwardingBackend {
public:
    using ForwardingBackend::ForwardingBackend;

    std::size_t convolutionWorkspaceBytes(DType dtype, const ConvolutionShape& shape, ConvolutionPass pass) override {
        std::lock_guard<std::mutex> lock(mutex_);
        return ForwardingBackend::convolutionWorkspaceBytes(dtype, shape, pass);
    }
    void synchronize() override {
        std::lock_guard<std::mutex> lock(mutex_);
        ForwardingBackend::synchronize();
    }

protected:
    void forward(Operation& operation) override {
        std::lock_guard<std::mutex> lock(mutex_);
        operation.run();
        inner().synchronize();
    }

private:
    std::mutex mutex_;
};

}  // namespace

std::unique_ptr<Backend> makeSynchronousBackend(std::unique_ptr<Backend> inner) {
    return std::make_unique<SynchronousBackend>(std::move(inner));
}

}  // namespace cohort::kernels
