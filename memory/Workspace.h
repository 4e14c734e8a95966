#pragma once
// Workspace: a memory arena reused cycle after cycle, with ND4J's policies.
//
// A cycle is one activation of the workspace (WorkspaceManager::getAndActivateWorkspace ...
// scope close). Allocations bump an offset inside the block; when the scope closes the cycle
// ends: with ResetPolicy::BlockLeft the offset returns to 0 and the generation advances, so
// arrays from the cycle become "outdated" (and "leaked" while the scope stays closed).
// ResetPolicy::EndOfBufferReached makes the workspace cyclic (prefetch buffers): the offset
// is kept across cycles and wraps to the start of the block when the end is reached; an array
// is outdated once a later allocation overwrote its bytes. A cycle never overwrites its own
// arrays: a request that would (a cycle larger than the block) spills instead. Arrays of a cyclic
// workspace stay usable after its scope closes (prefetch consumers read them later), and its
// spilled arrays are pinned until the end of the following cycle.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "memory/SystemAllocator.h"

namespace cohort::memory {

enum class AllocationPolicy : std::uint8_t { Strict, Overallocate };
enum class LearningPolicy : std::uint8_t { FirstLoop, OverTime, None };
enum class SpillPolicy : std::uint8_t { External, Reallocate, Fail };
enum class ResetPolicy : std::uint8_t { BlockLeft, EndOfBufferReached };

struct WorkspaceConfig {
    std::size_t initialSize = 0;       // block allocated at creation (0: learn it; clamped to min/max)
    std::size_t minSize = 0;           // learned block is at least this
    std::size_t maxSize = 0;           // block never grows past this (0: unlimited)
    double overallocationLimit = 0.0;  // Overallocate: block = learned * (1 + limit)
    int cyclesBeforeInitialization = 0;  // OverTime: cycles to observe before sizing the block
    AllocationPolicy policyAllocation = AllocationPolicy::Overallocate;
    LearningPolicy policyLearning = LearningPolicy::FirstLoop;
    SpillPolicy policySpill = SpillPolicy::External;
    ResetPolicy policyReset = ResetPolicy::BlockLeft;
    MemoryLocation location = MemoryLocation::host();

    // Throws std::invalid_argument naming the field for impossible combinations
    // (maxSize < minSize, negative overallocation, OverTime with 0 cycles, ...).
    void validate() const;
    bool operator==(const WorkspaceConfig&) const = default;
};

// Shared, reference-counted life record of one workspace, outliving the workspace itself so
// that arrays can be checked even after the workspace was destroyed.
struct WorkspaceState {
    std::string name;
    std::uint64_t id = 0;                 // unique per process
    std::atomic<bool> open{false};        // a scope of this workspace is active
    std::atomic<bool> destroyed{false};
    std::atomic<std::uint64_t> generation{0};  // advances at each cycle end (or wrap if cyclic)
    std::atomic<std::size_t> offset{0};        // current bump offset (cyclic check)
    bool cyclic = false;
    // Tickets older than this generation point into a block that was freed (reallocated).
    std::atomic<std::uint64_t> oldestValidGeneration{0};
    std::atomic<std::uint64_t> cyclesCompleted{0};  // cycles ended so far
};

// What an array remembers about where its bytes came from. Default-constructed: not from a
// workspace (heap / detached), always usable.
struct WorkspaceTicket {
    std::shared_ptr<const WorkspaceState> state;
    std::uint64_t generation = 0;
    std::size_t offset = 0;
    std::size_t bytes = 0;
    bool spilled = false;  // lives in an external (spilled) allocation of the cycle
    std::uint64_t cycle = 0;  // index of the cycle that allocated it (0-based)

