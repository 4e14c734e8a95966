// A snapshot of R replicas resumed on R' (parallel::changeReplicas): the position keeps the samples
// seen, per-replica copies become their mean, and the epoch's sums survive in total.
#include <gtest/gtest.h>

#include <cstring>

#include "parallel/TrainingSnapshot.h"

namespace cohort::parallel {
namespace {

std::vector<unsigned char> floats(std::initializer_list<float> values) {
    std::vector<unsigned char> bytes(values.size() * sizeof(float));
    std::memcpy(bytes.data(), values.begin(), bytes.size());
    return bytes;
}

std::vector<float> asFloats(const std::vector<unsigned char>& bytes) {
    std::vector<float> values(bytes.size() / sizeof(float));
    std::memcpy(values.data(), bytes.data(), bytes.size());
    return values;
}

TrainingSnapshot threeReplicasMidEpoch() {
    TrainingSnapshot snapshot;
    snapshot.epoch = 1;
    snapshot.round = 5;           // of 6 rounds per epoch (20 batches, 3 replicas): 15 batches of epoch 1 done
    snapshot.iteration = 6 + 5;
    snapshot.parameters = floats({1.0f, 2.0f});
    const std::vector<std::vector<unsigned char>> states = {floats({1, 10}), floats({2, 20}), floats({6, 60})};
    for (int r = 0; r < 3; ++r) {
        ReplicaProgress progress;
        progress.epoch = {10.0 * (r + 1), 3 + r, 160, 5};
        progress.pending = {1.0, 1, 32, 1};
        progress.averagings = 2;
        progress.optimizerState = states[std::size_t(r)];
        snapshot.replicas.push_back(progress);
    }
    return snapshot;
}

TEST(ReplicaChange, PerReplicaStateBecomesItsMeanSharedByEveryNewReplica) {
    const TrainingSnapshot after = changeReplicas(threeReplicasMidEpoch(), {2, 6, 10, false, kernels::DType::Float32});
    ASSERT_EQ(after.replicas.size(), 2u);
    EXPECT_EQ(asFloats(after.optimizerState), (std::vector<float>{3.0f, 30.0f}));
    for (const ReplicaProgress& replica : after.replicas) EXPECT_TRUE(replica.optimizerState.empty());
    EXPECT_EQ(asFloats(after.parameters), (std::vector<float>{1.0f, 2.0f}));
}

TEST(ReplicaChange, ThePositionKeepsTheSamplesSeenAndTheScheduleFollows) {
    // 15 batches of the epoch done by 3 replicas: 2 replicas are at round 7 (14 batches; one is
    // trained on again) of their 10, iteration 10 + 7.
    TrainingSnapshot after = changeReplicas(threeReplicasMidEpoch(), {2, 6, 10, false, kernels::DType::Float32});
    EXPECT_EQ(after.epoch, 1);
    EXPECT_EQ(after.round, 7);
    EXPECT_EQ(after.iteration, 17);
    // Growing to 4 replicas (5 rounds): floor(15 / 4) = round 3, iteration 5 + 3.
    after = changeReplicas(threeReplicasMidEpoch(), {4, 6, 5, false, kernels::DType::Float32});
    EXPECT_EQ(after.round, 3);
    EXPECT_EQ(after.iteration, 8);
    // One replica: every batch, 20 rounds; round 15.
    after = changeReplicas(threeReplicasMidEpoch(), {1, 6, 20, false, kernels::DType::Float32});
    EXPECT_EQ(after.round, 15);
    EXPECT_EQ(after.iteration, 35);
}

TEST(ReplicaChange, AnEpochEndStartsTheNextEpochAtItsFirstRound) {
    TrainingSnapshot snapshot = threeReplicasMidEpoch();
    snapshot.atEpochEnd = true;
    snapshot.epoch = 2;
    snapshot.round = 0;
    snapshot.iteration = 12;
    const TrainingSnapshot after = changeReplicas(snapshot, {2, 6, 10, false, kernels::DType::Float32});
    EXPECT_EQ(after.round, 0);
    EXPECT_EQ(after.iteration, 20);
}

TEST(ReplicaChange, WindowedTextKeepsItsIterations) {
    const TrainingSnapshot after = changeReplicas(threeReplicasMidEpoch(), {2, 6, 6, true, kernels::DType::Float32});
    EXPECT_EQ(after.round, 5);
    EXPECT_EQ(after.iteration, 11);
}

TEST(ReplicaChange, TheEpochsSumsAreKeptInTotalAndSplitEvenly) {
    const TrainingSnapshot after = changeReplicas(threeReplicasMidEpoch(), {2, 6, 10, false, kernels::DType::Float32});
    train::StepStatistics epoch, pending;
    for (const ReplicaProgress& replica : after.replicas) {
        epoch.lossSum += replica.epoch.lossSum;
        epoch.correct += replica.epoch.correct;
        epoch.samples += replica.epoch.samples;
        pending.samples += replica.pending.samples;
        EXPECT_EQ(replica.averagings, 2);
    }
    EXPECT_DOUBLE_EQ(epoch.lossSum, 60.0);
    EXPECT_EQ(epoch.correct, 12);
    EXPECT_EQ(epoch.samples, 480);
    EXPECT_EQ(pending.samples, 96);
    EXPECT_EQ(after.replicas[0].epoch.samples, 240);
    EXPECT_EQ(after.replicas[1].epoch.samples, 240);
    EXPECT_DOUBLE_EQ(after.replicas[0].epoch.lossSum, 30.0);
}

TEST(ReplicaChange, DoubleBuffersAverageInDouble) {
    TrainingSnapshot snapshot = threeReplicasMidEpoch();
    for (std::size_t r = 0; r < 3; ++r) {
        const double values[2] = {double(r), 1.0 / 3.0 * double(r)};
        snapshot.replicas[r].optimizerState.assign(reinterpret_cast<const unsigned char*>(values),
                                                   reinterpret_cast<const unsigned char*>(values) + sizeof values);
    }
    const TrainingSnapshot after = changeReplicas(snapshot, {2, 6, 10, false, kernels::DType::Float64});
    double mean[2];
    ASSERT_EQ(after.optimizerState.size(), sizeof mean);
    std::memcpy(mean, after.optimizerState.data(), sizeof mean);
    EXPECT_DOUBLE_EQ(mean[0], 1.0);
    EXPECT_DOUBLE_EQ(mean[1], 1.0 / 3.0);
}

}  // namespace
}  // namespace cohort::parallel
