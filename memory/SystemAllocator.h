#pragma once
// System allocators: the only place cohort asks the OS or the CUDA driver for memory.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace cohort::memory {

enum class MemoryKind : std::uint8_t { Host, PinnedHost, Device };
inline constexpr int kMemoryKindCount = 3;
// A kind's index into the per-kind arrays (counters, budgets).
inline int kindIndex(MemoryKind kind) { return static_cast<int>(kind); }

// Where bytes live. device is the CUDA ordinal for MemoryKind::Device, -1 otherwise.
struct MemoryLocation {
    MemoryKind kind = MemoryKind::Host;
    int device = -1;

    static constexpr MemoryLocation host() { return {MemoryKind::Host, -1}; }
    static constexpr MemoryLocation pinnedHost() { return {MemoryKind::PinnedHost, -1}; }
    static constexpr MemoryLocation onDevice(int ordinal) { return {MemoryKind::Device, ordinal}; }
    bool isDevice() const { return kind == MemoryKind::Device; }
    bool operator==(const MemoryLocation&) const = default;
};

std::string toString(MemoryLocation location);      // "host", "pinned-host", "cuda:0"
std::size_t alignmentFor(MemoryLocation location);  // 64 for host kinds (a cache line), 256 for device

// One allocator per location. allocate() is aligned to alignmentFor(location()), charges the
// budget first (throwing BudgetExceededError before touching the OS), and is counted.
class SystemAllocator {
public:
    virtual ~SystemAllocator() = default;
    virtual void* allocate(std::size_t bytes) = 0;
    virtual void deallocate(void* pointer, std::size_t bytes) = 0;
    virtual MemoryLocation location() const = 0;
};

// The process-wide allocator for a location. Pinned and device allocators throw
// std::runtime_error("... built without CUDA ...") when the CUDA backend is absent.
SystemAllocator& systemAllocator(MemoryLocation location);
// CUDA devices this process can use: 0 without the CUDA backend, a driver or a device.
int visibleCudaDevices();

// Counters over all system allocators, for the "nothing per iteration" checks.
// The operating system refused host memory (after the budget allowed it).
class OutOfMemoryError : public std::runtime_error {
public:
    OutOfMemoryError(const std::string& message, std::size_t bytes) : std::runtime_error(message), bytes_(bytes) {}
    std::size_t bytes() const { return bytes_; }

private:
    std::size_t bytes_;
};

// The machine's physical memory in bytes (0 when the system does not say).
std::int64_t physicalMemoryBytes();

struct AllocationCounters {
    std::uint64_t allocations = 0;    // calls to allocate()
    std::uint64_t deallocations = 0;  // calls to deallocate()
    std::int64_t bytesInUse[kMemoryKindCount] = {0, 0, 0};
    std::int64_t peakBytesInUse[kMemoryKindCount] = {0, 0, 0};
};
AllocationCounters allocationCounters();
std::uint64_t systemAllocationCount();  // == allocationCounters().allocations
// Allocations made by the calling thread (a step checks it allocated nothing while captured).
std::uint64_t systemAllocationCountOnThisThread();

// "1.5 MiB", "512 B", "2.0 GiB"
std::string formatBytes(std::int64_t bytes);
inline std::string formatSize(std::size_t bytes) { return formatBytes(static_cast<std::int64_t>(bytes)); }
// Parses "512M", "8G", "1024", "1.5GB", "64k" (binary units). Throws std::invalid_argument
// naming the text on anything else.
std::int64_t parseByteSize(const std::string& text);

}  // namespace cohort::memory
