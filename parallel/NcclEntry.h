#pragma once
// The CUDA module's entry for parallel/ (see memory/CudaModule.h): the NCCL communicators, built
// into the module with NCCL; the executable reaches them through this table. No CUDA types.
#include <memory>
#include <string>
#include <vector>

#include "memory/CudaModule.h"
#include "parallel/Communicator.h"

namespace cohort::parallel::nccl_detail {

struct NcclEntry {
    int abi = memory::kCudaModuleAbi;
    // parallel/NcclCommunicator.h's makeNcclCommunicator.
    std::unique_ptr<Communicator> (*makeInProcess)(const std::vector<int>& workerDevices, double timeoutSeconds);
    // parallel/mpi/NcclMpiCommunicator.h's makeNcclMpiCommunicator (`processes` is an
    // MpiProcessGroup); nullptr in a build without MPI.
    std::unique_ptr<Communicator> (*makeOverMpi)(int workers, int device, std::shared_ptr<ProcessGroup> processes);
    // "nccl 2.28.3 /usr/lib/x86_64-linux-gnu/libnccl.so.2\n"
    std::string (*libraries)();
};
inline constexpr const char* kNcclEntryName = "cohort_cuda_nccl_entry";

// Inside the module.
std::unique_ptr<Communicator> makeInProcess(const std::vector<int>& workerDevices, double timeoutSeconds);
std::unique_ptr<Communicator> makeOverMpi(int workers, int device, std::shared_ptr<ProcessGroup> processes);

}  // namespace cohort::parallel::nccl_detail
