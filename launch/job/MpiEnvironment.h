#pragma once
// MpiEnvironment: the MPI side of one cohort process.
//
// Launch detection: a process belongs to an mpirun job when OpenMPI's OMPI_COMM_WORLD_SIZE,
// PMI's PMI_SIZE or PMIx's PMIX_RANK is set; only then is MPI initialised (a plain `cohort train`
// never touches MPI). MPI_Init_thread asks for MPI_THREAD_SERIALIZED: the main thread (start-up,
// agreement) and worker 0's thread (averaging, epoch statistics) call MPI, never at the same
// time; a library that provides less is an error.
//
// Placement: rank and size in MPI_COMM_WORLD, local rank and size on this host
// (MPI_Comm_split_type shared), the host name. The local rank picks this process's GPUs.
//
// Exit: the destructor calls MPI_Finalize after a normal run, or after an error every rank
// raised together (a configuration mismatch). Any other error in a job of several ranks ends in
// abortJob() (MPI_Abort) once the error line is printed, so no rank is left waiting.
#include <memory>
#include <string>
#include <vector>

#include "parallel/Communicator.h"
#include "parallel/CommunicatorFactory.h"

namespace cohort::launch {

struct MpiPlacement {
    int rank = 0, size = 1;            // MPI_COMM_WORLD
    int localRank = 0, localSize = 1;  // processes of the job on this host
    std::string host;
};

class MpiEnvironment {
public:
    static bool launchedByMpirun();
    static bool compiledIn();

    // Initialises MPI when `wanted`, MPI is compiled in and the process was launched by mpirun.
    explicit MpiEnvironment(bool wanted);
    ~MpiEnvironment();
    MpiEnvironment(const MpiEnvironment&) = delete;
    MpiEnvironment& operator=(const MpiEnvironment&) = delete;

    bool active() const { return initialised_; }
    const MpiPlacement& placement() const { return placement_; }

    // Collective (every rank, first call): the job's processes, every wait bounded by
    // `timeoutSeconds`. A one-process group when MPI is not active.
    std::shared_ptr<parallel::ProcessGroup> processes(double timeoutSeconds);
    // Collective (every rank, first call, after processes()): the job's processes on this host.
    std::shared_ptr<parallel::ProcessGroup> hostProcesses();
    // This process's place in the job for parallel::makeCommunicator (after processes()).
    parallel::JobLayout layout(int workers, const std::vector<int>& devices);

    // Takes the whole job down with `exitCode` (MPI_Abort); returns only when MPI is not active.
    void abortJob(int exitCode);

private:
    bool initialised_ = false;
    MpiPlacement placement_;
    double timeoutSeconds_ = 20.0;
    std::shared_ptr<parallel::ProcessGroup> processes_;
    std::shared_ptr<parallel::ProcessGroup> hostProcesses_;
};

// "cohort", or "cohort[rank N]" in a job of several processes (known from the launcher's
// environment, so usable before MPI is initialised): the prefix of error and warning lines.
std::string messagePrefix();

}  // namespace cohort::launch
