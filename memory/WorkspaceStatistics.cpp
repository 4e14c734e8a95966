// WorkspaceStatistics::toHuman (the JSON form is launch/MetricsWriter's workspaceStatisticsJson).
#include <string>

#include "memory/Workspace.h"

namespace cohort::memory {

std::string WorkspaceStatistics::toHuman() const {
    return "workspace [" + name + "] on " + toString(location) + ": block " + formatSize(blockSize) +
           ", used " + formatSize(used) + ", peak cycle " + formatSize(peakCycleBytes) + ", spilled " +
           formatSize(spilledBytes) + " (" + std::to_string(spilledAllocations) +
           " external allocations so far), pinned " + formatSize(pinnedBytes) + ", " +
           std::to_string(cycles) + " cycles, generation " + std::to_string(generation) + ", " +
           std::to_string(reallocations) + " block allocations";
}

}  // namespace cohort::memory
