#pragma once
// Byte budgets: maxBytes (tensor data, counted per location kind) and maxPhysicalBytes (the
// resident set of the whole process, read from /proc/self/statm).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "memory/SystemAllocator.h"

namespace cohort::memory {

// Thrown when a request would exceed a budget. limit() names the budget ("maxBytes" or
// "maxPhysicalBytes"), detail() says what was asked, what is in use and the limit; what() is
// both with the advice to raise the limit.
class BudgetExceededError : public std::runtime_error {
public:
    BudgetExceededError(std::string limit, std::string detail)
        : std::runtime_error(limit + " " + detail + "; raise " + limit + " or use less memory"),
          limit_(std::move(limit)), detail_(std::move(detail)) {}
    const std::string& limit() const { return limit_; }
    const std::string& detail() const { return detail_; }

private:
    std::string limit_;
    std::string detail_;
};

// Saturating arithmetic for byte predictions: absurd sizes stop at the largest int64 instead of
// wrapping (a prediction that wrapped would pass any check). Negative inputs count as 0.
std::int64_t saturatingAdd(std::int64_t a, std::int64_t b);
std::int64_t saturatingMultiply(std::int64_t a, std::int64_t b);

// A prediction of the most memory some work will hold at once: the bytes it will charge to the
// budget, per location kind, and the host bytes it takes outside the budget (plain vectors:
// counted by the resident set only). Built from the code that allocates (e.g.
// PrefetchBuffer::memoryFor); sums saturate.
struct MemoryDemand {
    std::int64_t charged[kMemoryKindCount] = {};
    std::int64_t uncharged = 0;

    void charge(MemoryLocation location, std::int64_t bytes);
    void outsideBudget(std::int64_t bytes);
    MemoryDemand& operator+=(const MemoryDemand& other);
    MemoryDemand times(std::int64_t count) const;
    std::int64_t of(MemoryKind kind) const { return charged[static_cast<int>(kind)]; }
    // What the resident set grows by: host and pinned host bytes, charged or not.
    std::int64_t residentGrowth() const;
    std::int64_t total() const;  // every kind, charged or not
};

class MemoryBudget {
public:
    static MemoryBudget& global();

    // 0 means unlimited.
    void setMaxBytes(std::int64_t bytes);          // applies to each location kind separately
    // Whole process RSS. A limit also makes the C library return freed blocks over 128 KiB to
    // the system at once (glibc), so that the resident set the budget reads holds no freed memory.
    void setMaxPhysicalBytes(std::int64_t bytes);
    std::int64_t maxBytes() const;
    std::int64_t maxPhysicalBytes() const;

    // Charges a request against the budget of its location kind; throws BudgetExceededError
    // without charging anything when it would not fit.
    void charge(MemoryLocation location, std::size_t bytes);
    void release(MemoryLocation location, std::size_t bytes);
    std::int64_t bytesInUse(MemoryKind kind) const;

    // Throws BudgetExceededError if `bytes` more of `location` would not fit (used to predict a
    // failure before training starts).
    void checkWouldFit(MemoryLocation location, std::size_t bytes, const std::string& what) const;
    // The same for a whole prediction: maxBytes for each location kind (bytes in use plus the
    // demand's), then maxPhysicalBytes for the resident set now plus demand.residentGrowth() plus
    // `residentMargin` (what libraries take outside any count). Throws naming the first that
    // cannot hold it, `what` being the work predicted.
    void checkWouldFit(const MemoryDemand& demand, std::int64_t residentMargin, const std::string& what) const;

    static std::int64_t residentBytes();  // current RSS of this process

private:
    std::atomic<std::int64_t> maxBytes_{0};
    std::atomic<std::int64_t> maxPhysicalBytes_{0};
    std::atomic<std::int64_t> inUse_[kMemoryKindCount] = {};
};

}  // namespace cohort::memory
