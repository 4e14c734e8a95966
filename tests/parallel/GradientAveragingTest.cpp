// Shared gradients averaged bucket by bucket: overlapped with the backward pass or after it, the
// result is bitwise the same (and, in one process, the same for every bucket size); the buckets
// reach the communicator in order from the communication thread while backward() goes on; a
// failure on the communication path ends the run with the failing worker named, without a hang.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "parallel/GradientAveraging.h"
#include "parallel/ParallelTestSupport.h"
#include "parallel/ParallelWrapper.h"

namespace cohort::parallel {
namespace {

using testing_support::makeData;
using testing_support::parallelConfig;
using testing_support::trainerConfig;

struct Trained {
    std::vector<unsigned char> parameters, state, statistics;
};

std::vector<unsigned char> bytesOf(const Tensor& tensor) {
    std::vector<unsigned char> bytes(tensor.byteCount());
    if (!bytes.empty()) std::memcpy(bytes.data(), tensor.raw(), bytes.size());
    return bytes;
}

Trained trainShared(std::unique_ptr<nn::Model> model, int workers, bool overlap, std::int64_t bucketBytes,
                    optim::OptimizerKind optimizer) {
    const auto data = makeData(std::size_t(workers) * 12 * 8);
    auto config = parallelConfig(workers, 1);
    config.trainingMode = TrainingMode::SharedGradients;
    config.overlapGradientAveraging = overlap;
    config.gradientBucketBytes = bucketBytes;
    optim::OptimizerConfig optimizerConfig;
    optimizerConfig.kind = optimizer;
    optimizerConfig.learningRate = optimizer == optim::OptimizerKind::Adam ? 0.01 : 0.1;
    ParallelWrapper wrapper(*model, optimizerConfig, trainerConfig(2, 12), config);
    wrapper.fit(data);
    for (int w = 1; w < workers; ++w) {
        EXPECT_EQ(bytesOf(wrapper.replica(w).parameters()), bytesOf(wrapper.replica(0).parameters()))
            << "replica " << w;
    }
    return {bytesOf(model->parameters()), bytesOf(wrapper.optimizer(0).state()), bytesOf(model->statistics())};
}

TEST(GradientAveraging, OverlappedEqualsAfterTheBackwardPassBitwiseForAnyBucketSize) {
    for (int workers : {2, 3}) {
        for (const bool batchNorm : {false, true}) {
            auto build = [&] {
                return batchNorm ? testing_support::makeBatchNormModel() : testing_support::makeModel(0.25);
            };
            const auto kind = batchNorm ? optim::OptimizerKind::Sgd : optim::OptimizerKind::Adam;
            // One bucket for the whole buffer: the averaging before buckets.
            const Trained whole = trainShared(build(), workers, false, std::int64_t(1) << 30, kind);
            for (std::int64_t bytes : {std::int64_t(1), std::int64_t(512), std::int64_t(1) << 20}) {
                const std::string what = std::to_string(workers) + " workers, " +
                                         (batchNorm ? "batch norm" : "dropout") + ", buckets of " +
                                         std::to_string(bytes) + " bytes";
                const Trained after = trainShared(build(), workers, false, bytes, kind);
                const Trained overlapped = trainShared(build(), workers, true, bytes, kind);
                EXPECT_EQ(overlapped.parameters, after.parameters) << what;
                EXPECT_EQ(overlapped.state, after.state) << what;
                EXPECT_EQ(overlapped.statistics, after.statistics) << what;
                EXPECT_EQ(after.parameters, whole.parameters) << what << ": in one process buckets change nothing";
            }
        }
    }
}

// Records each average (from which thread, which range) and lets a test hold the first one.
class RecordingCommunicator final : public Communicator {
public:
    struct Call {
        std::thread::id thread;
        const void* buffer;
        std::int64_t count;
    };
    std::string name() const override { return "recording"; }
    int localReplicas() const override { return 1; }
    int totalReplicas() const override { return 2; }
    void average(int, kernels::Backend&, kernels::DType, void* buffer, std::int64_t count) override {
        std::lock_guard<std::mutex> lock(mutex_);
        calls_.push_back({std::this_thread::get_id(), buffer, count});
        changed_.notify_all();
    }
    void broadcast(int, kernels::Backend&, void*, std::size_t) override {}
    bool barrier(int) override { return true; }
    void abort(const std::string&) override {}

