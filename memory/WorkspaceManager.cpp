// WorkspaceManager: each thread's workspaces and its stack of active scopes.
//
// Parent rule (activeParentOf): a workspace's parent is the workspace that was current when its
// scope opened, i.e. the innermost active workspace at that moment, or none when the thread was
// inside scopeOutOfWorkspaces() (ND4J: leverage() from inside a scope-out has no parent). Since
// scopes close in reverse order, the parent stays active for as long as the child is.
#include "memory/WorkspaceManager.h"

#include <exception>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>

namespace cohort::memory {
namespace {

std::string describe(const WorkspaceConfig& c) {
    static constexpr const char* kAllocation[] = {"Strict", "Overallocate"};
    static constexpr const char* kLearning[] = {"FirstLoop", "OverTime", "None"};
    static constexpr const char* kSpill[] = {"External", "Reallocate", "Fail"};
    static constexpr const char* kReset[] = {"BlockLeft", "EndOfBufferReached"};
    std::ostringstream out;
    out << "initialSize " << c.initialSize << ", minSize " << c.minSize << ", maxSize "
        << c.maxSize << ", overallocationLimit " << c.overallocationLimit
        << ", cyclesBeforeInitialization " << c.cyclesBeforeInitialization << ", "
        << kAllocation[static_cast<int>(c.policyAllocation)] << "/"
        << kLearning[static_cast<int>(c.policyLearning)] << "/"
        << kSpill[static_cast<int>(c.policySpill)] << "/"
        << kReset[static_cast<int>(c.policyReset)] << " on " << toString(c.location);
    return out.str();
}

}  // namespace

struct WorkspaceManager::Impl {
    struct Entry {
        Workspace* workspace;  // nullptr: a scopeOutOfWorkspaces marker
        Workspace* parent;     // current() when this entry was pushed
    };
    std::map<std::string, std::unique_ptr<Workspace>, std::less<>> workspaces;
    std::vector<Entry> stack;

    const Entry* entryOf(const Workspace* workspace) const {
        for (const Entry& entry : stack)
            if (entry.workspace == workspace) return &entry;
        return nullptr;
    }
    Workspace* current() const { return stack.empty() ? nullptr : stack.back().workspace; }

    std::string openScopeNames() const {
        std::string names;
        for (const Entry& entry : stack) {
            if (!names.empty()) names += ", ";
            names += entry.workspace ? "[" + entry.workspace->name() + "]" : "scopeOutOfWorkspaces";
        }
        return names;
    }

