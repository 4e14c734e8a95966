#pragma once
// Byte budgets: --maxbytes (tensor data, counted per location kind) and --maxphysicalbytes
// (the resident set of the whole process, read from /proc/self/statm).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "memory/SystemAllocator.h"

namespace cohort::memory {

// Thrown when a request would exceed a budget. The message names the flag, the request,
// what is in use, the limit and what to do.
class BudgetExceededError : public std::runtime_error {
public:
    BudgetExceededError(const std::string& message, std::string flag)
        : std::runtime_error(message), flag_(std::move(flag)) {}
    const std::string& flag() const { return flag_; }

private:
    std::string flag_;
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
