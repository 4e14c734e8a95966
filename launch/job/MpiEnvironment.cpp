#include "launch/job/MpiEnvironment.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>


#ifdef COHORT_WITH_MPI
#include <mpi.h>

#include "parallel/mpi/MpiCheck.h"
#include "parallel/mpi/MpiProcessGroup.h"
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

std::string hostName() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0) return "localhost";
    return name;
}

}  // namespace

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
    hostProcesses_.reset();
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
    processes_ = parallel::makeSingleProcessGroup();
    return processes_;
}

std::shared_ptr<parallel::ProcessGroup> MpiEnvironment::hostProcesses() {
    if (hostProcesses_) return hostProcesses_;
#ifdef COHORT_WITH_MPI
    if (initialised_) {
        MPI_Comm host = MPI_COMM_NULL;
        COHORT_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, placement_.rank, MPI_INFO_NULL, &host));
        hostProcesses_ = std::make_shared<parallel::MpiProcessGroup>(host, timeoutSeconds_, "host");  // duplicates it
        COHORT_MPI_CHECK(MPI_Comm_free(&host));
        return hostProcesses_;
    }
#endif
    hostProcesses_ = parallel::makeSingleProcessGroup();
    return hostProcesses_;
}

parallel::JobLayout MpiEnvironment::layout(int workers, const std::vector<int>& devices) {
    parallel::JobLayout layout;
    layout.workers = workers;
    layout.devices = devices;
    if (placement_.size > 1) {
        layout.processes = processes(timeoutSeconds_);
        layout.hostProcesses = hostProcesses();
    }
    return layout;
}

void MpiEnvironment::abortJob(int exitCode) {
    std::fflush(stdout);
    std::fflush(stderr);
#ifdef COHORT_WITH_MPI
    if (initialised_) {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!finalized) {
            // MPI_Abort reports to the local daemon; one cut off from mpirun may never answer,
            // so the rank leaves on its own after a moment whatever MPI_Abort does.
            std::thread([exitCode] {
                std::this_thread::sleep_for(std::chrono::seconds(2));
                std::_Exit(exitCode);
            }).detach();
            MPI_Abort(MPI_COMM_WORLD, exitCode);
            std::_Exit(exitCode);
        }
    }
#endif
    (void)exitCode;
}

}  // namespace cohort::launch