    WorkspaceScope activate(WorkspaceManager* manager, Workspace* workspace) {
        if (entryOf(workspace) != nullptr)
            throw std::logic_error("workspace [" + workspace->name() +
                                   "] is already active on this thread; a workspace can be open "
                                   "only once in the scope stack: close its scope first or use "
                                   "another name");
        Workspace* parent = current();
        workspace->beginCycle();
        try {
            stack.push_back({workspace, parent});
        } catch (...) {
            workspace->endCycle();
            throw;
        }
        return WorkspaceScope(manager, workspace, stack.size());
    }
};

// ---- WorkspaceScope ----

WorkspaceScope::WorkspaceScope(WorkspaceScope&& other) noexcept
    : manager_(other.manager_), workspace_(other.workspace_), depth_(other.depth_) {
    other.manager_ = nullptr;
    other.workspace_ = nullptr;
    other.depth_ = 0;
}

WorkspaceScope& WorkspaceScope::operator=(WorkspaceScope&& other) noexcept {
    if (this != &other) {
        close();  // noexcept: an out-of-order close here terminates, as in the destructor
        manager_ = other.manager_;
        workspace_ = other.workspace_;
        depth_ = other.depth_;
        other.manager_ = nullptr;
        other.workspace_ = nullptr;
        other.depth_ = 0;
    }
    return *this;
}

WorkspaceScope::~WorkspaceScope() {
    if (manager_ == nullptr) return;
    if (std::uncaught_exceptions() > 0) {
        // Already unwinding: a second exception would terminate and hide the first one.
        try {
            close();
        } catch (...) {
        }
        return;
    }
    close();  // the destructor is noexcept: an out-of-order close terminates with its message
}

void WorkspaceScope::close() {
    if (manager_ == nullptr) return;
    manager_->closeScope(depth_, workspace_);  // throws (and stays open) when out of order
    manager_ = nullptr;
    workspace_ = nullptr;
    depth_ = 0;
}

// ---- WorkspaceManager ----

WorkspaceManager::WorkspaceManager() : impl_(std::make_shared<Impl>()) {}

WorkspaceManager::~WorkspaceManager() {
    // Thread exit: free every workspace, even one whose scope object outlived the stack.
    impl_->stack.clear();
    impl_->workspaces.clear();
}

WorkspaceManager& WorkspaceManager::forCurrentThread() {
    thread_local WorkspaceManager manager;
    return manager;
}

WorkspaceScope WorkspaceManager::getAndActivateWorkspace(const WorkspaceConfig& config,
                                                         std::string_view name) {
    if (name.empty()) throw std::invalid_argument("workspace name must not be empty");
    auto found = impl_->workspaces.find(name);
    if (found == impl_->workspaces.end()) {
        std::unique_ptr<Workspace> workspace;
        try {
            workspace = std::make_unique<Workspace>(std::string(name), config);
        } catch (const std::invalid_argument& error) {
            throw std::invalid_argument("workspace [" + std::string(name) + "]: " + error.what());
        }
        found = impl_->workspaces.emplace(std::string(name), std::move(workspace)).first;
    } else if (!(found->second->config() == config)) {
        throw std::invalid_argument(
            "workspace [" + std::string(name) +
            "] already exists on this thread with another configuration (" +
            describe(found->second->config()) + "; requested " + describe(config) +
            "); use one WorkspaceConfig per name, call getAndActivateWorkspace(name) to reuse it, "
            "or pick another name");
    }
    return impl_->activate(this, found->second.get());
}

WorkspaceScope WorkspaceManager::getAndActivateWorkspace(std::string_view name) {
    if (Workspace* existing = find(name)) return impl_->activate(this, existing);
    return getAndActivateWorkspace(WorkspaceConfig{}, name);
}

WorkspaceScope WorkspaceManager::scopeOutOfWorkspaces() {
    impl_->stack.push_back({nullptr, nullptr});
    return WorkspaceScope(this, nullptr, impl_->stack.size());
}

Workspace* WorkspaceManager::current() const { return impl_->current(); }

Workspace* WorkspaceManager::find(std::string_view name) const {
    const auto found = impl_->workspaces.find(name);
    return found == impl_->workspaces.end() ? nullptr : found->second.get();
}

Workspace* WorkspaceManager::activeParentOf(const Workspace* workspace) const {
    const Impl::Entry* entry = workspace ? impl_->entryOf(workspace) : nullptr;
    return entry ? entry->parent : nullptr;
}

bool WorkspaceManager::isActive(std::string_view name) const {
    const Workspace* workspace = find(name);
    return workspace != nullptr && impl_->entryOf(workspace) != nullptr;
}

ScopedAllocation WorkspaceManager::allocateInCurrentScope(std::size_t bytes,
                                                          MemoryLocation location) {
    ScopedAllocation result;
    Workspace* workspace = current();
    if (workspace != nullptr && workspace->location() == location) {
        result.pointer = workspace->allocate(bytes, &result.ticket);
        return result;
    }
    // No workspace, scoped out, or a workspace of another location: plain system memory.
    result.pointer = systemAllocator(location).allocate(bytes);
    result.ownedBySystem = true;
    return result;
}

ScopedAllocation WorkspaceManager::allocateIn(std::string_view name, std::size_t bytes) {
    Workspace* workspace = find(name);
    if (workspace == nullptr)
        throw std::logic_error("no workspace [" + std::string(name) +
                               "] on this thread; leverageTo() needs a workspace opened in an "
                               "enclosing scope");
    if (impl_->entryOf(workspace) == nullptr)
        throw std::logic_error("workspace [" + std::string(name) +
                               "] is not active on this thread; leverageTo() needs it open in "
                               "an enclosing scope");
    ScopedAllocation result;
    result.pointer = workspace->allocate(bytes, &result.ticket);
    return result;
}

void WorkspaceManager::destroyAllWorkspacesForCurrentThread() {
    if (!impl_->stack.empty())
        throw std::logic_error("cannot destroy the workspaces of this thread while scopes are "
                               "open (" + impl_->openScopeNames() + "); close them first");
    for (auto& [name, workspace] : impl_->workspaces) workspace->destroy();
    impl_->workspaces.clear();
}

std::vector<WorkspaceStatistics> WorkspaceManager::statistics() const {
    std::vector<WorkspaceStatistics> all;
    all.reserve(impl_->workspaces.size());
    for (const auto& [name, workspace] : impl_->workspaces) all.push_back(workspace->statistics());
    return all;
}

std::string WorkspaceManager::printAllocationStatistics() const {
    std::string lines;
    for (const WorkspaceStatistics& statistics : statistics()) {
        lines += statistics.toHuman();
        lines += '\n';
    }
    return lines;
}

void WorkspaceManager::closeScope(std::size_t depth, Workspace* workspace) {
    auto& stack = impl_->stack;
    // Built only on the error paths: closing a scope is on every training step's hot path.
    auto describe = [workspace] {
        return workspace ? "workspace [" + workspace->name() + "]" : std::string("scopeOutOfWorkspaces");
    };
    if (stack.size() < depth || stack[depth - 1].workspace != workspace)
        throw std::logic_error("scope of " + describe() + " is no longer on this thread's scope stack");
    if (stack.size() != depth)
        throw std::logic_error("scope of " + describe() + " closed out of order: " +
                               (stack.back().workspace ? "[" + stack.back().workspace->name() + "]"
                                                       : std::string("scopeOutOfWorkspaces")) +
                               " was opened after it and is still open; close scopes in reverse "
                               "order of opening");
    stack.pop_back();
    if (workspace != nullptr) workspace->endCycle();
}

}  // namespace cohort::memory
