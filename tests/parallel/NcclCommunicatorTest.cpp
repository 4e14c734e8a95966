// The in-process NCCL communicator. The layout checks run everywhere (before any CUDA call);
// the collectives are compiled only with NCCL and skip themselves where no GPU is visible. On a
// one-GPU machine they run a one-rank NCCL clique: one worker, or two workers sharing device 0
// (same-device averaging, then NCCL).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kernels/Backend.h"
#include "memory/CudaModule.h"
#include "parallel/AbortableBarrier.h"
#include "parallel/NcclCommunicator.h"

#ifdef COHORT_WITH_NCCL
#include <cuda_runtime_api.h>

#include "tests/kernels/DeviceBuffer.h"
#endif

namespace cohort::parallel {
namespace {

std::string messageOf(const std::function<void()>& call) {
    try {
        call();
    } catch (const std::exception& error) {
        return error.what();
    }
    return "";
}

TEST(NcclCommunicatorLayout, WorkersArePlacedRoundRobinAndCountedPerDevice) {
    EXPECT_EQ(roundRobinWorkerDevices(4, {0, 1}), (std::vector<int>{0, 1, 0, 1}));
    EXPECT_EQ(roundRobinWorkerDevices(2, {3}), (std::vector<int>{3, 3}));
    EXPECT_TRUE(roundRobinWorkerDevices(2, {}).empty());
    EXPECT_EQ(workersPerDevice({0, 1, 0, 1}), 2);
    EXPECT_EQ(workersPerDevice({0}), 1);
    EXPECT_THROW(workersPerDevice({}), std::invalid_argument);
    EXPECT_THROW(workersPerDevice({-1, -1}), std::invalid_argument);
}

TEST(NcclCommunicatorLayout, UnequalWorkersPerDeviceAreRejectedBeforeAnyCudaCall) {
    // Runs without a GPU: the layout is checked first, in builds with and without NCCL.
    const std::string message = messageOf([] { makeNcclCommunicator({0, 1, 0}); });
    EXPECT_NE(message.find("same number of workers on every GPU"), std::string::npos) << message;
    EXPECT_NE(message.find("GPU 0 has 2, GPU 1 has 1"), std::string::npos) << message;
    EXPECT_THROW(makeNcclCommunicator({0, 1, 0}), std::invalid_argument);
}

TEST(NcclCommunicatorLayout, FactoryReportsWhetherNcclIsBuiltIn) {
#ifdef COHORT_WITH_NCCL
    EXPECT_TRUE(ncclCommunicatorCompiledIn());
#else
    EXPECT_FALSE(ncclCommunicatorCompiledIn());
    const std::string message = messageOf([] { makeNcclCommunicator({0, 1}); });
    EXPECT_NE(message.find("needs NCCL"), std::string::npos) << message;
    EXPECT_NE(message.find("built without it"), std::string::npos) << message;
#endif
}

#ifdef COHORT_WITH_NCCL

// The NCCL module loads in the parallel layer's test program (the executable exports what it calls
// back into: Communicator::forEachSlice, makeLocalCommunicator, MpiProcessGroup) and names NCCL.
// Needs the CUDA and NCCL libraries, not a device.
TEST(NcclCommunicatorLayout, NcclModuleLoadsAndNamesNccl) {
    EXPECT_EQ(ncclLibraries(), "") << "not loaded yet, and ncclLibraries() does not load it";
    const memory::CudaModuleStatus& status = memory::loadCudaModule(memory::CudaModule::Nccl);
    ASSERT_TRUE(status.loaded) << status.error;
    const std::string libraries = ncclLibraries();
    EXPECT_EQ(libraries.rfind("nccl 2.", 0), 0u) << libraries;
    EXPECT_NE(libraries.find("libnccl.so"), std::string::npos) << libraries;
}

#define COHORT_SKIP_WITHOUT_GPU()                                                \
    do {                                                                         \
        if (kernels::cudaDeviceCount() == 0) GTEST_SKIP() << "no CUDA device";   \
    } while (0)

using cohort::testing::DeviceBuffer;

template <typename T>
std::vector<T> download(kernels::Backend& backend, const DeviceBuffer& buffer) {
    std::vector<T> values(buffer.bytes() / sizeof(T));
    backend.copyToHost(buffer.bytes(), buffer.get(), values.data());
    backend.synchronize();
    return values;
}

template <typename T>
void upload(kernels::Backend& backend, const std::vector<T>& values, DeviceBuffer& buffer) {
    backend.copyFromHost(values.size() * sizeof(T), values.data(), buffer.get());
    backend.synchronize();
}

// Runs `body(worker)` on one thread per worker and rethrows the first failure.
void onWorkers(int workers, const std::function<void(int)>& body) {
    std::vector<std::future<void>> done;
    for (int w = 0; w < workers; ++w) done.push_back(std::async(std::launch::async, body, w));
    for (auto& each : done) each.get();
}

TEST(NcclCommunicator, OneWorkerOnOneGpuKeepsItsValues) {
    COHORT_SKIP_WITHOUT_GPU();
    auto communicator = makeNcclCommunicator({0});
    EXPECT_EQ(communicator->name(), "nccl(1 GPU, 1 worker each)");
    EXPECT_EQ(communicator->localReplicas(), 1);
    EXPECT_EQ(communicator->totalReplicas(), 1);
    EXPECT_FALSE(communicator->sharesReplicaMemory());
    auto backend = kernels::makeCudaBackend(0);
    const std::int64_t count = 1001;
    std::vector<float> values(static_cast<std::size_t>(count));
    for (std::int64_t i = 0; i < count; ++i) values[std::size_t(i)] = 0.37f * float(i) - 12.5f;
    DeviceBuffer buffer(values.size() * sizeof(float));
    upload(*backend, values, buffer);
    communicator->average(0, *backend, kernels::DType::Float32, buffer.get(), count);
    const std::vector<float> averaged = download<float>(*backend, buffer);
    EXPECT_EQ(std::memcmp(averaged.data(), values.data(), buffer.bytes()), 0);
    communicator->broadcast(0, *backend, buffer.get(), buffer.bytes());
    const std::vector<float> broadcast = download<float>(*backend, buffer);
    EXPECT_EQ(std::memcmp(broadcast.data(), values.data(), buffer.bytes()), 0);
    EXPECT_TRUE(communicator->barrier(0));
}

TEST(NcclCommunicator, TwoWorkersSharingAGpuAverageToTheMeanBitwiseIdentical) {
    COHORT_SKIP_WITHOUT_GPU();
    auto communicator = makeNcclCommunicator({0, 0});
    EXPECT_EQ(communicator->name(), "nccl(1 GPU, 2 workers each)");
    EXPECT_EQ(communicator->localReplicas(), 2);
    const std::int64_t count = 4099;  // odd, several 16-element slices per worker
    for (const kernels::DType dtype : {kernels::DType::Float32, kernels::DType::Float64}) {
        SCOPED_TRACE(kernels::toString(dtype));
        const bool single = dtype == kernels::DType::Float32;
        const std::size_t bytes = std::size_t(count) * kernels::sizeOf(dtype);
        DeviceBuffer a(bytes), b(bytes);
        std::vector<double> first(static_cast<std::size_t>(count)), second(static_cast<std::size_t>(count));
        for (std::int64_t i = 0; i < count; ++i) {
            first[std::size_t(i)] = 0.25 * double(i % 97) - 3.0;
            second[std::size_t(i)] = 1.5 - 0.125 * double(i % 89);
        }
        std::vector<std::vector<std::uint8_t>> results(2, std::vector<std::uint8_t>(bytes));
        onWorkers(2, [&](int w) {
            auto backend = kernels::makeCudaBackend(0);
            DeviceBuffer& mine = w == 0 ? a : b;
            const std::vector<double>& values = w == 0 ? first : second;
            if (single) upload(*backend, std::vector<float>(values.begin(), values.end()), mine);
            else upload(*backend, values, mine);
            communicator->barrier(w);  // both buffers hold their values before either averages
            communicator->average(w, *backend, dtype, mine.get(), count);
            backend->copyToHost(bytes, mine.get(), results[std::size_t(w)].data());
            backend->synchronize();
        });
        EXPECT_EQ(std::memcmp(results[0].data(), results[1].data(), bytes), 0) << "replicas differ";
        for (std::int64_t i = 0; i < count; ++i) {
            const double expected = 0.5 * (first[std::size_t(i)] + second[std::size_t(i)]);
            double actual = 0.0;
            if (single) actual = reinterpret_cast<const float*>(results[0].data())[i];
            else actual = reinterpret_cast<const double*>(results[0].data())[i];
            ASSERT_NEAR(actual, expected, 1e-6) << "element " << i;
        }
    }
}

TEST(NcclCommunicator, BroadcastCopiesWorkerZerosBytes) {
    COHORT_SKIP_WITHOUT_GPU();
    auto communicator = makeNcclCommunicator({0, 0});
    const std::size_t bytes = 3 * 1024 + 5;  // not a multiple of any element size
    std::vector<std::vector<std::uint8_t>> sources(2, std::vector<std::uint8_t>(bytes));
    for (std::size_t i = 0; i < bytes; ++i) {
        sources[0][i] = std::uint8_t(i * 7 + 1);
        sources[1][i] = std::uint8_t(255 - i % 251);
    }
    std::vector<std::vector<std::uint8_t>> results(2, std::vector<std::uint8_t>(bytes));
    DeviceBuffer a(bytes), b(bytes);
    onWorkers(2, [&](int w) {
        auto backend = kernels::makeCudaBackend(0);
        DeviceBuffer& mine = w == 0 ? a : b;
        upload(*backend, sources[std::size_t(w)], mine);
        communicator->barrier(w);
        communicator->broadcast(w, *backend, mine.get(), bytes);
        backend->copyToHost(bytes, mine.get(), results[std::size_t(w)].data());
        backend->synchronize();
    });
    EXPECT_EQ(results[0], sources[0]);
    EXPECT_EQ(results[1], sources[0]);
}

TEST(NcclCommunicator, BarrierReturnsTrueOnExactlyOneWorker) {
    COHORT_SKIP_WITHOUT_GPU();
    auto communicator = makeNcclCommunicator({0, 0});
    std::atomic<int> lastCount{0};
    onWorkers(2, [&](int w) {
        for (int round = 0; round < 3; ++round) {
            if (communicator->barrier(w)) ++lastCount;
        }
    });
    EXPECT_EQ(lastCount.load(), 3);
}

TEST(NcclCommunicator, AbortWakesAWaitingWorkerAndFailsLaterCalls) {
    COHORT_SKIP_WITHOUT_GPU();
    auto communicator = makeNcclCommunicator({0, 0});
    const std::int64_t count = 256;
    DeviceBuffer buffer(std::size_t(count) * sizeof(float));
    // Worker 0 averages alone: it waits for worker 1, which never comes, until abort().
    auto waiting = std::async(std::launch::async, [&] {
        auto backend = kernels::makeCudaBackend(0);
        backend->fill(kernels::DType::Float32, count, 1.0, buffer.get());
        communicator->average(0, *backend, kernels::DType::Float32, buffer.get(), count);
    });
    EXPECT_EQ(waiting.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
    const auto start = std::chrono::steady_clock::now();
    communicator->abort("worker 1 failed: test");
    ASSERT_EQ(waiting.wait_for(std::chrono::seconds(10)), std::future_status::ready) << "abort left a worker waiting";
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    EXPECT_THROW(waiting.get(), BarrierAborted);
    EXPECT_THROW(communicator->barrier(1), BarrierAborted);

    // A one-worker communicator never waits locally; after abort() its NCCL step refuses too.
    auto single = makeNcclCommunicator({0});
    auto backend = kernels::makeCudaBackend(0);
    single->abort("test");
    EXPECT_THROW(single->average(0, *backend, kernels::DType::Float32, buffer.get(), count), BarrierAborted);
    EXPECT_THROW(single->broadcast(0, *backend, buffer.get(), buffer.bytes()), BarrierAborted);
}

#endif  // COHORT_WITH_NCCL

}  // namespace
}  // namespace cohort::parallel
