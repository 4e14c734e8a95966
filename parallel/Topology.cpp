#include "parallel/Topology.h"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace cohort::parallel {

std::string CommunicationPlan::describe() const {
    std::string text;
    switch (local) {
        case LocalAveraging::None: text = "single local replica"; break;
        case LocalAveraging::HostThreads: text = "shared-memory threads"; break;
        case LocalAveraging::SameDevice: text = "same-device kernel"; break;
        case LocalAveraging::Nccl: text = "NCCL across local GPUs"; break;
        case LocalAveraging::SameDeviceThenNccl: text = "same-device kernel, then NCCL across local GPUs"; break;
    }
    if (crossProcess != CrossProcessAveraging::None) text += ", then " + toString(crossProcess);
    return text;
}

std::string toString(CrossProcessAveraging crossProcess) {
    switch (crossProcess) {
        case CrossProcessAveraging::None: return "none (single process)";
        case CrossProcessAveraging::MpiHostStaged: return "host-staged MPI_Allreduce";
        case CrossProcessAveraging::NcclOverMpi: return "NCCL bootstrapped over MPI";
    }
    return "unknown";
}

CommunicationPlan planCommunication(const TopologyDescription& topology) {
    if (topology.workerDevices.empty()) throw std::invalid_argument("a job needs at least one worker");
    const bool anyCpu = std::any_of(topology.workerDevices.begin(), topology.workerDevices.end(), [](int d) { return d < 0; });
    const bool anyGpu = std::any_of(topology.workerDevices.begin(), topology.workerDevices.end(), [](int d) { return d >= 0; });
    if (anyCpu && anyGpu) throw std::invalid_argument("workers of one process must all be on the CPU or all on GPUs");
    CommunicationPlan plan;
    const std::size_t workers = topology.workerDevices.size();
    const std::set<int> devices(topology.workerDevices.begin(), topology.workerDevices.end());
    if (workers == 1) {
        plan.local = LocalAveraging::None;
    } else if (anyCpu) {
        plan.local = LocalAveraging::HostThreads;
    } else if (devices.size() == 1) {
        plan.local = LocalAveraging::SameDevice;  // NCCL refuses two ranks on one GPU
    } else if (!topology.ncclAvailable) {
        plan.local = LocalAveraging::HostThreads;  // distinct GPUs without NCCL: host-staged
    } else {
        plan.local = devices.size() == workers ? LocalAveraging::Nccl : LocalAveraging::SameDeviceThenNccl;
    }
    if (topology.processes > 1) {
        plan.crossProcess = anyGpu && topology.ncclAvailable && topology.devicesDistinctAcrossProcesses
                                ? CrossProcessAveraging::NcclOverMpi
                                : CrossProcessAveraging::MpiHostStaged;
    }
    return plan;
}

}  // namespace cohort::parallel
