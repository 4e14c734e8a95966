#include "src/tensor/Tensor.h"

#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>

#include "kernels/SynchronousBackend.h"

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

kernels::Backend& defaultBackendFor(MemoryLocation location) {
    if (!location.isDevice()) {
        static const std::unique_ptr<kernels::Backend> cpu = kernels::makeCpuBackend(0);
        return *cpu;
    }
    static std::mutex mutex;
    static std::map<int, std::unique_ptr<kernels::Backend>> devices;
    std::lock_guard<std::mutex> lock(mutex);
    auto& backend = devices[location.device];
    // Synchronous: its stream is its own, unordered with the workers' streams that read the same
    // buffers next (a replica's initial parameters and statistics, an optimizer's zeroed state, a
    // model's zeroed gradients), so no work may be left queued when a call returns.
    if (!backend) backend = kernels::makeSynchronousBackend(kernels::makeCudaBackend(location.device));
    return *backend;
}

}  // namespace cohort
