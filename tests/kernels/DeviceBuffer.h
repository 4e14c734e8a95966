#pragma once
// Test-only device memory on the current device, for GPU tests (the backends under test never
// allocate for their callers). Include only from files compiled with the CUDA toolkit.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

namespace cohort::testing {

class DeviceBuffer {
public:
    explicit DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
        const cudaError_t status = cudaMalloc(&pointer_, bytes == 0 ? 1 : bytes);
        if (status != cudaSuccess) {
            throw std::runtime_error(std::string("test cudaMalloc failed: ") +
                                     cudaGetErrorString(status));
        }
    }
    ~DeviceBuffer() {
        if (pointer_) cudaFree(pointer_);
    }
    DeviceBuffer(DeviceBuffer&& other) noexcept
        : pointer_(std::exchange(other.pointer_, nullptr)), bytes_(other.bytes_) {}
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    void* get() const { return pointer_; }
    std::size_t bytes() const { return bytes_; }

private:
    void* pointer_ = nullptr;
    std::size_t bytes_;
};

}  // namespace cohort::testing
