// The JSON that --metrics writes: string escaping and the workspace statistics object (its keys
// and their order are what readers of the "memory" events parse).
#include <gtest/gtest.h>

#include <string>

#include "launch/outputs/MetricsWriter.h"

namespace cohort::launch {
namespace {

TEST(MetricsWriter, JsonStringEscapesQuotesBackslashesAndControlCharacters) {
    EXPECT_EQ(jsonString("plain"), "\"plain\"");
    EXPECT_EQ(jsonString("odd \"name\"\\\n"), "\"odd \\\"name\\\"\\\\\\n\"");
    EXPECT_EQ(jsonString("tab\tcarriage\rbell\a"), "\"tab\\tcarriage\\rbell\\u0007\"");
    EXPECT_EQ(jsonString("caf\xc3\xa9"), "\"caf\xc3\xa9\"");  // UTF-8 passes through
}

TEST(MetricsWriter, WorkspaceStatisticsAreOneObjectWithEveryField) {
    memory::WorkspaceStatistics statistics;
    statistics.name = "ACTIVATIONS";
    statistics.location = memory::MemoryLocation::host();
    statistics.blockSize = 4096;
    statistics.used = 3072;
    statistics.peakCycleBytes = 4096;
    statistics.spilledBytes = 0;
    statistics.spilledAllocations = 2;
    statistics.pinnedBytes = 0;
    statistics.cycles = 2;
    statistics.generation = 2;
    statistics.reallocations = 1;
    EXPECT_EQ(workspaceStatisticsJson(statistics),
              "{\"workspace\":\"ACTIVATIONS\",\"location\":\"host\",\"block_bytes\":4096,"
              "\"used_bytes\":3072,\"peak_cycle_bytes\":4096,\"spilled_bytes\":0,"
              "\"spilled_allocations\":2,\"pinned_bytes\":0,\"cycles\":2,\"generation\":2,"
              "\"reallocations\":1}");
}

TEST(MetricsWriter, WorkspaceStatisticsEscapeTheName) {
    memory::WorkspaceStatistics statistics;
    statistics.name = "odd \"name\"\\\n";
    const std::string json = workspaceStatisticsJson(statistics);
    EXPECT_NE(json.find("\"workspace\":\"odd \\\"name\\\"\\\\\\n\""), std::string::npos) << json;
    EXPECT_EQ(json.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace cohort::launch
