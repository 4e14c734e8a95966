// The outer optimizer of averaging points (DiLoCo): outer SGD at learning rate 1 is plain averaging
// bit for bit; with one replica and K = 1 outer Nesterov on inner SGD is Nesterov SGD in closed
// form; one state shared by replicas in one memory and one state per replica agree bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "parallel/Communicator.h"
#include "parallel/ParallelTestSupport.h"
#include "parallel/ParallelWrapper.h"
#include "src/core/Errors.h"

namespace cohort::parallel {
namespace {

using testing_support::makeData;
using testing_support::parallelConfig;
using testing_support::trainerConfig;

// The local communicator, but saying its replicas do not share memory: the coordinator then keeps
// one outer state per replica and steps it after the average, as it does across GPUs or processes.
class SeparateMemory final : public Communicator {
public:
    explicit SeparateMemory(int workers) : inner_(makeLocalCommunicator(workers)) {}
    std::string name() const override { return "separate-memory"; }
    int localReplicas() const override { return inner_->localReplicas(); }
    int totalReplicas() const override { return inner_->totalReplicas(); }
    void average(int worker, kernels::Backend& backend, kernels::DType dtype, void* buffer, std::int64_t count) override {
        inner_->average(worker, backend, dtype, buffer, count);
    }
    void broadcast(int worker, kernels::Backend& backend, void* buffer, std::size_t bytes) override {
        inner_->broadcast(worker, backend, buffer, bytes);
    }
    bool barrier(int worker) override { return inner_->barrier(worker); }
    void abort(const std::string& reason) override { inner_->abort(reason); }

private:
    std::unique_ptr<Communicator> inner_;
};

struct Job {
    int workers = 3;
    int frequency = 4;
    OuterOptimizerConfig outer;
    optim::OptimizerKind inner = optim::OptimizerKind::Adam;
    double innerLearningRate = 1e-3;
    double innerMomentum = 0.9;
    bool averageUpdaters = true;
    bool fuse = true;
    bool separateMemory = false;
};

std::vector<double> trainedParameters(const Job& s, const data::DatasetSplits& data) {
    auto model = testing_support::makeModel();
    ParallelConfig config = parallelConfig(s.workers, s.frequency);
    config.outer = s.outer;
    config.averageUpdaters = s.averageUpdaters;
    config.fuseUpdateWithAveraging = s.fuse;
    optim::OptimizerConfig optimizer;
    optimizer.kind = s.inner;
    optimizer.learningRate = s.innerLearningRate;
    optimizer.momentum = s.innerMomentum;
    std::shared_ptr<Communicator> communicator;
    if (s.separateMemory) communicator = std::make_shared<SeparateMemory>(s.workers);
    ParallelWrapper wrapper(*model, optimizer, trainerConfig(2, 8), config, communicator);
    wrapper.fit(data);
    for (int w = 1; w < wrapper.workers(); ++w) {
        EXPECT_EQ(wrapper.replica(w).parametersToHost(), wrapper.replica(0).parametersToHost()) << "replica " << w;
    }
    return wrapper.replica(0).parametersToHost();
}

TEST(OuterOptimizer, SgdAtLearningRateOneIsBitwisePlainAveraging) {
    const auto data = makeData(3 * 8 * 11);
    for (bool fuse : {true, false}) {
        for (bool averageUpdaters : {true, false}) {
            Job plain;
            plain.fuse = fuse;
            plain.averageUpdaters = averageUpdaters;
            Job outer = plain;
            outer.outer = {OuterOptimizerKind::Sgd, 1.0, 0.0};
            EXPECT_EQ(trainedParameters(outer, data), trainedParameters(plain, data))
                << "fused " << fuse << ", average updaters " << averageUpdaters;
            // ... and another outer learning rate is not.
            outer.outer.learningRate = 0.5;
            EXPECT_NE(trainedParameters(outer, data), trainedParameters(plain, data));
        }
    }
}

TEST(OuterOptimizer, OneReplicaAtEveryStepIsNesterovSgdInClosedForm) {
    // Inner SGD with lr h makes the pseudo-gradient h*g; outer Nesterov (lr a, momentum m) on it is
    // v = m*v + h*g, p -= a*(h*g + m*v): Nesterov SGD with lr a*h and momentum m (PyTorch form).
    const auto data = makeData(8 * 20);
    Job outer;
    outer.workers = 1;
    outer.frequency = 1;
    outer.inner = optim::OptimizerKind::Sgd;
    outer.innerLearningRate = 0.05;
    outer.outer = {OuterOptimizerKind::Nesterov, 0.7, 0.9};
    Job closedForm = outer;
    closedForm.outer = {};
    closedForm.inner = optim::OptimizerKind::Nesterov;
    closedForm.innerLearningRate = 0.7 * 0.05;
    closedForm.innerMomentum = 0.9;
    Job innerOnly = outer;
    innerOnly.outer = {};
    const auto got = trainedParameters(outer, data);
    const auto expected = trainedParameters(closedForm, data);
    const auto without = trainedParameters(innerOnly, data);
    ASSERT_EQ(got.size(), expected.size());
    double farthest = 0.0, moved = 0.0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        farthest = std::max(farthest, std::abs(got[i] - expected[i]) / (1.0 + std::abs(expected[i])));
        moved = std::max(moved, std::abs(without[i] - expected[i]));
    }
    EXPECT_LT(farthest, 1e-4);  // float rounding over 40 steps
    EXPECT_GT(moved, 1e-2);     // and the outer step matters
}

TEST(OuterOptimizer, OneSharedStateAndOneStatePerReplicaAgreeBitwise) {
    const auto data = makeData(3 * 8 * 11);
    for (bool fuse : {true, false}) {
        Job shared;
        shared.fuse = fuse;
        shared.outer = {OuterOptimizerKind::Nesterov, 0.7, 0.9};
        Job separate = shared;
        separate.separateMemory = true;
        EXPECT_EQ(trainedParameters(shared, data), trainedParameters(separate, data)) << "fused " << fuse;
    }
}

TEST(OuterOptimizer, SettingsOutsideTheirRangeAreRefusedNamingTheField) {
    ParallelConfig config = parallelConfig(2, 5);
    config.outer = {OuterOptimizerKind::Nesterov, 0.0, 0.9};
    EXPECT_THROW(
        try { config.validate(); } catch (const SettingError& error) {
            EXPECT_NE(std::string(error.what()).find("outerLearningRate must be > 0"), std::string::npos) << error.what();
            throw;
        },
        SettingError);
    config.outer = {OuterOptimizerKind::Nesterov, 0.7, 1.0};
    EXPECT_THROW(config.validate(), SettingError);
    config.outer = {OuterOptimizerKind::Sgd, 0.7, 0.9};
    config.trainingMode = TrainingMode::SharedGradients;
    EXPECT_THROW(config.validate(), SettingError);
    config.outer = {};
    EXPECT_NO_THROW(config.validate());
}

}  // namespace
}  // namespace cohort::parallel
