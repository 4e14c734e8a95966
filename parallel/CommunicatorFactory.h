#pragma once
// The communicator a job's topology calls for, built next to the plan that picks it
// (parallel/Topology): launch/ says how many processes and which devices; this file decides
// and builds.
//
//   one process:       shared-memory threads or a same-device kernel (LocalCommunicator), or
//                      NCCL across this process's GPUs (NcclCommunicator);
//   several processes: NCCL bootstrapped over MPI when every process drives distinct GPUs
//                      (parallel/mpi/NcclMpiCommunicator), else averaging inside the process,
//                      then host-staged allreduce across processes (HierarchicalCommunicator).
//
// Under several processes the choice is collective: every process must call it, and all agree
// on the path (a GPU used by two processes of a host rules NCCL out for the whole job).
#include <memory>
#include <vector>

#include "parallel/Communicator.h"
#include "parallel/Topology.h"

namespace cohort::parallel {

// This process's place in the job.
struct JobLayout {
    int workers = 1;                                // this process's workers
    std::vector<int> devices;                       // their GPUs (ParallelConfig::devices); empty: CPU
    std::shared_ptr<ProcessGroup> processes;        // every process of the job (null: this one alone)
    std::shared_ptr<ProcessGroup> hostProcesses;    // the job's processes on this host (null: this one alone)
};

struct CommunicatorChoice {
    CommunicationPlan plan;
    std::shared_ptr<Communicator> communicator;
};

// Throws SettingError for a layout no communicator serves: several GPUs per process in a job of
// several processes; several GPUs in one process without NCCL, or carrying different numbers of
// workers. Local (not collective): call it before loading data to fail early.
void checkLayout(int workers, const std::vector<int>& devices, int processes);

// checkLayout, then the plan and its communicator. Collective over `layout.processes` when it
// has several processes.
CommunicatorChoice makeCommunicator(const JobLayout& layout);

// The description of a job's topology, as the plan sees it (collective like makeCommunicator:
// it learns whether two processes of a host share a GPU).
TopologyDescription describeTopology(const JobLayout& layout);

// The processes of a job that has only this one.
std::shared_ptr<ProcessGroup> makeSingleProcessGroup();

}  // namespace cohort::parallel