    bool waitForCalls(std::size_t count) {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return calls_.size() >= count; });
    }
    std::vector<Call> calls() {
        std::lock_guard<std::mutex> lock(mutex_);
        return calls_;
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<Call> calls_;
};

TEST(GradientAveraging, HandsEachBucketToTheCommunicationThreadAsSoonAsItsLayersAreWritten) {
    auto model = testing_support::makeModel();
    auto backend = kernels::makeCpuBackend(1);
    const std::int64_t bucketBytes = 4;  // one bucket per layer with parameters
    for (const bool overlap : {true, false}) {
        RecordingCommunicator communicator;
        GradientAveraging averaging(communicator, 0, *backend, *model, bucketBytes, overlap);
        const auto& buckets = averaging.buckets();
        ASSERT_GE(buckets.size(), 3u);
        for (int step = 0; step < 2; ++step) {
            averaging.beginStep(1, step + 1);
            std::size_t next = 0;
            for (std::size_t layer = model->layerCount(); layer-- > 0;) {
                averaging.gradientsWritten(layer);
                if (next < buckets.size() && layer == buckets[next].readyAfterLayer) {
                    ++next;
                    // Overlapped, the bucket is averaged while the pass is still at this layer.
                    if (overlap) {
                        EXPECT_TRUE(communicator.waitForCalls(std::size_t(step) * buckets.size() + next)) << layer;
                    }
                }
            }
            averaging.finishStep();
        }
        const auto calls = communicator.calls();
        ASSERT_EQ(calls.size(), 2 * buckets.size());
        const auto* gradients = static_cast<const char*>(model->gradients().raw());
        for (std::size_t i = 0; i < calls.size(); ++i) {
            const GradientBucket& bucket = buckets[i % buckets.size()];
            EXPECT_EQ(calls[i].buffer, gradients + bucket.begin * std::int64_t(sizeof(float))) << i;
            EXPECT_EQ(calls[i].count, bucket.count) << i;
            EXPECT_EQ(calls[i].thread != std::this_thread::get_id(), overlap) << i;
        }
    }
}

// Wraps the local communicator; worker `failing`'s average number `at` throws.
class FailingCommunicator final : public Communicator {
public:
    FailingCommunicator(int workers, int failing, int at)
        : local_(makeLocalCommunicator(workers)), failing_(failing), at_(at) {}
    std::string name() const override { return "failing " + local_->name(); }
    int localReplicas() const override { return local_->localReplicas(); }
    int totalReplicas() const override { return local_->totalReplicas(); }
    void average(int worker, kernels::Backend& backend, kernels::DType dtype, void* buffer,
                 std::int64_t count) override {
        if (worker == failing_ && ++calls_ == at_)
            throw std::runtime_error("lost contact with the other ranks (injected)");
        local_->average(worker, backend, dtype, buffer, count);
    }
    void broadcast(int worker, kernels::Backend& backend, void* buffer, std::size_t bytes) override {
        local_->broadcast(worker, backend, buffer, bytes);
    }
    bool barrier(int worker) override { return local_->barrier(worker); }
    void abort(const std::string& reason) override { local_->abort(reason); }

private:
    std::unique_ptr<Communicator> local_;
    const int failing_, at_;
    std::atomic<int> calls_{0};
};

TEST(GradientAveraging, AFailureOnTheCommunicationPathEndsTheRunNamingTheWorker) {
    const auto data = makeData(3 * 8 * 40);
    for (const bool overlap : {true, false}) {
        auto model = testing_support::makeModel();
        auto config = parallelConfig(3, 1);
        config.trainingMode = TrainingMode::SharedGradients;
        config.overlapGradientAveraging = overlap;
        config.gradientBucketBytes = 4;  // several buckets: the failure comes mid-step
        ParallelWrapper wrapper(*model, optim::OptimizerConfig{}, trainerConfig(2, 8), config,
                                std::make_shared<FailingCommunicator>(3, 1, 8));
        const auto start = std::chrono::steady_clock::now();
        try {
            wrapper.fit(data);
            ADD_FAILURE() << "fit() should have thrown";
        } catch (const WorkerError& error) {
            EXPECT_EQ(error.worker(), 1) << error.what();
            EXPECT_NE(std::string(error.what()).find("lost contact with the other ranks (injected)"), std::string::npos)
                << error.what();
        }
        EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
    }
}

TEST(GradientAveraging, AWorkerFailingWhileOthersAverageEndsTheRunWithoutAHang) {
    const auto data = makeData(3 * 8 * 40);
    auto model = testing_support::makeModel();
    auto config = parallelConfig(3, 1);
    config.trainingMode = TrainingMode::SharedGradients;
    config.gradientBucketBytes = 4;
    config.beforeStep = [](int worker, std::int64_t iteration) {
        if (worker == 2 && iteration == 5) throw std::runtime_error("injected failure");
    };
    ParallelWrapper wrapper(*model, optim::OptimizerConfig{}, trainerConfig(2, 8), config);
    const auto start = std::chrono::steady_clock::now();
    try {
        wrapper.fit(data);
        ADD_FAILURE() << "fit() should have thrown";
    } catch (const WorkerError& error) {
        EXPECT_EQ(error.worker(), 2) << error.what();
        EXPECT_NE(std::string(error.what()).find("injected failure"), std::string::npos) << error.what();
    }
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
}

}  // namespace
}  // namespace cohort::parallel
