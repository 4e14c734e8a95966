#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "memory/MemoryTestSupport.h"

namespace cohort::memory {
namespace {

using testing::KiB;
using testing::MemoryTest;
using testing::MiB;
using MemoryBudgetTest = MemoryTest;

using testing::contains;

TEST_F(MemoryBudgetTest, ExceedingMaxBytesThrowsWithAnActionableMessage) {
    MemoryBudget& budget = MemoryBudget::global();
    SystemAllocator& host = systemAllocator(MemoryLocation::host());
    const std::int64_t inUse = budget.bytesInUse(MemoryKind::Host);
    budget.setMaxBytes(inUse + static_cast<std::int64_t>(MiB));
    EXPECT_EQ(budget.maxBytes(), inUse + static_cast<std::int64_t>(MiB));

    void* fits = host.allocate(MiB / 2);
    const std::uint64_t callsBefore = systemAllocationCount();
    try {
        host.allocate(4 * MiB);
        FAIL() << "expected BudgetExceededError";
    } catch (const BudgetExceededError& error) {
        const std::string message = error.what();
        EXPECT_EQ(error.limit(), "maxBytes");
        EXPECT_TRUE(contains(message, "maxBytes exceeded")) << message;
        EXPECT_TRUE(contains(message, "cannot allocate 4.0 MiB on host")) << message;
        EXPECT_TRUE(contains(message, "in use " + formatBytes(inUse + MiB / 2))) << message;
        EXPECT_TRUE(contains(message, "limit " + formatBytes(inUse + MiB))) << message;
        EXPECT_TRUE(contains(message, "raise maxBytes")) << message;
        EXPECT_EQ(message.find('\n'), std::string::npos);
    }
    // Nothing was charged, allocated or counted for the failed request.
    EXPECT_EQ(systemAllocationCount(), callsBefore);
    EXPECT_EQ(budget.bytesInUse(MemoryKind::Host), inUse + static_cast<std::int64_t>(MiB / 2));

    // Exactly up to the limit is fine; one byte more is not.
    void* rest = host.allocate(MiB / 2);
    EXPECT_THROW(host.allocate(1), BudgetExceededError);
    host.deallocate(rest, MiB / 2);
    host.deallocate(fits, MiB / 2);
    EXPECT_EQ(budget.bytesInUse(MemoryKind::Host), inUse);  // released
    void* again = host.allocate(MiB);  // the released bytes can be charged again
    host.deallocate(again, MiB);
}

TEST_F(MemoryBudgetTest, KindsAreChargedSeparatelyAgainstTheSameLimit) {
    MemoryBudget& budget = MemoryBudget::global();
    const std::int64_t hostInUse = budget.bytesInUse(MemoryKind::Host);
    const std::int64_t deviceInUse = budget.bytesInUse(MemoryKind::Device);
    budget.setMaxBytes(std::max(hostInUse, deviceInUse) + static_cast<std::int64_t>(MiB));
    budget.charge(MemoryLocation::host(), MiB / 2);
    budget.charge(MemoryLocation::onDevice(0), MiB / 2);  // a separate account
    EXPECT_EQ(budget.bytesInUse(MemoryKind::Device), deviceInUse + static_cast<std::int64_t>(MiB / 2));
    try {
        budget.charge(MemoryLocation::onDevice(0), MiB);
        FAIL();
    } catch (const BudgetExceededError& error) {
        EXPECT_TRUE(contains(error.what(), "on cuda:0")) << error.what();
    }
    budget.release(MemoryLocation::host(), MiB / 2);
    budget.release(MemoryLocation::onDevice(0), MiB / 2);
    EXPECT_EQ(budget.bytesInUse(MemoryKind::Host), hostInUse);
    EXPECT_EQ(budget.bytesInUse(MemoryKind::Device), deviceInUse);
}

TEST_F(MemoryBudgetTest, CheckWouldFitPredictsWithoutCharging) {
    MemoryBudget& budget = MemoryBudget::global();
    const std::int64_t inUse = budget.bytesInUse(MemoryKind::Host);
    budget.setMaxBytes(inUse + static_cast<std::int64_t>(MiB));
    EXPECT_NO_THROW(budget.checkWouldFit(MemoryLocation::host(), MiB, "the model parameters"));
    try {
        budget.checkWouldFit(MemoryLocation::host(), 2 * MiB, "the model parameters");
        FAIL();
    } catch (const BudgetExceededError& error) {
        EXPECT_TRUE(contains(error.what(), "for the model parameters")) << error.what();
        EXPECT_EQ(error.limit(), "maxBytes");
    }
    EXPECT_EQ(budget.bytesInUse(MemoryKind::Host), inUse);
}

TEST_F(MemoryBudgetTest, TinyMaxPhysicalBytesRejectsHostAllocations) {
    MemoryBudget& budget = MemoryBudget::global();
    const std::int64_t resident = MemoryBudget::residentBytes();
    EXPECT_GT(resident, 0);
    budget.setMaxPhysicalBytes(static_cast<std::int64_t>(MiB));  // less than any process uses
    const std::uint64_t callsBefore = systemAllocationCount();
    const std::int64_t inUse = budget.bytesInUse(MemoryKind::Host);
    try {
        systemAllocator(MemoryLocation::host()).allocate(64 * KiB);
        FAIL() << "expected BudgetExceededError";
    } catch (const BudgetExceededError& error) {
        const std::string message = error.what();
        EXPECT_EQ(error.limit(), "maxPhysicalBytes");
        EXPECT_TRUE(contains(message, "maxPhysicalBytes exceeded")) << message;
        EXPECT_TRUE(contains(message, "64.0 KiB")) << message;
        EXPECT_TRUE(contains(message, "resident set")) << message;
        EXPECT_TRUE(contains(message, "limit 1.0 MiB")) << message;
    }
    EXPECT_EQ(systemAllocationCount(), callsBefore);
    EXPECT_EQ(budget.bytesInUse(MemoryKind::Host), inUse);
    budget.setMaxPhysicalBytes(0);
    systemAllocator(MemoryLocation::host()).deallocate(
        systemAllocator(MemoryLocation::host()).allocate(64 * KiB), 64 * KiB);
}

TEST_F(MemoryBudgetTest, NegativeLimitsAreRejected) {
    EXPECT_THROW(MemoryBudget::global().setMaxBytes(-1), std::invalid_argument);
    EXPECT_THROW(MemoryBudget::global().setMaxPhysicalBytes(-1), std::invalid_argument);
}

TEST_F(MemoryBudgetTest, ConcurrentChargesNeverOvershoot) {
    MemoryBudget& budget = MemoryBudget::global();
    const std::int64_t inUse = budget.bytesInUse(MemoryKind::PinnedHost);
    const std::int64_t limit = std::max(budget.bytesInUse(MemoryKind::Host), inUse) + 100 * 1000;
    budget.setMaxBytes(limit);
    std::atomic<int> accepted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 100; ++i) {
                try {
                    budget.charge(MemoryLocation::pinnedHost(), 1000);
                    accepted.fetch_add(1);
                } catch (const BudgetExceededError&) {
                }
            }
        });
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(budget.bytesInUse(MemoryKind::PinnedHost), inUse + accepted.load() * 1000);
    EXPECT_LE(budget.bytesInUse(MemoryKind::PinnedHost), budget.maxBytes());
    EXPECT_EQ(accepted.load(), std::min<std::int64_t>(400, (limit - inUse) / 1000));
    budget.release(MemoryLocation::pinnedHost(), static_cast<std::size_t>(accepted.load()) * 1000);
    EXPECT_EQ(budget.bytesInUse(MemoryKind::PinnedHost), inUse);
}

}  // namespace
}  // namespace cohort::memory
