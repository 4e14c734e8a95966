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

class MemoryBudget {
public:
    static MemoryBudget& global();

    // 0 means unlimited.
    void setMaxBytes(std::int64_t bytes);          // applies to each location kind separately
    void setMaxPhysicalBytes(std::int64_t bytes);  // whole process RSS
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

    static std::int64_t residentBytes();  // current RSS of this process

private:
    std::atomic<std::int64_t> maxBytes_{0};
    std::atomic<std::int64_t> maxPhysicalBytes_{0};
    std::atomic<std::int64_t> inUse_[kMemoryKindCount] = {};
};

}  // namespace cohort::memory
