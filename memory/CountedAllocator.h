#pragma once
// Internal to memory/: the bookkeeping every system allocator shares. Not part of the public
// contract (Memory.h does not include it).
//
// CountedAllocator::allocate charges MemoryBudget::global() before asking the backend for bytes
// (so a request over budget never reaches the OS or the driver), then records the call in the
// process-wide AllocationCounters. Backends (host, pinned host, device) implement only the raw
// allocate/free pair.
#include <cstddef>

#include "memory/MemoryBudget.h"
#include "memory/SystemAllocator.h"

namespace cohort::memory::detail {

void recordAllocation(MemoryKind kind, std::size_t bytes);
void recordDeallocation(MemoryKind kind, std::size_t bytes);

class CountedAllocator : public SystemAllocator {
public:
    explicit CountedAllocator(MemoryLocation location) : location_(location) {}

    void* allocate(std::size_t bytes) final {
        MemoryBudget::global().charge(location_, bytes);
        void* pointer = nullptr;
        try {
            pointer = rawAllocate(bytes);
        } catch (...) {
            MemoryBudget::global().release(location_, bytes);
            throw;
        }
        recordAllocation(location_.kind, bytes);
        return pointer;
    }

    void deallocate(void* pointer, std::size_t bytes) final {
        if (pointer == nullptr) return;
        recordDeallocation(location_.kind, bytes);
        MemoryBudget::global().release(location_, bytes);
        rawDeallocate(pointer, bytes);
    }

    MemoryLocation location() const final { return location_; }

protected:
    // Returns memory aligned to alignmentFor(location()) or throws with an actionable message.
    virtual void* rawAllocate(std::size_t bytes) = 0;
    virtual void rawDeallocate(void* pointer, std::size_t bytes) = 0;

private:
    MemoryLocation location_;
};

}  // namespace cohort::memory::detail
