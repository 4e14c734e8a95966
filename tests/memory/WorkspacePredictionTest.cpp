// workspaceRequestBytes / workspaceHeldBytes (memory predictions) against real workspaces driven
// through their cycles under each policy: the most bytes a workspace ever held is the prediction
// (or, where a policy frees before it allocates, at most the prediction).
#include <algorithm>
#include <vector>

#include "memory/MemoryTestSupport.h"

namespace cohort::memory {
namespace {

using testing::KiB;
using testing::MemoryTest;
using WorkspacePredictionTest = MemoryTest;

struct Observed {
    std::size_t cycleBytes = 0;  // the prediction's input: one cycle's rounded requests
    std::int64_t peak = 0;       // the most host bytes the workspace held
};

// `cycles` cycles of the same requests; host bytes in use sampled after every call (a call that
// frees and allocates frees first, so its peak is one of the samples).
std::int64_t hostInUse() { return allocationCounters().bytesInUse[static_cast<int>(MemoryKind::Host)]; }

Observed drive(const WorkspaceConfig& config, const std::vector<std::size_t>& requests, int cycles = 4) {
    Observed observed;
    for (const std::size_t bytes : requests) observed.cycleBytes += workspaceRequestBytes(config, bytes);
    const std::int64_t before = hostInUse();
    auto sample = [&] { observed.peak = std::max(observed.peak, hostInUse() - before); };
    {
        Workspace workspace("PREDICTED", config);
        sample();
        for (int cycle = 0; cycle < cycles; ++cycle) {
            workspace.beginCycle();
            sample();
            for (const std::size_t bytes : requests) {
                workspace.allocate(bytes, nullptr);
                sample();
            }
            workspace.endCycle();
            sample();
        }
    }
    EXPECT_EQ(hostInUse(), before) << "the workspace freed everything";
    return observed;
}

TEST_F(WorkspacePredictionTest, RequestsAreRoundedAsTheWorkspaceRoundsThem) {
    WorkspaceConfig config;
    EXPECT_EQ(workspaceRequestBytes(config, 0), 64u);
    EXPECT_EQ(workspaceRequestBytes(config, 1000), 1024u);
    EXPECT_EQ(workspaceRequestBytes(config, 1024), 1024u);
    config.location = MemoryLocation::onDevice(0);
    EXPECT_EQ(workspaceRequestBytes(config, 1000), 1024u);
    EXPECT_EQ(workspaceRequestBytes(config, 1025), 1280u);
    EXPECT_EQ(workspaceRequestBytes(config, ~std::size_t(0)), ~std::size_t(0)) << "saturates";
}

TEST_F(WorkspacePredictionTest, ALearnedOverallocatedBlockIsWhatIsHeld) {
    WorkspaceConfig config;  // FirstLoop, Overallocate
    config.overallocationLimit = 0.1;
    config.policySpill = SpillPolicy::Reallocate;
    const Observed observed = drive(config, {1000, 3000, 10, 70000});
    EXPECT_EQ(observed.peak, std::int64_t(workspaceHeldBytes(config, observed.cycleBytes)));
    EXPECT_GT(workspaceHeldBytes(config, observed.cycleBytes), observed.cycleBytes);
}

TEST_F(WorkspacePredictionTest, AStrictBlockIsTheCycle) {
    WorkspaceConfig config;
    config.policyAllocation = AllocationPolicy::Strict;
    const Observed observed = drive(config, {1000, 3000});
    EXPECT_EQ(observed.peak, std::int64_t(observed.cycleBytes));
    EXPECT_EQ(workspaceHeldBytes(config, observed.cycleBytes), observed.cycleBytes);
}

TEST_F(WorkspacePredictionTest, AFixedCyclicBlockThatHoldsTheCycleIsAllThereIs) {
    // A prefetch buffer's: exactly its slots, never spilling.
    WorkspaceConfig config;
    config.initialSize = 3 * 4096;
    config.policyLearning = LearningPolicy::None;
    config.policyAllocation = AllocationPolicy::Strict;
    config.policyReset = ResetPolicy::EndOfBufferReached;
    config.policySpill = SpillPolicy::Fail;
    const Observed observed = drive(config, {4000}, 7);
    EXPECT_EQ(observed.peak, std::int64_t(3 * 4096));
    EXPECT_EQ(workspaceHeldBytes(config, observed.cycleBytes), 3u * 4096u);
}

TEST_F(WorkspacePredictionTest, ASmallInitialBlockSpillsOnTopOfItThenGrows) {
    WorkspaceConfig config;
    config.initialSize = 2 * KiB;
    const Observed observed = drive(config, {1000, 3000, 5000});
    // The first request went into the block; the prediction counts every one as possibly spilled.
    EXPECT_LE(observed.peak, std::int64_t(workspaceHeldBytes(config, observed.cycleBytes)));
    EXPECT_GT(observed.peak, std::int64_t(observed.cycleBytes));
}

TEST_F(WorkspacePredictionTest, AClampedBlockKeepsSpillingWhatExceedsIt) {
    WorkspaceConfig config;
    config.maxSize = 4 * KiB;
    config.policySpill = SpillPolicy::External;
    const Observed observed = drive(config, {3000, 3000, 3000});
    EXPECT_LE(observed.peak, std::int64_t(workspaceHeldBytes(config, observed.cycleBytes)));
    EXPECT_GT(observed.peak, std::int64_t(observed.cycleBytes));
}

TEST_F(WorkspacePredictionTest, ACyclicWorkspaceKeepsItsSpillsACycleLonger) {
    WorkspaceConfig config;
    config.initialSize = 1 * KiB;
    config.policyLearning = LearningPolicy::None;
    config.policyReset = ResetPolicy::EndOfBufferReached;
    config.policySpill = SpillPolicy::External;
    const Observed observed = drive(config, {3000, 3000});
    EXPECT_LE(observed.peak, std::int64_t(workspaceHeldBytes(config, observed.cycleBytes)));
    EXPECT_GT(observed.peak, std::int64_t(1 * KiB + observed.cycleBytes)) << "two cycles' spills at once";
}

TEST_F(WorkspacePredictionTest, AFailingFixedBlockAsksForNothingMore) {
    WorkspaceConfig config;
    config.initialSize = 1 * KiB;
    config.policyLearning = LearningPolicy::None;
    config.policySpill = SpillPolicy::Fail;
    EXPECT_EQ(workspaceHeldBytes(config, 8 * KiB), 1u * KiB);
}

TEST_F(WorkspacePredictionTest, AbsurdCyclesSaturateInsteadOfWrapping) {
    WorkspaceConfig config;
    config.overallocationLimit = 0.5;
    EXPECT_EQ(workspaceHeldBytes(config, ~std::size_t(0) - 10), ~std::size_t(0));
    config.policyReset = ResetPolicy::EndOfBufferReached;
    config.policyLearning = LearningPolicy::None;
    config.initialSize = 64;
    EXPECT_EQ(workspaceHeldBytes(config, ~std::size_t(0) / 2 + 1), ~std::size_t(0));
}

}  // namespace
}  // namespace cohort::memory
