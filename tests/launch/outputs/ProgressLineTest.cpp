// The progress line's text, and that it draws nothing off a terminal.
#include "launch/outputs/ProgressLine.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace cohort::launch {
namespace {

TEST(ProgressLine, SaysEpochPercentRateLossAndTimeLeft) {
    parallel::ProgressTick tick;
    tick.epoch = 2;
    tick.epochs = 3;
    tick.round = 50;
    tick.rounds = 200;
    tick.iteration = 250;  // 249 steps done since the first of this process
    tick.lossSum = 25.0;
    tick.samples = 50 * 64;
    tick.replicas = 2;
    // 249 steps in 24.9 s: 0.1 s a step; 64 samples a step on each of 2 replicas: 1280 samples/s;
    // 150 rounds left in this epoch and 200 in the next: 35 s.
    EXPECT_EQ(ProgressLine::text(tick, 24.9, 1),
              "epoch 2/3  25.0%  1280 samples/s  loss 0.0078  ETA 0:35");
    // A language model's run: iterations of all its evaluation intervals, tokens per second.
    EXPECT_EQ(ProgressLine::text(tick, 24.9, 1, true),
              "iteration 250/600  41.7%  1280 tokens/s  loss 0.0078  ETA 0:35");
}

TEST(ProgressLine, DrawsOnlyWhenEnabledAndClearsItsLine) {
    std::FILE* sink = std::tmpfile();
    ASSERT_NE(sink, nullptr);
    parallel::ProgressTick tick{1, 1, 1, 10, 1, 1.0, 8, 1};
    {
        ProgressLine off(false, sink);
        off.update(tick);
    }
    EXPECT_EQ(std::ftell(sink), 0L);
    {
        ProgressLine on(true, sink);
        on.update(tick);
        on.clear();
    }
    std::rewind(sink);
    char text[256] = {};
    const std::size_t read = std::fread(text, 1, sizeof text - 1, sink);
    EXPECT_GT(read, 0u);
    EXPECT_EQ(std::string(text, read).rfind("\r\033[Kepoch 1/1", 0), 0u) << text;
    EXPECT_NE(std::string(text, read).find("\r\033[K", 5), std::string::npos);  // cleared
    std::fclose(sink);
}

}  // namespace
}  // namespace cohort::launch
