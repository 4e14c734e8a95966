// Workspace: a bump allocator over one block from the system allocator of its location, with
// ND4J's learning, spill and reset policies. See Workspace.h for the contract.
//
// Sizes: every request is rounded up to alignmentFor(location) (0 bytes counts as 1), so the
// sum of a cycle's rounded requests is exactly the block size that fits the cycle. That sum,
// spilled requests included, is the cycle's size; the largest one is peakCycleBytes.
//
// Learning: until the workspace is "initialized" (FirstLoop: the first cycle has ended;
// OverTime: cyclesBeforeInitialization cycles have ended; None: from the start) requests that do
// not fit in the block are spilled whatever the spill policy, because watching them is how the
// block size is learned. At initialization the block grows to the learned size.
//
// Spilled (external) allocations live until their cycle ends; in a cyclic workspace they are
// pinned one cycle longer, so that a consumer can still read the previous cycle's data.
#include "memory/Workspace.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

namespace cohort::memory {
namespace {

std::atomic<std::uint64_t> nextWorkspaceId{1};

constexpr std::size_t kLargest = std::numeric_limits<std::size_t>::max();

// A request rounded up to the alignment (0 counts as 1); false when that overflows.
bool roundRequest(std::size_t bytes, std::size_t alignment, std::size_t& rounded) {
    const std::size_t request = bytes == 0 ? 1 : bytes;
    if (request > kLargest - alignment) return false;
    rounded = (request + alignment - 1) / alignment * alignment;
    return true;
}

// The block size for a largest cycle of `peak` bytes under the allocation policy and clamps.
std::size_t blockSizeFor(const WorkspaceConfig& config, std::size_t alignment, std::size_t peak) {
    double target = static_cast<double>(peak);
    if (config.policyAllocation == AllocationPolicy::Overallocate) target *= 1.0 + config.overallocationLimit;
    std::size_t size = std::ceil(target) >= static_cast<double>(kLargest) ? kLargest
                                                                          : static_cast<std::size_t>(std::ceil(target));
    if (config.policyAllocation == AllocationPolicy::Overallocate && !roundRequest(size, alignment, size)) size = kLargest;
    size = std::max(size, config.minSize);
    if (config.maxSize != 0) size = std::min(size, config.maxSize);
    return size;
}

// The block a workspace allocates at creation (0: none).
std::size_t initialBlockSize(const WorkspaceConfig& config) {
    if (config.initialSize == 0) return 0;
    std::size_t size = std::max(config.initialSize, config.minSize);
    if (config.maxSize != 0) size = std::min(size, config.maxSize);
    return size;
}

std::size_t addSaturating(std::size_t a, std::size_t b) { return a > kLargest - b ? kLargest : a + b; }

// What a workspace spills before its block holds a cycle of `cycleBytes` (its first cycle, on
// top of the initial block; twice over when cyclic): 0 when the initial block holds the cycle.
std::size_t spilledBytes(const WorkspaceConfig& config, std::size_t cycleBytes) {
    if (cycleBytes <= initialBlockSize(config)) return 0;
    if (config.policyLearning == LearningPolicy::None && config.policySpill == SpillPolicy::Fail) return 0;  // throws instead
    // A spilled cycle's allocations live until its end (a cyclic workspace's until the next one's).
    return config.policyReset == ResetPolicy::EndOfBufferReached ? addSaturating(cycleBytes, cycleBytes) : cycleBytes;
}

}  // namespace

std::size_t workspaceRequestBytes(const WorkspaceConfig& config, std::size_t bytes) {
    std::size_t rounded = 0;
    return roundRequest(bytes, alignmentFor(config.location), rounded) ? rounded : kLargest;
}

std::size_t workspaceHeldBytes(const WorkspaceConfig& config, std::size_t cycleBytes) {
    const std::size_t initial = initialBlockSize(config);
    const std::size_t spills = spilledBytes(config, cycleBytes);
    if (spills == 0) return initial;  // the block holds every cycle, or a larger one throws without asking
    const bool learns = config.policyLearning != LearningPolicy::None;
    // The first cycle (learning, or spilling past a fixed block); a block is freed before its
    // replacement is allocated.
    const std::size_t first = addSaturating(initial, spills);
    const bool grows = learns || config.policySpill == SpillPolicy::Reallocate;
    const std::size_t block = grows ? std::max(initial, blockSizeFor(config, alignmentFor(config.location), cycleBytes)) : initial;
    const std::size_t later = block >= cycleBytes ? block : addSaturating(block, spills);
    return std::max(first, later);
}

struct Workspace::Impl {
    struct External {
        void* pointer;
        std::size_t bytes;
        std::uint64_t cycle;
    };

