// Parallel coordinator throughput and averaging cost on the CPU.
//   BM_ParallelThroughput/W/T/B : samples/s of W workers with T BLAS threads each (the default
//                                MLP 784-1024-1024-10, batch B per worker, Adam, averaging every 5
//                                with averaged updaters), 1x1 at the same B is the baseline.
//   BM_AveragingCost/K/F      : the 2x1 job at batch 64 averaging every K iterations (K = 1, 5, 25,
//                                1000000 = only at epoch end), F = 1 with the update fused into the
//                                averaging, 0 update-then-average; shows the averaging cost per step.
//   BM_LocalAverage/W         : one averaging of the 1.86M-parameter MLP buffer across W replicas
//                                (bytes moved = 2 x W x P x 4), with a memcpy of the same bytes
//                                as the ceiling (BM_MemcpyCeiling).
#include <benchmark/benchmark.h>

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
BENCHMARK(BM_LocalAverage)->Arg(2)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MemcpyCeiling)->Arg(2)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
