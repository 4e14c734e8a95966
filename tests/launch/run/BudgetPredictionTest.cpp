// Budgets that cannot hold a run are refused before training, and a budget the up-front check
// accepts holds the whole run. For several configurations the smallest --maxbytes (and
// --maxphysicalbytes) the check accepts is found by bisection; every budget tried must either be
// refused at once (exit 2, one line naming the flag) or carry the run to its end (exit 0) —
// never fail later (exit 1) for lack of memory.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "data/DataTestSupport.h"
#include "launch/CohortProcess.h"
#include "launch/MnistFixture.h"

namespace cohort {
namespace {

using data::testing_support::ScratchDirectory;
using testing_support::lineCount;
using testing_support::ProcessResult;
using testing_support::runCohort;

constexpr std::int64_t KiB = 1024, MiB = 1024 * KiB;

// Two epochs, so that what happens after the first one (its evaluation, the next epoch's steps)
// runs under the budget too.
const char* const kRun = " --device cpu --threads-per-worker 1 --epochs 2 --quiet ";

const std::vector<std::string>& configurations() {
    static const std::vector<std::string> all = {
        "",                                                      // the MLP 1024,1024 with dropout
        "--hidden 256 --dropout 0",                              // no dropout masks
        "--model lenet --batch-size 32",                         // convolutions' working memory
        "--hidden 64 --workers 2 --averaging-frequency 5",       // two replicas
        "--hidden 64 --workers 2 --averaging-frequency 5 --outer-optimizer nesterov",  // and an outer state
        "--hidden 64 --workers 2 --training-mode shared-gradients",
        "--hidden 64 --prefetch-buffer 0 --optimizer sgd",       // loading without a prefetch thread
        "--hidden 64 --prefetch-buffer 8 --workspace-mode none",  // plain allocations every step
    };
    return all;
}

struct Probe {
    bool accepted = false;
};

// Runs with `flag` at `bytes`: refused (exit 2) at once with one line naming the flag, or run to
// the end (exit 0). Anything else fails the test.
Probe probe(const std::string& arguments, const std::string& flag, std::int64_t bytes) {
    const std::string command = arguments + " " + flag + " " + std::to_string(bytes);
    const auto start = std::chrono::steady_clock::now();
    const ProcessResult result = runCohort(command, "timeout -k 2 120");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (result.exitCode == 0) return {true};
    EXPECT_EQ(result.exitCode, 2) << "a budget the check accepted did not hold the run: " << command << "\nstderr: " << result.err;
    if (result.exitCode == 2) {
        EXPECT_EQ(lineCount(result.err), 1) << command << "\nstderr: " << result.err;
        EXPECT_NE(result.err.find(flag), std::string::npos) << command << "\nstderr: " << result.err;
        EXPECT_LT(seconds, 10.0) << "refused only after " << seconds << " s: " << command;
    }
    return {false};
}

// The smallest budget of `flag` the check accepts, to within `resolution` bytes: every probe on
// the way is checked by probe(), the last refusal and the first acceptance included.
std::int64_t smallestAccepted(const std::string& arguments, const std::string& flag, std::int64_t resolution) {
    std::int64_t refused = 1, accepted = 64 * MiB;
    if (probe(arguments, flag, refused).accepted) {
        ADD_FAILURE() << "a 1-byte " << flag << " was accepted: " << arguments;
        return refused;
    }
    while (!probe(arguments, flag, accepted).accepted) {
        refused = accepted;
        accepted *= 2;
        if (accepted > 16 * 1024 * MiB) {
            ADD_FAILURE() << "no " << flag << " up to 16 GiB was accepted: " << arguments;
            return accepted;
        }
    }
    while (accepted - refused > resolution) {
        const std::int64_t middle = refused + (accepted - refused) / 2;
        (probe(arguments, flag, middle).accepted ? accepted : refused) = middle;
    }
    return accepted;
}

class BudgetPrediction : public ::testing::Test {
protected:
    void SetUp() override { testing_support::writeFixture(scratch_.str(), 256, 64, false); }
    std::string arguments(const std::string& configuration) const {
        return "train --data-dir " + scratch_.str() + kRun + configuration;
    }

    ScratchDirectory scratch_;
};

TEST_F(BudgetPrediction, EveryMaxBytesTheCheckAcceptsHoldsTheRun) {
    for (const std::string& configuration : configurations()) {
        SCOPED_TRACE(configuration);
        const std::int64_t smallest = smallestAccepted(arguments(configuration), "--maxbytes", 4 * KiB);
        // A refusal names the prediction, not an allocation that happened to come first.
        const ProcessResult below = runCohort(arguments(configuration) + " --maxbytes " + std::to_string(smallest - 4 * KiB));
        EXPECT_NE(below.err.find("predicted before training"), std::string::npos) << below.err;
    }
}

TEST_F(BudgetPrediction, EveryMaxPhysicalBytesTheCheckAcceptsHoldsTheRun) {
    // The resident set differs a little from run to run, so the boundary is looked for to 64 KiB;
    // a run accepted at it, or a little above, must still hold to the end.
    for (const std::string& configuration : configurations()) {
        SCOPED_TRACE(configuration);
        const std::int64_t smallest = smallestAccepted(arguments(configuration), "--maxphysicalbytes", 64 * KiB);
        for (const std::int64_t above : {smallest, smallest + 256 * KiB, smallest + MiB}) {
            probe(arguments(configuration), "--maxphysicalbytes", above);
        }
    }
}

}  // namespace
}  // namespace cohort
