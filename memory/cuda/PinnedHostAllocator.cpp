// Page-locked host memory (cudaHostAlloc): the staging area for asynchronous host<->device copies.
#include "memory/CountedAllocator.h"
#include "memory/cuda/CudaAllocators.h"
#include "memory/cuda/CudaCheck.h"

namespace cohort::memory::detail {
namespace {

class PinnedHostAllocator final : public CountedAllocator {
public:
    PinnedHostAllocator() : CountedAllocator(MemoryLocation::pinnedHost()) {}

protected:
    void* rawAllocate(std::size_t bytes) override {
        void* pointer = nullptr;
        // cudaHostAlloc returns page-aligned memory, well above alignmentFor(pinnedHost()).
        COHORT_CUDA_CHECK(cudaHostAlloc(&pointer, bytes == 0 ? 1 : bytes, cudaHostAllocPortable));
        return pointer;
    }
    void rawDeallocate(void* pointer, std::size_t) override {
        COHORT_CUDA_CHECK(cudaFreeHost(pointer));
    }
};

}  // namespace

SystemAllocator& pinnedHostAllocator() {
    static PinnedHostAllocator allocator;
    return allocator;
}

}  // namespace cohort::memory::detail
