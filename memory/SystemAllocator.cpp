// The process-wide system allocators and their counters. Host memory comes from aligned_alloc;
// pinned-host and device memory from memory/cuda, in the CUDA module (loaded on first use).
#include "memory/SystemAllocator.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "memory/CountedAllocator.h"
#include "memory/CudaModule.h"
#include "memory/cuda/CudaAllocators.h"

namespace cohort::memory {
namespace {

constexpr std::size_t kHostAlignment = 64;  // a cache line; also enough for AVX-512 loads
constexpr std::size_t kDeviceAlignment = 256;

struct Counters {
    std::atomic<std::uint64_t> allocations{0};
    std::atomic<std::uint64_t> deallocations{0};
    std::atomic<std::int64_t> bytesInUse[kMemoryKindCount] = {};
    std::atomic<std::int64_t> peakBytesInUse[kMemoryKindCount] = {};
};

Counters& counters() {
    static Counters instance;
    return instance;
}

class HostAllocator final : public detail::CountedAllocator {
public:
    HostAllocator() : CountedAllocator(MemoryLocation::host()) {}

protected:
    void* rawAllocate(std::size_t bytes) override {
        // aligned_alloc wants a size that is a multiple of the alignment.
        const std::size_t rounded = (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
        if (rounded < bytes) throw std::bad_alloc();
        void* pointer = std::aligned_alloc(kHostAlignment, rounded == 0 ? kHostAlignment : rounded);
        if (pointer == nullptr)
            throw OutOfMemoryError("cannot allocate " + formatBytes(static_cast<std::int64_t>(bytes)) +
                                       " on host: the operating system refused (out of memory); "
                                       "set a maxBytes budget below the free memory or use less memory",
                                   bytes);
        return pointer;
    }
    void rawDeallocate(void* pointer, std::size_t) override { std::free(pointer); }
};

// The CUDA module's allocators; throws std::runtime_error saying why when there are none.
const detail::CudaMemoryEntry& cudaMemory(MemoryLocation location) {
    if (!cudaModuleBuilt()) {
        throw std::runtime_error("cannot allocate " + toString(location) +
                                 " memory: cohort was built without CUDA (reconfigure with the CUDA "
                                 "toolkit installed and -DCOHORT_ENABLE_CUDA=ON, or run on the host)");
    }
    return *static_cast<const detail::CudaMemoryEntry*>(
        requireCudaModuleEntry(CudaModule::Memory, detail::kCudaMemoryEntryName, "allocating " + toString(location) + " memory"));
}

}  // namespace

namespace {
thread_local std::uint64_t allocationsOnThisThread = 0;
}  // namespace

namespace detail {

void recordAllocation(MemoryKind kind, std::size_t bytes) {
    Counters& c = counters();
    c.allocations.fetch_add(1, std::memory_order_relaxed);
    ++allocationsOnThisThread;
    const auto index = kindIndex(kind);
    const std::int64_t now =
        c.bytesInUse[index].fetch_add(static_cast<std::int64_t>(bytes), std::memory_order_relaxed) +
        static_cast<std::int64_t>(bytes);
    std::int64_t peak = c.peakBytesInUse[index].load(std::memory_order_relaxed);
    while (now > peak &&
           !c.peakBytesInUse[index].compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
}

void recordDeallocation(MemoryKind kind, std::size_t bytes) {
    Counters& c = counters();
    c.deallocations.fetch_add(1, std::memory_order_relaxed);
    c.bytesInUse[kindIndex(kind)].fetch_sub(static_cast<std::int64_t>(bytes),
                                            std::memory_order_relaxed);
}

}  // namespace detail

std::string toString(MemoryLocation location) {
    switch (location.kind) {
        case MemoryKind::Host: return "host";
        case MemoryKind::PinnedHost: return "pinned-host";
        case MemoryKind::Device: return "cuda:" + std::to_string(location.device);
    }
    return "unknown";
}

std::size_t alignmentFor(MemoryLocation location) {
    return location.kind == MemoryKind::Device ? kDeviceAlignment : kHostAlignment;
}

SystemAllocator& systemAllocator(MemoryLocation location) {
    switch (location.kind) {
        case MemoryKind::Host: {
            static HostAllocator host;
            return host;
        }
        case MemoryKind::PinnedHost: return cudaMemory(location).pinnedHostAllocator();
        case MemoryKind::Device: return cudaMemory(location).deviceAllocator(location.device);
    }
    throw std::invalid_argument("unknown memory kind " +
                                std::to_string(static_cast<int>(location.kind)));
}

int visibleCudaDevices() {
    // Without a driver there is no device, and the CUDA libraries are not worth mapping to hear it.
    if (!cudaModuleBuilt() || !nvidiaDriverPresent()) return 0;
    const auto* entry = static_cast<const detail::CudaMemoryEntry*>(cudaModuleEntry(CudaModule::Memory, detail::kCudaMemoryEntryName));
    return entry ? entry->deviceCount() : 0;
}

AllocationCounters allocationCounters() {
    const Counters& c = counters();
    AllocationCounters snapshot;
    snapshot.allocations = c.allocations.load(std::memory_order_relaxed);
    snapshot.deallocations = c.deallocations.load(std::memory_order_relaxed);
    for (int kind = 0; kind < kMemoryKindCount; ++kind) {
        snapshot.bytesInUse[kind] = c.bytesInUse[kind].load(std::memory_order_relaxed);
        snapshot.peakBytesInUse[kind] = c.peakBytesInUse[kind].load(std::memory_order_relaxed);
    }
    return snapshot;
}

std::uint64_t systemAllocationCount() {
    return counters().allocations.load(std::memory_order_relaxed);
}

std::uint64_t systemAllocationCountOnThisThread() { return allocationsOnThisThread; }

std::int64_t physicalMemoryBytes() {
    const long pages = sysconf(_SC_PHYS_PAGES);
    const long pageSize = sysconf(_SC_PAGESIZE);
    return pages > 0 && pageSize > 0 ? std::int64_t(pages) * pageSize : 0;
}

}  // namespace cohort::memory
