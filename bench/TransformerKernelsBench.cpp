// The GPT step's own kernels on the CPU, at the baby GPT's sizes (12 x 64 tokens, embedding 128,
// 4 heads, MLP 512): GELU forward and backward in ns per element; one layer's attention forward and
// backward (the banded products, softmax rows and transposes) in GFLOP/s of the causal half's
// multiply-adds (2 T^2 d per product and pair, halved; six products per pair).
//   ./build/bench/TransformerKernelsBench
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/Backend.h"

namespace {

using namespace cohort;

std::vector<float> randomFloats(std::size_t count, std::uint64_t seed) {
    std::mt19937_64 generator(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> values(count);
    for (float& value : values) value = normal(generator);
    return values;
}

constexpr std::int64_t kTokens = 12 * 64;

void BM_GeluForward(benchmark::State& state) {
    auto backend = kernels::makeCpuBackend(int(state.range(0)));
    const std::int64_t count = kTokens * 512;
    const std::vector<float> x = randomFloats(std::size_t(count), 1);
    std::vector<float> y(x.size());
    for (auto _ : state) backend->geluForward(kernels::DType::Float32, count, x.data(), y.data());
    state.counters["ns_per_element"] = benchmark::Counter(double(count) * 1e-9,
                                                          benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// The training forward pass: the output and the derivative kept for backward.
void BM_GeluTrainingForward(benchmark::State& state) {
    auto backend = kernels::makeCpuBackend(int(state.range(0)));
    const std::int64_t count = kTokens * 512;
    const std::vector<float> x = randomFloats(std::size_t(count), 1);
    std::vector<float> y(x.size()), dydx(x.size());
    for (auto _ : state) backend->geluForwardWithDerivative(kernels::DType::Float32, count, x.data(), y.data(), dydx.data());
    state.counters["ns_per_element"] = benchmark::Counter(double(count) * 1e-9,
                                                          benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_GeluBackward(benchmark::State& state) {
    auto backend = kernels::makeCpuBackend(int(state.range(0)));
    const std::int64_t count = kTokens * 512;
    const std::vector<float> x = randomFloats(std::size_t(count), 1), dy = randomFloats(std::size_t(count), 2);
    std::vector<float> dx(x.size());
    for (auto _ : state) backend->geluBackward(kernels::DType::Float32, count, x.data(), dy.data(), dx.data());
    state.counters["ns_per_element"] = benchmark::Counter(double(count) * 1e-9,
                                                          benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// Arg 0: threads; arg 1: 0 forward, 1 forward and backward.
void BM_Attention(benchmark::State& state) {
    auto backend = kernels::makeCpuBackend(int(state.range(0)));
    const bool backward = state.range(1) != 0;
    const std::int64_t batch = 12, positions = 64, heads = 4, headWidth = 32, channels = heads * headWidth;
    const std::vector<float> qkv = randomFloats(std::size_t(kTokens * 3 * channels), 3);
    const std::vector<float> dy = randomFloats(std::size_t(kTokens * channels), 4);
    std::vector<float> probabilities(std::size_t(batch * heads * positions * positions)), y(dy.size());
    std::vector<float> scratch(std::size_t(batch * heads * positions * (positions + headWidth))), dqkv(qkv.size());
    for (auto _ : state) {
        backend->attentionForward(kernels::DType::Float32, batch, positions, heads, headWidth, qkv.data(),
                                  probabilities.data(), y.data(), scratch.data());
        if (backward) {
            backend->attentionBackward(kernels::DType::Float32, batch, positions, heads, headWidth, qkv.data(),
                                       probabilities.data(), dy.data(), scratch.data(), dqkv.data());
        }
    }
    const double flops = double(batch * heads) * (backward ? 6.0 : 2.0) * double(positions * positions * headWidth);
    state.counters["GFLOP_per_s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_Attention)->Args({1, 0})->Args({1, 1})->Args({2, 1})->UseRealTime();
BENCHMARK(BM_GeluForward)->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK(BM_GeluTrainingForward)->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK(BM_GeluBackward)->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK_MAIN();
