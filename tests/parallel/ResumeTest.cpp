// Snapshots and resume: a run continued from a snapshot is bitwise the uninterrupted run, in
// every training mode; a stop request ends a run at a sync point with a snapshot.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>

#include "parallel/ParallelTestSupport.h"
#include "parallel/ParallelWrapper.h"
#include "parallel/TrainingSnapshot.h"

namespace cohort::parallel {
namespace {

using testing_support::makeData;
using testing_support::parallelConfig;
using testing_support::trainerConfig;

class Recorder : public ParallelListener {
public:
    void onEpoch(const train::EpochMetrics& metrics) override { epochs.push_back(metrics); }
    void onAveraging(const AveragingEvent& event) override { averagings.push_back(event); }
    void onWorkerStatistics(int epoch, const std::vector<WorkerStatistics>& statistics) override {
        workers.push_back({epoch, statistics});
    }
    void onSnapshot(const TrainingSnapshot& snapshot, SnapshotReason reason) override {
        snapshots.push_back(snapshot);
        reasons.push_back(reason);
    }
    void onDone(const train::RunSummary& summary) override { done = summary; }

    std::vector<train::EpochMetrics> epochs;
    std::vector<AveragingEvent> averagings;
    std::vector<std::pair<int, std::vector<WorkerStatistics>>> workers;
    std::vector<TrainingSnapshot> snapshots;
    std::vector<SnapshotReason> reasons;
    train::RunSummary done;
};

struct Case {
    const char* name;
    int workers;
    int frequency;
    TrainingMode mode;
    bool averageUpdaters;
    optim::OptimizerKind optimizer;
    bool batchNorm;
    double dropout;
    OuterOptimizerKind outer = OuterOptimizerKind::None;
};

std::unique_ptr<nn::Model> modelFor(const Case& c) {
    return c.batchNorm ? testing_support::makeBatchNormModel() : testing_support::makeModel(c.dropout);
}

std::vector<unsigned char> bytesOf(const Tensor& tensor) {
    std::vector<unsigned char> bytes(tensor.byteCount());
    if (!bytes.empty()) tensor.copyToHost(bytes.data(), bytes.size());
    return bytes;
}

// Every replica's parameters, optimizer state and statistics, bytes.
std::vector<std::vector<unsigned char>> finalState(ParallelWrapper& wrapper) {
    std::vector<std::vector<unsigned char>> state;
    for (int w = 0; w < wrapper.workers(); ++w) {
        state.push_back(bytesOf(wrapper.replica(w).parameters()));
        state.push_back(bytesOf(wrapper.optimizer(w).state()));
        state.push_back(bytesOf(wrapper.replica(w).statistics()));
    }
    return state;
}

struct Run {
    std::unique_ptr<nn::Model> model;
    std::unique_ptr<ParallelWrapper> wrapper;
    Recorder recorder;
};

std::unique_ptr<Run> train(const Case& c, const data::DatasetSplits& data, std::int64_t snapshotEvery,
                           const TrainingSnapshot* from, std::function<bool()> stop = nullptr) {
    auto run = std::make_unique<Run>();
    run->model = modelFor(c);
    auto config = parallelConfig(c.workers, c.frequency);
    config.trainingMode = c.mode;
    config.averageUpdaters = c.averageUpdaters;
    config.outer.kind = c.outer;
    config.reportScoreAfterAveraging = true;
    config.snapshotEvery = snapshotEvery;
    config.stopRequested = std::move(stop);
    optim::OptimizerConfig optimizer;
    optimizer.kind = c.optimizer;
    optimizer.learningRate = c.optimizer == optim::OptimizerKind::Adam ? 1e-3 : 0.05;
    auto trainer = trainerConfig(3, 8);
    trainer.schedule = optim::ScheduleKind::Cosine;
    run->wrapper = std::make_unique<ParallelWrapper>(*run->model, optimizer, trainer, config);
    if (from) run->wrapper->resume(*from);
    run->wrapper->fit(data, &run->recorder);
    return run;
}

void expectSameMetricsFrom(const Recorder& straight, const Recorder& resumed, const TrainingSnapshot& snapshot) {
    // Epochs the resumed run reports are those from the snapshot's epoch on.
    ASSERT_EQ(resumed.epochs.size(), straight.epochs.size() - std::size_t(snapshot.epoch));
    for (std::size_t i = 0; i < resumed.epochs.size(); ++i) {
        const auto& a = straight.epochs[std::size_t(snapshot.epoch) + i];
        const auto& b = resumed.epochs[i];
        EXPECT_EQ(a.epoch, b.epoch);
        EXPECT_EQ(a.trainLoss, b.trainLoss) << "epoch " << a.epoch;
        EXPECT_EQ(a.trainAccuracy, b.trainAccuracy);
        EXPECT_EQ(a.testLoss, b.testLoss);
        EXPECT_EQ(a.testAccuracy, b.testAccuracy);
        EXPECT_EQ(a.iterations, b.iterations);
        EXPECT_EQ(a.learningRate, b.learningRate);
    }
    for (std::size_t i = 0; i < resumed.workers.size(); ++i) {
        const auto& a = straight.workers[std::size_t(snapshot.epoch) + i].second;
        const auto& b = resumed.workers[i].second;
        ASSERT_EQ(a.size(), b.size());
        for (std::size_t w = 0; w < a.size(); ++w) {
            EXPECT_EQ(a[w].samples, b[w].samples);
            EXPECT_EQ(a[w].averagings, b[w].averagings);
            EXPECT_EQ(a[w].trainLoss, b[w].trainLoss);
        }
    }
    std::vector<AveragingEvent> after;
    for (const auto& event : straight.averagings) {
        if (event.iteration > snapshot.iteration) after.push_back(event);
    }
    ASSERT_EQ(resumed.averagings.size(), after.size());
    for (std::size_t i = 0; i < after.size(); ++i) {
        EXPECT_EQ(after[i].iteration, resumed.averagings[i].iteration);
        EXPECT_EQ(after[i].bytes, resumed.averagings[i].bytes);
        EXPECT_EQ(after[i].score, resumed.averagings[i].score);
    }
    EXPECT_EQ(straight.done.testAccuracy, resumed.done.testAccuracy);
    EXPECT_EQ(straight.done.testLoss, resumed.done.testLoss);
    EXPECT_EQ(straight.done.epochs, resumed.done.epochs);
    EXPECT_EQ(straight.done.iterations, resumed.done.iterations);
}

class ResumeTest : public ::testing::TestWithParam<Case> {};

TEST_P(ResumeTest, ContinuingFromEverySnapshotIsBitwiseTheUninterruptedRun) {
    const Case& c = GetParam();
    const auto data = makeData(std::size_t(c.workers) * 8 * 13);  // 13 rounds: points fall mid-epoch
    const auto straight = train(c, data, 7, nullptr);
    ASSERT_GE(straight->recorder.snapshots.size(), 3u);
    const auto expected = finalState(*straight->wrapper);
    for (std::size_t k = 0; k < straight->recorder.snapshots.size(); ++k) {
        const TrainingSnapshot& snapshot = straight->recorder.snapshots[k];
        EXPECT_EQ(straight->recorder.reasons[k], SnapshotReason::Periodic);
        // Through a checkpoint file's encoding, as a resumed run reads it.
        const auto model = modelFor(c);
        const auto segments = optimizerSegmentNames(c.optimizer);
        const TrainingSnapshot reread = TrainingSnapshot::fromCheckpoint(
            train::decodeCheckpoint(train::encodeCheckpoint(snapshot.toCheckpoint(*model, segments)), "memory"), *model,
            segments, "memory");
        const auto resumed = train(c, data, 7, &reread);
        EXPECT_EQ(finalState(*resumed->wrapper), expected) << c.name << ": resumed from iteration " << snapshot.iteration;
        expectSameMetricsFrom(straight->recorder, resumed->recorder, snapshot);
    }
}

TEST_P(ResumeTest, AStopRequestEndsTheRunAtASyncPointAndItsSnapshotResumesExactly) {
    const Case& c = GetParam();
    const auto data = makeData(std::size_t(c.workers) * 8 * 13);
    const auto straight = train(c, data, 0, nullptr);
    int stops = 0;
    for (int after : {0, 2, 4, 7, 11}) {  // sync points mid-epoch and at epoch ends, in every mode
        std::atomic<int> polls{0};
        const auto stopped = train(c, data, 0, nullptr, [&] { return ++polls > after; });
        if (!stopped->recorder.done.stopped) continue;  // fewer sync points than that
        ++stops;
        ASSERT_EQ(stopped->recorder.snapshots.size(), 1u);
        EXPECT_EQ(stopped->recorder.reasons[0], SnapshotReason::Stop);
        const TrainingSnapshot& snapshot = stopped->recorder.snapshots[0];
        EXPECT_LT(snapshot.iteration, straight->recorder.done.iterations);
        const auto resumed = train(c, data, 0, &snapshot);
        EXPECT_FALSE(resumed->recorder.done.stopped);
        EXPECT_EQ(finalState(*resumed->wrapper), finalState(*straight->wrapper)) << c.name << ", stopped after " << after;
        expectSameMetricsFrom(straight->recorder, resumed->recorder, snapshot);
    }
    EXPECT_GE(stops, 3);
}

INSTANTIATE_TEST_SUITE_P(
    Modes, ResumeTest,
    ::testing::Values(Case{"one worker, dropout", 1, 1, TrainingMode::Averaging, true, optim::OptimizerKind::Adam, false, 0.3},
                      Case{"two workers, K=5, Adam", 2, 5, TrainingMode::Averaging, true, optim::OptimizerKind::Adam, false, 0.2},
                      Case{"three workers, K=3, own Nesterov state", 3, 3, TrainingMode::Averaging, false,
                           optim::OptimizerKind::Nesterov, false, 0.0},
                      Case{"two workers, K=2, batch norm", 2, 2, TrainingMode::Averaging, true, optim::OptimizerKind::Adam,
                           true, 0.0},
                      Case{"shared gradients, batch norm", 2, 1, TrainingMode::SharedGradients, true,
                           optim::OptimizerKind::Adam, true, 0.0},
                      Case{"shared gradients, SGD, dropout", 3, 1, TrainingMode::SharedGradients, true,
                           optim::OptimizerKind::Sgd, false, 0.2},
                      Case{"three workers, K=3, outer Nesterov", 3, 3, TrainingMode::Averaging, false,
                           optim::OptimizerKind::Adam, false, 0.0, OuterOptimizerKind::Nesterov},
                      Case{"one worker, K=2, outer SGD", 1, 2, TrainingMode::Averaging, true, optim::OptimizerKind::Adam,
                           false, 0.0, OuterOptimizerKind::Sgd}),
    [](const ::testing::TestParamInfo<Case>& info) { return "Case" + std::to_string(info.index); });

TEST(Resume, ASnapshotOfAnotherJobIsRefused) {
    const auto data = makeData(2 * 8 * 13);
    const Case two{"two", 2, 5, TrainingMode::Averaging, true, optim::OptimizerKind::Adam, false, 0.0};
    const auto run = train(two, data, 7, nullptr);
    ASSERT_FALSE(run->recorder.snapshots.empty());
    auto model = testing_support::makeModel();
    ParallelWrapper three(*model, optim::OptimizerConfig{}, trainerConfig(3, 8), parallelConfig(3, 5));
    EXPECT_THROW(three.resume(run->recorder.snapshots[0]), std::invalid_argument);
}

}  // namespace
}  // namespace cohort::parallel
