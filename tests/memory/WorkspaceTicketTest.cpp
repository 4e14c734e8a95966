// Scope panic checks: leaked and outdated workspace pointers, and their messages.
#include <string>

#include "memory/MemoryTestSupport.h"

namespace cohort::memory {
namespace {

using testing::KiB;
using testing::MemoryTest;
using testing::runCycle;
using WorkspaceTicketTest = MemoryTest;

using testing::contains;

// Runs ticket.check and returns the error it threw (fails the test when it did not throw).
ScopePanicError expectPanic(const WorkspaceTicket& ticket, const char* op, const char* argument) {
    try {
        ticket.check(op, argument);
    } catch (const ScopePanicError& error) {
        return error;
    }
    ADD_FAILURE() << "expected ScopePanicError";
    return ScopePanicError(ScopePanicError::Kind::Leaked, "");
}

TEST_F(WorkspaceTicketTest, DefaultTicketIsAlwaysUsable) {
    WorkspaceTicket heap;
    EXPECT_FALSE(heap.inWorkspace());
    EXPECT_NO_THROW(heap.check("gemm", "A"));
}

TEST_F(WorkspaceTicketTest, ArrayUsedAfterItsScopeClosedIsLeaked) {
    WorkspaceManager& manager = WorkspaceManager::forCurrentThread();
    for (int cycle = 0; cycle < 3; ++cycle) manager.getAndActivateWorkspace("ACTIVATIONS");
    ScopedAllocation array;
    {
        WorkspaceScope scope = manager.getAndActivateWorkspace("ACTIVATIONS");
        array = manager.allocateInCurrentScope(256, MemoryLocation::host());
        ASSERT_TRUE(array.ticket.inWorkspace());
        EXPECT_NO_THROW(array.ticket.check("gemm", "B"));
    }
    const ScopePanicError error = expectPanic(array.ticket, "gemm", "B");
    EXPECT_EQ(error.kind(), ScopePanicError::Kind::Leaked);
    EXPECT_STREQ(error.what(),
                 "Op [gemm] argument B uses leaked workspace pointer from workspace [ACTIVATIONS] "
                 "(array from generation 3; workspace scope is closed, now at generation 4). Fix: "
                 "call detach() to copy it out of the workspace, leverage()/leverageTo(\"NAME\") "
                 "to move it to a parent workspace, or allocate it inside scopeOutOfWorkspaces().");
}

TEST_F(WorkspaceTicketTest, ArrayFromAnEarlierCycleIsOutdated) {
    WorkspaceManager& manager = WorkspaceManager::forCurrentThread();
    for (int cycle = 0; cycle < 3; ++cycle) manager.getAndActivateWorkspace("LOOP");
    WorkspaceTicket fromPreviousIteration;
    for (int iteration = 0; iteration < 3; ++iteration) {
        WorkspaceScope scope = manager.getAndActivateWorkspace("LOOP");
        ScopedAllocation current = manager.allocateInCurrentScope(400, MemoryLocation::host());
        if (iteration == 2) {
            const ScopePanicError error = expectPanic(fromPreviousIteration, "add", "Y");
            EXPECT_EQ(error.kind(), ScopePanicError::Kind::Outdated);
            const std::string message = error.what();
            EXPECT_TRUE(contains(message, "Op [add] argument Y uses outdated workspace pointer from "
                                          "workspace [LOOP] (array from generation 4, workspace "
                                          "now at generation 5: its memory has been reused)"))
                << message;
            EXPECT_TRUE(contains(message, "Fix: call detach()")) << message;
        }
        if (iteration == 1) fromPreviousIteration = current.ticket;
    }
}

TEST_F(WorkspaceTicketTest, SpilledArraysAreCheckedToo) {
    WorkspaceManager& manager = WorkspaceManager::forCurrentThread();
    WorkspaceTicket spilled;
    {
        WorkspaceScope scope = manager.getAndActivateWorkspace("FIRST");
        spilled = manager.allocateInCurrentScope(64, MemoryLocation::host()).ticket;
        ASSERT_TRUE(spilled.spilled);  // learning cycle
        EXPECT_NO_THROW(spilled.check("relu", "x"));
    }
    EXPECT_EQ(expectPanic(spilled, "relu", "x").kind(), ScopePanicError::Kind::Leaked);
    WorkspaceScope scope = manager.getAndActivateWorkspace("FIRST");
    EXPECT_EQ(expectPanic(spilled, "relu", "x").kind(), ScopePanicError::Kind::Outdated);
}

TEST_F(WorkspaceTicketTest, ArrayOfADestroyedWorkspaceIsLeaked) {
    WorkspaceManager& manager = WorkspaceManager::forCurrentThread();
    WorkspaceTicket ticket;
    {
        WorkspaceScope scope = manager.getAndActivateWorkspace("GONE");
        ticket = manager.allocateInCurrentScope(64, MemoryLocation::host()).ticket;
    }
    manager.destroyAllWorkspacesForCurrentThread();
    const ScopePanicError error = expectPanic(ticket, "softmax", "logits");
    EXPECT_EQ(error.kind(), ScopePanicError::Kind::Leaked);
    EXPECT_TRUE(contains(error.what(), "Op [softmax] argument logits uses leaked workspace pointer "
                                       "from workspace [GONE] (array from generation 0; workspace "
                                       "was destroyed)"))
        << error.what();
    // Re-creating a workspace of the same name does not revive old arrays.
    WorkspaceScope scope = manager.getAndActivateWorkspace("GONE");
    EXPECT_THROW(ticket.check("softmax", "logits"), ScopePanicError);
}

TEST_F(WorkspaceTicketTest, NoErrorsWhenChecksAreOff) {
    WorkspaceManager& manager = WorkspaceManager::forCurrentThread();
    WorkspaceTicket ticket;
    {
        WorkspaceScope scope = manager.getAndActivateWorkspace("UNCHECKED");
        ticket = manager.allocateInCurrentScope(64, MemoryLocation::host()).ticket;
    }
    setScopePanicChecks(false);
    EXPECT_FALSE(scopePanicChecks());
    EXPECT_NO_THROW(ticket.check("gemm", "A"));
    manager.destroyAllWorkspacesForCurrentThread();
    EXPECT_NO_THROW(ticket.check("gemm", "A"));
    setScopePanicChecks(true);
    EXPECT_TRUE(scopePanicChecks());
    EXPECT_THROW(ticket.check("gemm", "A"), ScopePanicError);
}

WorkspaceConfig cyclicConfig(std::size_t bytes) {
    WorkspaceConfig config;
    config.policyLearning = LearningPolicy::None;
    config.policyReset = ResetPolicy::EndOfBufferReached;
    config.initialSize = bytes;
    return config;
}

TEST_F(WorkspaceTicketTest, CyclicArrayStaysValidUntilTheBumpPointerPassesOverIt) {
    Workspace workspace("PREFETCH", cyclicConfig(4 * KiB));
    std::vector<WorkspaceTicket> batches(6);
    for (int batch = 0; batch < 6; ++batch) {
        workspace.beginCycle();
        workspace.allocate(1 * KiB, &batches[batch]);
        workspace.endCycle();
        // Closed scope: a consumer may still read the batch (prefetch buffers are not "leaked").
        EXPECT_NO_THROW(batches[batch].check("consume", "batch")) << batch;
    }
    // Block of four 1 KiB batches: batch 4 overwrote batch 0, batch 5 overwrote batch 1.
    EXPECT_EQ(expectPanic(batches[0], "consume", "batch").kind(), ScopePanicError::Kind::Outdated);
    EXPECT_EQ(expectPanic(batches[1], "consume", "batch").kind(), ScopePanicError::Kind::Outdated);
    for (int batch = 2; batch < 6; ++batch)
        EXPECT_NO_THROW(batches[batch].check("consume", "batch")) << batch;
    const std::string message = expectPanic(batches[0], "consume", "batch").what();
    EXPECT_TRUE(contains(message, "outdated workspace pointer from workspace [PREFETCH] (array "
                                  "from generation 0, workspace now at generation 1"))
        << message;
    workspace.destroy();
    EXPECT_EQ(expectPanic(batches[5], "consume", "batch").kind(), ScopePanicError::Kind::Leaked);
}

TEST_F(WorkspaceTicketTest, CyclicSpilledArrayIsPinnedForOneMoreCycle) {
    Workspace workspace("PREFETCH", cyclicConfig(1 * KiB));
    WorkspaceTicket big;
    workspace.beginCycle();
    workspace.allocate(4 * KiB, &big);
    workspace.endCycle();
    ASSERT_TRUE(big.spilled);
    EXPECT_NO_THROW(big.check("consume", "batch"));
    runCycle(workspace, {64});
    EXPECT_THROW(big.check("consume", "batch"), ScopePanicError);
}

}  // namespace
}  // namespace cohort::memory
