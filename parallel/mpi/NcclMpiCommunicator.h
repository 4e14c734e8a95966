#pragma once
// Hierarchical averaging for mpirun jobs whose processes use distinct GPUs: inside the process
// first (local communicator), then across processes with ncclAllReduce(ncclAvg) on worker 0's
// device buffer (no host staging), then a local broadcast. The NCCL communicator is bootstrapped
// over MPI: rank 0's ncclUniqueId is broadcast through the MpiProcessGroup, then a non-blocking
// ncclCommInitRankConfig whose completion is polled. Barriers and aborts go through the MPI group;
// the initialisation and every wait on the NCCL stream are bounded by the group's timeout
// (ncclCommAbort, then ProcessLostError). A failed collective aborts the NCCL communicator at
// once, so no kernel is left spinning for a lost peer; a failed initialisation frees its stream.
// Built only with NCCL (COHORT_WITH_NCCL); the launcher picks it only when no two processes on
// a host share a GPU (NCCL refuses two ranks on one device).
#include <memory>

#include "parallel/Communicator.h"
#include "parallel/mpi/MpiProcessGroup.h"

namespace cohort::parallel {

#ifdef COHORT_WITH_NCCL
// `device`: the CUDA ordinal of this process's worker 0.
std::unique_ptr<Communicator> makeNcclMpiCommunicator(int workers, int device, std::shared_ptr<MpiProcessGroup> processes);
#endif

}  // namespace cohort::parallel