    std::string name;
    WorkspaceConfig config;
    std::size_t alignment;
    SystemAllocator* allocator;
    std::shared_ptr<WorkspaceState> state;

    std::byte* block = nullptr;
    std::size_t blockSize = 0;
    std::size_t offset = 0;           // bump offset inside the block
    std::size_t cycleStart = 0;       // cyclic: offset when the cycle began
    bool wrappedThisCycle = false;    // cyclic: the cycle already wrapped to the block start
    std::size_t blockBytesThisCycle = 0;
    std::size_t blockBytesLastCycle = 0;
    std::size_t cycleBytes = 0;       // rounded bytes requested this cycle (block + spilled)
    std::size_t peakCycleBytes = 0;

    bool initialized = false;         // learning finished (see file comment)
    int cyclesObserved = 0;           // OverTime
    bool growAtNextCycle = false;     // Reallocate: a request spilled after initialization
    std::size_t pendingBlockSize = 0; // a block resize that failed at cycle end, retried at begin

    std::vector<External> externals;  // spilled in the current cycle
    std::size_t externalBytes = 0;
    std::vector<External> pinned;     // cyclic: spilled in the previous cycle, still readable
    std::size_t pinnedBytes = 0;

    std::uint64_t spilledAllocations = 0;
    std::uint64_t cycles = 0;
    std::uint64_t reallocations = 0;
    bool open = false;
    bool destroyed = false;

    bool cyclic() const { return config.policyReset == ResetPolicy::EndOfBufferReached; }

    std::size_t roundUp(std::size_t bytes) const {
        std::size_t rounded = 0;
        if (!roundRequest(bytes, alignment, rounded))
            throw std::length_error("workspace [" + name + "] cannot allocate " +
                                    std::to_string(bytes) + " bytes: the size overflows");
        return rounded;
    }

    std::size_t targetFor(std::size_t peak) const { return blockSizeFor(config, alignment, peak); }

    void publishOffset() { state->offset.store(offset, std::memory_order_release); }

    void advanceGeneration() { state->generation.fetch_add(1, std::memory_order_acq_rel); }

    // Replaces the block by one of `size` bytes (0: no block). Arrays in the old block become
    // outdated. Throws (budget, out of memory) with the workspace left without a block.
    void resizeBlock(std::size_t size) {
        const bool hadBlock = block != nullptr;
        if (hadBlock) {
            allocator->deallocate(block, blockSize);
            block = nullptr;
            blockSize = 0;
        }
        // A cyclic workspace starts a new lap in the new block; BlockLeft resizes only between
        // cycles, whose end already advanced the generation.
        if (hadBlock && cyclic()) advanceGeneration();
        state->oldestValidGeneration.store(state->generation.load(std::memory_order_relaxed),
                                           std::memory_order_release);
        offset = 0;
        cycleStart = 0;
        publishOffset();
        if (size == 0) return;
        block = static_cast<std::byte*>(allocator->allocate(size));
        blockSize = size;
        ++reallocations;
    }

    // Resize at cycle end must not throw (it runs from a scope's destructor): on failure the
    // workspace keeps going without a block and the next beginCycle retries, throwing there.
    void resizeBlockAtCycleEnd(std::size_t size) {
        try {
            resizeBlock(size);
        } catch (...) {
            pendingBlockSize = size;
        }
    }

    bool placeInBlock(std::size_t size, std::size_t& placedAt) {
        if (block == nullptr) return false;
        if (!cyclic()) {
            if (size > blockSize - offset) return false;
            placedAt = offset;
            offset += size;
            return true;
        }
        if (!wrappedThisCycle) {
            if (size <= blockSize - offset) {
                placedAt = offset;
                offset += size;
                return true;
            }
            // Wrap to the start only if that does not overwrite this cycle's own arrays, which
            // occupy [cycleStart, offset).
            if (size > cycleStart) return false;
            wrappedThisCycle = true;
            advanceGeneration();
            placedAt = 0;
            offset = size;
            return true;
        }
        // Already wrapped: free space runs up to where this cycle began.
        if (size > cycleStart - offset) return false;
        placedAt = offset;
        offset += size;
        return true;
    }

