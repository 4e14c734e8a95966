// Parallel coordinator throughput and averaging cost on the CPU.
//   BM_ParallelThroughput/W/T : samples/s of W workers with T BLAS threads each (the default MLP
//                                784-1024-1024-10, batch 64 per worker, averaging every 5), 1x1 is
//                                the baseline.
//   BM_AveragingCost/K        : the same 2x1 job averaging every K iterations (K = 1, 5, 25,
//                                1000000 = only at epoch end), to show the averaging cost per step.
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
        data::splitTrainTest(data::makeSynthetic(6400 + 128, {1, 28, 28}, 10, 3), 128.0 / (6400 + 128), 1);
    return splits;
}

void runJob(benchmark::State& state, int workers, int threads, int frequency) {
    nn::ArchitectureConfig architecture{"mlp", {1024, 1024}, 0.0, "relu"};
    auto model = nn::buildModel(architecture, Shape{1, 28, 28}, 10);
    model->initialize(1);
    train::TrainerConfig trainer;
    trainer.epochs = 1;
    trainer.batchSize = 64;
    trainer.evaluateEachEpoch = false;
    parallel::ParallelConfig config;
    config.workers = workers;
    config.threadsPerWorker = threads;
    config.averagingFrequency = frequency;
    parallel::ParallelWrapper wrapper(*model, optim::OptimizerConfig{}, trainer, config);
    std::int64_t samples = 0;
    for (auto _ : state) {
        wrapper.fit(benchData());
        samples += std::int64_t(benchData().train.count / (64 * workers)) * 64 * workers;
    }
    state.SetItemsProcessed(samples);
}

void BM_ParallelThroughput(benchmark::State& state) { runJob(state, int(state.range(0)), int(state.range(1)), 5); }
void BM_AveragingCost(benchmark::State& state) { runJob(state, 2, 1, int(state.range(0))); }

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

BENCHMARK(BM_ParallelThroughput)->Args({1, 1})->Args({2, 1})->Args({1, 2})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AveragingCost)->Arg(1)->Arg(5)->Arg(25)->Arg(1000000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LocalAverage)->Arg(2)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MemcpyCeiling)->Arg(2)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
