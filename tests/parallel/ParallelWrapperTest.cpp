// The coordinator against analytic and reference results.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>

#include "parallel/FusedAveraging.h"
#include "parallel/ParallelWrapper.h"
#include "parallel/ParallelTestSupport.h"
#include "src/core/Errors.h"
#include "src/data/Data.h"
#include "src/data/BatchIterator.h"
#include "src/data/Shuffle.h"
#include "src/nn/ActivationLayer.h"
#include "src/nn/Architectures.h"
#include "src/nn/BatchNorm.h"
#include "src/nn/Dense.h"

namespace cohort::parallel {
namespace {

using testing_support::makeData;
using testing_support::makeModel;
using testing_support::trainerConfig;

// ||a - b|| / ||b|| over the whole flat parameter buffer.
double maxRelativeDifference(const std::vector<double>& a, const std::vector<double>& b) {
    double difference = 0.0, norm = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        difference += (a[i] - b[i]) * (a[i] - b[i]);
        norm += b[i] * b[i];
    }
    return std::sqrt(difference / norm);
}

using testing_support::parallelConfig;

TEST(ParallelWrapper, SgdWithFrequencyOneEqualsOneWorkerOnTheConcatenatedBatches) {
    const auto data = makeData(3 * 16 * 10);  // 10 rounds of 3 batches of 16
    optim::OptimizerConfig sgd{optim::OptimizerKind::Sgd, 0.1};
    auto parallelModel = makeModel();
    ParallelWrapper wrapper(*parallelModel, sgd, trainerConfig(2, 16), parallelConfig(3, 1));
    wrapper.fit(data);
    auto singleModel = makeModel();
    ParallelWrapper single(*singleModel, sgd, trainerConfig(2, 48), parallelConfig(1, 1));
    single.fit(data);
    EXPECT_LT(maxRelativeDifference(parallelModel->parametersToHost(), singleModel->parametersToHost()), 1e-5);
}

// A straightforward reference: N replicas stepped one batch each per round, parameters and Adam
// moments averaged by plain loops every K rounds and at the end of each epoch.
std::vector<double> referenceAdamAveraging(const data::DatasetSplits& data, int workers, int frequency, int epochs,
                                           std::int64_t batch) {
    auto root = makeModel();
    std::vector<std::unique_ptr<nn::Model>> models;
    std::vector<std::unique_ptr<optim::Optimizer>> optimizers;
    auto backend = kernels::makeCpuBackend(1);
    nn::SoftmaxCrossEntropy loss;
    std::vector<std::unique_ptr<train::TrainingStep>> steps;
    for (int w = 0; w < workers; ++w) {
        models.push_back(root->replicate(MemoryLocation::host()));
        optimizers.push_back(std::make_unique<optim::Optimizer>(optim::OptimizerConfig{}, root->parameterCount(),
                                                                DType::Float32, MemoryLocation::host()));
        steps.push_back(std::make_unique<train::TrainingStep>(*models.back(), *optimizers.back(), loss, *backend,
                                                              train::WorkspaceMode::Enabled, 0));
    }
    auto averageAll = [&](auto buffer) {
        const std::int64_t count = buffer(0).elementCount();
        for (std::int64_t i = 0; i < count; ++i) {
            float sum = 0.0f;
            for (int w = 0; w < workers; ++w) sum += buffer(w).template data<float>()[i];
            for (int w = 0; w < workers; ++w) buffer(w).template data<float>()[i] = sum * (1.0f / float(workers));
        }
    };
    const std::size_t batches = (data.train.count + std::size_t(batch) - 1) / std::size_t(batch);
    const std::size_t rounds = batches / std::size_t(workers);
    Tensor input = Tensor::persistent(Shape{batch, 1, 6, 6});
    std::vector<std::int32_t> labels(static_cast<std::size_t>(batch));
    std::int64_t iteration = 0, lastAveraged = 0;
    auto average = [&] {
        averageAll([&](int w) -> Tensor& { return models[std::size_t(w)]->parameters(); });
        averageAll([&](int w) -> Tensor& { return optimizers[std::size_t(w)]->state(); });
        lastAveraged = iteration;
    };
    for (int epoch = 0; epoch < epochs; ++epoch) {
        const auto order = data::shuffledOrder(data.train.count, 5, std::uint64_t(epoch));
        data::BatchIterator iterator(data.train, order, std::size_t(batch));
        for (std::size_t round = 0; round < rounds; ++round) {
            for (int w = 0; w < workers; ++w) {
                data::Batch b{0, input.data<float>(), labels.data()};
                iterator.fill(round * std::size_t(workers) + std::size_t(w), b);
                steps[std::size_t(w)]->run(input, labels.data(), std::int64_t(b.size), 1e-3);
            }
            ++iteration;
            if (iteration % frequency == 0) average();
        }
        if (lastAveraged != iteration) average();
    }
    return models[0]->parametersToHost();
}

TEST(ParallelWrapper, AdamWithAveragedUpdatersMatchesAReferenceLoop) {
    const auto data = makeData(4 * 16 * 7 + 5);  // 7 rounds of 4 batches, and leftovers skipped
    for (int frequency : {1, 3}) {
        auto model = makeModel();
        ParallelWrapper wrapper(*model, optim::OptimizerConfig{}, trainerConfig(2, 16), parallelConfig(4, frequency));
        wrapper.fit(data);
        const auto expected = referenceAdamAveraging(data, 4, frequency, 2, 16);
        EXPECT_LT(maxRelativeDifference(model->parametersToHost(), expected), 1e-5) << "K = " << frequency;
    }
}

TEST(ParallelWrapper, ReplicasAreBitwiseIdenticalAfterAveragingAndRunsAreReproducible) {
    const auto data = makeData(3 * 10 * 8);
    std::vector<float> first;
    for (int run = 0; run < 2; ++run) {
        auto model = makeModel(0.2);
        auto config = parallelConfig(3, 4);
        config.threadsPerWorker = 1;
        ParallelWrapper wrapper(*model, optim::OptimizerConfig{}, trainerConfig(2, 10), config);
        wrapper.fit(data);
        const Tensor& reference = wrapper.replica(0).parameters();
        for (int w = 1; w < 3; ++w) {
            EXPECT_EQ(std::memcmp(wrapper.replica(w).parameters().raw(), reference.raw(), reference.byteCount()), 0) << w;
            EXPECT_EQ(std::memcmp(wrapper.optimizer(w).state().raw(), wrapper.optimizer(0).state().raw(),
                                  wrapper.optimizer(0).state().byteCount()), 0) << w;
        }
        std::vector<float> values(reference.data<float>(), reference.data<float>() + reference.elementCount());
        if (run == 0) first = values;
        else EXPECT_EQ(std::memcmp(values.data(), first.data(), values.size() * sizeof(float)), 0);
    }
}

// The fused update-and-average (parallel/FusedAveraging.h) against update-then-average: the
// same parameters and optimizer state bit for bit, for every optimizer, with and without
// averaged updaters. The model has 12,605 parameters, so each of the 3 workers' slices spans
// several cache blocks and ends in a partial one.
TEST(ParallelWrapper, FusedUpdateAndAverageIsBitwiseTheUnfusedResult) {
    const auto data = makeData(3 * 10 * 7);
    for (auto kind : {optim::OptimizerKind::Sgd, optim::OptimizerKind::Nesterov, optim::OptimizerKind::Adam}) {
        for (bool averageUpdaters : {true, false}) {
            std::vector<std::vector<float>> parameters, states;
            for (bool fused : {true, false}) {
                nn::ArchitectureConfig architecture{"mlp", {300}, 0.1, "relu"};
                auto model = nn::buildModel(architecture, Shape{1, 6, 6}, 5);
                model->initialize(3);
                ASSERT_GT(model->parameterCount(), 3 * UpdateAndAverage::kHostBlock);
                auto config = parallelConfig(3, 3);
                config.averageUpdaters = averageUpdaters;
                config.fuseUpdateWithAveraging = fused;
                optim::OptimizerConfig optimizer{kind, kind == optim::OptimizerKind::Adam ? 1e-3 : 0.05};
                ParallelWrapper wrapper(*model, optimizer, trainerConfig(2, 10), config);
                wrapper.fit(data);
                for (int w = 0; w < 3; ++w) {
                    const Tensor& p = wrapper.replica(w).parameters();
                    const Tensor& s = wrapper.optimizer(w).state();
                    parameters.emplace_back(p.data<float>(), p.data<float>() + p.elementCount());
                    states.emplace_back(s.data<float>(), s.data<float>() + s.elementCount());
                }
            }
            const std::string what = std::string(optim::toString(kind)) + (averageUpdaters ? " averaged" : " own") + " state";
            for (int w = 0; w < 3; ++w) {
                EXPECT_EQ(parameters[std::size_t(w)], parameters[std::size_t(w + 3)]) << what << ", worker " << w;
                EXPECT_EQ(states[std::size_t(w)], states[std::size_t(w + 3)]) << what << ", worker " << w;
            }
            if (!averageUpdaters && kind != optim::OptimizerKind::Sgd) {
                EXPECT_NE(states[0], states[1]) << what << ": state not averaged, replicas differ";
            }
        }
    }
}

// Batch-norm running statistics are averaged like parameters: after one round of 3 workers
// (K = 1) every replica and the root hold the mean of the statistics each replica computed from
// its own batch, bitwise identical everywhere; in shared-gradients mode at the epoch end.
TEST(ParallelWrapper, BatchNormRunningStatisticsAreAveragedAcrossReplicas) {
    const auto data = makeData(3 * 10);  // one round of 3 batches of 10
    auto buildModel = [] { return testing_support::makeBatchNormModel(); };
    // Reference: each replica's forward pass on its own batch from the same start, averaged.
    auto root = buildModel();
    const auto order = data::shuffledOrder(data.train.count, 5, 0);
    data::BatchIterator iterator(data.train, order, 10);
    auto backend = kernels::makeCpuBackend(1);
    std::vector<double> expected(std::size_t(root->statisticsCount()), 0.0);
    Tensor input = Tensor::persistent(Shape{10, 1, 6, 6});
    std::vector<std::int32_t> labels(10);
    for (int w = 0; w < 3; ++w) {
        auto replica = root->replicate(MemoryLocation::host());
        data::Batch batch{0, input.data<float>(), labels.data()};
        iterator.fill(std::size_t(w), batch);
        nn::ExecutionContext context{backend.get(), true, 0, 0};
        replica->forward(input, context);
        replica->releaseCaches();
        const auto statistics = replica->statisticsToHost();
        for (std::size_t i = 0; i < expected.size(); ++i) expected[i] += statistics[i] / 3.0;
    }
    for (auto mode : {TrainingMode::Averaging, TrainingMode::SharedGradients}) {
        auto model = buildModel();
        auto config = parallelConfig(3, 1);
        config.trainingMode = mode;
        ParallelWrapper wrapper(*model, optim::OptimizerConfig{}, trainerConfig(1, 10), config);
        wrapper.fit(data);
        const Tensor& reference = wrapper.replica(0).statistics();
        for (int w = 1; w < 3; ++w) {
            EXPECT_EQ(std::memcmp(wrapper.replica(w).statistics().raw(), reference.raw(), reference.byteCount()), 0) << w;
        }
        EXPECT_EQ(model->statisticsToHost(), wrapper.replica(0).statisticsToHost());
        EXPECT_LT(maxRelativeDifference(model->statisticsToHost(), expected), 1e-6);
    }
}

TEST(ParallelWrapper, SharedGradientsWithAdamEqualsOneWorkerOnTheConcatenatedBatches) {
    const auto data = makeData(2 * 20 * 6);
    auto model = makeModel();
    auto config = parallelConfig(2, 1);
    config.trainingMode = TrainingMode::SharedGradients;
    ParallelWrapper wrapper(*model, optim::OptimizerConfig{}, trainerConfig(2, 20), config);
    wrapper.fit(data);
    auto single = makeModel();
    ParallelWrapper reference(*single, optim::OptimizerConfig{}, trainerConfig(2, 40), parallelConfig(1, 1));
    reference.fit(data);
    EXPECT_LT(maxRelativeDifference(model->parametersToHost(), single->parametersToHost()), 1e-4);
}

TEST(ParallelWrapper, AWorkerThatThrowsStopsEveryoneAndIsNamed) {
    const auto data = makeData(4 * 8 * 50);
    for (int prefetch : {0, 3}) {
        auto model = makeModel();
        auto config = parallelConfig(4, 1000);  // others would run free for a long time
        config.prefetchBuffer = prefetch;
        config.beforeStep = [](int worker, std::int64_t iteration) {
            if (worker == 2 && iteration == 5) throw std::runtime_error("injected failure");
        };
        ParallelWrapper wrapper(*model, optim::OptimizerConfig{}, trainerConfig(50, 8), config);
        const auto start = std::chrono::steady_clock::now();
        try {
            wrapper.fit(data);
            FAIL() << "fit() should have thrown";
        } catch (const WorkerError& error) {
            EXPECT_EQ(error.worker(), 2);
            EXPECT_NE(std::string(error.what()).find("worker 2"), std::string::npos) << error.what();
            EXPECT_NE(std::string(error.what()).find("injected failure"), std::string::npos) << error.what();
            // The root cause travels with the error, so a caller can describe it in its own terms.
            ASSERT_TRUE(error.cause());
            try {
                std::rethrow_exception(error.cause());
            } catch (const std::runtime_error& cause) {
                EXPECT_STREQ(cause.what(), "injected failure");
            }
            EXPECT_EQ(error.describe("<cause>"), "worker 2 failed: <cause> (epoch 1, iteration 5)");
        }
        EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 2.0);
    }
}

