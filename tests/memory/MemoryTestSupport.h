#pragma once
// Shared fixture for tests/memory: every test starts and ends with no workspaces on the thread,
// no budget limits, and scope panic checks on (restored afterwards).
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "memory/Memory.h"

namespace cohort::memory::testing {

class MemoryTest : public ::testing::Test {
protected:
    void SetUp() override {
        WorkspaceManager::forCurrentThread().destroyAllWorkspacesForCurrentThread();
        MemoryBudget::global().setMaxBytes(0);
        MemoryBudget::global().setMaxPhysicalBytes(0);
        checksWereEnabled_ = scopePanicChecks();
        setScopePanicChecks(true);
        baseline_ = allocationCounters();
    }
    void TearDown() override {
        WorkspaceManager::forCurrentThread().destroyAllWorkspacesForCurrentThread();
        MemoryBudget::global().setMaxBytes(0);
        MemoryBudget::global().setMaxPhysicalBytes(0);
        setScopePanicChecks(checksWereEnabled_);
    }
    std::int64_t hostBytesSinceSetUp() const {
        return allocationCounters().bytesInUse[static_cast<int>(MemoryKind::Host)] -
               baseline_.bytesInUse[static_cast<int>(MemoryKind::Host)];
    }

    AllocationCounters baseline_;

private:
    bool checksWereEnabled_ = false;
};

// One cycle of a bare Workspace: allocate each size, return the pointers.
inline std::vector<void*> runCycle(Workspace& workspace, std::initializer_list<std::size_t> sizes) {
    std::vector<void*> pointers;
    workspace.beginCycle();
    for (std::size_t bytes : sizes) pointers.push_back(workspace.allocate(bytes, nullptr));
    workspace.endCycle();
    return pointers;
}

inline bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

inline constexpr std::size_t KiB = 1024;
inline constexpr std::size_t MiB = 1024 * 1024;

}  // namespace cohort::memory::testing
