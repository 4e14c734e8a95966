#include <string>

#include "memory/MemoryTestSupport.h"

namespace cohort::memory {
namespace {

using testing::KiB;
using testing::MemoryTest;
using testing::runCycle;
using WorkspaceStatisticsTest = MemoryTest;

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

TEST_F(WorkspaceStatisticsTest, JsonIsOneObjectWithEveryField) {
    WorkspaceConfig config;
    config.policyAllocation = AllocationPolicy::Strict;
    Workspace workspace("ACTIVATIONS", config);
    runCycle(workspace, {1 * KiB, 3 * KiB});
    runCycle(workspace, {1 * KiB, 2 * KiB});
    EXPECT_EQ(workspace.statistics().toJson(),
              "{\"workspace\":\"ACTIVATIONS\",\"location\":\"host\",\"block_bytes\":4096,"
              "\"used_bytes\":3072,\"peak_cycle_bytes\":4096,\"spilled_bytes\":0,"
              "\"spilled_allocations\":2,\"pinned_bytes\":0,\"cycles\":2,\"generation\":2,"
              "\"reallocations\":1}");
}

TEST_F(WorkspaceStatisticsTest, JsonEscapesTheName) {
    WorkspaceStatistics statistics;
    statistics.name = "odd \"name\"\\\n";
    const std::string json = statistics.toJson();
    EXPECT_TRUE(contains(json, "\"workspace\":\"odd \\\"name\\\"\\\\\\n\"")) << json;
    EXPECT_EQ(json.find('\n'), std::string::npos);
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
