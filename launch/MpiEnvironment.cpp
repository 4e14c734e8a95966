#include "launch/MpiEnvironment.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "parallel/Topology.h"

#ifdef COHORT_WITH_MPI
#include <mpi.h>

#include "parallel/mpi/MpiCheck.h"
#include "parallel/mpi/MpiProcessGroup.h"
#include "parallel/mpi/NcclMpiCommunicator.h"
#endif

namespace cohort::launch {
namespace {

const char* environment(const char* name) {
    const char* value = std::getenv(name);
    return value && *value ? value : nullptr;
}

int environmentInt(std::initializer_list<const char*> names, int fallback) {
    for (const char* name : names) {
        if (const char* value = environment(name)) return std::atoi(value);
    }
    return fallback;
}

class SingleProcessGroup final : public parallel::ProcessGroup {
public:
    int rank() const override { return 0; }
    int size() const override { return 1; }
    std::string name() const override { return "single process"; }
    void allreduceSum(kernels::DType, void*, std::int64_t) override {}
    void broadcast(void*, std::size_t, int) override {}
    void barrier() override {}
    void abort(const std::string&) override {}
};

std::string hostName() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0) return "localhost";
    return name;
}

}  // namespace

std::string toString(CrossProcessMethod method) {
    switch (method) {
        case CrossProcessMethod::None: return "none (single process)";
        case CrossProcessMethod::HostMpiAllreduce: return "host-staged MPI_Allreduce";
        case CrossProcessMethod::NcclOverMpi: return "NCCL bootstrapped over MPI";
    }
    return "unknown";
}

bool MpiEnvironment::launchedByMpirun() {
    return environment("OMPI_COMM_WORLD_SIZE") || environment("PMI_SIZE") || environment("PMIX_RANK");
}

bool MpiEnvironment::compiledIn() {
#ifdef COHORT_WITH_MPI
    return true;
#else
    return false;
#endif
}

std::string messagePrefix() {
    const int size = environmentInt({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}, environment("PMIX_RANK") ? 2 : 1);
    if (size <= 1) return "cohort";
    return "cohort[rank " + std::to_string(environmentInt({"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"}, 0)) + "]";
}

MpiEnvironment::MpiEnvironment(bool wanted) {
    placement_.host = hostName();
    if (!wanted || !launchedByMpirun()) return;
#ifdef COHORT_WITH_MPI
    int provided = MPI_THREAD_SINGLE;
    COHORT_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided));
    initialised_ = true;
    if (provided < MPI_THREAD_SERIALIZED) {
        // Every rank gets the same answer from the same library; no rank can continue.
        std::fprintf(stderr, "%s: error: the MPI library provides thread level %d, cohort needs MPI_THREAD_SERIALIZED "
                     "(worker threads call MPI); use an MPI built with thread support\n", messagePrefix().c_str(), provided);
        abortJob(1);
    }
    COHORT_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    COHORT_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &placement_.rank));
    COHORT_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &placement_.size));
    MPI_Comm host = MPI_COMM_NULL;
    COHORT_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, placement_.rank, MPI_INFO_NULL, &host));
    COHORT_MPI_CHECK(MPI_Comm_rank(host, &placement_.localRank));
    COHORT_MPI_CHECK(MPI_Comm_size(host, &placement_.localSize));
    COHORT_MPI_CHECK(MPI_Comm_free(&host));
    char name[MPI_MAX_PROCESSOR_NAME] = {};
    int length = 0;
    COHORT_MPI_CHECK(MPI_Get_processor_name(name, &length));
    placement_.host.assign(name, std::size_t(length));
#else
    std::fprintf(stderr, "%s: warning: launched by mpirun but this cohort was built without MPI; each rank trains alone\n",
                 messagePrefix().c_str());
#endif
}

MpiEnvironment::~MpiEnvironment() {
    processes_.reset();
#ifdef COHORT_WITH_MPI
    if (!initialised_) return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
#endif
}

std::shared_ptr<parallel::ProcessGroup> MpiEnvironment::processes(double timeoutSeconds) {
    if (processes_) return processes_;
    timeoutSeconds_ = timeoutSeconds;
#ifdef COHORT_WITH_MPI
    if (initialised_) {
        processes_ = std::make_shared<parallel::MpiProcessGroup>(MPI_COMM_WORLD, timeoutSeconds, "mpi");
        return processes_;
    }
#endif
    processes_ = std::make_shared<SingleProcessGroup>();
    return processes_;
}

CrossProcessMethod MpiEnvironment::chooseMethod(const std::vector<int>& devices) {
    if (placement_.size <= 1) return CrossProcessMethod::None;
    parallel::TopologyDescription topology;
    topology.processes = placement_.size;
    topology.workerDevices = devices.empty() ? std::vector<int>{-1} : devices;
#if defined(COHORT_WITH_MPI) && defined(COHORT_WITH_NCCL)
    topology.ncclAvailable = true;
    if (!devices.empty()) {
        // NCCL refuses two ranks on one GPU: count each device's users among the processes of
        // this host, then agree over the job (every rank must pick the same path).
        constexpr int kMaxDevices = 64;
        std::vector<double> users(kMaxDevices, 0.0);
        bool distinct = true;
        for (int device : devices) {
            if (device < 0 || device >= kMaxDevices) distinct = false;
            else users[std::size_t(device)] = 1.0;
        }
        MPI_Comm hostCommunicator = MPI_COMM_NULL;
        COHORT_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, placement_.rank, MPI_INFO_NULL,
                                             &hostCommunicator));
        {
            parallel::MpiProcessGroup host(hostCommunicator, timeoutSeconds_, "host");
            host.allreduceSum(kernels::DType::Float64, users.data(), kMaxDevices);
        }
        COHORT_MPI_CHECK(MPI_Comm_free(&hostCommunicator));
        for (double count : users) distinct = distinct && count <= 1.0;
        double shared = distinct ? 0.0 : 1.0;
        processes(timeoutSeconds_)->allreduceSum(kernels::DType::Float64, &shared, 1);
        topology.devicesDistinctAcrossProcesses = shared == 0.0;
    }
#endif
    return parallel::planCommunication(topology).crossProcess == parallel::CrossProcessAveraging::NcclOverMpi
               ? CrossProcessMethod::NcclOverMpi
               : CrossProcessMethod::HostMpiAllreduce;
}

std::shared_ptr<parallel::Communicator> MpiEnvironment::makeCommunicator(int workers, const std::vector<int>& devices,
                                                                         CrossProcessMethod method) {
    if (method == CrossProcessMethod::None) return parallel::makeLocalCommunicator(workers);
#if defined(COHORT_WITH_MPI) && defined(COHORT_WITH_NCCL)
    if (method == CrossProcessMethod::NcclOverMpi) {
        auto group = std::dynamic_pointer_cast<parallel::MpiProcessGroup>(processes(timeoutSeconds_));
        if (!group || devices.empty()) throw std::logic_error("NCCL over MPI needs an MPI job on GPUs");
        return parallel::makeNcclMpiCommunicator(workers, devices.front(), group);
    }
#else
    (void)devices;
#endif
    return parallel::makeHierarchicalCommunicator(workers, processes(timeoutSeconds_));
}

void MpiEnvironment::abortJob(int exitCode) {
    std::fflush(stdout);
    std::fflush(stderr);
#ifdef COHORT_WITH_MPI
    if (initialised_) {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!finalized) {
            MPI_Abort(MPI_COMM_WORLD, exitCode);
            std::_Exit(exitCode);
        }
    }
#endif
    (void)exitCode;
}

}  // namespace cohort::launch
