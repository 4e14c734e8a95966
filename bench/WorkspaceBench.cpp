// Workspace vs malloc/free: the cost of one training-loop cycle's allocations.
//
// Each iteration allocates the same list of arrays (sizes of a small MLP step: activations,
// gradients, temporaries) and writes one byte into each, then releases them all:
//   BM_WorkspaceCycle        a learned workspace through WorkspaceManager (scope open/close)
//   BM_WorkspaceCycleChecked the same with scope panic checks on (one ticket check per array)
//   BM_WorkspaceBare         the bump allocator alone (bare Workspace, no tickets)
//   BM_MallocFree            std::malloc / std::free per array
//   BM_SystemAllocator       cohort's counted, budgeted host allocator per array
//   BM_DeviceWorkspaceCycle  a learned workspace in GPU 0's memory (skipped without a GPU)
//   BM_CudaMallocFree        cudaMalloc/cudaFree per array through the device allocator (ditto)
// items_per_second counts arrays. Run: ./WorkspaceBench --benchmark_min_time=0.05
#include <benchmark/benchmark.h>

#include <array>
#include <cstdlib>

#include "memory/Memory.h"

namespace {

using namespace cohort::memory;

constexpr std::array<std::size_t, 10> kSizes = {64 << 10, 64 << 10, 256 << 10, 4 << 10, 1 << 10,
                                                16 << 10, 64 << 10, 1 << 20,   512,     32 << 10};

void touch(void* pointer) {
    static_cast<volatile char*>(pointer)[0] = 1;
    benchmark::DoNotOptimize(pointer);
}

void workspaceCycles(benchmark::State& state, bool checks, MemoryLocation location = MemoryLocation::host()) {
    WorkspaceManager& manager = WorkspaceManager::forCurrentThread();
    const bool previous = scopePanicChecks();
    setScopePanicChecks(checks);
    WorkspaceConfig config;
    config.location = location;
    auto cycle = [&] {
        WorkspaceScope scope = manager.getAndActivateWorkspace(config, location.isDevice() ? "BENCH_DEVICE" : "BENCH");
        for (std::size_t bytes : kSizes) {
            ScopedAllocation allocation = manager.allocateInCurrentScope(bytes, location);
            allocation.ticket.check("bench", "array");
            if (!location.isDevice()) touch(allocation.pointer);
            benchmark::DoNotOptimize(allocation.pointer);
        }
    };
    cycle();  // learn the block
    const std::uint64_t before = systemAllocationCount();
    for (auto _ : state) cycle();
    state.counters["system_allocations"] =
        static_cast<double>(systemAllocationCount() - before);  // must be 0
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kSizes.size()));
    manager.destroyAllWorkspacesForCurrentThread();
    setScopePanicChecks(previous);
}

void BM_WorkspaceCycle(benchmark::State& state) { workspaceCycles(state, false); }
void BM_WorkspaceCycleChecked(benchmark::State& state) { workspaceCycles(state, true); }

// The bump allocation alone: a bare Workspace, no manager, no tickets.
void BM_WorkspaceBare(benchmark::State& state) {
    WorkspaceConfig config;
    config.policyAllocation = AllocationPolicy::Strict;
    Workspace workspace("BENCH_BARE", config);
    auto cycle = [&] {
        workspace.beginCycle();
        for (std::size_t bytes : kSizes) touch(workspace.allocate(bytes, nullptr));
        workspace.endCycle();
    };
    cycle();
    const std::uint64_t before = systemAllocationCount();
    for (auto _ : state) cycle();
    state.counters["system_allocations"] = static_cast<double>(systemAllocationCount() - before);
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kSizes.size()));
}

void BM_MallocFree(benchmark::State& state) {
    std::array<void*, kSizes.size()> pointers{};
    for (auto _ : state) {
        for (std::size_t i = 0; i < kSizes.size(); ++i) {
            pointers[i] = std::malloc(kSizes[i]);
            touch(pointers[i]);
        }
        for (void* pointer : pointers) std::free(pointer);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kSizes.size()));
}

void BM_SystemAllocator(benchmark::State& state) {
    SystemAllocator& host = systemAllocator(MemoryLocation::host());
    std::array<void*, kSizes.size()> pointers{};
    for (auto _ : state) {
        for (std::size_t i = 0; i < kSizes.size(); ++i) {
            pointers[i] = host.allocate(kSizes[i]);
            touch(pointers[i]);
        }
        for (std::size_t i = 0; i < kSizes.size(); ++i) host.deallocate(pointers[i], kSizes[i]);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kSizes.size()));
}

void BM_DeviceWorkspaceCycle(benchmark::State& state) {
    if (visibleCudaDevices() == 0) {
        state.SkipWithError("no CUDA device");
        return;
    }
    workspaceCycles(state, false, MemoryLocation::onDevice(0));
}

void BM_CudaMallocFree(benchmark::State& state) {
    if (visibleCudaDevices() == 0) {
        state.SkipWithError("no CUDA device");
        return;
    }
    SystemAllocator& device = systemAllocator(MemoryLocation::onDevice(0));
    std::array<void*, kSizes.size()> pointers{};
    for (auto _ : state) {
        for (std::size_t i = 0; i < kSizes.size(); ++i) pointers[i] = device.allocate(kSizes[i]);
        for (std::size_t i = 0; i < kSizes.size(); ++i) device.deallocate(pointers[i], kSizes[i]);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kSizes.size()));
}

BENCHMARK(BM_WorkspaceCycle);
BENCHMARK(BM_WorkspaceCycleChecked);
BENCHMARK(BM_WorkspaceBare);
BENCHMARK(BM_MallocFree);
BENCHMARK(BM_SystemAllocator);
BENCHMARK(BM_DeviceWorkspaceCycle);
BENCHMARK(BM_CudaMallocFree);

}  // namespace

BENCHMARK_MAIN();
