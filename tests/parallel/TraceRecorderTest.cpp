// TraceRecorder: per-worker tracks of a fixed capacity, spans in seconds since the origin.
#include "parallel/TraceRecorder.h"

#include <gtest/gtest.h>

#include <thread>

namespace cohort::parallel {
namespace {

TEST(TraceRecorder, KeepsSpansPerWorkerUpToItsCapacityAndCountsTheRest) {
    const auto origin = TraceRecorder::Clock::now();
    TraceRecorder recorder(2, 3, origin);
    const auto at = [&](double seconds) {
        return origin + std::chrono::duration_cast<TraceRecorder::Clock::duration>(std::chrono::duration<double>(seconds));
    };
    for (int i = 0; i < 5; ++i) recorder.record(1, SpanKind::Compute, 1, i, at(i), at(i + 0.5));
    recorder.record(0, SpanKind::DataWait, 2, 7, at(1.0), at(1.25));
    ASSERT_EQ(recorder.spans(1).size(), 3u);
    EXPECT_EQ(recorder.dropped(1), 2);
    EXPECT_EQ(recorder.dropped(0), 0);
    EXPECT_NEAR(recorder.spans(1)[2].begin, 2.0, 1e-9);
    EXPECT_NEAR(recorder.spans(1)[2].end, 2.5, 1e-9);
    EXPECT_EQ(recorder.spans(0)[0].kind, SpanKind::DataWait);
    EXPECT_EQ(recorder.spans(0)[0].epoch, 2);
    EXPECT_EQ(recorder.spans(0)[0].iteration, 7);
    EXPECT_STREQ(toString(SpanKind::AveragingWait), "averaging wait");
    EXPECT_THROW(TraceRecorder(0, 1), std::invalid_argument);
}

TEST(TraceRecorder, WorkersRecordConcurrentlyWithoutSharingAnything) {
    TraceRecorder recorder(4, 1000);
    std::vector<std::thread> threads;
    for (int w = 0; w < 4; ++w) {
        threads.emplace_back([&recorder, w] {
            for (int i = 0; i < 1000; ++i) {
                const auto now = TraceRecorder::Clock::now();
                recorder.record(w, SpanKind::Compute, 1, i, now, now);
            }
        });
    }
    for (auto& thread : threads) thread.join();
    for (int w = 0; w < 4; ++w) EXPECT_EQ(recorder.spans(w).size(), 1000u);
}

}  // namespace
}  // namespace cohort::parallel
