// The planner's model against numbers worked out by hand (docs/PLANNER.md).
#include <gtest/gtest.h>

#include <cmath>

#include "parallel/ScalingModel.h"
#include "src/core/Errors.h"

namespace cohort::parallel {
namespace {

constexpr double kTolerance = 1e-12;

ScalingInputs twoHostsTwoWorkers() {
    ScalingInputs inputs;
    inputs.processes = 2;
    inputs.workers = 2;
    inputs.batchSize = 100;
    inputs.stepSeconds = 0.010;
    inputs.link = {50e-6, 125e6};  // 50 us, 1 Gbit/s
    // 1 MB of parameters, 2 MB of Adam state, 1 ms in process.
    inputs.sync = averagingPointCost(0.001, 1'000'000, 2'000'000, 0);
    return inputs;
}

TEST(ScalingModel, AllreduceCoefficientsOfEachAlgorithm) {
    EXPECT_EQ(allreduceCoefficients(AllreduceAlgorithm::Binomial, 1).latencyTerms, 0.0);
    EXPECT_EQ(allreduceCoefficients(AllreduceAlgorithm::Binomial, 2).latencyTerms, 2.0);
    EXPECT_EQ(allreduceCoefficients(AllreduceAlgorithm::Binomial, 2).byteTerms, 2.0);
    EXPECT_EQ(allreduceCoefficients(AllreduceAlgorithm::Binomial, 5).latencyTerms, 6.0);  // 2 ceil(log2 5)
    EXPECT_EQ(allreduceCoefficients(AllreduceAlgorithm::Binomial, 8).byteTerms, 6.0);
    EXPECT_EQ(allreduceCoefficients(AllreduceAlgorithm::Ring, 4).latencyTerms, 6.0);      // 2(P-1)
    EXPECT_DOUBLE_EQ(allreduceCoefficients(AllreduceAlgorithm::Ring, 4).byteTerms, 1.5);  // 2(P-1)/P
    EXPECT_THROW(allreduceCoefficients(AllreduceAlgorithm::Ring, 0), SettingError);
}

TEST(ScalingModel, AllreduceSecondsIsLatencyPlusBytesOverBandwidth) {
    const LinkModel link{50e-6, 125e6};
    // Binomial over 4: 4 alpha + 4 n / beta = 200 us + 4 * 1e6 / 125e6 s = 0.0322 s.
    EXPECT_NEAR(allreduceSeconds(link, AllreduceAlgorithm::Binomial, 4, 1e6), 0.0322, kTolerance);
    // Ring over 4: 6 alpha + 1.5 n / beta = 300 us + 12 ms.
    EXPECT_NEAR(allreduceSeconds(link, AllreduceAlgorithm::Ring, 4, 1e6), 0.0123, kTolerance);
    EXPECT_EQ(allreduceSeconds(link, AllreduceAlgorithm::Ring, 1, 1e6), 0.0);
}

TEST(ScalingModel, FitRecoversTheLinkOfExactSamples) {
    const LinkModel truth{30e-6, 2e9};
    std::vector<LinkSample> samples;
    for (double bytes = 8; bytes <= 16e6; bytes *= 4) {
        samples.push_back({bytes, allreduceSeconds(truth, AllreduceAlgorithm::Binomial, 2, bytes)});
    }
    const LinkModel fitted = fitLinkModel(samples, AllreduceAlgorithm::Binomial, 2);
    EXPECT_NEAR(fitted.latencySeconds / truth.latencySeconds, 1.0, 1e-9);
    EXPECT_NEAR(fitted.bytesPerSecond / truth.bytesPerSecond, 1.0, 1e-9);
    // The same times read as a ring over 2 (a = 2, b = 1) give the same latency and half the bandwidth.
    const LinkModel ring = fitLinkModel(samples, AllreduceAlgorithm::Ring, 2);
    EXPECT_NEAR(ring.latencySeconds / truth.latencySeconds, 1.0, 1e-9);
    EXPECT_NEAR(ring.bytesPerSecond / truth.bytesPerSecond, 0.5, 1e-9);
}

TEST(ScalingModel, FitWeighsEverySizeByItsRelativeError) {
    // Noise of +-10% alternating: the fit stays within it at both ends.
    const LinkModel truth{20e-6, 1e9};
    std::vector<LinkSample> samples;
    int i = 0;
    for (double bytes = 8; bytes <= 16e6; bytes *= 4, ++i) {
        samples.push_back({bytes, allreduceSeconds(truth, AllreduceAlgorithm::Binomial, 2, bytes) * (i % 2 ? 1.1 : 0.9)});
    }
    const LinkModel fitted = fitLinkModel(samples, AllreduceAlgorithm::Binomial, 2);
    EXPECT_NEAR(fitted.latencySeconds / truth.latencySeconds, 1.0, 0.15);
    EXPECT_NEAR(fitted.bytesPerSecond / truth.bytesPerSecond, 1.0, 0.15);
}

TEST(ScalingModel, EpochEndsAddTheirPointsUnlessTheyAreMultiplesOfK) {
    EXPECT_DOUBLE_EQ(pointsPerRound(0, 25), 1.0 / 25);                           // steady state
    EXPECT_DOUBLE_EQ(pointsPerRound(40, 5), 1.0 / 5);                            // every end is a multiple
    EXPECT_DOUBLE_EQ(pointsPerRound(39, 25), 1.0 / 25 + (1.0 - 1.0 / 25) / 39);  // 2 or 3 points an epoch
    EXPECT_DOUBLE_EQ(pointsPerRound(30, 20), 1.0 / 20 + (1.0 - 10.0 / 20) / 30); // every other end coincides
    EXPECT_DOUBLE_EQ(pointsPerRound(39, 1), 1.0);
    // Over 25 epochs of 39 rounds at K = 25: 39 multiples of 25 and 24 other epoch ends.
    EXPECT_NEAR(pointsPerRound(39, 25) * 39 * 25, 39 + 24, 1e-9);
    // The recommendation accounts for them, and says when epoch ends alone exceed the target.
    ScalingInputs inputs = twoHostsTwoWorkers();
    const int steady = smallestAveragingFrequency(inputs, 0.10);
    inputs.roundsPerEpoch = 1000;
    EXPECT_GE(smallestAveragingFrequency(inputs, 0.10), steady);
    EXPECT_LE(predict(inputs, smallestAveragingFrequency(inputs, 0.10)).averagingFraction, 0.10);
    inputs.roundsPerEpoch = 3;  // the epoch ends alone are over 10%: once an epoch is the least
    EXPECT_EQ(smallestAveragingFrequency(inputs, 0.10), 3);
    EXPECT_GT(predict(inputs, 3).averagingFraction, 0.10);
}

TEST(ScalingModel, FitRefusesWhatCannotBeFitted) {
    EXPECT_THROW(fitLinkModel({{8, 1e-5}}, AllreduceAlgorithm::Binomial, 2), SettingError);
    EXPECT_THROW(fitLinkModel({{8, 1e-3}, {1e6, 1e-4}}, AllreduceAlgorithm::Binomial, 2), SettingError);  // shrinks with size
    EXPECT_THROW(fitLinkModel({{8, 1e-5}, {1e6, 1e-3}}, AllreduceAlgorithm::Binomial, 1), SettingError);
}

TEST(ScalingModel, ProbedSizesAreReadOffWhereTheyCoverTheMessage) {
    const LinkModel link{10e-6, 1e9};
    const std::vector<LinkSample> probed{{1e6, 0.004}, {8, 30e-6}, {4e6, 0.020}};  // any order
    const auto at = [&](double bytes) { return allreduceSeconds(link, AllreduceAlgorithm::Binomial, 2, bytes, probed); };
    EXPECT_DOUBLE_EQ(at(1), 30e-6);                          // below: the smallest size's time
    EXPECT_DOUBLE_EQ(at(1e6), 0.004);                        // a probed size: its time
    EXPECT_DOUBLE_EQ(at(2.5e6), 0.012);                      // between: linear
    EXPECT_DOUBLE_EQ(at(5e6), 0.020 + 2.0 * 1e6 / 1e9);      // above: the largest plus the model's slope
    EXPECT_DOUBLE_EQ(allreduceSeconds(link, AllreduceAlgorithm::Binomial, 2, 5e6, {}),
                     allreduceSeconds(link, AllreduceAlgorithm::Binomial, 2, 5e6));
    // A point: barrier 2 alpha from the fit, the rest read off.
    const SyncCost cost = averagingPointCost(0.0, 1'000'000, 0, 0);
    EXPECT_DOUBLE_EQ(linkSeconds(cost, link, AllreduceAlgorithm::Binomial, 2, probed), 20e-6 + 30e-6 + 0.004);
}

TEST(ScalingModel, AnAveragingPointSendsTheVoteTheBuffersAndOneBarrier) {
    const SyncCost cost = averagingPointCost(0.001, 1000, 2000, 40);
    EXPECT_EQ(cost.barriers, 1);
    EXPECT_EQ(cost.allreduceBytes, (std::vector<double>{8, 1000, 2000, 40}));
    EXPECT_EQ(averagingPointCost(0.0, 1000, 0, 0).allreduceBytes, (std::vector<double>{8, 1000}));
    const SyncCost gradients = sharedGradientsStepCost(0.0, 1000);
    EXPECT_EQ(gradients.barriers, 0);
    EXPECT_EQ(gradients.allreduceBytes, (std::vector<double>{8, 1000}));
}

TEST(ScalingModel, PredictionMatchesTheHandComputedNumbers) {
    const ScalingInputs inputs = twoHostsTwoWorkers();
    // Link of one point over 2 processes (binomial: 2 alpha + 2 n / beta per allreduce):
    //   barrier 2 alpha = 100 us; vote 100 us + 16/125e6 s; parameters 100 us + 16 ms;
    //   state 100 us + 32 ms. Total 0.0484 s + 128 ns.
    const double link = 0.0004 + 2.0 * 3'000'008 / 125e6;
    EXPECT_NEAR(linkSeconds(inputs.sync, inputs.link, inputs.algorithm, 2), link, kTolerance);
    const double point = 0.001 + link;  // 0.049400128 s
    EXPECT_NEAR(secondsPerSync(inputs), point, kTolerance);
    // K = 10: 4 replicas x 100 samples / (10 ms + point / 10).
    const ScalingPrediction k10 = predict(inputs, 10);
    EXPECT_EQ(k10.averagingFrequency, 10);
    EXPECT_NEAR(k10.samplesPerSecond, 400.0 / (0.010 + point / 10), 1e-9);
    EXPECT_NEAR(k10.averagingFraction, (point / 10) / (0.010 + point / 10), kTolerance);
    EXPECT_NEAR(k10.secondsPerAveragingPoint, point, kTolerance);
    EXPECT_NEAR(k10.samplesPerSecond, 26'773.74, 0.01);
    // Smallest K under 10%: K >= 0.9 point / (0.1 * 10 ms) = 44.46 -> 45.
    EXPECT_EQ(smallestAveragingFrequency(inputs, 0.10), 45);
    EXPECT_LE(predict(inputs, 45).averagingFraction, 0.10);
    EXPECT_GT(predict(inputs, 44).averagingFraction, 0.10);
}

TEST(ScalingModel, OneReplicaHasNothingToAverage) {
    ScalingInputs inputs = twoHostsTwoWorkers();
    inputs.processes = 1;
    inputs.workers = 1;
    const ScalingPrediction row = predict(inputs, 1);
    EXPECT_EQ(row.averagingFraction, 0.0);
    EXPECT_NEAR(row.samplesPerSecond, 100.0 / 0.010, 1e-9);
    EXPECT_EQ(smallestAveragingFrequency(inputs, 0.10), 1);
}

TEST(ScalingModel, OneProcessPaysOnlyTheInProcessPart) {
    ScalingInputs inputs = twoHostsTwoWorkers();
    inputs.processes = 1;
    inputs.link = {};  // not needed with one process
    EXPECT_NEAR(secondsPerSync(inputs), 0.001, kTolerance);
    // K >= 0.9 * 1 ms / (0.1 * 10 ms) = 0.9 -> 1.
    EXPECT_EQ(smallestAveragingFrequency(inputs, 0.10), 1);
}

TEST(ScalingModel, SharedGradientsSynchroniseEveryStep) {
    ScalingInputs inputs = twoHostsTwoWorkers();
    inputs.mode = TrainingMode::SharedGradients;
    inputs.sync = sharedGradientsStepCost(0.0005, 1'000'000);
    const double sync = 0.0005 + 0.0002 + 2.0 * 1'000'008 / 125e6;  // 0.016700128 s
    const ScalingPrediction row = predict(inputs, 25);                // K does not apply
    EXPECT_EQ(row.averagingFrequency, 1);
    EXPECT_NEAR(row.samplesPerSecond, 400.0 / (0.010 + sync), 1e-9);
    EXPECT_NEAR(overlappedSamplesPerSecondBound(inputs), 400.0 / sync, 1e-9);
}

TEST(ScalingModel, InvalidInputsNameTheirField) {
    ScalingInputs inputs = twoHostsTwoWorkers();
    inputs.link.bytesPerSecond = -1;
    EXPECT_THROW(predict(inputs, 1), SettingError);
    inputs = twoHostsTwoWorkers();
    inputs.stepSeconds = 0;
    try {
        predict(inputs, 1);
        FAIL() << "no error";
    } catch (const SettingError& error) {
        EXPECT_EQ(error.setting(), "stepSeconds");
    }
    EXPECT_THROW(predict(twoHostsTwoWorkers(), 0), SettingError);
    EXPECT_THROW(smallestAveragingFrequency(twoHostsTwoWorkers(), 1.0), SettingError);
    EXPECT_THROW(smallestAveragingFrequency(twoHostsTwoWorkers(), 0.0), SettingError);
}

}  // namespace
}  // namespace cohort::parallel
