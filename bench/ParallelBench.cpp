// Parallel coordinator throughput and averaging cost on the CPU.
//   BM_ParallelThroughput/W/T/B : samples/s of W workers with T BLAS threads each (the default
//                                MLP 784-1024-1024-10, batch B per worker, Adam, averaging every 5
//                                with averaged updaters), 1x1 at the same B is the baseline.
//   BM_AveragingCost/K/F      : the 2x1 job at batch 64 averaging every K iterations (K = 1, 5, 25,
//                                1000000 = only at epoch end), F = 1 with the update fused into the
//                                averaging, 0 update-then-average; shows the averaging cost per step.
//   BM_SharedGradientsOverSlowLink/N/O/M/B : shared gradients of model N (0: the same MLP at
//                                batch 128, 1: LeNet at batch 64; one BLAS thread) as one of two
//                                processes joined by an emulated link of M MB/s (each bucket's
//                                allreduce waits 2 x bytes / M, as a two-process ring moves its
//                                bytes out and in), buckets of at least B KiB; O = 1 overlaps the
//                                buckets with the backward pass (--overlap-gradients true), 0
//                                averages them after it. The gain is what the backward pass hides.
//   BM_LocalAverage/W         : one averaging of the 1.86M-parameter MLP buffer across W replicas
//                                (bytes moved = 2 x W x P x 4), with a memcpy of the same bytes
//                                as the ceiling (BM_MemcpyCeiling).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "parallel/ParallelWrapper.h"
#include "src/data/Data.h"
#include "src/nn/Architectures.h"

