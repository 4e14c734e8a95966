#pragma once
// kernels/cuda/DeviceScratch.cuh — device memory grown on demand and kept for reuse.
//
// atLeast(bytes, stream) returns an area of at least `bytes`. Only a request larger than every
// earlier one allocates (after waiting for the stream, whose queued work may still use the old
// area), so once a warm-up step has asked for its largest size nothing allocates any more and the
// step can be captured into a CUDA graph. The owner's device must be current in every call.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <utility>

#include "kernels/cuda/CudaCheck.cuh"

namespace cohort::kernels::cuda_detail {

class DeviceScratch {
public:
    DeviceScratch() = default;
    ~DeviceScratch() { release(); }
    DeviceScratch(const DeviceScratch&) = delete;
    DeviceScratch& operator=(const DeviceScratch&) = delete;

    void* atLeast(std::size_t bytes, cudaStream_t stream) {
        if (bytes > bytes_) {
            COHORT_CUDA_CHECK(cudaStreamSynchronize(stream));  // the old area may be in use
            bytes_ = 0;
            if (void* old = std::exchange(pointer_, nullptr)) COHORT_CUDA_CHECK(cudaFree(old));
            COHORT_CUDA_CHECK(cudaMalloc(&pointer_, bytes));
            bytes_ = bytes;
            ++generation_;
        }
        return pointer_;
    }

    // Frees the area (teardown: failures are reported, not thrown).
    void release() noexcept {
        if (pointer_) reportTeardownFailure(cudaFree(pointer_), "cudaFree");
        pointer_ = nullptr;
        bytes_ = 0;
    }

    // How many areas atLeast() has allocated: a new one means every earlier pointer is gone.
    std::uint64_t generation() const { return generation_; }

private:
    std::uint64_t generation_ = 0;
    void* pointer_ = nullptr;
    std::size_t bytes_ = 0;
};

}  // namespace cohort::kernels::cuda_detail