    void* spill(std::size_t size, WorkspaceTicket* ticket) {
        void* pointer = allocator->allocate(size);
        try {
            externals.push_back({pointer, size, cycles});
        } catch (...) {
            allocator->deallocate(pointer, size);
            throw;
        }
        externalBytes += size;
        ++spilledAllocations;
        if (ticket != nullptr) {
            ticket->state = state;
            ticket->generation = state->generation.load(std::memory_order_relaxed);
            ticket->offset = 0;
            ticket->bytes = size;
            ticket->spilled = true;
            ticket->cycle = cycles;
        }
        return pointer;
    }

    [[noreturn]] void throwSpillFail(std::size_t bytes) const {
        const std::size_t free = cyclic() ? 0 : blockSize - offset;
        throw std::runtime_error(
            "workspace [" + name + "] cannot fit a request of " + formatSize(bytes) + ": its block is " +
            formatSize(blockSize) + " with " + formatSize(free) +
            " free this cycle and its spill policy is Fail; raise WorkspaceConfig.initialSize "
            "(or maxSize), use SpillPolicy::External or SpillPolicy::Reallocate, or let it learn "
            "with LearningPolicy::FirstLoop");
    }

    void freeQuietly(void* pointer, std::size_t bytes) noexcept {
        try {
            allocator->deallocate(pointer, bytes);
        } catch (const std::exception& error) {
            std::fprintf(stderr, "cohort: freeing %s of workspace [%s] failed: %s\n",
                         formatSize(bytes).c_str(), name.c_str(), error.what());
        }
    }

