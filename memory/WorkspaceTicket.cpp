// Scope panic checks: is an array's workspace memory still what the array wrote there?
//
// Leaked:   the workspace was destroyed, or (non-cyclic workspaces) its scope is closed.
// Outdated: BlockLeft — the array is from an earlier cycle (generation); cyclic — the bump
//           pointer passed over the array's bytes in a later lap, the block was reallocated, or
//           (spilled arrays) the cycle that pinned it is over.
// Cyclic workspaces are not "leaked" while closed: a prefetch buffer's arrays are consumed after
// the producer's scope closed, and stay valid until the buffer wraps over them.
#include <cstdlib>
#include <cstring>
#include <string>

#include "memory/Workspace.h"

namespace cohort::memory {
namespace {

bool initialScopeChecks() {
#ifdef NDEBUG
    bool enabled = false;
#else
    bool enabled = true;
#endif
    if (const char* value = std::getenv("COHORT_SCOPE_CHECKS")) {
        if (std::strcmp(value, "1") == 0) enabled = true;
        if (std::strcmp(value, "0") == 0) enabled = false;
    }
    return enabled;
}

const char* kFix =
    "Fix: call detach() to copy it out of the workspace, leverage()/leverageTo(\"NAME\") to move it "
    "to a parent workspace, or allocate it inside scopeOutOfWorkspaces().";

std::string prefix(const char* op, const char* argument, const char* what,
                   const WorkspaceState& state) {
    return std::string("Op [") + (op ? op : "?") + "] argument " + (argument ? argument : "?") +
           " uses " + what + " workspace pointer from workspace [" + state.name + "] ";
}

// True when a later allocation of the cyclic workspace may have written over the ticket's bytes.
bool overwrittenInCyclicBlock(const WorkspaceTicket& ticket, std::uint64_t generation,
                              std::size_t offset) {
    if (generation == ticket.generation) return false;            // same lap: not reached yet
    if (generation == ticket.generation + 1) return offset > ticket.offset;  // next lap
    return true;  // two or more laps later (or older than the block): assume reused
}

}  // namespace

std::atomic<bool> WorkspaceTicket::checksEnabled_{initialScopeChecks()};

void setScopePanicChecks(bool enabled) {
    WorkspaceTicket::checksEnabled_.store(enabled, std::memory_order_relaxed);
}

bool scopePanicChecks() { return WorkspaceTicket::scopePanicChecksEnabled(); }

void WorkspaceTicket::checkSlow(const char* op, const char* argument) const {
    if (!state) return;
    const WorkspaceState& s = *state;
    const bool destroyed = s.destroyed.load(std::memory_order_acquire);
    const bool leaked = destroyed || (!s.cyclic && !s.open.load(std::memory_order_acquire));
    const std::uint64_t nowGeneration = s.generation.load(std::memory_order_acquire);

    bool outdated = false;
    if (leaked) {
    } else if (!s.cyclic) {
        outdated = nowGeneration != generation;
    } else if (spilled) {
        // Spilled arrays of a cyclic workspace are pinned until the end of the following cycle.
        outdated = s.cyclesCompleted.load(std::memory_order_acquire) >= cycle + 2;
    } else {
        outdated = generation < s.oldestValidGeneration.load(std::memory_order_acquire) ||
                   overwrittenInCyclicBlock(*this, nowGeneration,
                                            s.offset.load(std::memory_order_acquire));
    }
    if (!leaked && !outdated) return;  // the common case builds no strings

    const std::string from = "(array from generation " + std::to_string(generation);
    if (destroyed)
        throw ScopePanicError(ScopePanicError::Kind::Leaked,
                              prefix(op, argument, "leaked", s) + from +
                                  "; workspace was destroyed). " + kFix);
    if (leaked)
        throw ScopePanicError(ScopePanicError::Kind::Leaked,
                              prefix(op, argument, "leaked", s) + from +
                                  "; workspace scope is closed, now at generation " +
                                  std::to_string(nowGeneration) + "). " + kFix);
    const std::string detail =
        s.cyclic && spilled ? "; it was spilled in cycle " + std::to_string(cycle) +
                                  " and freed when cycle " + std::to_string(cycle + 1) + " ended"
                            : std::string();
    throw ScopePanicError(ScopePanicError::Kind::Outdated,
                          prefix(op, argument, "outdated", s) + from +
                              ", workspace now at generation " + std::to_string(nowGeneration) +
                              ": its memory has been reused" + detail + "). " + kFix);
}

}  // namespace cohort::memory
