#pragma once
// ParallelConfig: how a ParallelWrapper spreads training over workers, devices and processes.
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace cohort::parallel {

class TraceRecorder;

enum class TrainingMode { Averaging, SharedGradients };

// The outer optimizer of averaging points (parallel/OuterOptimizer.h). None: the replicas' mean
// becomes the parameters (plain averaging).
enum class OuterOptimizerKind { None, Sgd, Nesterov };

struct OuterOptimizerConfig {
    OuterOptimizerKind kind = OuterOptimizerKind::None;
    double learningRate = 0.7;  // > 0
    double momentum = 0.9;      // Nesterov's, in [0, 1)
    bool enabled() const { return kind != OuterOptimizerKind::None; }
};

struct ParallelConfig {
    int workers = 1;
    std::vector<int> devices;         // CUDA ordinals; empty: CPU workers
    int prefetchBuffer = 4;           // batches per worker; 0 loads synchronously
    int averagingFrequency = 1;       // K >= 1
    bool averageUpdaters = true;
    bool reportScoreAfterAveraging = false;
    TrainingMode trainingMode = TrainingMode::Averaging;
    OuterOptimizerConfig outer;       // averaging mode only
    int threadsPerWorker = 1;         // CPU BLAS threads per worker (0: library default)
    bool allowTf32 = false;           // GPU workers: TF32 tensor cores for fp32 GEMMs/convolutions
    // Averaging mode, replicas sharing memory: fuse the optimizer update of each averaging step
    // with the averaging (parallel/FusedAveraging.h). Same result bit for bit; off for tests
    // that compare the two.
    bool fuseUpdateWithAveraging = true;
    // Shared-gradients mode: the gradients are averaged in buckets of whole layers, filled from
    // the last layer backwards until each holds at least `gradientBucketBytes` (the first layers'
    // bucket holds what is left; parallel/GradientBuckets.h). Every process must use the same
    // size: under mpirun each bucket is one allreduce.
    std::int64_t gradientBucketBytes = std::int64_t(1) << 20;
    // Shared-gradients mode, CPU workers: a bucket is averaged by the worker's communication
    // thread as soon as the backward pass has written it, while the pass goes on with the layers
    // before it (parallel/GradientAveraging.h). Off: the same buckets one after the other once
    // the pass is over. The same result bit for bit either way.
    bool overlapGradientAveraging = true;
    // Job layout under mpirun: this process's first global replica index and the job's total.
    int firstGlobalReplica = 0;
    int totalReplicas = 0;            // 0: workers (single process)
    bool reportingProcess = true;     // evaluates and reports (rank 0)
    // Snapshots (ParallelListener::onSnapshot), taken at sync points where every replica has done
    // the same steps: at the first averaging point (every step in shared-gradients mode or with
    // one replica) at least `snapshotEvery` iterations after the last one (0: never), after every
    // epoch's evaluation, and after the last epoch's.
    std::int64_t snapshotEvery = 0;
    bool snapshotEveryEpoch = false;
    bool snapshotAtRunEnd = false;
    // Polled by worker 0 at every sync point (and agreed over processes): true stops the run
    // there, with a snapshot; fit() then returns a summary with `stopped` set.
    std::function<bool()> stopRequested;
    // Where each worker's time goes (one track per local worker), when set.
    std::shared_ptr<TraceRecorder> trace;
    // Test hook, called by each worker before each step (fault injection).
    std::function<void(int worker, std::int64_t iteration)> beforeStep;

    void validate() const;            // throws SettingError naming the field
};

}  // namespace cohort::parallel
