// `cohort plan --probe` under mpirun on loopback: the ranks time the allreduce averaging uses,
// rank 0 alone prints a positive latency and bandwidth fitted to it, and the plan's table.
// Skipped when mpirun is absent or cohort was built without MPI.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "launch/CohortProcess.h"
#include "mpi/Mpirun.h"

namespace cohort {
namespace {

using namespace testing_support;

// Small and single-threaded, so two ranks stay quick on a 2-core machine; a small largest size
// keeps the probe short.
const std::string kPlan = " plan --device cpu --threads-per-worker 1 --hidden 32 --batch-size 16 --steps 3 --repeats 2 "
                          "--warmup 1 --probe --probe-largest 1M";

class PlanProbe : public ::testing::Test {
protected:
    void SetUp() override {
        if (findMpirun().empty()) GTEST_SKIP() << "mpirun not found on PATH";
        if (!cohortHasMpi()) GTEST_SKIP() << "cohort was built without MPI";
    }
    ProcessResult probe(const std::string& extra, bool tcp) {
        const std::string command = "timeout -s KILL 120 " + mpirun(2, tcp) + " " + cohortBinary() + kPlan + " " + extra;
        return runCommand(command);
    }
    static ProcessResult runCommand(const std::string& command) {
        const auto base = std::filesystem::temp_directory_path() / ("cohort_plan_probe_" + std::to_string(::getpid()));
        const int status = std::system((command + " >" + base.string() + ".out 2>" + base.string() + ".err </dev/null").c_str());
        ProcessResult result;
        result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        result.out = slurp(base.string() + ".out");
        result.err = slurp(base.string() + ".err");
        return result;
    }
};

TEST_F(PlanProbe, TwoRanksOverTcpFitAPositiveLinkAndPrintOnePlan) {
    const ProcessResult result = probe("--json --workers 1", true);
    ASSERT_EQ(result.exitCode, 0) << result.out << "\nstderr: " << result.err;
    const nlohmann::json plan = nlohmann::json::parse(result.out);  // rank 0 alone printed: one object
    EXPECT_EQ(plan["inputs"]["hosts"], 2);
    EXPECT_EQ(plan["inputs"]["ranks_per_host"], 2);
    EXPECT_EQ(plan["link"]["source"], "probe");
    EXPECT_EQ(plan["link"]["probe_processes"], 2);
    EXPECT_EQ(plan["link"]["probe_read_off"], true);
    EXPECT_GT(plan["link"]["latency_seconds"].get<double>(), 0.0);
    EXPECT_GT(plan["link"]["bandwidth_bytes_per_second"].get<double>(), 0.0);
    ASSERT_GE(plan["link"]["probe"].size(), 5u);
    EXPECT_EQ(plan["link"]["probe"][0]["bytes"], 8);
    EXPECT_EQ(plan["link"]["probe"].back()["bytes"], 1 << 20);
    for (const auto& sample : plan["link"]["probe"]) EXPECT_GT(sample["seconds"].get<double>(), 0.0);
    EXPECT_GT(plan["step_seconds"].get<double>(), 0.0);
    EXPECT_EQ(plan["rows"].size(), 7u);
    EXPECT_GT(plan["rows"][0]["samples_per_second"].get<double>(), 0.0);
}

TEST_F(PlanProbe, TheTableShowsTheProbeAndTheFit) {
    const ProcessResult result = probe("--workers 2", false);
    ASSERT_EQ(result.exitCode, 0) << result.out << "\nstderr: " << result.err;
    EXPECT_NE(result.out.find("probe:    allreduce over 2 ranks"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("(probe); binomial allreduce; messages priced from the probed times"), std::string::npos)
        << result.out;
    EXPECT_NE(result.out.find("recommendation: --averaging-frequency "), std::string::npos) << result.out;
    // Rank 0 alone prints.
    EXPECT_EQ(result.out.find("plan: "), result.out.rfind("plan: ")) << result.out;
}

}  // namespace
}  // namespace cohort
