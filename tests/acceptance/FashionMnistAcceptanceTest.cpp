// The product's promises on the real Fashion-MNIST files, through the CLI exactly as a user
// runs it. Skipped when the data set is not installed.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include <unistd.h>

#include "launch/CohortProcess.h"

namespace cohort {
namespace {

const char* kDataDirectory = "/usr/share/datasets/fashion-mnist";

// Per-process file names: several checkouts may run this suite on one machine at once.
std::filesystem::path scratchFile(const std::string& name) {
    return std::filesystem::temp_directory_path() / ("cohort_" + std::to_string(::getpid()) + "_" + name);
}

double doneAccuracy(const std::string& metrics) {
    std::smatch match;
    const std::regex done("\"event\":\"done\",\"test_accuracy\":([0-9.]+)");
    if (!std::regex_search(metrics, match, done)) return -1.0;
    return std::stod(match[1].str());
}

TEST(FashionMnist, DefaultMlpOnTheCpuReaches88PercentInFiveEpochs) {
    if (!std::filesystem::exists(kDataDirectory)) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    const auto metricsPath = scratchFile("acceptance_mlp.jsonl");
    const auto result = testing_support::runCohort("train --device cpu --model mlp --epochs 5 --metrics " +
                                                   metricsPath.string());
    ASSERT_EQ(result.exitCode, 0) << result.err;
    const std::string metrics = testing_support::slurp(metricsPath);
    for (int epoch = 1; epoch <= 5; ++epoch) {
        EXPECT_NE(metrics.find("\"event\":\"epoch\",\"epoch\":" + std::to_string(epoch)), std::string::npos);
    }
    const double accuracy = doneAccuracy(metrics);
    EXPECT_GE(accuracy, 0.880) << result.out;
    std::printf("MLP test accuracy after 5 epochs: %.2f%%\n", 100.0 * accuracy);
    std::filesystem::remove(metricsPath);
}

TEST(FashionMnist, LenetOnTheCpuReaches90Point5PercentInFiveEpochs) {
    if (!std::filesystem::exists(kDataDirectory)) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    const auto metricsPath = scratchFile("acceptance_lenet.jsonl");
    const auto result = testing_support::runCohort("train --device cpu --model lenet --epochs 5 --metrics " +
                                                   metricsPath.string());
    ASSERT_EQ(result.exitCode, 0) << result.err;
    const double accuracy = doneAccuracy(testing_support::slurp(metricsPath));
    EXPECT_GE(accuracy, 0.905) << result.out;
    std::printf("LeNet test accuracy after 5 epochs: %.2f%%\n", 100.0 * accuracy);
    std::filesystem::remove(metricsPath);
}

TEST(FashionMnist, FourWorkersAveragingEveryFiveMatchTheSingleWorkerWithinOnePoint) {
    if (!std::filesystem::exists(kDataDirectory)) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    // MLP 784-256-10 keeps this short on two cores; the same 5 epochs both ways and the same
    // global batch (1 x 128 against 4 workers x 32), so both runs make the same number of rounds.
    const std::string common = "train --device cpu --model mlp --hidden 256 --epochs 5 --threads-per-worker 1 --metrics ";
    const auto singlePath = scratchFile("acceptance_w1.jsonl");
    const auto parallelPath = scratchFile("acceptance_w4.jsonl");
    const auto single = testing_support::runCohort(common + singlePath.string() + " --workers 1");
    ASSERT_EQ(single.exitCode, 0) << single.err;
    const auto parallel = testing_support::runCohort(common + parallelPath.string() +
                                                     " --workers 4 --batch-size 32 --averaging-frequency 5");
    ASSERT_EQ(parallel.exitCode, 0) << parallel.err;
    const double singleAccuracy = doneAccuracy(testing_support::slurp(singlePath));
    const double parallelAccuracy = doneAccuracy(testing_support::slurp(parallelPath));
    std::printf("test accuracy: 1 worker %.2f%%, 4 workers (K=5) %.2f%%\n", 100.0 * singleAccuracy,
                100.0 * parallelAccuracy);
    EXPECT_GT(singleAccuracy, 0.85);
    EXPECT_NEAR(parallelAccuracy, singleAccuracy, 0.010);
    std::filesystem::remove(singlePath);
    std::filesystem::remove(parallelPath);
}

}  // namespace
}  // namespace cohort
