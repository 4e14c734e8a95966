// CPU training-step time of the MLP next to the time of its GEMMs alone (the BLAS floor).
//   ./build/bench/StepBench --benchmark_counters_tabular=true
// Arguments: batch size, threads. MLP 784-1024-1024-10 (dropout off), Adam, workspaces on.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/Backend.h"
#include "src/nn/Architectures.h"
#include "src/optim/Optimizer.h"
#include "src/train/TrainingStep.h"

namespace {

using namespace cohort;

const std::vector<std::int64_t> kWidths = {784, 1024, 1024, 10};

void fillRandom(float* data, std::size_t count, std::uint64_t seed) {
    std::mt19937_64 generator(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (std::size_t i = 0; i < count; ++i) data[i] = normal(generator);
}

void BM_MlpTrainingStep(benchmark::State& state) {
    const std::int64_t batch = state.range(0);
    auto backend = kernels::makeCpuBackend(int(state.range(1)));
    nn::ArchitectureConfig architecture{"mlp", {1024, 1024}, 0.0, "relu"};
    auto model = nn::buildModel(architecture, Shape{784}, 10);
    model->initialize(1);
    optim::Optimizer optimizer(optim::OptimizerConfig{}, model->parameterCount(), DType::Float32,
                               MemoryLocation::host());
    nn::SoftmaxCrossEntropy loss;
    train::TrainingStep step(*model, optimizer, loss, *backend, train::WorkspaceMode::Enabled, 1);
    Tensor input = Tensor::persistent(Shape{batch, 784});
    fillRandom(input.data<float>(), std::size_t(input.elementCount()), 2);
    std::vector<std::int32_t> labels(static_cast<std::size_t>(batch));
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = std::int32_t(i % 10);
    for (auto _ : state) {
        step.run(input, labels.data(), batch, 1e-3);
    }
    step.takeStatistics();
    state.SetItemsProcessed(state.iterations() * batch);
}

// The eight GEMMs of one step (3 forward, 3 weight gradients, 2 input gradients).
void BM_MlpGemmsOnly(benchmark::State& state) {
    const std::int64_t batch = state.range(0);
    auto backend = kernels::makeCpuBackend(int(state.range(1)));
    std::vector<std::vector<float>> weights, activations, gradients;
    activations.emplace_back(std::size_t(batch * kWidths[0]));
    fillRandom(activations[0].data(), activations[0].size(), 3);
    for (std::size_t l = 1; l < kWidths.size(); ++l) {
        weights.emplace_back(std::size_t(kWidths[l - 1] * kWidths[l]));
        fillRandom(weights.back().data(), weights.back().size(), l);
        activations.emplace_back(std::size_t(batch * kWidths[l]));
        gradients.emplace_back(std::size_t(kWidths[l - 1] * kWidths[l]));
    }
    std::vector<float> deltaIn(std::size_t(batch * 1024)), deltaOut(std::size_t(batch * 1024), 0.01f);
    for (auto _ : state) {
        for (std::size_t l = 1; l < kWidths.size(); ++l) {
            backend->gemm(DType::Float32, false, false, batch, kWidths[l], kWidths[l - 1], 1.0,
                          activations[l - 1].data(), kWidths[l - 1], weights[l - 1].data(), kWidths[l], 0.0,
                          activations[l].data(), kWidths[l]);
        }
        for (std::size_t l = kWidths.size() - 1; l >= 1; --l) {
            backend->gemm(DType::Float32, true, false, kWidths[l - 1], kWidths[l], batch, 1.0,
                          activations[l - 1].data(), kWidths[l - 1], deltaOut.data(), kWidths[l], 0.0,
                          gradients[l - 1].data(), kWidths[l]);
            if (l > 1) {
                backend->gemm(DType::Float32, false, true, batch, kWidths[l - 1], kWidths[l], 1.0, deltaOut.data(),
                              kWidths[l], weights[l - 1].data(), kWidths[l], 0.0, deltaIn.data(), kWidths[l - 1]);
            }
        }
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * batch);
}

// The Adam update alone over the model's 1.86M-float flat buffer (memory bound: it reads
// parameters, gradients and both moments and writes three of them, 52 MB per step).
void BM_MlpAdamUpdateOnly(benchmark::State& state) {
    auto backend = kernels::makeCpuBackend(int(state.range(0)));
    nn::ArchitectureConfig architecture{"mlp", {1024, 1024}, 0.0, "relu"};
    auto model = nn::buildModel(architecture, Shape{784}, 10);
    model->initialize(1);
    optim::Optimizer optimizer(optim::OptimizerConfig{}, model->parameterCount(), DType::Float32,
                               MemoryLocation::host());
    backend->fill(DType::Float32, model->parameterCount(), 0.01, model->gradients().raw());
    for (auto _ : state) {
        optimizer.step(*backend, model->parameters(), model->gradients(), 1e-3);
    }
    state.SetBytesProcessed(state.iterations() * model->parameterCount() * 7 * 4);
}

BENCHMARK(BM_MlpTrainingStep)->Args({64, 1})->Args({256, 1})->Args({256, 2})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MlpGemmsOnly)->Args({64, 1})->Args({256, 1})->Args({256, 2})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MlpAdamUpdateOnly)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
