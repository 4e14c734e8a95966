// Which CUDA libraries the module resolved, with their versions, for `cohort info` and the GPU
// check's environment stage: a library found in an unexpected place is the first thing to know
// when a GPU run misbehaves.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>

#include "kernels/cuda/CudaCheck.cuh"  // includes cudnn.h when present (COHORT_HAVE_CUDNN_HEADER)
#include "kernels/cuda/CudaEntry.h"

namespace cohort::kernels::cuda_detail {
namespace {

std::string dotted(int version, int major, int minor) {
    return std::to_string(version / major) + "." + std::to_string(version % major / minor);
}

}  // namespace

std::string libraryVersions() {
    std::string lines;
    int runtime = 0, driver = 0;
    if (cudaRuntimeGetVersion(&runtime) != cudaSuccess) (void)cudaGetLastError();
    if (cudaDriverGetVersion(&driver) != cudaSuccess) (void)cudaGetLastError();
    lines += "cudart " + dotted(runtime, 1000, 10) + " " + memory::fileDefining(reinterpret_cast<const void*>(&cudaRuntimeGetVersion)) + "\n";
    lines += "cuda driver " + (driver > 0 ? dotted(driver, 1000, 10) : std::string("none")) + "\n";
    int cublas = 0;
    cublasGetProperty(MAJOR_VERSION, &cublas);
    int cublasMinor = 0;
    cublasGetProperty(MINOR_VERSION, &cublasMinor);
    lines += "cublas " + std::to_string(cublas) + "." + std::to_string(cublasMinor) + " " +
             memory::fileDefining(reinterpret_cast<const void*>(&cublasGetProperty)) + "\n";
#ifdef COHORT_HAVE_CUDNN_HEADER
    const auto cudnn = static_cast<int>(cudnnGetVersion());
    lines += "cudnn " + std::to_string(cudnn / 10000) + "." + std::to_string(cudnn % 10000 / 100) + " " +
             memory::fileDefining(reinterpret_cast<const void*>(&cudnnGetVersion)) + "\n";
#else
    lines += "cudnn (not built in)\n";
#endif
    return lines;
}

}  // namespace cohort::kernels::cuda_detail
