// defaultBackendFor(device): its work has finished on the device when a call returns, so another
// backend's stream (a worker's) reads what it wrote without any synchronisation of its own.
// Skips without a visible CUDA device.
#include <gtest/gtest.h>

#include <vector>

#include "src/tensor/Tensor.h"

namespace cohort {
namespace {

TEST(DefaultDeviceBackend, WorkIsFinishedBeforeTheCallReturns) {
    if (kernels::cudaDeviceCount() == 0) GTEST_SKIP() << "no CUDA device";
    const MemoryLocation device = MemoryLocation::onDevice(0);
    auto worker = kernels::makeCudaBackend(0);  // another stream, as a worker's
    const std::int64_t count = std::int64_t(64) << 20;  // 256 MiB of float32: the fill takes a while
    Tensor buffer = Tensor::persistent(Shape{count}, DType::Float32, device);
    std::vector<float> host(static_cast<std::size_t>(count));
    for (const double value : {1.5, -2.0, 3.25}) {
        defaultBackendFor(device).fill(DType::Float32, count, value, buffer.raw());
        worker->copyToHost(buffer.byteCount(), buffer.raw(), host.data());  // ordered on the worker's stream only
        EXPECT_EQ(host.front(), float(value));
        EXPECT_EQ(host.back(), float(value));
    }
    std::vector<float> values(1024, 0.75f);
    buffer.slice(0, 1024).copyFromHost(values.data(), values.size() * sizeof(float));
    worker->copyToHost(sizeof(float), static_cast<const float*>(buffer.raw()) + 1023, host.data());
    EXPECT_EQ(host.front(), 0.75f);
}

}  // namespace
}  // namespace cohort
