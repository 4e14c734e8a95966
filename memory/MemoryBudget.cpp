// The maxBytes and maxPhysicalBytes budgets. Charges are lock-free: a compare-and-swap loop reserves the
// bytes only if the new total stays within the limit, so concurrent threads can never overshoot.
#include "memory/MemoryBudget.h"

#include <unistd.h>

#include <cstdio>

namespace cohort::memory {
namespace {

int kindIndex(MemoryKind kind) { return static_cast<int>(kind); }

[[noreturn]] void throwMaxBytes(MemoryLocation location, std::size_t bytes, std::int64_t inUse,
                                std::int64_t limit, const std::string& what) {
    const std::string forWhat = what.empty() ? "" : " for " + what;
    throw BudgetExceededError(
        "maxBytes", "exceeded: cannot allocate " + formatBytes(static_cast<std::int64_t>(bytes)) + " on " +
                        toString(location) + forWhat + " (in use " + formatBytes(inUse) + ", limit " +
                        formatBytes(limit) + ")");
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
            throwMaxBytes(location, bytes, current, limit, "");
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
        throwMaxBytes(location, bytes, current, limit, what);
    checkPhysical(maxPhysicalBytes(), location, bytes, what);
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
