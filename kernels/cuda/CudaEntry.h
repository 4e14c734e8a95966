#pragma once
// The CUDA module's entry for kernels/ (see memory/CudaModule.h): what the executable's
// makeCudaBackend, cudaDeviceName and cohort info reach through the loaded module. No CUDA types.
#include <memory>
#include <string>

#include "kernels/Backend.h"
#include "memory/CudaModule.h"

namespace cohort::kernels::cuda_detail {

struct CudaKernelsEntry {
    int abi = memory::kCudaModuleAbi;
    std::string (*deviceName)(int device);
    // Throws std::runtime_error for an ordinal that is not visible.
    std::unique_ptr<Backend> (*makeBackend)(int device, bool allowTf32);
    // One line per library the module uses: "cudart 13.0 /usr/local/cuda/lib64/libcudart.so.13".
    std::string (*libraries)();
};
// Inside the module: the libraries table entry (kernels/cuda/CudaLibraries.cpp).
std::string libraryVersions();

inline constexpr const char* kCudaKernelsEntryName = "cohort_cuda_kernels_entry";

}  // namespace cohort::kernels::cuda_detail
