// WorkspaceStatistics::toHuman (the JSON form is launch/MetricsWriter's workspaceStatisticsJson).
#include <string>

#include "memory/Workspace.h"

namespace cohort::memory {
namespace {

std::string human(std::size_t bytes) { return formatBytes(static_cast<std::int64_t>(bytes)); }

}  // namespace

std::string WorkspaceStatistics::toHuman() const {
    return "workspace [" + name + "] on " + toString(location) + ": block " + human(blockSize) +
           ", used " + human(used) + ", peak cycle " + human(peakCycleBytes) + ", spilled " +
           human(spilledBytes) + " (" + std::to_string(spilledAllocations) +
           " external allocations so far), pinned " + human(pinnedBytes) + ", " +
           std::to_string(cycles) + " cycles, generation " + std::to_string(generation) + ", " +
           std::to_string(reallocations) + " block allocations";
}

}  // namespace cohort::memory
