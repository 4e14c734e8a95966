// Device memory (cudaMalloc/cudaFree), one allocator per CUDA ordinal. Each call switches to the
// allocator's device for its duration and restores the caller's device afterwards.
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "memory/CountedAllocator.h"
#include "memory/cuda/CudaAllocators.h"
#include "memory/cuda/CudaCheck.h"

namespace cohort::memory::detail {
namespace {

// Makes `ordinal` current for the scope and restores the previous device on exit.
class DeviceGuard {
public:
    explicit DeviceGuard(int ordinal) {
        COHORT_CUDA_CHECK(cudaGetDevice(&previous_));
        if (previous_ != ordinal) COHORT_CUDA_CHECK(cudaSetDevice(ordinal));
        changed_ = previous_ != ordinal;
    }
    ~DeviceGuard() {
        // A destructor cannot throw; restoring the device only fails if the context is already
        // broken, which the next checked call reports.
        if (changed_) (void)cudaSetDevice(previous_);
    }
    DeviceGuard(const DeviceGuard&) = delete;
    DeviceGuard& operator=(const DeviceGuard&) = delete;

private:
    int previous_ = 0;
    bool changed_ = false;
};

class DeviceAllocator final : public CountedAllocator {
public:
    explicit DeviceAllocator(int ordinal)
        : CountedAllocator(MemoryLocation::onDevice(ordinal)), ordinal_(ordinal) {}

protected:
    void* rawAllocate(std::size_t bytes) override {
        DeviceGuard guard(ordinal_);
        void* pointer = nullptr;
        // cudaMalloc aligns to at least 256 bytes, which is alignmentFor(onDevice(n)).
        COHORT_CUDA_CHECK(cudaMalloc(&pointer, bytes == 0 ? 1 : bytes));
        return pointer;
    }
    void rawDeallocate(void* pointer, std::size_t) override {
        DeviceGuard guard(ordinal_);
        COHORT_CUDA_CHECK(cudaFree(pointer));
    }

private:
    int ordinal_;
};

}  // namespace

int cudaDeviceCount() {
    int count = 0;
    // No driver or no device: report 0 devices rather than failing; callers decide what to do.
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        (void)cudaGetLastError();  // clear the sticky-free error so later calls start clean
        return 0;
    }
    return count;
}

SystemAllocator& deviceAllocator(int ordinal) {
    static std::mutex mutex;
    static std::map<int, std::unique_ptr<DeviceAllocator>> allocators;
    std::lock_guard lock(mutex);
    auto found = allocators.find(ordinal);
    if (found != allocators.end()) return *found->second;
    const int count = cudaDeviceCount();
    if (ordinal < 0 || ordinal >= count)
        throw std::invalid_argument("no CUDA device cuda:" + std::to_string(ordinal) + " (" +
                                    std::to_string(count) +
                                    " visible); pick an ordinal below the device count or check "
                                    "CUDA_VISIBLE_DEVICES");
    auto& slot = allocators[ordinal];
    slot = std::make_unique<DeviceAllocator>(ordinal);
    return *slot;
}

}  // namespace cohort::memory::detail
