#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include "memory/MemoryTestSupport.h"

namespace cohort::memory {
namespace {

using testing::KiB;
using testing::MemoryTest;
using SystemAllocatorTest = MemoryTest;

TEST_F(SystemAllocatorTest, HostAllocationsAreAlignedAndWritable) {
    SystemAllocator& host = systemAllocator(MemoryLocation::host());
    EXPECT_EQ(host.location(), MemoryLocation::host());
    EXPECT_GE(alignmentFor(MemoryLocation::host()), 16u);
    for (std::size_t bytes : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{17},
                              std::size_t{100}, 4 * KiB + 1, std::size_t{1} << 20}) {
        void* pointer = host.allocate(bytes);
        ASSERT_NE(pointer, nullptr);
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(pointer) % alignmentFor(MemoryLocation::host()), 0u)
            << bytes << " bytes";
        std::memset(pointer, 0xAB, bytes);
        host.deallocate(pointer, bytes);
    }
}

TEST_F(SystemAllocatorTest, AlignmentPerLocation) {
    EXPECT_EQ(alignmentFor(MemoryLocation::onDevice(0)), 256u);
    EXPECT_EQ(alignmentFor(MemoryLocation::pinnedHost()), alignmentFor(MemoryLocation::host()));
    EXPECT_EQ(toString(MemoryLocation::host()), "host");
    EXPECT_EQ(toString(MemoryLocation::pinnedHost()), "pinned-host");
    EXPECT_EQ(toString(MemoryLocation::onDevice(3)), "cuda:3");
}

TEST_F(SystemAllocatorTest, EveryCallIsCounted) {
    SystemAllocator& host = systemAllocator(MemoryLocation::host());
    const AllocationCounters before = allocationCounters();
    void* a = host.allocate(1000);
    void* b = host.allocate(24);
    AllocationCounters during = allocationCounters();
    EXPECT_EQ(during.allocations - before.allocations, 2u);
    EXPECT_EQ(systemAllocationCount(), during.allocations);
    EXPECT_EQ(during.bytesInUse[0] - before.bytesInUse[0], 1024);
    EXPECT_GE(during.peakBytesInUse[0], during.bytesInUse[0]);
    EXPECT_EQ(MemoryBudget::global().bytesInUse(MemoryKind::Host) - before.bytesInUse[0], 1024);
    host.deallocate(a, 1000);
    host.deallocate(b, 24);
    const AllocationCounters after = allocationCounters();
    EXPECT_EQ(after.deallocations - before.deallocations, 2u);
    EXPECT_EQ(after.bytesInUse[0], before.bytesInUse[0]);
    EXPECT_EQ(after.bytesInUse[1], before.bytesInUse[1]);
    EXPECT_EQ(after.bytesInUse[2], before.bytesInUse[2]);
}

TEST_F(SystemAllocatorTest, CountersAreExactUnderConcurrency) {
    const AllocationCounters before = allocationCounters();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([] {
            SystemAllocator& host = systemAllocator(MemoryLocation::host());
            for (int i = 0; i < 1000; ++i) host.deallocate(host.allocate(64), 64);
        });
    for (auto& thread : threads) thread.join();
    const AllocationCounters after = allocationCounters();
    EXPECT_EQ(after.allocations - before.allocations, 4000u);
    EXPECT_EQ(after.deallocations - before.deallocations, 4000u);
    EXPECT_EQ(after.bytesInUse[0], before.bytesInUse[0]);
}

#ifndef COHORT_WITH_CUDA
TEST_F(SystemAllocatorTest, CudaKindsThrowWithoutCuda) {
    EXPECT_EQ(visibleCudaDevices(), 0);
    for (MemoryLocation location : {MemoryLocation::pinnedHost(), MemoryLocation::onDevice(0)}) {
        try {
            systemAllocator(location);
            FAIL() << "expected an error for " << toString(location);
        } catch (const std::runtime_error& error) {
            EXPECT_NE(std::string(error.what()).find("built without CUDA"), std::string::npos)
                << error.what();
        }
    }
}
#else
TEST_F(SystemAllocatorTest, PinnedHostAllocationsAreCountedSeparately) {
    if (visibleCudaDevices() == 0) GTEST_SKIP() << "no CUDA device visible";
    SystemAllocator& pinned = systemAllocator(MemoryLocation::pinnedHost());
    const AllocationCounters before = allocationCounters();
    void* pointer = pinned.allocate(3000);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(pointer) % alignmentFor(MemoryLocation::pinnedHost()), 0u);
    std::memset(pointer, 1, 3000);
    const int kind = static_cast<int>(MemoryKind::PinnedHost);
    EXPECT_EQ(allocationCounters().bytesInUse[kind] - before.bytesInUse[kind], 3000);
    EXPECT_EQ(allocationCounters().bytesInUse[0], before.bytesInUse[0]);
    pinned.deallocate(pointer, 3000);
    EXPECT_EQ(allocationCounters().bytesInUse[kind], before.bytesInUse[kind]);
}

TEST_F(SystemAllocatorTest, DeviceAllocationsAreAlignedAndCounted) {
    if (visibleCudaDevices() == 0) GTEST_SKIP() << "no CUDA device visible";
    SystemAllocator& device = systemAllocator(MemoryLocation::onDevice(0));
    EXPECT_EQ(device.location(), MemoryLocation::onDevice(0));
    const AllocationCounters before = allocationCounters();
    void* pointer = device.allocate(1000);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(pointer) % 256, 0u);
    const int kind = static_cast<int>(MemoryKind::Device);
    EXPECT_EQ(allocationCounters().bytesInUse[kind] - before.bytesInUse[kind], 1000);
    device.deallocate(pointer, 1000);
    EXPECT_EQ(allocationCounters().bytesInUse[kind], before.bytesInUse[kind]);
}

TEST_F(SystemAllocatorTest, UnknownDeviceOrdinalIsRejected) {
    EXPECT_THROW(systemAllocator(MemoryLocation::onDevice(visibleCudaDevices() + 7)),
                 std::invalid_argument);
}
#endif

}  // namespace
}  // namespace cohort::memory
