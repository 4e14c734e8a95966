#include <string>

#include "memory/MemoryTestSupport.h"

namespace cohort::memory {
namespace {

using testing::KiB;
using testing::MemoryTest;
using testing::runCycle;
using WorkspaceStatisticsTest = MemoryTest;

using testing::contains;

TEST_F(WorkspaceStatisticsTest, CountsBlockUseSpillsAndCycles) {
    WorkspaceConfig config;
    config.policyAllocation = AllocationPolicy::Strict;
    Workspace workspace("ACTIVATIONS", config);
    runCycle(workspace, {1 * KiB, 3 * KiB});
    runCycle(workspace, {1 * KiB, 2 * KiB});
    const WorkspaceStatistics statistics = workspace.statistics();
    EXPECT_EQ(statistics.name, "ACTIVATIONS");
    EXPECT_EQ(statistics.location, MemoryLocation::host());
    EXPECT_EQ(statistics.blockSize, 4096u);
    EXPECT_EQ(statistics.used, 3072u);
    EXPECT_EQ(statistics.peakCycleBytes, 4096u);
    EXPECT_EQ(statistics.spilledBytes, 0u);
    EXPECT_EQ(statistics.spilledAllocations, 2u);
    EXPECT_EQ(statistics.pinnedBytes, 0u);
    EXPECT_EQ(statistics.cycles, 2u);
    EXPECT_EQ(statistics.generation, 2u);
    EXPECT_EQ(statistics.reallocations, 1u);
}

TEST_F(WorkspaceStatisticsTest, HumanLineUsesHumanUnits) {
    WorkspaceConfig config;
    config.initialSize = 1536 * KiB;
    config.policyLearning = LearningPolicy::None;
    Workspace workspace("GRADIENTS", config);
    workspace.beginCycle();
    workspace.allocate(512 * KiB, nullptr);
    workspace.allocate(2048 * KiB, nullptr);  // spills
    const std::string line = workspace.statistics().toHuman();
    workspace.endCycle();
    EXPECT_TRUE(contains(line, "[GRADIENTS]")) << line;
    EXPECT_TRUE(contains(line, "host")) << line;
    EXPECT_TRUE(contains(line, "block 1.5 MiB")) << line;
    EXPECT_TRUE(contains(line, "used 512.0 KiB")) << line;
    EXPECT_TRUE(contains(line, "peak cycle 2.5 MiB")) << line;
    EXPECT_TRUE(contains(line, "spilled 2.0 MiB")) << line;
    EXPECT_EQ(line.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace cohort::memory
