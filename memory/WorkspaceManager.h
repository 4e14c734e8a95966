#pragma once
// The per-thread workspace manager (ND4J's Nd4j.getWorkspaceManager()).
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "memory/Workspace.h"

namespace cohort::memory {

class WorkspaceManager;

// RAII activation of a workspace (or of "no workspace" for scopeOutOfWorkspaces). Closing it
// ends the workspace's cycle and pops it off the thread's active stack. Scopes must close in
// reverse order of opening (enforced: closing out of order throws std::logic_error at close,
// reported from the destructor through std::terminate only if not already unwinding).
class WorkspaceScope {
public:
    WorkspaceScope() = default;
    WorkspaceScope(WorkspaceScope&& other) noexcept;
    WorkspaceScope& operator=(WorkspaceScope&& other) noexcept;
    ~WorkspaceScope();
    void close();  // idempotent
    Workspace* workspace() const { return workspace_; }  // nullptr for a scope-out

private:
    friend class WorkspaceManager;
    WorkspaceScope(WorkspaceManager* manager, Workspace* workspace, std::size_t depth)
        : manager_(manager), workspace_(workspace), depth_(depth) {}
    WorkspaceManager* manager_ = nullptr;
    Workspace* workspace_ = nullptr;
    std::size_t depth_ = 0;
};

// Result of allocateInCurrentScope.
struct ScopedAllocation {
    void* pointer = nullptr;
    WorkspaceTicket ticket;  // empty when the bytes came from the system allocator
    bool ownedBySystem = false;  // caller must free with systemAllocator(location).deallocate
};

class WorkspaceManager {
public:
    static WorkspaceManager& forCurrentThread();

    // Creates the workspace on first use (config applies then; later calls with another config
    // throw std::invalid_argument naming the workspace), then opens a cycle. A workspace may be
    // open only once in the active stack at a time (re-entering throws std::logic_error).
    WorkspaceScope getAndActivateWorkspace(const WorkspaceConfig& config, std::string_view name);
    WorkspaceScope getAndActivateWorkspace(std::string_view name);  // default WorkspaceConfig
    // Allocations inside go to the system allocator until the scope closes.
    WorkspaceScope scopeOutOfWorkspaces();

    Workspace* current() const;                 // innermost active workspace, nullptr if none/scoped out
    Workspace* find(std::string_view name) const;   // existing workspace of this thread
    // The workspace that was current() when `workspace`'s scope opened (nullptr if none, if it
    // was opened inside scopeOutOfWorkspaces(), or if `workspace` is not active). Scopes close in
    // reverse order, so the parent stays active as long as the child does.
    Workspace* activeParentOf(const Workspace* workspace) const;
    bool isActive(std::string_view name) const;

    // Allocates from current() if there is one (location must match the workspace's), else
    // from the system allocator for `location`.
    ScopedAllocation allocateInCurrentScope(std::size_t bytes, MemoryLocation location);
    // Allocates from the named, currently active workspace (leverageTo). Throws
    // std::logic_error naming the workspace when it does not exist or is not active.
    ScopedAllocation allocateIn(std::string_view name, std::size_t bytes);

    // Frees every workspace of this thread; throws std::logic_error if any scope is open.
    void destroyAllWorkspacesForCurrentThread();

    std::vector<WorkspaceStatistics> statistics() const;
    std::string printAllocationStatistics() const;  // one human line per workspace

private:
    friend class WorkspaceScope;
    void closeScope(std::size_t depth, Workspace* workspace);
    struct Impl;
    std::shared_ptr<Impl> impl_;
    WorkspaceManager();
public:
    ~WorkspaceManager();
};

}  // namespace cohort::memory
