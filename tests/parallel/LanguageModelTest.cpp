// Language models through the coordinator: the windows each replica reads, and a small GPT
// trained with every mode (averaging every K, shared gradients with clipping, the outer optimizer).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "parallel/EpochSchedule.h"
#include "parallel/ParallelWrapper.h"
#include "src/data/TextCorpus.h"
#include "src/nn/Architectures.h"
#include "parallel/ParallelTestSupport.h"

namespace cohort::parallel {
namespace {

using testing_support::parallelConfig;
using testing_support::trainerConfig;

constexpr std::int64_t kPositions = 8;

// A learnable text: words from a small set in a fixed cycle with a counter-based skip.
std::string makeText(std::size_t words) {
    const char* vocabulary[] = {"the ", "cat ", "sat ", "on ", "a ", "mat.\n", "and ", "dog "};
    std::string text;
    for (std::size_t i = 0; i < words; ++i) text += vocabulary[(i * 3 + (i / 7)) % 8];
    return text;
}

data::DatasetSplits textSplits(int replicas, std::int64_t batch, std::int64_t interval) {
    const data::TextCorpus corpus = data::makeTextCorpus(makeText(3000), "test text", data::Tokenizer::Char, 0.1, kPositions + 1);
    data::DatasetSplits splits = data::makeTextSplits(corpus, kPositions, 16);
    splits.train.count = std::size_t(interval * batch * replicas);
    return splits;
}

std::unique_ptr<nn::Model> makeGpt(int vocabulary) {
    nn::ArchitectureConfig config;
    config.name = "gpt";
    config.layers = 1;
    config.heads = 2;
    config.embed = 16;
    auto model = nn::buildModel(config, Shape{kPositions}, vocabulary);
    model->initialize(3);
    return model;
}

TEST(TextWindows, EachReplicaReadsItsCounterBasedWindowsShiftedByOneForTheLabels) {
    const auto splits = textSplits(2, 4, 10);
    const EpochSchedule schedule(splits.train.count, 4, 2);
    EXPECT_EQ(schedule.rounds, 10u);
    data::BatchBuffer buffer(4, kPositions, kPositions);
    const auto tokens = std::int64_t(splits.train.tokens.size());
    std::vector<float> firstReplica;
    for (int replica : {0, 1}) {
        ReplicaBatches batches(splits.train, 4, 77, 2, schedule, replica);
        ASSERT_TRUE(batches.fill(13, buffer.batch()));
        for (std::int64_t row = 0; row < 4; ++row) {
            const std::int64_t start = data::trainingWindowStart(77, replica, 13, row, tokens, kPositions + 1);
            for (std::int64_t t = 0; t < kPositions; ++t) {
                EXPECT_EQ(buffer.batch().features[row * kPositions + t], float(splits.train.tokens[std::size_t(start + t)]));
                EXPECT_EQ(buffer.batch().labels[row * kPositions + t], splits.train.tokens[std::size_t(start + t + 1)]);
            }
        }
        std::vector<float> features(buffer.batch().features, buffer.batch().features + 4 * kPositions);
        if (replica == 0) firstReplica = features;
        else EXPECT_NE(features, firstReplica) << "two replicas read the same text";
        // A stream resumed at step 13 reads what the uninterrupted one read.
        ReplicaBatches resumed(splits.train, 4, 77, 2, schedule, replica, 13);
        data::BatchBuffer again(4, kPositions, kPositions);
        ASSERT_TRUE(resumed.fill(0, again.batch()));
        EXPECT_EQ(std::memcmp(again.batch().features, buffer.batch().features, 4 * kPositions * sizeof(float)), 0);
        EXPECT_FALSE(batches.fill(20, buffer.batch()));  // two intervals of ten steps
    }
}

// Trains a small GPT with `config` and returns the final validation loss; the replicas must agree.
double trainGpt(ParallelConfig config, const optim::OptimizerConfig& optimizer, double clip, double* firstLoss = nullptr) {
    const int replicas = config.workers;
    const auto splits = textSplits(replicas, 8, 40);
    auto model = makeGpt(splits.train.numClasses);
    auto trainer = trainerConfig(3, 8);
    trainer.gradientClip = clip;
    ParallelWrapper wrapper(*model, optimizer, trainer, config);
    struct FirstEpoch final : ParallelListener {
        double loss = -1.0;
        void onEpoch(const train::EpochMetrics& metrics) override {
            if (loss < 0.0) loss = metrics.testLoss;
        }
    } listener;
    const train::RunSummary summary = wrapper.fit(splits, &listener);
    if (firstLoss) *firstLoss = listener.loss;
    for (int w = 1; w < replicas; ++w) {
        EXPECT_EQ(wrapper.replica(w).parametersToHost(), wrapper.replica(0).parametersToHost()) << "replica " << w;
    }
    return summary.testLoss;
}

TEST(LanguageModelModes, EveryModeTrainsAGptAndItsReplicasAgree) {
    optim::OptimizerConfig adamw;
    adamw.learningRate = 3e-3;
    adamw.weightDecay = 0.1;
    adamw.decayRanges = makeGpt(8)->weightMatrixRanges();
    ASSERT_FALSE(adamw.decayRanges.empty());
    struct Mode {
        const char* name;
        ParallelConfig config;
    };
    std::vector<Mode> modes = {{"one worker", parallelConfig(1, 1)}, {"averaging every 5", parallelConfig(2, 5)}};
    modes.push_back({"shared gradients", parallelConfig(2, 1)});
    modes.back().config.trainingMode = TrainingMode::SharedGradients;
    modes.push_back({"outer nesterov every 5", parallelConfig(2, 5)});
    modes.back().config.outer = {OuterOptimizerKind::Nesterov, 0.7, 0.9};
    for (const Mode& mode : modes) {
        SCOPED_TRACE(mode.name);
        double first = 0.0;
        const double last = trainGpt(mode.config, adamw, 1.0, &first);
        // The next character is mostly determined: the loss falls well below uniform over the
        // 14 characters (ln 14 = 2.64).
        EXPECT_LT(last, first) << mode.name;
        EXPECT_LT(last, 0.8 * std::log(16.0)) << mode.name;
    }
}

TEST(LanguageModelModes, ClippingTheSharedGradientKeepsReplicasIdentical) {
    // A clip far below the gradients' norm clips every step; the replicas clip the averaged
    // gradient alike, so they stay bitwise equal (checked in trainGpt).
    auto config = parallelConfig(3, 1);
    config.trainingMode = TrainingMode::SharedGradients;
    const double clipped = trainGpt(config, optim::OptimizerConfig{}, 1e-3);
    const double unclipped = trainGpt(config, optim::OptimizerConfig{}, 0.0);
    EXPECT_NE(clipped, unclipped);
}

}  // namespace
}  // namespace cohort::parallel
