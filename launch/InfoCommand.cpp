#include <omp.h>

#include <cstdio>
#include <thread>

#include "kernels/Backend.h"
#include "launch/Commands.h"
#include "memory/Memory.h"

namespace cohort::launch {

int runInfo(const RunOptions& options) {
    (void)options;
    const int gpus = kernels::cudaDeviceCount();
    std::printf("cohort %s\n", COHORT_VERSION);
    std::printf("backends: cpu (OpenBLAS)%s%s%s\n", kernels::cudaCompiledIn() ? ", cuda" : "",
#ifdef COHORT_WITH_NCCL
                ", nccl",
#else
                "",
#endif
#ifdef COHORT_WITH_MPI
                ", mpi"
#else
                ""
#endif
    );
    std::printf("cpu: %u hardware threads, OpenMP max threads %d\n", std::thread::hardware_concurrency(),
                omp_get_max_threads());
    std::printf("cuda devices: %d%s\n", gpus, kernels::cudaCompiledIn() ? "" : " (built without CUDA)");
    const auto& budget = memory::MemoryBudget::global();
    std::printf("memory: maxbytes %s, maxphysicalbytes %s, resident now %s\n",
                budget.maxBytes() ? memory::formatBytes(budget.maxBytes()).c_str() : "unlimited",
                budget.maxPhysicalBytes() ? memory::formatBytes(budget.maxPhysicalBytes()).c_str() : "unlimited",
                memory::formatBytes(memory::MemoryBudget::residentBytes()).c_str());
    std::printf("default device: %s, default workers: %d\n", gpus > 0 ? "cuda" : "cpu", gpus > 0 ? gpus : 1);
    return 0;
}

}  // namespace cohort::launch
