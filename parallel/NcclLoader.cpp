// The NCCL communicators' factories (parallel/NcclCommunicator.h, parallel/mpi/
// NcclMpiCommunicator.h), answered through the CUDA module (memory/CudaModule.h), which holds
// their NCCL code. Compiled only in a build whose module has NCCL.
#include <memory>
#include <string>
#include <typeinfo>
#include <vector>

#include "memory/CudaModule.h"
#include "parallel/CommunicatorFactory.h"
#include "parallel/NcclCommunicator.h"
#include "parallel/NcclEntry.h"

#ifdef COHORT_WITH_MPI
#include "parallel/mpi/MpiProcessGroup.h"
#include "parallel/mpi/NcclMpiCommunicator.h"
#endif

namespace cohort::parallel {
namespace {

const nccl_detail::NcclEntry& ncclEntry() {
    return *static_cast<const nccl_detail::NcclEntry*>(
        memory::requireCudaModuleEntry(memory::CudaModule::Nccl, nccl_detail::kNcclEntryName, "averaging through NCCL"));
}

// What the module calls back into: named here so that every executable holding this file holds
// them too, for the module to find (the executable exports them; see cohort_config).
// (Qualified calls, so the references are to the functions themselves, not to vtable slots.)
[[gnu::used]] void moduleCallbacks(Communicator& communicator, kernels::Backend& backend, SliceWork& work) {
    communicator.Communicator::forEachSlice(0, backend, 0, work);
    (void)makeLocalCommunicator(1);
    (void)typeid(Communicator);
    (void)memory::fileDefining(nullptr);
#ifdef COHORT_WITH_MPI
    auto& group = dynamic_cast<MpiProcessGroup&>(*makeSingleProcessGroup());
    group.MpiProcessGroup::barrier();
    group.MpiProcessGroup::broadcast(nullptr, 0, 0);
    group.MpiProcessGroup::abort("");
#endif
}

}  // namespace

std::unique_ptr<Communicator> makeNcclCommunicator(const std::vector<int>& workerDevices, double timeoutSeconds) {
    workersPerDevice(workerDevices);  // a bad layout is refused before anything is loaded
    return ncclEntry().makeInProcess(workerDevices, timeoutSeconds);
}

#ifdef COHORT_WITH_MPI
std::unique_ptr<Communicator> makeNcclMpiCommunicator(int workers, int device, std::shared_ptr<MpiProcessGroup> processes) {
    const auto& entry = ncclEntry();
    if (entry.makeOverMpi == nullptr) throw std::runtime_error("the CUDA module was built without MPI");
    return entry.makeOverMpi(workers, device, std::move(processes));
}
#endif

std::string ncclLibraries() {
    if (!memory::cudaModuleLoaded(memory::CudaModule::Nccl)) return "";
    const auto* entry = static_cast<const nccl_detail::NcclEntry*>(memory::cudaModuleEntry(memory::CudaModule::Nccl, nccl_detail::kNcclEntryName));
    return entry ? entry->libraries() : std::string();
}

}  // namespace cohort::parallel
