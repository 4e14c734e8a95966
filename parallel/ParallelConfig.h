#pragma once
// ParallelConfig: how a ParallelWrapper spreads training over workers, devices and processes.
#include <cstdint>
#include <functional>
#include <vector>

namespace cohort::parallel {

enum class TrainingMode { Averaging, SharedGradients };

struct ParallelConfig {
    int workers = 1;
    std::vector<int> devices;         // CUDA ordinals; empty: CPU workers
    int prefetchBuffer = 4;           // batches per worker; 0 loads synchronously
    int averagingFrequency = 1;       // K >= 1
    bool averageUpdaters = true;
    bool reportScoreAfterAveraging = false;
    TrainingMode trainingMode = TrainingMode::Averaging;
    int threadsPerWorker = 1;         // CPU BLAS threads per worker (0: library default)
    bool allowTf32 = false;           // GPU workers: TF32 tensor cores for fp32 GEMMs/convolutions
    // Averaging mode, replicas sharing memory: fuse the optimizer update of each averaging step
    // with the averaging (parallel/FusedAveraging.h). Same result bit for bit; off for tests
    // that compare the two.
    bool fuseUpdateWithAveraging = true;
    // Job layout under mpirun: this process's first global replica index and the job's total.
    int firstGlobalReplica = 0;
    int totalReplicas = 0;            // 0: workers (single process)
    bool reportingProcess = true;     // evaluates and reports (rank 0)
    // Test hook, called by each worker before each step (fault injection).
    std::function<void(int worker, std::int64_t iteration)> beforeStep;

    void validate() const;            // throws SettingError naming the field
};

}  // namespace cohort::parallel
