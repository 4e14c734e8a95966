#pragma once
// Tensor: a dense n-dimensional array (float32 or float64) in one memory location.
//
// Storage comes from memory/: Tensor::empty() allocates in the calling thread's innermost
// active workspace, or from the system allocator when none is active (then the tensor owns
// its bytes, shared between copies). A workspace tensor remembers its workspace and generation;
// every operation checks its arguments (when scope-panic checks are on) and throws
// ScopePanicError for leaked or outdated pointers. detach(), leverage() and leverageTo() move an
// array out of its workspace, into the parent workspace, or into a named active workspace.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "kernels/Backend.h"
#include "memory/Memory.h"
#include "src/tensor/Shape.h"

namespace cohort {

using kernels::DType;
using memory::MemoryLocation;

class Tensor {
public:
    Tensor() = default;

    // Uninitialised tensor in the current workspace scope (or owned system memory).
    static Tensor empty(const Shape& shape, DType dtype = DType::Float32,
                        MemoryLocation location = MemoryLocation::host());
    // Owned system memory regardless of any active workspace (parameters, persistent state).
    static Tensor persistent(const Shape& shape, DType dtype = DType::Float32,
                             MemoryLocation location = MemoryLocation::host());
    // Non-owning view of existing memory (flat-buffer slices, prefetch buffers).
    static Tensor view(void* data, const Shape& shape, DType dtype,
                       MemoryLocation location = MemoryLocation::host(),
                       memory::WorkspaceTicket ticket = {});

    bool defined() const { return data_ != nullptr || shape_.elementCount() == 0; }
    const Shape& shape() const { return shape_; }
    int rank() const { return shape_.rank(); }
    std::int64_t dim(int axis) const { return shape_[axis]; }
    std::int64_t elementCount() const { return shape_.elementCount(); }
    std::size_t byteCount() const { return std::size_t(elementCount()) * kernels::sizeOf(dtype_); }
    DType dtype() const { return dtype_; }
    MemoryLocation location() const { return location_; }
    const memory::WorkspaceTicket& ticket() const { return ticket_; }
    bool isAttached() const { return ticket_.inWorkspace(); }
    std::string workspaceName() const { return ticket_.state ? ticket_.state->name : std::string(); }

    // Raw pointers for kernels. The checked accessors verify the workspace pointer first.
    void* raw() const { return data_; }
    void* checked(const char* op, const char* argument) const {
        ticket_.check(op, argument);
        return data_;
    }
    template <typename T>
    T* data() const { return static_cast<T*>(data_); }

    // Same bytes, another shape with the same element count.
    Tensor reshape(const Shape& shape) const;
    // Rows [begin, end) of the first axis, sharing storage.
    Tensor slice(std::int64_t begin, std::int64_t end) const;

    // Copy into owned system memory: valid after the workspace scope closes.
    Tensor detach() const;
    // Copy into the workspace that was active when this tensor's workspace was opened (its
    // parent); detached copy when there is no parent. Not attached: returns itself.
    Tensor leverage() const;
    // Copy into the named, currently active workspace.
    Tensor leverageTo(std::string_view workspaceName) const;

    // Host copies for tests and I/O (uses a backend transfer for device tensors).
    void copyFromHost(const void* source, std::size_t bytes);
    void copyToHost(void* destination, std::size_t bytes) const;

private:
    Tensor copyInto(const memory::ScopedAllocation& allocation) const;

    Shape shape_;
    DType dtype_ = DType::Float32;
    MemoryLocation location_ = MemoryLocation::host();
    void* data_ = nullptr;
    std::shared_ptr<void> owner_;        // set when the bytes are owned system memory
    memory::WorkspaceTicket ticket_;     // set when the bytes live in a workspace
};

// The backend for a location (host: a shared CPU backend). Tensor copies of device tensors go
// through it; worker code passes its own backend explicitly instead. A device's default backend
// finishes every operation before returning (its stream is unordered with the workers' streams,
// which read what it wrote next) and may be called from any thread.
kernels::Backend& defaultBackendFor(MemoryLocation location);

}  // namespace cohort
