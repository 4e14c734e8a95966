#pragma once
// Which averaging path a job takes, decided from its topology alone (so it can be unit-tested
// on described machines): workers sharing one GPU average with a kernel on that GPU; distinct GPUs
// in one process use NCCL; more workers than GPUs average on each GPU first, then NCCL across
// GPUs; CPU workers average through shared memory. Across processes: NCCL bootstrapped over MPI
// when every process drives distinct GPUs, host-staged MPI_Allreduce otherwise.
#include <string>
#include <vector>

namespace cohort::parallel {

enum class LocalAveraging { None, HostThreads, SameDevice, Nccl, SameDeviceThenNccl };
enum class CrossProcessAveraging { None, MpiHostStaged, NcclOverMpi };

struct TopologyDescription {
    int processes = 1;
    std::vector<int> workerDevices;       // per local worker: CUDA ordinal, or -1 for the CPU
    bool ncclAvailable = false;           // built with NCCL
    bool devicesDistinctAcrossProcesses = false;  // no GPU is driven by two processes
};

struct CommunicationPlan {
    LocalAveraging local = LocalAveraging::None;
    CrossProcessAveraging crossProcess = CrossProcessAveraging::None;
    std::string describe() const;  // e.g. "same-device kernel, then host-staged MPI_Allreduce"
};

std::string toString(CrossProcessAveraging crossProcess);  // e.g. "host-staged MPI_Allreduce"

// Throws std::invalid_argument for an empty worker list or a mix of CPU and GPU workers.
CommunicationPlan planCommunication(const TopologyDescription& topology);

}  // namespace cohort::parallel
