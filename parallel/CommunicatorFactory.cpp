#include "parallel/CommunicatorFactory.h"

#include <set>
#include <stdexcept>

#include "parallel/NcclCommunicator.h"
#include "src/core/Errors.h"

#if defined(COHORT_WITH_MPI) && defined(COHORT_WITH_NCCL)
#include "parallel/mpi/MpiProcessGroup.h"
#include "parallel/mpi/NcclMpiCommunicator.h"
#endif

namespace cohort::parallel {
namespace {

class SingleProcessGroup final : public ProcessGroup {
public:
    int rank() const override { return 0; }
    int size() const override { return 1; }
    std::string name() const override { return "single process"; }
    void allreduceSum(kernels::DType, void*, std::int64_t) override {}
    void broadcast(void*, std::size_t, int) override {}
    void barrier() override {}
    void abort(const std::string&) override {}
};

int processCount(const JobLayout& layout) { return layout.processes ? layout.processes->size() : 1; }

#if defined(COHORT_WITH_MPI) && defined(COHORT_WITH_NCCL)
// True when no GPU of this host is driven by two processes, agreed over the whole job.
bool devicesDistinctAcrossProcesses(const JobLayout& layout) {
    constexpr int kMaxDevices = 64;
    std::vector<double> users(kMaxDevices, 0.0);
    bool distinct = true;
    for (int device : layout.devices) {
        if (device < 0 || device >= kMaxDevices) distinct = false;
        else users[std::size_t(device)] = 1.0;
    }
    if (layout.hostProcesses) layout.hostProcesses->allreduceSum(kernels::DType::Float64, users.data(), kMaxDevices);
    for (double count : users) distinct = distinct && count <= 1.0;
    double shared = distinct ? 0.0 : 1.0;
    layout.processes->allreduceSum(kernels::DType::Float64, &shared, 1);
    return shared == 0.0;
}
#endif

}  // namespace

std::shared_ptr<ProcessGroup> makeSingleProcessGroup() { return std::make_shared<SingleProcessGroup>(); }

TopologyDescription describeTopology(const JobLayout& layout) {
    TopologyDescription topology;
    topology.processes = processCount(layout);
    topology.workerDevices = layout.devices.empty() ? std::vector<int>(std::size_t(layout.workers), -1)
                                                    : roundRobinWorkerDevices(layout.workers, layout.devices);
    topology.ncclAvailable = ncclCommunicatorCompiledIn();
    if (topology.processes > 1) {
#if defined(COHORT_WITH_MPI) && defined(COHORT_WITH_NCCL)
        // NCCL across processes needs MPI to bootstrap it and GPUs no two processes share.
        const bool overMpi = std::dynamic_pointer_cast<MpiProcessGroup>(layout.processes) != nullptr;
        topology.devicesDistinctAcrossProcesses = overMpi && !layout.devices.empty() && devicesDistinctAcrossProcesses(layout);
#else
        topology.devicesDistinctAcrossProcesses = false;
#endif
    }
    return topology;
}

void checkLayout(int workers, const std::vector<int>& devices, int processes) {
    const std::vector<int> workerDevices = roundRobinWorkerDevices(workers, devices);
    const std::size_t gpus = std::set<int>(workerDevices.begin(), workerDevices.end()).size();
    if (gpus <= 1) return;
    if (processes > 1) {
        // The communicators across processes average a process's workers on one GPU; NCCL inside
        // the process composed with averaging across processes is not built.
        throw SettingError("under mpirun each process averages its workers on one GPU, but this one has " +
                           std::to_string(workers) + " workers on " + std::to_string(gpus) +
                           " GPUs; run one process per GPU, or give each process one GPU with {devices}");
    }
    if (!ncclCommunicatorCompiledIn()) {
        throw SettingError("averaging across " + std::to_string(gpus) +
                           " GPUs inside one process needs NCCL, and this cohort was built without it; run one "
                           "process per GPU under mpirun, or pick one GPU with {devices}");
    }
    try {
        workersPerDevice(workerDevices);
    } catch (const std::invalid_argument& error) {
        throw SettingError(std::string(error.what()) + " ({workers} " + std::to_string(workers) + " over " +
                           std::to_string(gpus) + " GPUs); use a multiple of the GPU count");
    }
}

CommunicatorChoice makeCommunicator(const JobLayout& layout) {
    checkLayout(layout.workers, layout.devices, processCount(layout));
    const TopologyDescription topology = describeTopology(layout);
    CommunicatorChoice choice;
    choice.plan = planCommunication(topology);
    switch (choice.plan.crossProcess) {
        case CrossProcessAveraging::NcclOverMpi:
#if defined(COHORT_WITH_MPI) && defined(COHORT_WITH_NCCL)
            choice.communicator = makeNcclMpiCommunicator(layout.workers, layout.devices.front(),
                                                          std::dynamic_pointer_cast<MpiProcessGroup>(layout.processes));
            return choice;
#else
            throw std::logic_error("NCCL over MPI chosen in a build without MPI and NCCL");
#endif
        case CrossProcessAveraging::MpiHostStaged:
            choice.communicator = makeHierarchicalCommunicator(layout.workers, layout.processes);
            return choice;
        case CrossProcessAveraging::None:
            break;
    }
    if (choice.plan.local == LocalAveraging::Nccl || choice.plan.local == LocalAveraging::SameDeviceThenNccl) {
        choice.communicator = makeNcclCommunicator(topology.workerDevices);
    } else {
        choice.communicator = makeLocalCommunicator(layout.workers);
    }
    return choice;
}

}  // namespace cohort::parallel