    bool inWorkspace() const { return static_cast<bool>(state); }
    // Throws ScopePanicError when the bytes are no longer valid; no-op when checks are off.
    void check(const char* op, const char* argument) const {
        if (state && scopePanicChecksEnabled()) checkSlow(op, argument);
    }
    static bool scopePanicChecksEnabled() {
        return checksEnabled_.load(std::memory_order_relaxed);
    }
    void checkSlow(const char* op, const char* argument) const;
    static std::atomic<bool> checksEnabled_;
};

// On by default in debug builds (no NDEBUG) and when COHORT_SCOPE_CHECKS=1; off otherwise.
void setScopePanicChecks(bool enabled);
bool scopePanicChecks();

class ScopePanicError : public std::logic_error {
public:
    enum class Kind { Leaked, Outdated };
    ScopePanicError(Kind kind, const std::string& message) : std::logic_error(message), kind_(kind) {}
    Kind kind() const { return kind_; }

private:
    Kind kind_;
};

struct WorkspaceStatistics {
    std::string name;
    MemoryLocation location;
    std::size_t blockSize = 0;         // bytes in the block
    std::size_t used = 0;              // bytes used in the current/last cycle inside the block
    std::size_t peakCycleBytes = 0;    // largest cycle seen (block + spilled)
    std::size_t spilledBytes = 0;      // bytes currently held in external allocations
    std::uint64_t spilledAllocations = 0;  // external allocations made so far
    std::size_t pinnedBytes = 0;       // external bytes kept until the next cycle
    std::uint64_t cycles = 0;
    std::uint64_t generation = 0;
    std::uint64_t reallocations = 0;   // times the block was (re)allocated

    std::string toHuman() const;       // one line in human units
};

// Where a workspace's memory is: its block, and a count of the times memory it handed out could
// have gone elsewhere (the block (re)allocated, an allocation spilled outside it). Callers that
// keep addresses across cycles (a captured CUDA graph) compare it; reading it allocates nothing.
struct WorkspacePlacement {
    const void* block = nullptr;
    std::size_t blockSize = 0;
    std::uint64_t moves = 0;
    bool operator==(const WorkspacePlacement&) const = default;
};

// Memory predictions, by the rules allocate() and the cycle ends follow.
// The bytes a request of `bytes` takes in a workspace of `config`: rounded up to the alignment of
// its location, 0 counting as 1; saturating.
std::size_t workspaceRequestBytes(const WorkspaceConfig& config, std::size_t bytes);
// The most system memory (block and spilled allocations together) a workspace of `config` holds
// at any time when no cycle asks for more than `cycleBytes` (a sum of workspaceRequestBytes): the
// first cycle's spills on top of the initial block, then the block its learning or Reallocate
// policy grows to (and what still spills past it, twice over when cyclic pins them a cycle
// longer). With SpillPolicy::Fail and no learning a larger cycle throws without asking for memory:
// the block alone. Saturating.
std::size_t workspaceHeldBytes(const WorkspaceConfig& config, std::size_t cycleBytes);

class Workspace {
public:
    Workspace(std::string name, WorkspaceConfig config);
    ~Workspace();
    Workspace(const Workspace&) = delete;
    Workspace& operator=(const Workspace&) = delete;

    // Bump-allocates `bytes` aligned to alignmentFor(location). Beyond the block, the spill
    // policy decides: External/Reallocate take an external allocation freed at cycle end
    // (Reallocate also grows the block at the next cycle start); Fail throws std::runtime_error
    // naming the workspace, the request and the block size.
    void* allocate(std::size_t bytes, WorkspaceTicket* ticket);

    void beginCycle();  // called by WorkspaceScope on activation
    void endCycle();    // called by WorkspaceScope on close

    const std::string& name() const;
    const WorkspaceConfig& config() const;
    MemoryLocation location() const;
    bool isOpen() const;
    std::uint64_t generation() const;
    WorkspaceStatistics statistics() const;
    WorkspacePlacement placement() const;
    const std::shared_ptr<WorkspaceState>& state() const;

    // Frees the block and external allocations; the state is marked destroyed so leftover
    // arrays report "leaked" when checked. Throws std::logic_error if a scope is open.
    void destroy();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::memory