    void freeEverythingQuietly() noexcept {
        for (const External& external : externals) freeQuietly(external.pointer, external.bytes);
        for (const External& external : pinned) freeQuietly(external.pointer, external.bytes);
        externals.clear();
        pinned.clear();
        externalBytes = 0;
        pinnedBytes = 0;
        if (block != nullptr) freeQuietly(block, blockSize);
        block = nullptr;
        blockSize = 0;
        offset = 0;
    }
};

Workspace::Workspace(std::string name, WorkspaceConfig config) : impl_(std::make_unique<Impl>()) {
    config.validate();
    Impl& m = *impl_;
    m.name = std::move(name);
    m.config = config;
    m.alignment = alignmentFor(config.location);
    m.allocator = &systemAllocator(config.location);  // throws for CUDA kinds without CUDA
    m.state = std::make_shared<WorkspaceState>();
    m.state->name = m.name;
    m.state->id = nextWorkspaceId.fetch_add(1, std::memory_order_relaxed);
    m.state->cyclic = m.cyclic();
    m.initialized = config.policyLearning == LearningPolicy::None;
    if (const std::size_t size = initialBlockSize(config); size > 0) m.resizeBlock(size);
}

Workspace::~Workspace() {
    Impl& m = *impl_;
    if (m.destroyed) return;
    m.freeEverythingQuietly();
    m.state->open.store(false, std::memory_order_release);
    m.state->destroyed.store(true, std::memory_order_release);
}

void* Workspace::allocate(std::size_t bytes, WorkspaceTicket* ticket) {
    Impl& m = *impl_;
    if (!m.open)
        throw std::logic_error("workspace [" + m.name + "] is not open: allocate inside its "
                               "scope (WorkspaceManager::getAndActivateWorkspace)");
    const std::size_t size = m.roundUp(bytes);
    std::size_t placedAt = 0;
    if (m.placeInBlock(size, placedAt)) {
        m.cycleBytes += size;
        m.peakCycleBytes = std::max(m.peakCycleBytes, m.cycleBytes);
        m.blockBytesThisCycle += size;
        m.publishOffset();
        if (ticket != nullptr) {
            ticket->state = m.state;
            ticket->generation = m.state->generation.load(std::memory_order_relaxed);
            ticket->offset = placedAt;
            ticket->bytes = size;
            ticket->spilled = false;
            ticket->cycle = m.cycles;
        }
        return m.block + placedAt;
    }
    if (m.initialized) {
        switch (m.config.policySpill) {
            case SpillPolicy::Fail: m.throwSpillFail(bytes);
            case SpillPolicy::Reallocate: m.growAtNextCycle = true; break;
            case SpillPolicy::External: break;
        }
    }
    void* pointer = m.spill(size, ticket);
    m.cycleBytes += size;
    m.peakCycleBytes = std::max(m.peakCycleBytes, m.cycleBytes);
    return pointer;
}

void Workspace::beginCycle() {
    Impl& m = *impl_;
    if (m.destroyed)
        throw std::logic_error("workspace [" + m.name + "] was destroyed; create it again");
    if (m.open) throw std::logic_error("workspace [" + m.name + "] is already open");
    if (m.pendingBlockSize != 0) {
        const std::size_t size = m.pendingBlockSize;
        m.resizeBlock(size);  // throws the budget / allocation error to the caller
        m.pendingBlockSize = 0;
    }
    if (m.growAtNextCycle) {
        m.growAtNextCycle = false;
        const std::size_t target = m.targetFor(m.peakCycleBytes);
        if (target > m.blockSize) m.resizeBlock(target);
    }
    m.cycleBytes = 0;
    m.blockBytesThisCycle = 0;
    m.cycleStart = m.offset;
    m.wrappedThisCycle = false;
    m.open = true;
    m.state->open.store(true, std::memory_order_release);
}

void Workspace::endCycle() {
    Impl& m = *impl_;
    if (!m.open) throw std::logic_error("workspace [" + m.name + "] has no open cycle to end");
    m.open = false;
    m.state->open.store(false, std::memory_order_release);
    ++m.cycles;
    m.blockBytesLastCycle = m.blockBytesThisCycle;

    if (m.cyclic()) {
        // Last cycle's pins end now; this cycle's spills are pinned until the next one ends.
        for (const Impl::External& external : m.pinned) m.freeQuietly(external.pointer, external.bytes);
        m.pinned = std::move(m.externals);
        m.pinnedBytes = m.externalBytes;
        m.externals.clear();
        m.externalBytes = 0;
    } else {
        for (const Impl::External& external : m.externals)
            m.freeQuietly(external.pointer, external.bytes);
        m.externals.clear();
        m.externalBytes = 0;
        m.offset = 0;
        m.publishOffset();
        m.advanceGeneration();
    }
    m.state->cyclesCompleted.store(m.cycles, std::memory_order_release);

    if (!m.initialized) {
        if (m.config.policyLearning == LearningPolicy::FirstLoop)
            m.initialized = true;
        else if (++m.cyclesObserved >= m.config.cyclesBeforeInitialization)
            m.initialized = true;
        if (m.initialized) {
            const std::size_t target = m.targetFor(m.peakCycleBytes);
            if (target > m.blockSize) m.resizeBlockAtCycleEnd(target);
        }
    }
}

const std::string& Workspace::name() const { return impl_->name; }
const WorkspaceConfig& Workspace::config() const { return impl_->config; }
MemoryLocation Workspace::location() const { return impl_->config.location; }
bool Workspace::isOpen() const { return impl_->open; }
std::uint64_t Workspace::generation() const {
    return impl_->state->generation.load(std::memory_order_relaxed);
}
const std::shared_ptr<WorkspaceState>& Workspace::state() const { return impl_->state; }

WorkspacePlacement Workspace::placement() const {
    const Impl& m = *impl_;
    return WorkspacePlacement{m.block, m.blockSize, m.reallocations + m.spilledAllocations};
}

WorkspaceStatistics Workspace::statistics() const {
    const Impl& m = *impl_;
    WorkspaceStatistics s;
    s.name = m.name;
    s.location = m.config.location;
    s.blockSize = m.blockSize;
    s.used = m.open ? m.blockBytesThisCycle : m.blockBytesLastCycle;
    s.peakCycleBytes = m.peakCycleBytes;
    s.spilledBytes = m.externalBytes;
    s.spilledAllocations = m.spilledAllocations;
    s.pinnedBytes = m.pinnedBytes;
    s.cycles = m.cycles;
    s.generation = generation();
    s.reallocations = m.reallocations;
    return s;
}

void Workspace::destroy() {
    Impl& m = *impl_;
    if (m.destroyed) return;
    if (m.open)
        throw std::logic_error("cannot destroy workspace [" + m.name +
                               "] while its scope is open; close the scope first");
    m.freeEverythingQuietly();
    m.destroyed = true;
    m.state->destroyed.store(true, std::memory_order_release);
}

}  // namespace cohort::memory
