// The per-thread WorkspaceManager: activation, nesting, scope-out, parents, destroy, threads.
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "memory/MemoryTestSupport.h"

namespace cohort::memory {
namespace {

using testing::KiB;
using testing::MemoryTest;
using WorkspaceManagerTest = MemoryTest;

using testing::contains;

// A training-loop-shaped cycle: three activations of different sizes.
void trainingIteration(WorkspaceManager& manager) {
    WorkspaceScope scope = manager.getAndActivateWorkspace("ACTIVATIONS");
    for (std::size_t bytes : {std::size_t{4000}, std::size_t{12000}, std::size_t{64}}) {
        ScopedAllocation allocation = manager.allocateInCurrentScope(bytes, MemoryLocation::host());
        ASSERT_FALSE(allocation.ownedBySystem);
        static_cast<char*>(allocation.pointer)[bytes - 1] = 1;
    }
}

TEST_F(WorkspaceManagerTest, SteadyTrainingLoopMakesNoSystemAllocations) {
    WorkspaceManager& manager = WorkspaceManager::forCurrentThread();
    trainingIteration(manager);  // learns
    const std::uint64_t before = systemAllocationCount();
    for (int iteration = 0; iteration < 100; ++iteration) trainingIteration(manager);
    EXPECT_EQ(systemAllocationCount(), before);
    EXPECT_EQ(manager.find("ACTIVATIONS")->statistics().cycles, 101u);
}

TEST_F(WorkspaceManagerTest, ScopesActivateAndCloseCycles) {
    WorkspaceManager& manager = WorkspaceManager::forCurrentThread();
    EXPECT_EQ(manager.current(), nullptr);
    {
        WorkspaceScope scope = manager.getAndActivateWorkspace("WS");
        ASSERT_NE(scope.workspace(), nullptr);
        EXPECT_EQ(manager.current(), scope.workspace());
        EXPECT_TRUE(scope.workspace()->isOpen());
        EXPECT_TRUE(manager.isActive("WS"));
        scope.close();
        EXPECT_NO_THROW(scope.close());  // idempotent
        EXPECT_EQ(manager.current(), nullptr);
    }
    Workspace* workspace = manager.find("WS");
    ASSERT_NE(workspace, nullptr);
    EXPECT_FALSE(workspace->isOpen());
    EXPECT_FALSE(manager.isActive("WS"));
    EXPECT_EQ(workspace->statistics().cycles, 1u);
    EXPECT_EQ(manager.find("NOPE"), nullptr);
}

TEST_F(WorkspaceManagerTest, MovedScopeClosesOnce) {
    WorkspaceManager& manager = WorkspaceManager::forCurrentThread();
    WorkspaceScope outer;
    {
        WorkspaceScope inner = manager.getAndActivateWorkspace("MOVED");
        outer = std::move(inner);
    }
    EXPECT_TRUE(manager.isActive("MOVED"));
    outer.close();
    EXPECT_FALSE(manager.isActive("MOVED"));
    EXPECT_EQ(manager.find("MOVED")->statistics().cycles, 1u);
}

TEST_F(WorkspaceManagerTest, NestedScopesAllocateInTheInnermostOrANamedParent) {
    WorkspaceManager& manager = WorkspaceManager::forCurrentThread();
    WorkspaceScope outer = manager.getAndActivateWorkspace("OUTER");
    WorkspaceTicket migrated;
    {
        WorkspaceScope inner = manager.getAndActivateWorkspace("INNER");
        EXPECT_EQ(manager.current(), inner.workspace());
        EXPECT_EQ(manager.activeParentOf(inner.workspace()), outer.workspace());
        EXPECT_EQ(manager.activeParentOf(outer.workspace()), nullptr);
        ScopedAllocation temporary = manager.allocateInCurrentScope(100, MemoryLocation::host());
        EXPECT_EQ(temporary.ticket.state->name, "INNER");
        ScopedAllocation kept = manager.allocateIn("OUTER", 100);  // leverageTo("OUTER")
        EXPECT_EQ(kept.ticket.state->name, "OUTER");
        EXPECT_FALSE(kept.ownedBySystem);
        migrated = kept.ticket;
        temporary.ticket.check("copy", "source");
        EXPECT_THROW(manager.allocateIn("MISSING", 8), std::logic_error);
    }
    EXPECT_EQ(manager.current(), outer.workspace());
    EXPECT_NO_THROW(migrated.check("addi", "x"));  // lives in OUTER, still open
    EXPECT_EQ(manager.activeParentOf(manager.find("INNER")), nullptr);  // no longer active
    try {
        manager.allocateIn("INNER", 8);
        FAIL();
    } catch (const std::logic_error& error) {
        EXPECT_TRUE(contains(error.what(), "[INNER] is not active")) << error.what();
    }
    outer.close();
    EXPECT_THROW(migrated.check("addi", "x"), ScopePanicError);
}

TEST_F(WorkspaceManagerTest, ScopeOutOfWorkspacesUsesTheSystemAllocator) {
    WorkspaceManager& manager = WorkspaceManager::forCurrentThread();
    WorkspaceScope outer = manager.getAndActivateWorkspace("OUTER");
    {
        WorkspaceScope out = manager.scopeOutOfWorkspaces();
        EXPECT_EQ(out.workspace(), nullptr);
        EXPECT_EQ(manager.current(), nullptr);
        const std::uint64_t before = systemAllocationCount();
        ScopedAllocation heap = manager.allocateInCurrentScope(256, MemoryLocation::host());
        EXPECT_TRUE(heap.ownedBySystem);
        EXPECT_FALSE(heap.ticket.inWorkspace());
        EXPECT_EQ(systemAllocationCount(), before + 1);
        systemAllocator(MemoryLocation::host()).deallocate(heap.pointer, 256);
        // A workspace opened inside the scope-out has no parent.
        WorkspaceScope nested = manager.getAndActivateWorkspace("NESTED");
        EXPECT_EQ(manager.activeParentOf(nested.workspace()), nullptr);
    }
    EXPECT_EQ(manager.current(), outer.workspace());
}

TEST_F(WorkspaceManagerTest, OtherLocationBypassesTheWorkspace) {
    WorkspaceManager& manager = WorkspaceManager::forCurrentThread();
    if (visibleCudaDevices() == 0) GTEST_SKIP() << "needs a pinned-host allocator (CUDA device)";
    WorkspaceScope scope = manager.getAndActivateWorkspace("HOSTONLY");
    ScopedAllocation pinned = manager.allocateInCurrentScope(128, MemoryLocation::pinnedHost());
    EXPECT_TRUE(pinned.ownedBySystem);
    systemAllocator(MemoryLocation::pinnedHost()).deallocate(pinned.pointer, 128);
}

TEST_F(WorkspaceManagerTest, NoWorkspaceMeansSystemMemory) {
    WorkspaceManager& manager = WorkspaceManager::forCurrentThread();
    ScopedAllocation heap = manager.allocateInCurrentScope(64, MemoryLocation::host());
    EXPECT_TRUE(heap.ownedBySystem);
    EXPECT_FALSE(heap.ticket.inWorkspace());
    systemAllocator(MemoryLocation::host()).deallocate(heap.pointer, 64);
}

TEST_F(WorkspaceManagerTest, OutOfOrderCloseAndDoubleActivationAreRejected) {
    WorkspaceManager& manager = WorkspaceManager::forCurrentThread();
    WorkspaceScope a = manager.getAndActivateWorkspace("A");
    WorkspaceScope b = manager.getAndActivateWorkspace("B");
    try {
        a.close();
        FAIL() << "expected std::logic_error";
    } catch (const std::logic_error& error) {
        EXPECT_TRUE(contains(error.what(), "[A] closed out of order")) << error.what();
        EXPECT_TRUE(contains(error.what(), "[B]")) << error.what();
    }
    EXPECT_TRUE(manager.isActive("A"));  // nothing changed
    try {
        manager.getAndActivateWorkspace("A");
        FAIL() << "expected std::logic_error";
    } catch (const std::logic_error& error) {
        EXPECT_TRUE(contains(error.what(), "[A] is already active")) << error.what();
    }
    b.close();
    a.close();
    EXPECT_EQ(manager.current(), nullptr);
    EXPECT_EQ(manager.find("A")->statistics().cycles, 1u);
}

TEST_F(WorkspaceManagerTest, ConfigMismatchIsRejectedButNameOnlyReuses) {
    WorkspaceManager& manager = WorkspaceManager::forCurrentThread();
    WorkspaceConfig config;
    config.initialSize = 8 * KiB;
    manager.getAndActivateWorkspace(config, "CONFIGURED");
    EXPECT_NO_THROW(manager.getAndActivateWorkspace(config, "CONFIGURED"));
    EXPECT_NO_THROW(manager.getAndActivateWorkspace("CONFIGURED"));  // use the existing one
    WorkspaceConfig other = config;
    other.policySpill = SpillPolicy::Fail;
    try {
        manager.getAndActivateWorkspace(other, "CONFIGURED");
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& error) {
        EXPECT_TRUE(contains(error.what(), "[CONFIGURED]")) << error.what();
        EXPECT_TRUE(contains(error.what(), "another configuration")) << error.what();
    }
    EXPECT_EQ(manager.find("CONFIGURED")->statistics().cycles, 3u);
    WorkspaceConfig invalid;
    invalid.policyLearning = LearningPolicy::OverTime;
    EXPECT_THROW(manager.getAndActivateWorkspace(invalid, "INVALID"), std::invalid_argument);
    EXPECT_EQ(manager.find("INVALID"), nullptr);
    EXPECT_THROW(manager.getAndActivateWorkspace(""), std::invalid_argument);
}

TEST_F(WorkspaceManagerTest, DestroyAllFreesEverythingRepeatedly) {
    WorkspaceManager& manager = WorkspaceManager::forCurrentThread();
    const std::int64_t baseline = allocationCounters().bytesInUse[0];
    for (int round = 0; round < 5; ++round) {
        for (int iteration = 0; iteration < 3; ++iteration) trainingIteration(manager);
        WorkspaceConfig big;
        big.initialSize = 64 * KiB;
        {
            WorkspaceScope scope = manager.getAndActivateWorkspace(big, "BIG");
            manager.allocateInCurrentScope(100 * KiB, MemoryLocation::host());  // spilled
        }
        EXPECT_GT(allocationCounters().bytesInUse[0], baseline);
        manager.destroyAllWorkspacesForCurrentThread();
        EXPECT_EQ(allocationCounters().bytesInUse[0], baseline) << "round " << round;
        EXPECT_EQ(manager.find("ACTIVATIONS"), nullptr);
        EXPECT_TRUE(manager.statistics().empty());
    }
}

TEST_F(WorkspaceManagerTest, DestroyAllWithAnOpenScopeIsRejected) {
    WorkspaceManager& manager = WorkspaceManager::forCurrentThread();
    WorkspaceScope scope = manager.getAndActivateWorkspace("BUSY");
    try {
        manager.destroyAllWorkspacesForCurrentThread();
        FAIL();
    } catch (const std::logic_error& error) {
        EXPECT_TRUE(contains(error.what(), "[BUSY]")) << error.what();
    }
    scope.close();
}

TEST_F(WorkspaceManagerTest, ThreadsHaveIndependentWorkspaces) {
    void* blocks[2] = {nullptr, nullptr};
    std::uint64_t ids[2] = {0, 0};
    auto worker = [&](int index) {
        WorkspaceManager& manager = WorkspaceManager::forCurrentThread();
        EXPECT_EQ(manager.find("SHARED_NAME"), nullptr);
        for (int cycle = 0; cycle < 3; ++cycle) {
            WorkspaceScope scope = manager.getAndActivateWorkspace("SHARED_NAME");
            ScopedAllocation allocation = manager.allocateInCurrentScope(4 * KiB, MemoryLocation::host());
            if (cycle == 2) {
                blocks[index] = allocation.pointer;
                ids[index] = allocation.ticket.state->id;
            }
        }
        manager.destroyAllWorkspacesForCurrentThread();
    };
    // Both run at the same time so their blocks coexist.
    std::thread first(worker, 0);
    std::thread second(worker, 1);
    first.join();
    second.join();
    EXPECT_NE(ids[0], ids[1]);
    EXPECT_NE(ids[0], 0u);
    EXPECT_EQ(WorkspaceManager::forCurrentThread().find("SHARED_NAME"), nullptr);
}

TEST_F(WorkspaceManagerTest, DifferentThreadsGetDifferentBlocksAtTheSameTime) {
    std::mutex mutex;
    std::condition_variable ready;
    int arrived = 0;
    void* blocks[2] = {nullptr, nullptr};
    auto worker = [&](int index) {
        WorkspaceManager& manager = WorkspaceManager::forCurrentThread();
        WorkspaceConfig config;
        config.initialSize = 4 * KiB;
        WorkspaceScope scope = manager.getAndActivateWorkspace(config, "SAME");
        blocks[index] = manager.allocateInCurrentScope(64, MemoryLocation::host()).pointer;
        std::unique_lock lock(mutex);
        ++arrived;
        ready.notify_all();
        ready.wait(lock, [&] { return arrived == 2; });  // both blocks alive now
    };
    std::thread first(worker, 0);
    std::thread second(worker, 1);
    first.join();
    second.join();
    EXPECT_NE(blocks[0], blocks[1]);
}

TEST_F(WorkspaceManagerTest, ThreadExitFreesItsWorkspaces) {
    const std::int64_t baseline = allocationCounters().bytesInUse[0];
    std::int64_t during = 0;
    std::thread worker([&] {
        WorkspaceManager& manager = WorkspaceManager::forCurrentThread();
        WorkspaceConfig config;
        config.initialSize = 256 * KiB;
        { WorkspaceScope scope = manager.getAndActivateWorkspace(config, "WORKER"); }
        for (int cycle = 0; cycle < 2; ++cycle) trainingIteration(manager);
        during = allocationCounters().bytesInUse[0];
    });  // no destroyAll: the thread's manager cleans up when the thread exits
    worker.join();
    EXPECT_GE(during - baseline, static_cast<std::int64_t>(256 * KiB));
    EXPECT_EQ(allocationCounters().bytesInUse[0], baseline);
}

TEST_F(WorkspaceManagerTest, StatisticsCoverEveryWorkspace) {
    WorkspaceManager& manager = WorkspaceManager::forCurrentThread();
    trainingIteration(manager);
    { WorkspaceScope scope = manager.getAndActivateWorkspace("GRADIENTS"); }
    const std::vector<WorkspaceStatistics> all = manager.statistics();
    ASSERT_EQ(all.size(), 2u);
    const std::string printed = manager.printAllocationStatistics();
    EXPECT_TRUE(contains(printed, "[ACTIVATIONS]")) << printed;
    EXPECT_TRUE(contains(printed, "[GRADIENTS]")) << printed;
    EXPECT_EQ(std::count(printed.begin(), printed.end(), '\n'), 2);
}

}  // namespace
}  // namespace cohort::memory
