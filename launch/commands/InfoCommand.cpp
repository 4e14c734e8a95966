#include <omp.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>
#include <thread>

#include "kernels/Backend.h"
#include "kernels/cpu/OpenBlasCore.h"
#include "launch/commands/Commands.h"
#include "launch/run/RunSetup.h"
#include "memory/CudaModule.h"
#include "memory/Memory.h"
#include "parallel/CommunicatorFactory.h"
#include "parallel/NcclCommunicator.h"

namespace cohort::launch {

namespace {

// One line per process: where it runs and how it would average with the others. Under mpirun
// every rank describes itself and rank 0 prints all the lines, in rank order.
void printProcesses(MpiEnvironment& mpi, int gpus) {
    const MpiPlacement& place = mpi.placement();
    if (!MpiEnvironment::compiledIn()) {
        std::printf("mpi: not built in; single process\n");
        return;
    }
    if (!mpi.active()) {
        std::printf("mpi: not launched by mpirun; single process (rank 0 of 1, local rank 0 of 1 on %s)\n",
                    place.host.c_str());
        return;
    }
    auto processes = mpi.processes(RunOptions{}.mpiTimeout);
    const std::vector<int> devices = gpus > 0 ? chooseDevices({}, gpus, ProcessPlacement{place.localRank, place.localSize})
                                              : std::vector<int>{};
    const parallel::TopologyDescription topology = parallel::describeTopology(mpi.layout(1, devices));
    const parallel::CrossProcessAveraging crossProcess = parallel::planCommunication(topology).crossProcess;
    std::string gpuText;
    for (int device : devices) {
        if (!gpuText.empty()) gpuText.push_back(',');
        gpuText.append(std::to_string(device));
    }
    char line[512];
    std::snprintf(line, sizeof line, "mpi: rank %d of %d, local rank %d of %d on %s, %s %s, communicator: %s",
                  place.rank, place.size, place.localRank, place.localSize, place.host.c_str(),
                  devices.empty() ? "device" : "gpus", devices.empty() ? "cpu" : gpuText.c_str(),
                  parallel::toString(crossProcess).c_str());
    for (int from = 0; from < place.size; ++from) {
        std::string text = from == place.rank ? std::string(line) : std::string();
        std::uint64_t length = text.size();
        processes->broadcast(&length, sizeof length, from);
        text.resize(std::size_t(length));
        processes->broadcast(text.data(), text.size(), from);
        if (place.rank == 0) std::printf("%s\n", text.c_str());
    }
}

// The CUDA modules: where they are, whether this process loaded them (only with a driver, or
// when asked), and the CUDA libraries they resolved.
void printCuda(const RunOptions& options, int gpus) {
    if (!kernels::cudaCompiledIn()) {
        std::printf("cuda devices: %d (built without CUDA)\n", gpus);
        return;
    }
    std::string driver;
    const bool hasDriver = memory::nvidiaDriverPresent(&driver);
    if (!hasDriver && !options.infoLoadCuda) {
        std::printf("cuda: not loaded (no NVIDIA driver: %s; --load-cuda loads the modules anyway)\n", driver.c_str());
    } else {
        std::printf("cuda: %s\n", hasDriver ? ("driver " + driver).c_str() : "no driver; the modules, loaded for --load-cuda:");
        for (const auto module : {memory::CudaModule::Memory, memory::CudaModule::Kernels, memory::CudaModule::Nccl}) {
            const memory::CudaModuleStatus& status = memory::loadCudaModule(module);
            std::printf("  %s: %s\n", memory::moduleFile(module), status.loaded ? status.path.c_str() : status.error.c_str());
        }
        const std::string libraries = kernels::cudaLibraries() + parallel::ncclLibraries();
        for (std::size_t start = 0; start < libraries.size();) {
            const std::size_t end = libraries.find('\n', start);
            std::printf("  %s\n", libraries.substr(start, end - start).c_str());
            start = end == std::string::npos ? libraries.size() : end + 1;
        }
    }
    std::printf("cuda devices: %d\n", gpus);
}

}  // namespace

int runInfo(const RunOptions& options, MpiEnvironment& mpi) {
    const int gpus = kernels::cudaDeviceCount();
    if (mpi.placement().rank != 0) {  // rank-aware output: rank 0 prints for the job
        printProcesses(mpi, gpus);
        return 0;
    }
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
    const kernels::OpenBlasCore blas = kernels::openBlasCore();
    const char* chosenBy = std::getenv("OPENBLAS_CORETYPE") != nullptr ? ", from OPENBLAS_CORETYPE" : "";
    std::printf("OpenBLAS kernels: %s%s%s\n", blas.running.c_str(), chosenBy,
                blas.recommended.empty() ? "" : (" (generic: this CPU runs " + blas.recommended + ")").c_str());
    std::printf("cpu: %u hardware threads, OpenMP max threads %d\n", std::thread::hardware_concurrency(),
                omp_get_max_threads());
    printCuda(options, gpus);
    const auto& budget = memory::MemoryBudget::global();
    std::printf("memory: maxbytes %s, maxphysicalbytes %s, resident now %s\n",
                budget.maxBytes() ? memory::formatBytes(budget.maxBytes()).c_str() : "unlimited",
                budget.maxPhysicalBytes() ? memory::formatBytes(budget.maxPhysicalBytes()).c_str() : "unlimited",
                memory::formatBytes(memory::MemoryBudget::residentBytes()).c_str());
    std::printf("default device: %s, default workers: %d\n", gpus > 0 ? "cuda" : "cpu", gpus > 0 ? gpus : 1);
    printProcesses(mpi, gpus);
    return 0;
}

}  // namespace cohort::launch
