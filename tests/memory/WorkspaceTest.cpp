// Workspace policies: learning, allocation, spill, reset (BlockLeft and cyclic), clamps.
#include <cstring>
#include <string>

#include "memory/MemoryTestSupport.h"

namespace cohort::memory {
namespace {

using testing::KiB;
using testing::MemoryTest;
using testing::MiB;
using testing::runCycle;
using WorkspaceTest = MemoryTest;

using testing::contains;

WorkspaceConfig strictFirstLoop() {
    WorkspaceConfig config;
    config.policyAllocation = AllocationPolicy::Strict;
    return config;
}

// Sizes used below are rounded to the host alignment (64): 1000 -> 1024, 3000 -> 3008, 10 -> 64.
constexpr std::size_t kCycleBytes = 1024 + 3008 + 64;

TEST_F(WorkspaceTest, FirstLoopLearnsTheBlockThenCyclesAllocateNothing) {
    Workspace workspace("ACTIVATIONS", strictFirstLoop());
    EXPECT_EQ(workspace.statistics().blockSize, 0u);

    const std::uint64_t before = systemAllocationCount();
    runCycle(workspace, {1000, 3000, 10});  // learning: every request spills
    EXPECT_EQ(systemAllocationCount() - before, 4u);  // 3 spills + the learned block
    WorkspaceStatistics learned = workspace.statistics();
    EXPECT_EQ(learned.blockSize, kCycleBytes);
    EXPECT_EQ(learned.peakCycleBytes, kCycleBytes);
    EXPECT_EQ(learned.spilledAllocations, 3u);
    EXPECT_EQ(learned.spilledBytes, 0u);  // freed at cycle end
    EXPECT_EQ(learned.reallocations, 1u);
    EXPECT_EQ(hostBytesSinceSetUp(), static_cast<std::int64_t>(kCycleBytes));

    const std::vector<void*> first = runCycle(workspace, {1000, 3000, 10});
    const std::uint64_t steady = systemAllocationCount();
    const std::uint64_t frees = allocationCounters().deallocations;
    for (int cycle = 0; cycle < 100; ++cycle) {
        const std::vector<void*> pointers = runCycle(workspace, {1000, 3000, 10});
        ASSERT_EQ(pointers, first) << "cycle " << cycle << " did not reuse the block";
    }
    EXPECT_EQ(systemAllocationCount(), steady) << "steady cycles must not call the system allocator";
    EXPECT_EQ(allocationCounters().deallocations, frees);
    EXPECT_EQ(static_cast<char*>(first[1]) - static_cast<char*>(first[0]), 1024);
    EXPECT_EQ(static_cast<char*>(first[2]) - static_cast<char*>(first[1]), 3008);
    EXPECT_EQ(workspace.statistics().cycles, 102u);
    EXPECT_EQ(workspace.statistics().spilledAllocations, 3u);
    EXPECT_EQ(workspace.statistics().used, kCycleBytes);
}

TEST_F(WorkspaceTest, EveryAllocationIsAligned) {
    Workspace workspace("ALIGNED", strictFirstLoop());
    for (int cycle = 0; cycle < 2; ++cycle)
        for (void* pointer : runCycle(workspace, {1, 7, 13, 100, 0, 5}))
            EXPECT_EQ(reinterpret_cast<std::uintptr_t>(pointer) % alignmentFor(MemoryLocation::host()), 0u);
}

TEST_F(WorkspaceTest, OverallocateAddsItsLimitWhileStrictIsExact) {
    Workspace strict("STRICT", strictFirstLoop());
    WorkspaceConfig overallocate;
    overallocate.policyAllocation = AllocationPolicy::Overallocate;
    overallocate.overallocationLimit = 0.5;
    Workspace generous("GENEROUS", overallocate);
    runCycle(strict, {4096});
    runCycle(generous, {4096});
    EXPECT_EQ(strict.statistics().blockSize, 4096u);
    EXPECT_EQ(generous.statistics().blockSize, 6144u);
    // The extra half absorbs a bigger cycle without touching the system allocator.
    const std::uint64_t before = systemAllocationCount();
    runCycle(generous, {4096, 2000});
    EXPECT_EQ(systemAllocationCount(), before);
    runCycle(strict, {4096, 64});
    EXPECT_EQ(systemAllocationCount(), before + 1);  // External spill
}

TEST_F(WorkspaceTest, OverTimeSizesTheBlockAfterTheObservedCycles) {
    WorkspaceConfig config = strictFirstLoop();
    config.policyLearning = LearningPolicy::OverTime;
    config.cyclesBeforeInitialization = 3;
    Workspace workspace("OVERTIME", config);
    runCycle(workspace, {1 * KiB});
    runCycle(workspace, {3 * KiB});
    EXPECT_EQ(workspace.statistics().blockSize, 0u);  // still observing
    EXPECT_EQ(workspace.statistics().spilledAllocations, 2u);
    runCycle(workspace, {2 * KiB});
    EXPECT_EQ(workspace.statistics().blockSize, 3 * KiB);  // the largest of the three
    const std::uint64_t before = systemAllocationCount();
    for (int cycle = 0; cycle < 100; ++cycle) runCycle(workspace, {1 * KiB, 2 * KiB});
    EXPECT_EQ(systemAllocationCount(), before);
}

TEST_F(WorkspaceTest, LearningNoneNeverGrowsAndSpillsEveryCycle) {
    WorkspaceConfig config;
    config.policyLearning = LearningPolicy::None;
    config.initialSize = 1 * KiB;
    Workspace workspace("NONE", config);
    EXPECT_EQ(workspace.statistics().blockSize, 1 * KiB);
    const std::int64_t withBlock = hostBytesSinceSetUp();
    EXPECT_EQ(withBlock, static_cast<std::int64_t>(KiB));
    for (int cycle = 0; cycle < 5; ++cycle) {
        const std::uint64_t before = systemAllocationCount();
        runCycle(workspace, {512, 512, 2 * KiB});  // 1 KiB fits, 2 KiB spills
        EXPECT_EQ(systemAllocationCount() - before, 1u);
        EXPECT_EQ(hostBytesSinceSetUp(), withBlock);  // the spill was freed at cycle end
    }
    EXPECT_EQ(workspace.statistics().blockSize, 1 * KiB);
    EXPECT_EQ(workspace.statistics().spilledAllocations, 5u);
    EXPECT_EQ(workspace.statistics().reallocations, 1u);
}

TEST_F(WorkspaceTest, ExternalSpillIsHeldUntilCycleEndThenFreed) {
    Workspace workspace("EXTERNAL", strictFirstLoop());
    runCycle(workspace, {1 * KiB});
    const std::int64_t block = hostBytesSinceSetUp();
    for (int cycle = 0; cycle < 3; ++cycle) {
        workspace.beginCycle();
        void* inBlock = workspace.allocate(1 * KiB, nullptr);
        WorkspaceTicket ticket;
        void* spilled = workspace.allocate(4 * KiB, &ticket);
        EXPECT_TRUE(ticket.spilled);
        std::memset(inBlock, 1, KiB);
        std::memset(spilled, 2, 4 * KiB);
        EXPECT_EQ(workspace.statistics().spilledBytes, 4 * KiB);
        EXPECT_EQ(hostBytesSinceSetUp(), block + static_cast<std::int64_t>(4 * KiB));
        workspace.endCycle();
        EXPECT_EQ(hostBytesSinceSetUp(), block);
        EXPECT_EQ(workspace.statistics().spilledBytes, 0u);
    }
    EXPECT_EQ(workspace.statistics().blockSize, 1 * KiB);  // External never grows the block
    EXPECT_EQ(workspace.statistics().spilledAllocations, 1u + 3u);
    EXPECT_EQ(workspace.statistics().peakCycleBytes, 5 * KiB);
}

TEST_F(WorkspaceTest, ReallocateGrowsTheBlockAtTheNextCycle) {
    WorkspaceConfig config = strictFirstLoop();
    config.policySpill = SpillPolicy::Reallocate;
    Workspace workspace("REALLOCATE", config);
    runCycle(workspace, {1 * KiB});
    EXPECT_EQ(workspace.statistics().blockSize, 1 * KiB);
    runCycle(workspace, {1 * KiB, 4 * KiB});  // spills this cycle
    EXPECT_EQ(workspace.statistics().blockSize, 1 * KiB);
    EXPECT_EQ(workspace.statistics().spilledAllocations, 2u);
    workspace.beginCycle();  // grows here
    EXPECT_EQ(workspace.statistics().blockSize, 5 * KiB);
    EXPECT_EQ(workspace.statistics().reallocations, 2u);
    workspace.allocate(1 * KiB, nullptr);
    workspace.allocate(4 * KiB, nullptr);
    workspace.endCycle();
    const std::uint64_t before = systemAllocationCount();
    for (int cycle = 0; cycle < 100; ++cycle) runCycle(workspace, {1 * KiB, 4 * KiB});
    EXPECT_EQ(systemAllocationCount(), before);
    EXPECT_EQ(hostBytesSinceSetUp(), static_cast<std::int64_t>(5 * KiB));  // old block freed
}

TEST_F(WorkspaceTest, ReallocateRespectsMaxSize) {
    WorkspaceConfig config = strictFirstLoop();
    config.policySpill = SpillPolicy::Reallocate;
    config.maxSize = 2 * KiB;
    Workspace workspace("CAPPED", config);
    runCycle(workspace, {1 * KiB});
    runCycle(workspace, {1 * KiB, 4 * KiB});
    runCycle(workspace, {1 * KiB, 4 * KiB});
    EXPECT_EQ(workspace.statistics().blockSize, 2 * KiB);
}

TEST_F(WorkspaceTest, FailPolicyThrowsNamingWorkspaceRequestAndBlock) {
    WorkspaceConfig config;
    config.policyLearning = LearningPolicy::None;
    config.policySpill = SpillPolicy::Fail;
    config.initialSize = 1 * KiB;
    Workspace workspace("STRICT_BUFFER", config);
    workspace.beginCycle();
    workspace.allocate(512, nullptr);
    try {
        workspace.allocate(2 * KiB, nullptr);
        FAIL() << "expected std::runtime_error";
    } catch (const std::runtime_error& error) {
        const std::string message = error.what();
        EXPECT_TRUE(contains(message, "[STRICT_BUFFER]")) << message;
        EXPECT_TRUE(contains(message, "2.0 KiB")) << message;
        EXPECT_TRUE(contains(message, "block is 1.0 KiB")) << message;
        EXPECT_TRUE(contains(message, "512 B free")) << message;
        EXPECT_TRUE(contains(message, "SpillPolicy::External")) << message;
    }
    EXPECT_NO_THROW(workspace.allocate(512, nullptr));  // the workspace is still usable
    workspace.endCycle();
    EXPECT_EQ(workspace.statistics().spilledAllocations, 0u);
}

TEST_F(WorkspaceTest, FailPolicyStillLearnsDuringTheFirstLoop) {
    WorkspaceConfig config = strictFirstLoop();
    config.policySpill = SpillPolicy::Fail;
    Workspace workspace("LEARN_THEN_FAIL", config);
    EXPECT_NO_THROW(runCycle(workspace, {2 * KiB}));
    EXPECT_NO_THROW(runCycle(workspace, {2 * KiB}));
    workspace.beginCycle();
    workspace.allocate(2 * KiB, nullptr);
    EXPECT_THROW(workspace.allocate(64, nullptr), std::runtime_error);
    workspace.endCycle();
}

TEST_F(WorkspaceTest, MinAndMaxSizeClampTheLearnedBlock) {
    WorkspaceConfig atLeast = strictFirstLoop();
    atLeast.minSize = 8 * KiB;
    Workspace small("MIN", atLeast);
    runCycle(small, {1 * KiB});
    EXPECT_EQ(small.statistics().blockSize, 8 * KiB);

    WorkspaceConfig atMost = strictFirstLoop();
    atMost.maxSize = 2 * KiB;
    Workspace capped("MAX", atMost);
    runCycle(capped, {1 * KiB, 7 * KiB});
    EXPECT_EQ(capped.statistics().blockSize, 2 * KiB);
    const std::uint64_t before = systemAllocationCount();
    runCycle(capped, {1 * KiB, 7 * KiB});  // 1 KiB in the block, 7 KiB spills (External)
    EXPECT_EQ(systemAllocationCount() - before, 1u);

    WorkspaceConfig initial;
    initial.initialSize = 16 * KiB;
    initial.maxSize = 4 * KiB;
    Workspace clamped("INITIAL_OVER_MAX", initial);
    EXPECT_EQ(clamped.statistics().blockSize, 4 * KiB);
    WorkspaceConfig initialBelowMin;
    initialBelowMin.initialSize = 1 * KiB;
    initialBelowMin.minSize = 2 * KiB;
    Workspace raised("INITIAL_UNDER_MIN", initialBelowMin);
    EXPECT_EQ(raised.statistics().blockSize, 2 * KiB);
}

TEST_F(WorkspaceTest, InitialSizeIsAllocatedAtCreationAndUsedByTheFirstLoop) {
    WorkspaceConfig config = strictFirstLoop();
    config.initialSize = 8 * KiB;
    const std::uint64_t before = systemAllocationCount();
    Workspace workspace("PRESIZED", config);
    EXPECT_EQ(systemAllocationCount() - before, 1u);
    EXPECT_EQ(workspace.statistics().blockSize, 8 * KiB);
    runCycle(workspace, {4 * KiB, 4 * KiB});
    EXPECT_EQ(systemAllocationCount() - before, 1u);
    EXPECT_EQ(workspace.statistics().blockSize, 8 * KiB);  // it fit: no relearning
}

TEST_F(WorkspaceTest, CyclicWorkspaceWrapsAroundWithoutAllocating) {
    WorkspaceConfig config;
    config.policyLearning = LearningPolicy::None;
    config.policyReset = ResetPolicy::EndOfBufferReached;
    config.initialSize = 4 * KiB;
    Workspace workspace("PREFETCH", config);
    const std::uint64_t before = systemAllocationCount();
    std::vector<char*> starts;
    for (int cycle = 0; cycle < 9; ++cycle)
        starts.push_back(static_cast<char*>(runCycle(workspace, {1 * KiB})[0]));
    EXPECT_EQ(systemAllocationCount(), before);
    for (int cycle = 1; cycle < 9; ++cycle)
        EXPECT_EQ(starts[cycle] - starts[0], static_cast<std::ptrdiff_t>((cycle % 4) * KiB)) << cycle;
    EXPECT_EQ(workspace.generation(), 2u);  // wrapped at cycles 4 and 8
    EXPECT_EQ(workspace.statistics().spilledAllocations, 0u);
}

void fill(void* pointer, std::size_t bytes, unsigned char value) { std::memset(pointer, value, bytes); }
bool holds(const void* pointer, std::size_t bytes, unsigned char value) {
    const auto* data = static_cast<const unsigned char*>(pointer);
    for (std::size_t i = 0; i < bytes; ++i)
        if (data[i] != value) return false;
    return true;
}

TEST_F(WorkspaceTest, CyclicCycleLargerThanTheBlockSpillsInsteadOfOverwritingItself) {
    WorkspaceConfig config;
    config.policyLearning = LearningPolicy::None;
    config.policyReset = ResetPolicy::EndOfBufferReached;
    config.initialSize = 4 * KiB;
    Workspace workspace("PREFETCH", config);
    runCycle(workspace, {3 * KiB});  // the next cycle starts at offset 3 KiB

    workspace.beginCycle();
    struct Array { void* pointer; std::size_t bytes; unsigned char value; WorkspaceTicket ticket; };
    std::vector<Array> arrays;
    const std::size_t sizes[] = {1 * KiB, 2 * KiB, 2 * KiB, 3 * KiB, 512};
    unsigned char value = 1;
    for (std::size_t bytes : sizes) {
        Array array{nullptr, bytes, value++, {}};
        array.pointer = workspace.allocate(bytes, &array.ticket);
        fill(array.pointer, bytes, array.value);
        arrays.push_back(array);
    }
    // [3K,4K) fits; 2K wraps to [0,2K); the next 2K and 3K cannot fit without overwriting
    // this cycle's arrays and spill; 512 B fits in [2K,2.5K).
    EXPECT_FALSE(arrays[0].ticket.spilled);
    EXPECT_FALSE(arrays[1].ticket.spilled);
    EXPECT_TRUE(arrays[2].ticket.spilled);
    EXPECT_TRUE(arrays[3].ticket.spilled);
    EXPECT_FALSE(arrays[4].ticket.spilled);
    EXPECT_EQ(static_cast<char*>(arrays[0].pointer) - static_cast<char*>(arrays[1].pointer),
              static_cast<std::ptrdiff_t>(3 * KiB));
    for (const Array& array : arrays)
        EXPECT_TRUE(holds(array.pointer, array.bytes, array.value))
            << "array " << int(array.value) << " was overwritten by its own cycle";
    for (const Array& array : arrays) EXPECT_NO_THROW(array.ticket.check("read", "x"));
    workspace.endCycle();
    EXPECT_EQ(workspace.statistics().spilledAllocations, 2u);
    EXPECT_EQ(workspace.statistics().pinnedBytes, 5 * KiB);  // spills pinned one more cycle
    EXPECT_TRUE(holds(arrays[2].pointer, arrays[2].bytes, arrays[2].value));
    const std::int64_t withPins = hostBytesSinceSetUp();
    runCycle(workspace, {64});
    EXPECT_EQ(hostBytesSinceSetUp(), withPins - static_cast<std::int64_t>(5 * KiB));
    EXPECT_EQ(workspace.statistics().pinnedBytes, 0u);
}

TEST_F(WorkspaceTest, CyclicCycleStartingAtTheBlockStartNeverWrapsOntoItself) {
    WorkspaceConfig config;
    config.policyLearning = LearningPolicy::None;
    config.policyReset = ResetPolicy::EndOfBufferReached;
    config.initialSize = 4 * KiB;
    Workspace workspace("PREFETCH", config);
    workspace.beginCycle();
    void* first = workspace.allocate(3 * KiB, nullptr);
    fill(first, 3 * KiB, 0x11);
    WorkspaceTicket secondTicket;
    void* second = workspace.allocate(3 * KiB, &secondTicket);  // would wrap onto `first`
    fill(second, 3 * KiB, 0x22);
    EXPECT_TRUE(secondTicket.spilled);
    EXPECT_TRUE(holds(first, 3 * KiB, 0x11));
    EXPECT_TRUE(holds(second, 3 * KiB, 0x22));
    EXPECT_EQ(workspace.generation(), 0u);  // no wrap happened
    workspace.endCycle();
}

TEST_F(WorkspaceTest, CyclicWorkspaceLearnsItsBlockInTheFirstLoop) {
    WorkspaceConfig config = strictFirstLoop();
    config.policyReset = ResetPolicy::EndOfBufferReached;
    Workspace workspace("CYCLIC_LEARN", config);
    runCycle(workspace, {1 * KiB, 1 * KiB});
    EXPECT_EQ(workspace.statistics().blockSize, 2 * KiB);
    runCycle(workspace, {1 * KiB, 1 * KiB});  // frees the first cycle's pinned spills
    const std::uint64_t before = systemAllocationCount();
    for (int cycle = 0; cycle < 100; ++cycle) runCycle(workspace, {1 * KiB, 1 * KiB});
    EXPECT_EQ(systemAllocationCount(), before);
    EXPECT_EQ(hostBytesSinceSetUp(), static_cast<std::int64_t>(2 * KiB));
}

TEST_F(WorkspaceTest, AllocatingOutsideACycleIsRejected) {
    Workspace workspace("CLOSED", WorkspaceConfig{});
    EXPECT_THROW(workspace.allocate(64, nullptr), std::logic_error);
    EXPECT_THROW(workspace.endCycle(), std::logic_error);
    workspace.beginCycle();
    EXPECT_THROW(workspace.beginCycle(), std::logic_error);
    EXPECT_THROW(workspace.destroy(), std::logic_error);
    workspace.endCycle();
}

TEST_F(WorkspaceTest, DestroyAndDestructorFreeEverything) {
    {
        Workspace workspace("TEMP", strictFirstLoop());
        runCycle(workspace, {4 * KiB});
        workspace.beginCycle();
        workspace.allocate(4 * KiB, nullptr);
        workspace.allocate(8 * KiB, nullptr);  // spilled, still held
        EXPECT_EQ(hostBytesSinceSetUp(), static_cast<std::int64_t>(12 * KiB));
        workspace.endCycle();
        workspace.destroy();
        EXPECT_EQ(hostBytesSinceSetUp(), 0);
        EXPECT_TRUE(workspace.state()->destroyed.load());
        EXPECT_THROW(workspace.beginCycle(), std::logic_error);
    }
    {
        Workspace workspace("DROPPED_OPEN", strictFirstLoop());
        runCycle(workspace, {4 * KiB});
        workspace.beginCycle();
        workspace.allocate(8 * KiB, nullptr);
    }  // the destructor frees even an open workspace
    EXPECT_EQ(hostBytesSinceSetUp(), 0);
}

TEST_F(WorkspaceTest, BudgetFailureInsideAWorkspaceLeavesItUsable) {
    Workspace workspace("BUDGETED", strictFirstLoop());
    runCycle(workspace, {1 * KiB});
    MemoryBudget::global().setMaxBytes(MemoryBudget::global().bytesInUse(MemoryKind::Host) +
                                       static_cast<std::int64_t>(KiB));
    workspace.beginCycle();
    workspace.allocate(1 * KiB, nullptr);
    EXPECT_THROW(workspace.allocate(1 * MiB, nullptr), BudgetExceededError);
    EXPECT_NO_THROW(workspace.allocate(512, nullptr));  // spills within the budget
    workspace.endCycle();
    EXPECT_EQ(workspace.statistics().peakCycleBytes, 1 * KiB + 512);
}

TEST_F(WorkspaceTest, FailedLearnedBlockIsRetriedAtTheNextCycle) {
    Workspace workspace("RETRY", strictFirstLoop());
    workspace.beginCycle();
    workspace.allocate(64 * KiB, nullptr);  // spilled while learning
    // After the spill is freed only 32 KiB would be left: too little for the 64 KiB block.
    MemoryBudget::global().setMaxBytes(MemoryBudget::global().bytesInUse(MemoryKind::Host) -
                                       static_cast<std::int64_t>(32 * KiB));
    EXPECT_NO_THROW(workspace.endCycle());  // the block cannot be had, but closing never throws
    EXPECT_EQ(workspace.statistics().blockSize, 0u);
    EXPECT_THROW(workspace.beginCycle(), BudgetExceededError);
    MemoryBudget::global().setMaxBytes(0);
    workspace.beginCycle();
    EXPECT_EQ(workspace.statistics().blockSize, 64 * KiB);
    workspace.endCycle();
}

}  // namespace
}  // namespace cohort::memory
