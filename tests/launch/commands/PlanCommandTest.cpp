// `cohort plan` through the real CLI: bad flags refused in one line (exit 2); a given step, in-
// process averaging and link give exactly the model's numbers; a measured plan prints a table.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "launch/CohortProcess.h"

namespace cohort {
namespace {

using testing_support::expectInputError;
using testing_support::ProcessResult;
using testing_support::runCohort;

// MLP 784-32-10: 25,450 parameters in a flat buffer of 25,456 (101,824 bytes), Adam state twice that.
// Epochs long enough that their ends do not count (--train-samples 0), unless a test says otherwise.
const std::string kModel = "plan --device cpu --hidden 32 --batch-size 100 --optimizer adam --train-samples 0 ";
const std::string kGiven = kModel + "--hosts 2 --workers 2 --step-ms 10 --local-averaging-ms 1 --latency 50us --bandwidth 1gbit ";

nlohmann::json planJson(const std::string& flags) {
    const ProcessResult result = runCohort(flags + " --json");
    EXPECT_EQ(result.exitCode, 0) << flags << "\nstderr: " << result.err;
    EXPECT_EQ(result.err, "");
    return nlohmann::json::parse(result.out);
}

TEST(PlanCommand, BadFlagsAreOneLineWithExitTwo) {
    expectInputError(kModel + "--hosts 2 --latency 50us --bandwidth=-1gbit", "--bandwidth");
    expectInputError(kModel + "--hosts 2 --latency 50us --bandwidth 0gbit", "must be positive");
    expectInputError(kModel + "--hosts 2 --latency 50parsecs --bandwidth 1gbit", "unknown unit 'parsecs'");
    expectInputError(kModel + "--hosts 2 --latency 50us --bandwidth 1gb", "unknown unit 'gb'");
    expectInputError(kModel + "--hosts 2 --latency 50 --bandwidth 1gbit", "no unit");
    expectInputError(kModel + "--hosts 2 --latency 50us", "give both --latency and --bandwidth");
    expectInputError(kModel + "--hosts 2", "needs the link");
    expectInputError(kModel + "--probe", "--probe times the link between the ranks of an mpirun job");
    expectInputError(kModel + "--probe --latency 50us --bandwidth 1gbit", "either --probe or --latency");
    for (const char* fraction : {"0", "1", "1.5", "-0.1"}) {
        expectInputError(kModel + "--target-fraction=" + fraction, "--target-fraction must be between 0 and 1");
    }
    expectInputError(kModel + "--allreduce tree", "unknown --allreduce 'tree'");
    expectInputError(kModel + "--step-ms=-3", "--step-ms");
    expectInputError(kModel + "--local-averaging-ms=-1", "--local-averaging-ms");
    expectInputError(kModel + "--averaging-frequency 0", "--averaging-frequency must be at least 1");
    expectInputError(kModel + "--hosts 2 --ranks-per-host 3 --latency 50us --bandwidth 1gbit", "--ranks-per-host 3");
    expectInputError(kModel + "--probe-largest 12parsecs", "--probe-largest");
    expectInputError(kModel + "--probe-largest 0", "bad --probe-largest '0'");
    expectInputError("plan --device cpu --hidden 32 --train-samples=-2", "--train-samples must be >= 0");
}

TEST(PlanCommand, GivenStepAndLinkGiveTheModelsNumbersExactly) {
    const nlohmann::json plan = planJson(kGiven + "--averaging-frequency 7");
    EXPECT_EQ(plan["inputs"]["replicas"], 4);
    EXPECT_EQ(plan["inputs"]["averaging_frequency"], 7);
    EXPECT_EQ(plan["step_source"], "given");
    EXPECT_EQ(plan["link"]["source"], "given");
    EXPECT_DOUBLE_EQ(plan["link"]["latency_seconds"].get<double>(), 50e-6);
    EXPECT_DOUBLE_EQ(plan["link"]["bandwidth_bytes_per_second"].get<double>(), 125e6);
    EXPECT_EQ(plan["averaging_point"]["parameter_bytes"], 101'824);
    EXPECT_EQ(plan["averaging_point"]["state_bytes"], 203'648);
    // Binomial over 2 processes: a barrier (2 alpha) and allreduces of the stop vote (8 B), the
    // parameters and the state, each 2 alpha + 2 n / beta: 8 alpha + 2 (305,480 B) / beta.
    const double link = 8 * 50e-6 + 2.0 * (305'472 + 8) / 125e6;
    const double point = 0.001 + link;
    EXPECT_NEAR(plan["averaging_point"]["link_seconds"].get<double>(), link, 1e-12);
    EXPECT_NEAR(plan["averaging_point"]["seconds"].get<double>(), point, 1e-12);
    const std::vector<int> expected{1, 2, 5, 7, 10, 25, 50, 100};
    ASSERT_EQ(plan["rows"].size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const nlohmann::json& row = plan["rows"][i];
        const int k = expected[i];
        EXPECT_EQ(row["averaging_frequency"], k);
        EXPECT_NEAR(row["samples_per_second"].get<double>(), 4 * 100 / (0.010 + point / k), 1e-6) << "K = " << k;
        EXPECT_NEAR(row["averaging_fraction"].get<double>(), (point / k) / (0.010 + point / k), 1e-12) << "K = " << k;
        EXPECT_NEAR(row["seconds_per_averaging_point"].get<double>(), point, 1e-12);
    }
    // K >= 0.9 point / (0.1 x 10 ms) = 5.66 -> 6.
    EXPECT_EQ(plan["recommended_averaging_frequency"], 6);
    EXPECT_NE(plan["advice"][0].get<std::string>().find("--lr-scaling auto"), std::string::npos);
}

TEST(PlanCommand, RingAndTargetFractionChangeThePlan) {
    const nlohmann::json plan = planJson(kGiven + "--allreduce ring --target-fraction 0.05");
    // Ring over 2: 2 alpha + n / beta per allreduce.
    const double point = 0.001 + 8 * 50e-6 + (305'472 + 8) / 125e6;
    EXPECT_NEAR(plan["averaging_point"]["seconds"].get<double>(), point, 1e-12);
    // K >= 0.95 point / (0.05 x 10 ms) = 7.30 -> 8.
    EXPECT_EQ(plan["recommended_averaging_frequency"], 8);
}

TEST(PlanCommand, SharedGradientsSynchroniseEveryStep) {
    const nlohmann::json plan = planJson(kGiven + "--training-mode shared-gradients");
    ASSERT_EQ(plan["rows"].size(), 1u);
    const double sync = 0.001 + 4 * 50e-6 + 2.0 * (8 + 101'824) / 125e6;
    EXPECT_NEAR(plan["rows"][0]["samples_per_second"].get<double>(), 400 / (0.010 + sync), 1e-6);
    EXPECT_NEAR(plan["overlapped_samples_per_second_bound"].get<double>(), 400 / std::max(0.010, sync), 1e-6);
}

TEST(PlanCommand, EpochEndsAreAveragingPointsToo) {
    // 1,000 samples = 10 batches of 100 = 2 rounds of 4 replicas; at K = 7 every epoch's end is
    // a point and a multiple of 7 falls in one epoch in 7: 1/7 + (1 - 1/7)/2 points per round.
    const std::string given = "plan --device cpu --hidden 32 --batch-size 100 --optimizer adam --hosts 2 --workers 2 "
                              "--step-ms 10 --local-averaging-ms 1 --latency 50us --bandwidth 1gbit ";
    const nlohmann::json steady = planJson(given + "--train-samples 0 --averaging-frequency 7");
    const nlohmann::json epochs = planJson(given + "--train-samples 1000 --averaging-frequency 7");
    EXPECT_EQ(epochs["inputs"]["rounds_per_epoch"], 2);
    const double point = steady["averaging_point"]["seconds"].get<double>();
    auto rowAt = [](const nlohmann::json& plan, int k) {
        for (const auto& row : plan["rows"]) {
            if (row["averaging_frequency"] == k) return row;
        }
        return nlohmann::json();
    };
    const double perRound = 1.0 / 7 + (1.0 - 1.0 / 7) / 2;
    EXPECT_NEAR(rowAt(epochs, 7)["samples_per_second"].get<double>(), 400 / (0.010 + point * perRound), 1e-6);
    EXPECT_NEAR(rowAt(steady, 7)["samples_per_second"].get<double>(), 400 / (0.010 + point / 7), 1e-6);
    // With K = 2 every epoch's end already is a point.
    EXPECT_NEAR(rowAt(epochs, 2)["samples_per_second"].get<double>(), 400 / (0.010 + point / 2), 1e-6);
    expectInputError(given + "--train-samples 300", "no full round");
}

TEST(PlanCommand, MeasuredPlanPrintsATableAndARecommendation) {
    const std::string flags = "plan --device cpu --hidden 32 --batch-size 16 --workers 2 --threads-per-worker 1 "
                              "--steps 3 --repeats 2 --warmup 1 --hosts 2 --latency 50us --bandwidth 1gbit";
    const nlohmann::json plan = planJson(flags);
    EXPECT_EQ(plan["step_source"], "measured");
    EXPECT_GT(plan["step_seconds"].get<double>(), 0.0);
    EXPECT_EQ(plan["averaging_point"]["local_source"], "measured");
    EXPECT_GT(plan["averaging_point"]["local_seconds"].get<double>(), 0.0);
    EXPECT_EQ(plan["rows"].size(), 7u);
    const ProcessResult table = runCohort(flags);
    ASSERT_EQ(table.exitCode, 0) << table.err;
    EXPECT_NE(table.out.find("samples/s"), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("recommendation: --averaging-frequency "), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("alpha 50.0 us, beta 1.00 Gbit/s (125 MB/s) (given)"), std::string::npos) << table.out;
}

TEST(PlanCommand, OneReplicaNeedsNoLink) {
    const nlohmann::json plan = planJson(kModel + "--step-ms 2 --local-averaging-ms 0");
    EXPECT_EQ(plan["inputs"]["replicas"], 1);
    EXPECT_EQ(plan["link"]["source"], "none");
    EXPECT_NEAR(plan["rows"][0]["samples_per_second"].get<double>(), 100 / 0.002, 1e-6);
    EXPECT_EQ(plan["rows"][0]["averaging_fraction"], 0.0);
    EXPECT_EQ(plan["recommended_averaging_frequency"], 1);
}

}  // namespace
}  // namespace cohort