namespace {

using namespace cohort;

const data::DatasetSplits& benchData() {
    static const data::DatasetSplits splits =
        data::splitTrainTest(data::makeSynthetic(12800 + 128, {1, 28, 28}, 10, 3), 128.0 / (12800 + 128), 1);
    return splits;
}

void runJob(benchmark::State& state, int workers, int threads, int frequency, std::int64_t batch, bool fused) {
    nn::ArchitectureConfig architecture{"mlp", {1024, 1024}, 0.0, "relu"};
    auto model = nn::buildModel(architecture, Shape{1, 28, 28}, 10);
    model->initialize(1);
    train::TrainerConfig trainer;
    trainer.epochs = 1;
    trainer.batchSize = batch;
    trainer.evaluateEachEpoch = false;
    parallel::ParallelConfig config;
    config.workers = workers;
    config.threadsPerWorker = threads;
    config.averagingFrequency = frequency;
    config.fuseUpdateWithAveraging = fused;
    parallel::ParallelWrapper wrapper(*model, optim::OptimizerConfig{}, trainer, config);
    std::int64_t samples = 0;
    for (auto _ : state) {
        wrapper.fit(benchData());
        samples += std::int64_t(benchData().train.count / std::size_t(batch * workers)) * batch * workers;
    }
    state.SetItemsProcessed(samples);
}

void BM_ParallelThroughput(benchmark::State& state) {
    runJob(state, int(state.range(0)), int(state.range(1)), 5, state.range(2), true);
}
void BM_AveragingCost(benchmark::State& state) { runJob(state, 2, 1, int(state.range(0)), 64, state.range(1) != 0); }

// One process of an emulated two-process job: its allreduce is a wait as long as a link of
// `megabytesPerSecond` needs to send and receive the bytes (the values stay this replica's).
class EmulatedLinkCommunicator final : public parallel::Communicator {
public:
    explicit EmulatedLinkCommunicator(double megabytesPerSecond) : bytesPerSecond_(megabytesPerSecond * 1e6) {}
    std::string name() const override { return "emulated link"; }
    int localReplicas() const override { return 1; }
    int totalReplicas() const override { return 2; }
    void average(int, kernels::Backend&, kernels::DType dtype, void*, std::int64_t count) override {
        const double bytes = double(count) * double(kernels::sizeOf(dtype));
        std::this_thread::sleep_for(std::chrono::duration<double>(2.0 * bytes / bytesPerSecond_));
    }
    void broadcast(int, kernels::Backend&, void*, std::size_t) override {}
    bool barrier(int) override { return true; }
    void abort(const std::string&) override {}

private:
    double bytesPerSecond_;
};

void BM_SharedGradientsOverSlowLink(benchmark::State& state) {
    const bool lenet = state.range(0) != 0;
    nn::ArchitectureConfig architecture{lenet ? "lenet" : "mlp", {1024, 1024}, 0.0, "relu"};
    auto model = nn::buildModel(architecture, Shape{1, 28, 28}, 10);
    model->initialize(1);
    train::TrainerConfig trainer;
    trainer.epochs = 1;
    trainer.batchSize = lenet ? 64 : 128;
    trainer.evaluateEachEpoch = false;
    parallel::ParallelConfig config;
    config.workers = 1;
    config.threadsPerWorker = 1;
    config.totalReplicas = 2;  // the other process is the emulated link's
    config.trainingMode = parallel::TrainingMode::SharedGradients;
    config.overlapGradientAveraging = state.range(1) != 0;
    config.gradientBucketBytes = state.range(3) * 1024;
    parallel::ParallelWrapper wrapper(*model, optim::OptimizerConfig{}, trainer, config,
                                      std::make_shared<EmulatedLinkCommunicator>(double(state.range(2))));
    std::int64_t samples = 0;
    for (auto _ : state) {
        wrapper.fit(benchData());
        samples += std::int64_t(benchData().train.count / std::size_t(2 * trainer.batchSize)) * trainer.batchSize;
    }
    state.SetItemsProcessed(samples);
}

void BM_LocalAverage(benchmark::State& state) {
    const int replicas = int(state.range(0));
    const std::int64_t parameters = 1863696;
    std::vector<std::vector<float>> buffers(std::size_t(replicas), std::vector<float>(std::size_t(parameters), 1.0f));
    auto communicator = parallel::makeLocalCommunicator(replicas);
    const int rounds = 20;
    for (auto _ : state) {
        std::vector<std::thread> threads;
        for (int w = 0; w < replicas; ++w) {
            threads.emplace_back([&, w] {
                auto backend = kernels::makeCpuBackend(1);
                for (int r = 0; r < rounds; ++r) {
                    communicator->average(w, *backend, DType::Float32, buffers[std::size_t(w)].data(), parameters);
                }
            });
        }
        for (auto& thread : threads) thread.join();
    }
    state.SetBytesProcessed(std::int64_t(state.iterations()) * rounds * 2 * replicas * parameters * 4);
    state.counters["averagings"] = double(state.iterations() * rounds);
}

void BM_MemcpyCeiling(benchmark::State& state) {
    const std::size_t bytes = std::size_t(state.range(0)) * 1863696 * 4;
    std::vector<char> source(bytes, 1), destination(bytes, 0);
    for (auto _ : state) {
        std::memcpy(destination.data(), source.data(), bytes);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(std::int64_t(state.iterations()) * 2 * std::int64_t(bytes));  // read + write
}

BENCHMARK(BM_ParallelThroughput)
    ->Args({1, 1, 64})->Args({2, 1, 64})->Args({1, 2, 64})
    ->Args({1, 1, 128})->Args({2, 1, 128})->Args({1, 2, 128})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AveragingCost)
    ->Args({1, 1})->Args({5, 1})->Args({25, 1})->Args({1000000, 1})->Args({1, 0})->Args({5, 0})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SharedGradientsOverSlowLink)
    ->Args({0, 0, 125, 1024})->Args({0, 1, 125, 1024})->Args({0, 0, 500, 1024})->Args({0, 1, 500, 1024})
    ->Args({1, 0, 25, 64})->Args({1, 1, 25, 64})->Args({1, 1, 25, 1024})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
BENCHMARK(BM_LocalAverage)->Arg(2)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MemcpyCeiling)->Arg(2)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
