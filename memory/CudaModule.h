#pragma once
// The CUDA modules: everything that touches CUDA, cuBLAS, cuDNN or NCCL is compiled into shared
// objects that a process loads only when it uses a GPU. A CPU run, `cohort info` on a machine
// without an NVIDIA driver, `report`, `plan` and every CPU rank of an mpirun job never map the
// CUDA libraries, and the executable starts where they are absent.
//
// One module per layer that owns CUDA code, so a program that links only that layer can load it:
//   CudaModule::Memory   libcohort_cuda_memory.so    memory/cuda (pinned-host and device allocators)
//   CudaModule::Kernels  libcohort_cuda_kernels.so   kernels/cuda (the CUDA backend; cuBLAS, cuDNN)
//   CudaModule::Nccl     libcohort_cuda_nccl.so      parallel's NCCL communicators
// A layer asks its module for its table of entry points by name (cudaModuleEntry); the module's
// code calls back into the executable for the few cohort functions it needs (the executable
// exports its cohort symbols: cohort_config's link options). This file knows only how to find and
// load them.
//
// Where a module is looked for, first found wins:
//   $COHORT_CUDA_MODULE_DIR/<file>                   an explicit folder
//   <executable's folder>/../lib/<file>              build tree and the GPU pack
//   <executable's folder>/../lib/cohort/<file>       an installed cohort
//   the build tree's and the install prefix's folders, compiled in
// A GPU is looked for only when an NVIDIA driver is present (/dev/nvidiactl, /dev/dxg or
// /proc/driver/nvidia/version); without one the module is not loaded and there are 0 devices.
#include <string>

namespace cohort::memory {

enum class CudaModule { Memory, Kernels, Nccl };
const char* moduleFile(CudaModule module);  // "libcohort_cuda_kernels.so"

// True when this build has the CUDA modules (the toolkit was found at build time; the NCCL one
// only with NCCL).
bool cudaModuleBuilt();
// True when a device node or the proc entry of an NVIDIA driver exists; `evidence` names it.
bool nvidiaDriverPresent(std::string* evidence = nullptr);

struct CudaModuleStatus {
    bool loaded = false;
    std::string path;   // the file loaded, or the first candidate that exists
    std::string error;  // why it could not be loaded ("" when loaded)
};
// Loads the module on the first call (thread-safe; later calls return the first answer). Never
// throws: a module that is absent or whose libraries are missing is an answer, not a failure.
const CudaModuleStatus& loadCudaModule(CudaModule module);
// Without loading: whether the module is loaded already.
bool cudaModuleLoaded(CudaModule module);

// The module's table of entry points `name` (an extern "C" function returning a pointer to the
// table), or nullptr when the module cannot be loaded. Loads the module if needed.
const void* cudaModuleEntry(CudaModule module, const char* name);
// As cudaModuleEntry, but throws std::runtime_error saying why the module cannot be used
// (`purpose`: "a CUDA backend", "allocating pinned-host memory") when it is absent or fails to load.
const void* requireCudaModuleEntry(CudaModule module, const char* name, const std::string& purpose);

// The file that defines `symbol` as the dynamic loader resolved it ("(unknown file)" when it cannot
// tell): how the modules say which CUDA library they are using.
std::string fileDefining(const void* symbol);

// The ABI every entry table starts with; a module from another build is refused.
inline constexpr int kCudaModuleAbi = 1;

}  // namespace cohort::memory
