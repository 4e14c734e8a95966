// The product's promises on the real Fashion-MNIST files, through the CLI exactly as a user
// runs it. Skipped when the data set is not installed.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "launch/CohortProcess.h"

namespace cohort {
namespace {

const char* kDataDirectory = "/usr/share/datasets/fashion-mnist";

double doneAccuracy(const std::string& metrics) {
    std::smatch match;
    const std::regex done("\"event\":\"done\",\"test_accuracy\":([0-9.]+)");
    if (!std::regex_search(metrics, match, done)) return -1.0;
    return std::stod(match[1].str());
}

TEST(FashionMnist, DefaultMlpOnTheCpuReaches88PercentInFiveEpochs) {
    if (!std::filesystem::exists(kDataDirectory)) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    const auto metricsPath = std::filesystem::temp_directory_path() / "cohort_acceptance_mlp.jsonl";
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

}  // namespace
}  // namespace cohort
