// The maxBytes and maxPhysicalBytes budgets. Charges are lock-free: a compare-and-swap loop reserves the
// bytes only if the new total stays within the limit, so concurrent threads can never overshoot.
#include "memory/MemoryBudget.h"

#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <cstdio>
#include <limits>

namespace cohort::memory {
namespace {

[[noreturn]] void throwMaxBytes(const std::string& where, std::size_t bytes, std::int64_t inUse,
                                std::int64_t limit, const std::string& what) {
    const std::string forWhat = what.empty() ? "" : " for " + what;
    throw BudgetExceededError(
        "maxBytes", "exceeded: cannot allocate " + formatBytes(static_cast<std::int64_t>(bytes)) + " on " +
                        where + forWhat + " (in use " + formatBytes(inUse) + ", limit " +
                        formatBytes(limit) + ")");
}

// A physical budget compares the resident set with what is about to be allocated, so memory freed
// before must have left the resident set. glibc keeps freed blocks below its mmap threshold in
// the heap, and raises that threshold (to at most 32 MiB) whenever a larger block is freed; fixed
// at 128 KiB (which also fixes the heap's trim threshold), every larger block is a mapping of its
// own, returned to the system when freed.
void returnLargeBlocksWhenFreed() {
#if defined(__GLIBC__)
    static const bool once = [] {
        mallopt(M_MMAP_THRESHOLD, 128 * 1024);
        mallopt(M_TRIM_THRESHOLD, 128 * 1024);
        return true;
    }();
    (void)once;
#endif
}

// The resident set only grows with host-side memory (pageable or pinned); device memory lives
// on the GPU and is not part of it.
bool countsTowardsResidentSet(MemoryLocation location) {
    return location.kind != MemoryKind::Device;
}

void checkPhysical(std::int64_t limit, MemoryLocation location, std::size_t bytes,
                   const std::string& what) {
    if (limit <= 0 || !countsTowardsResidentSet(location)) return;
    const std::int64_t resident = MemoryBudget::residentBytes();
    if (resident + static_cast<std::int64_t>(bytes) <= limit) return;
    const std::string forWhat = what.empty() ? "" : " for " + what;
    throw BudgetExceededError(
        "maxPhysicalBytes", "exceeded: cannot allocate " + formatBytes(static_cast<std::int64_t>(bytes)) +
                                " on " + toString(location) + forWhat + " (process resident set " +
                                formatBytes(resident) + ", limit " + formatBytes(limit) + ")");
}

}  // namespace

std::int64_t saturatingAdd(std::int64_t a, std::int64_t b) {
    a = std::max<std::int64_t>(a, 0);
    b = std::max<std::int64_t>(b, 0);
    return a > std::numeric_limits<std::int64_t>::max() - b ? std::numeric_limits<std::int64_t>::max() : a + b;
}

std::int64_t saturatingMultiply(std::int64_t a, std::int64_t b) {
    a = std::max<std::int64_t>(a, 0);
    b = std::max<std::int64_t>(b, 0);
    return b != 0 && a > std::numeric_limits<std::int64_t>::max() / b ? std::numeric_limits<std::int64_t>::max() : a * b;
}

void MemoryDemand::charge(MemoryLocation location, std::int64_t bytes) {
    std::int64_t& total = charged[kindIndex(location.kind)];
    total = saturatingAdd(total, bytes);
}

void MemoryDemand::outsideBudget(std::int64_t bytes) { uncharged = saturatingAdd(uncharged, bytes); }

MemoryDemand& MemoryDemand::operator+=(const MemoryDemand& other) {
    for (int kind = 0; kind < kMemoryKindCount; ++kind) charged[kind] = saturatingAdd(charged[kind], other.charged[kind]);
    uncharged = saturatingAdd(uncharged, other.uncharged);
    return *this;
}

MemoryDemand MemoryDemand::times(std::int64_t count) const {
    MemoryDemand result;
    for (int kind = 0; kind < kMemoryKindCount; ++kind) result.charged[kind] = saturatingMultiply(charged[kind], count);
    result.uncharged = saturatingMultiply(uncharged, count);
    return result;
}

std::int64_t MemoryDemand::residentGrowth() const {
    return saturatingAdd(saturatingAdd(of(MemoryKind::Host), of(MemoryKind::PinnedHost)), uncharged);
}

std::int64_t MemoryDemand::total() const {
    return saturatingAdd(residentGrowth(), of(MemoryKind::Device));
}

MemoryBudget& MemoryBudget::global() {
    static MemoryBudget budget;
    return budget;
}

void MemoryBudget::setMaxBytes(std::int64_t bytes) {
    if (bytes < 0) throw std::invalid_argument("maxBytes must be >= 0 (0: unlimited), got " + std::to_string(bytes));
    maxBytes_.store(bytes, std::memory_order_relaxed);
}

void MemoryBudget::setMaxPhysicalBytes(std::int64_t bytes) {
    if (bytes < 0)
        throw std::invalid_argument("maxPhysicalBytes must be >= 0 (0: unlimited), got " +
                                    std::to_string(bytes));
    if (bytes > 0) returnLargeBlocksWhenFreed();
    maxPhysicalBytes_.store(bytes, std::memory_order_relaxed);
}

std::int64_t MemoryBudget::maxBytes() const { return maxBytes_.load(std::memory_order_relaxed); }

std::int64_t MemoryBudget::maxPhysicalBytes() const {
    return maxPhysicalBytes_.load(std::memory_order_relaxed);
}

void MemoryBudget::charge(MemoryLocation location, std::size_t bytes) {
    const auto request = static_cast<std::int64_t>(bytes);
    checkPhysical(maxPhysicalBytes(), location, bytes, "");
    auto& inUse = inUse_[kindIndex(location.kind)];
    const std::int64_t limit = maxBytes();
    std::int64_t current = inUse.load(std::memory_order_relaxed);
    do {
        if (limit > 0 && (request > limit || current > limit - request))
            throwMaxBytes(toString(location), bytes, current, limit, "");
    } while (!inUse.compare_exchange_weak(current, current + request, std::memory_order_relaxed));
}

void MemoryBudget::release(MemoryLocation location, std::size_t bytes) {
    inUse_[kindIndex(location.kind)].fetch_sub(static_cast<std::int64_t>(bytes),
                                               std::memory_order_relaxed);
}

std::int64_t MemoryBudget::bytesInUse(MemoryKind kind) const {
    return inUse_[kindIndex(kind)].load(std::memory_order_relaxed);
}

void MemoryBudget::checkWouldFit(MemoryLocation location, std::size_t bytes,
                                 const std::string& what) const {
    const auto request = static_cast<std::int64_t>(bytes);
    const std::int64_t limit = maxBytes();
    const std::int64_t current = bytesInUse(location.kind);
    if (limit > 0 && (request > limit || current > limit - request))
        throwMaxBytes(toString(location), bytes, current, limit, what);
    checkPhysical(maxPhysicalBytes(), location, bytes, what);
}

void MemoryBudget::checkWouldFit(const MemoryDemand& demand, std::int64_t residentMargin,
                                 const std::string& what) const {
    const std::int64_t limit = maxBytes();
    for (MemoryLocation location : {MemoryLocation::host(), MemoryLocation::pinnedHost(), MemoryLocation::onDevice(0)}) {
        const std::int64_t request = demand.of(location.kind);
        const std::int64_t current = bytesInUse(location.kind);
        if (limit > 0 && request > 0 && (request > limit || current > limit - request)) {
            // Device bytes are one account over every GPU.
            throwMaxBytes(location.isDevice() ? std::string("the GPUs") : toString(location),
                          static_cast<std::size_t>(request), current, limit, what);
        }
    }
    const std::int64_t physicalLimit = maxPhysicalBytes();
    if (physicalLimit <= 0) return;
    const std::int64_t resident = residentBytes();
    const std::int64_t growth = demand.residentGrowth();
    const std::int64_t needed = saturatingAdd(saturatingAdd(resident, growth), residentMargin);
    if (needed <= physicalLimit) return;
    const std::int64_t charged = saturatingAdd(demand.of(MemoryKind::Host), demand.of(MemoryKind::PinnedHost));
    throw BudgetExceededError(
        "maxPhysicalBytes",
        "exceeded: " + what + " needs about " + formatBytes(needed) + " resident (" + formatBytes(resident) +
            " now, " + formatBytes(charged) + " of buffers to come, " + formatBytes(demand.uncharged) +
            " of host copies and " + formatBytes(residentMargin) + " for library buffers), limit " +
            formatBytes(physicalLimit));
}

std::int64_t MemoryBudget::residentBytes() {
    // /proc/self/statm: size resident shared text lib data dt, in pages.
    std::FILE* file = std::fopen("/proc/self/statm", "r");
    if (file == nullptr) return 0;
    long long size = 0;
    long long resident = 0;
    const int fields = std::fscanf(file, "%lld %lld", &size, &resident);
    std::fclose(file);
    if (fields != 2) return 0;
    static const long pageSize = sysconf(_SC_PAGESIZE);
    return static_cast<std::int64_t>(resident) * pageSize;
}

}  // namespace cohort::memory
