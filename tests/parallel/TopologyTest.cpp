// The averaging path chosen for described topologies.
#include <gtest/gtest.h>

#include "parallel/Topology.h"

namespace cohort::parallel {
namespace {

CommunicationPlan plan(int processes, std::vector<int> devices, bool nccl = true, bool distinct = true) {
    return planCommunication(TopologyDescription{processes, std::move(devices), nccl, distinct});
}

TEST(Topology, CpuWorkersUseSharedMemoryAndMpiAcrossProcesses) {
    EXPECT_EQ(plan(1, {-1}).local, LocalAveraging::None);
    EXPECT_EQ(plan(1, {-1, -1, -1}).local, LocalAveraging::HostThreads);
    const auto distributed = plan(4, {-1, -1});
    EXPECT_EQ(distributed.local, LocalAveraging::HostThreads);
    EXPECT_EQ(distributed.crossProcess, CrossProcessAveraging::MpiHostStaged);
}

TEST(Topology, WorkersSharingOneGpuAverageWithAKernelNeverNccl) {
    const auto shared = plan(1, {0, 0, 0, 0});
    EXPECT_EQ(shared.local, LocalAveraging::SameDevice);
    EXPECT_EQ(shared.crossProcess, CrossProcessAveraging::None);
}

TEST(Topology, DistinctGpusUseNcclAndMoreWorkersThanGpusGoSameDeviceFirst) {
    EXPECT_EQ(plan(1, {0, 1, 2, 3}).local, LocalAveraging::Nccl);
    EXPECT_EQ(plan(1, {0, 1, 0, 1}).local, LocalAveraging::SameDeviceThenNccl);
    EXPECT_EQ(plan(1, {0, 1}, /*nccl=*/false).local, LocalAveraging::HostThreads);
}

TEST(Topology, ProcessesWithDistinctGpusUseNcclOverMpiOtherwiseHostStagedMpi) {
    EXPECT_EQ(plan(2, {0, 1}).crossProcess, CrossProcessAveraging::NcclOverMpi);
    EXPECT_EQ(plan(2, {0}, true, /*distinct=*/false).crossProcess, CrossProcessAveraging::MpiHostStaged);
    EXPECT_EQ(plan(2, {0}, /*nccl=*/false).crossProcess, CrossProcessAveraging::MpiHostStaged);
    EXPECT_NE(plan(2, {0, 0}, true, false).describe().find("same-device kernel, then host-staged MPI_Allreduce"), std::string::npos);
}

TEST(Topology, RejectsEmptyAndMixedWorkerSets) {
    EXPECT_THROW(plan(1, {}), std::invalid_argument);
    EXPECT_THROW(plan(1, {-1, 0}), std::invalid_argument);
}

}  // namespace
}  // namespace cohort::parallel