TEST(ParallelWrapper, RejectsImpossibleConfigurations) {
    auto model = makeModel();
    EXPECT_THROW(ParallelWrapper(*model, optim::OptimizerConfig{}, trainerConfig(1, 8), parallelConfig(2, 0)), InputError);
    EXPECT_THROW(ParallelWrapper(*model, optim::OptimizerConfig{}, trainerConfig(1, 8), parallelConfig(0, 1)), InputError);
    try {
        ParallelWrapper(*model, optim::OptimizerConfig{}, trainerConfig(1, 8), parallelConfig(2, 0));
        FAIL() << "expected SettingError";
    } catch (const SettingError& error) {
        EXPECT_EQ(error.setting(), "averagingFrequency");
        EXPECT_EQ(std::string(error.what()).find("--"), std::string::npos) << error.what();
    }
    ParallelWrapper tooMany(*model, optim::OptimizerConfig{}, trainerConfig(1, 64), parallelConfig(8, 1));
    EXPECT_THROW(tooMany.fit(makeData(100)), InputError);  // 2 batches for 8 replicas
}

}  // namespace
}  // namespace cohort::parallel

namespace cohort::parallel {
namespace {

using testing_support::makeData;
using testing_support::makeModel;
using testing_support::parallelConfig;
using testing_support::trainerConfig;

class AveragingCounter : public ParallelListener {
public:
    void onAveraging(const AveragingEvent&) override { ++events; }
    void onWorkerStatistics(int, const std::vector<WorkerStatistics>& workers) override {
        for (const auto& worker : workers) averagings += worker.averagings;
    }
    int events = 0;
    std::int64_t averagings = 0;
};

TEST(ParallelWrapper, OneReplicaHasNoAveragingPointsAndTwoDo) {
    const auto data = makeData(2 * 16 * 6);
    for (int workers : {1, 2}) {
        auto model = makeModel();
        ParallelWrapper wrapper(*model, optim::OptimizerConfig{}, trainerConfig(1, 16), parallelConfig(workers, 1));
        AveragingCounter counter;
        wrapper.fit(data, &counter);
        if (workers == 1) {
            EXPECT_EQ(counter.events, 0);
            EXPECT_EQ(counter.averagings, 0);
        } else {
            EXPECT_GT(counter.events, 0);
            EXPECT_EQ(counter.averagings, 2 * 6);  // every iteration of each of the two workers
        }
    }
}

class ScoreRecorder : public ParallelListener {
public:
    void onAveraging(const AveragingEvent& event) override { scores.push_back(event.score); }
    std::vector<double> scores;
};

// The score after each averaging point is the mean of the replicas' losses since the previous
// point. Workers race ahead once the point is over, so it must be read while they are held: the
// same run must report the same scores every time.
TEST(ParallelWrapper, ScoresAfterAveragingAreTheSameEveryRun) {
    const auto data = makeData(3 * 8 * 40);
    std::vector<double> first;
    for (int run = 0; run < 6; ++run) {
        auto model = makeModel(0.3);
        auto config = parallelConfig(3, 2);
        config.reportScoreAfterAveraging = true;
        ParallelWrapper wrapper(*model, optim::OptimizerConfig{}, trainerConfig(2, 8), config);
        ScoreRecorder recorder;
        wrapper.fit(data, &recorder);
        ASSERT_EQ(recorder.scores.size(), 2u * 20u);
        for (double score : recorder.scores) EXPECT_GT(score, 0.0);
        if (run == 0) first = recorder.scores;
        else EXPECT_EQ(recorder.scores, first) << "run " << run;
    }
}

}  // namespace
}  // namespace cohort::parallel
