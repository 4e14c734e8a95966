// Step capture (the CUDA-graph path of TrainingStep) exercised on the CPU: RecordingBackend wraps
// the CPU backend and, between beginCapture() and endCapture(), records every operation as a
// closure instead of running it, as CUDA stream capture does; replay() runs the closures again on
// the same buffers. Operations that wait (copyToHost, synchronize) are refused while recording,
// as CUDA refuses them. So these tests check TrainingStep's side of graphs — fixed input
// buffers, the step counter in backend memory, the fixed loss record, re-recording when a
// workspace moves, falling back when capture fails — with results compared bit for bit against
// normal steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <vector>

#include "memory/Memory.h"
#include "src/data/Data.h"
#include "src/nn/Architectures.h"
#include "src/nn/ModelDescription.h"
#include "src/train/TrainingStep.h"

namespace cohort::train {
namespace {

using kernels::Activation;
using kernels::AdamHyper;
using kernels::ConvolutionPass;
using kernels::ConvolutionShape;
using kernels::PoolingMode;
using kernels::PoolingShape;

class RecordingBackend final : public kernels::Backend {
public:
    struct Faults {
        bool refuseEndCapture = false;         // endCapture() reports failure
        bool throwInLossWhileCapturing = false;  // an operation fails during the recording
    };
    RecordingBackend() : RecordingBackend(Faults{false, false}) {}
    explicit RecordingBackend(Faults faults) : inner_(kernels::makeCpuBackend(1)), faults_(faults) {}

    int recordings = 0;

    std::string name() const override { return "recording(" + inner_->name() + ")"; }
    memory::MemoryLocation location() const override { return inner_->location(); }
    bool canCapture() const override { return true; }
    void beginCapture() override {
        if (recording_) throw std::logic_error("already capturing");
        recording_ = true;
        work_.clear();
    }
    std::unique_ptr<Captured> endCapture(std::string* whyNot) override {
        recording_ = false;
        if (faults_.refuseEndCapture) {
            if (whyNot) *whyNot = "this backend refuses to finish a capture";
            return nullptr;
        }
        ++recordings;
        return std::make_unique<Recording>(std::move(work_));
    }

    void gemm(DType d, bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha, const void* a,
              std::int64_t lda, const void* b, std::int64_t ldb, double beta, void* c, std::int64_t ldc) override {
        run([=, this] { inner_->gemm(d, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); });
    }
    void biasActivationForward(DType d, Activation act, std::int64_t rows, std::int64_t cols, const void* x,
                               const void* bias, void* y) override {
        run([=, this] { inner_->biasActivationForward(d, act, rows, cols, x, bias, y); });
    }
    void activationBackward(DType d, Activation act, std::int64_t count, const void* y, const void* dy,
                            void* dx) override {
        run([=, this] { inner_->activationBackward(d, act, count, y, dy, dx); });
    }
    void columnSum(DType d, std::int64_t rows, std::int64_t cols, const void* x, void* out, bool accumulate) override {
        run([=, this] { inner_->columnSum(d, rows, cols, x, out, accumulate); });
    }
    void softmaxCrossEntropy(DType d, std::int64_t rows, std::int64_t classes, const void* logits,
                             const std::int32_t* labels, void* lossSum, void* grad, double gradScale,
                             std::int64_t* correct) override {
        if (recording_ && faults_.throwInLossWhileCapturing) throw std::runtime_error("operation not capturable");
        run([=, this] { inner_->softmaxCrossEntropy(d, rows, classes, logits, labels, lossSum, grad, gradScale, correct); });
    }
    void squaredError(DType d, std::int64_t count, const void* p, const void* t, void* lossSum, void* grad,
                      double gradScale) override {
        run([=, this] { inner_->squaredError(d, count, p, t, lossSum, grad, gradScale); });
    }
    void softmax(DType d, std::int64_t rows, std::int64_t classes, const void* x, void* y) override {
        run([=, this] { inner_->softmax(d, rows, classes, x, y); });
    }
    void dropoutForward(DType d, std::int64_t count, double rate, std::uint64_t seed, std::uint64_t offset,
                        const std::uint64_t* counter, const void* x, void* mask, void* y) override {
        run([=, this] { inner_->dropoutForward(d, count, rate, seed, offset, counter, x, mask, y); });
    }
    void multiply(DType d, std::int64_t count, const void* x, const void* y, void* z) override {
        run([=, this] { inner_->multiply(d, count, x, y, z); });
    }
    void batchNormForwardTraining(DType d, std::int64_t n, std::int64_t c, std::int64_t s, const void* x,
                                  const void* gamma, const void* beta, double eps, double momentum, void* rm, void* rv,
                                  void* sm, void* si, void* y) override {
        run([=, this] { inner_->batchNormForwardTraining(d, n, c, s, x, gamma, beta, eps, momentum, rm, rv, sm, si, y); });
    }
    void batchNormForwardInference(DType d, std::int64_t n, std::int64_t c, std::int64_t s, const void* x,
                                   const void* gamma, const void* beta, const void* rm, const void* rv, double eps,
                                   void* y) override {
        run([=, this] { inner_->batchNormForwardInference(d, n, c, s, x, gamma, beta, rm, rv, eps, y); });
    }
    void batchNormBackward(DType d, std::int64_t n, std::int64_t c, std::int64_t s, const void* x, const void* dy,
                           const void* gamma, const void* sm, const void* si, void* dx, void* dg, void* db) override {
        run([=, this] { inner_->batchNormBackward(d, n, c, s, x, dy, gamma, sm, si, dx, dg, db); });
    }
    std::size_t convolutionWorkspaceBytes(DType d, const ConvolutionShape& shape, ConvolutionPass pass) override {
        return inner_->convolutionWorkspaceBytes(d, shape, pass);  // a host-side query
    }
    void convolutionForward(DType d, const ConvolutionShape& shape, const void* x, const void* w, const void* bias,
                            void* y, void* ws, std::size_t bytes) override {
        run([=, this] { inner_->convolutionForward(d, shape, x, w, bias, y, ws, bytes); });
    }
    void convolutionBackward(DType d, const ConvolutionShape& shape, const void* x, const void* w, const void* dy,
                             void* dx, void* dw, void* db, const void* fws, void* ws, std::size_t bytes) override {
        run([=, this] { inner_->convolutionBackward(d, shape, x, w, dy, dx, dw, db, fws, ws, bytes); });
    }
    void poolingForward(DType d, PoolingMode mode, const PoolingShape& shape, const void* x, void* y) override {
        run([=, this] { inner_->poolingForward(d, mode, shape, x, y); });
    }
    void poolingBackward(DType d, PoolingMode mode, const PoolingShape& shape, const void* x, const void* y,
                         const void* dy, void* dx) override {
        run([=, this] { inner_->poolingBackward(d, mode, shape, x, y, dy, dx); });
    }
    void fill(DType d, std::int64_t count, double value, void* x) override {
        run([=, this] { inner_->fill(d, count, value, x); });
    }
    void copy(std::size_t bytes, const void* source, void* destination) override {
        run([=, this] { inner_->copy(bytes, source, destination); });
    }
    void axpby(DType d, std::int64_t count, double alpha, const void* x, double beta, void* y) override {
        run([=, this] { inner_->axpby(d, count, alpha, x, beta, y); });
    }
    void average(DType d, std::int64_t length, const void* const* sources, int count, void* destination) override {
        std::vector<const void*> list(sources, sources + count);
        run([=, this] { inner_->average(d, length, list.data(), count, destination); });
    }
    void sumOfSquares(DType d, std::int64_t count, const void* x, void* out) override {
        run([=, this] { inner_->sumOfSquares(d, count, x, out); });
    }
    void sgdUpdate(DType d, std::int64_t count, double lr, double wd, const void* g, void* p) override {
        run([=, this] { inner_->sgdUpdate(d, count, lr, wd, g, p); });
    }
    void nesterovUpdate(DType d, std::int64_t count, double lr, double mu, double wd, const void* g, void* v,
                        void* p) override {
        run([=, this] { inner_->nesterovUpdate(d, count, lr, mu, wd, g, v, p); });
    }
    void adamUpdate(DType d, std::int64_t count, const AdamHyper& hyper, const void* g, void* m, void* v,
                    void* p) override {
        run([=, this] { inner_->adamUpdate(d, count, hyper, g, m, v, p); });
    }
    void copyToHost(std::size_t bytes, const void* source, void* hostDestination) override {
        refuseWhileRecording("copyToHost");
        inner_->copyToHost(bytes, source, hostDestination);
    }
    void copyFromHost(std::size_t bytes, const void* hostSource, void* destination) override {
        // Recorded like a graph's memcpy node: the host bytes are read when it runs.
        run([=, this] { inner_->copyFromHost(bytes, hostSource, destination); });
    }
    void synchronize() override {
        refuseWhileRecording("synchronize");
        inner_->synchronize();
    }

private:
    class Recording final : public Captured {
    public:
        explicit Recording(std::vector<std::function<void()>> work) : work_(std::move(work)) {}
        void replay() override {
            for (auto& operation : work_) operation();
        }

    private:
        std::vector<std::function<void()>> work_;
    };

    template <typename Operation>
    void run(Operation operation) {
        if (recording_) {
            work_.emplace_back(std::move(operation));
        } else {
            operation();
        }
    }
    void refuseWhileRecording(const char* what) const {
        if (recording_) throw std::logic_error(std::string(what) + " while capturing");
    }

    std::unique_ptr<kernels::Backend> inner_;
    Faults faults_;
    bool recording_ = false;
    std::vector<std::function<void()>> work_;
};

struct RunResult {
    std::vector<double> parameters, statistics;
    StepStatistics totals;
    std::int64_t replays = 0;
    std::string abandoned;
    int recordings = 0;
};

enum class ModelKind { MlpWithDropout, ConvBatchNormPool, AllocatingLayer };

// A pass-through layer that copies its input into memory from the system allocator (freed when
// the step ends): a recording of it would keep an address the step no longer owns.
class SystemMemoryCopy final : public nn::Layer {
public:
    std::string describe() const override { return "system-memory-copy"; }
    Shape outputShape(const Shape& sample) const override { return sample; }
    Tensor forward(const Tensor& input, nn::ExecutionContext& context) override {
        Tensor copy = Tensor::persistent(input.shape(), input.dtype(), input.location());
        context.backend->copy(std::size_t(input.elementCount()) * kernels::sizeOf(input.dtype()), input.raw(),
                              copy.raw());
        return copy;
    }
    Tensor backward(const Tensor& gradOutput, nn::ExecutionContext&, bool need) override {
        return need ? gradOutput : Tensor();
    }
    std::unique_ptr<nn::Layer> clone() const override { return std::make_unique<SystemMemoryCopy>(); }
};

std::unique_ptr<nn::Model> makeModel(ModelKind kind) {
    std::unique_ptr<nn::Model> model;
    if (kind == ModelKind::MlpWithDropout) {
        model = nn::buildModel(nn::ArchitectureConfig{"mlp", {48, 24}, 0.3, "relu"}, Shape{1, 8, 8}, 10);
    } else if (kind == ModelKind::AllocatingLayer) {
        std::vector<std::unique_ptr<nn::Layer>> layers = nn::buildLayers({"mlp", {32}, 0.0, "relu"}, 10);
        layers.insert(layers.begin() + 1, std::make_unique<SystemMemoryCopy>());
        model = std::make_unique<nn::Model>(std::move(layers), Shape{1, 8, 8});
    } else {
        const auto description = nn::parseModelDescription(
            R"({"layers": [{"type": "conv2d", "filters": 6, "kernel": 3, "padding": 1},
                           {"type": "batchnorm"}, {"type": "activation", "function": "relu"},
                           {"type": "maxpool2d", "size": 2}, {"type": "dropout", "rate": 0.2},
                           {"type": "dense", "units": "classes"}]})",
            "test model");
        model = description.buildModel(Shape{1, 8, 8}, 10);
    }
    model->initialize(7);
    return model;
}

// Trains `batches` steps (each entry a batch size) on changing data; capture on or off.
RunResult train(ModelKind kind, const std::vector<std::int64_t>& batches, kernels::Backend& backend, bool capture) {
    auto model = makeModel(kind);
    optim::OptimizerConfig adam;
    adam.kind = optim::OptimizerKind::Adam;
    adam.learningRate = 1e-2;
    optim::Optimizer optimizer(adam, model->parameterCount(), DType::Float32, MemoryLocation::host());
    nn::SoftmaxCrossEntropy loss;
    TrainingStep step(*model, optimizer, loss, backend, WorkspaceMode::Enabled, 5);
    step.setCapture(capture);
    const auto data = data::makeSynthetic(512, {1, 8, 8}, 10, 9);
    const std::int64_t largest = *std::max_element(batches.begin(), batches.end());
    Tensor input = Tensor::persistent(Shape{largest, 1, 8, 8});
    std::vector<std::int32_t> labels(static_cast<std::size_t>(largest));
    std::size_t cursor = 0;
    RunResult result;
    for (std::size_t i = 0; i < batches.size(); ++i) {
        const std::int64_t batch = batches[i];
        // The loader overwrites the same buffer with the next batch, as BatchStager does.
        for (std::int64_t r = 0; r < batch; ++r, cursor = (cursor + 1) % 512) {
            std::copy_n(data.features.begin() + std::ptrdiff_t(cursor * 64), 64, input.data<float>() + r * 64);
            labels[std::size_t(r)] = data.labels[cursor];
        }
        step.run(input, labels.data(), batch, 1e-2 * (1.0 + 0.01 * double(i)));
        if (i == batches.size() / 2) {
            const StepStatistics part = step.takeStatistics();
            result.totals.lossSum += part.lossSum;
            result.totals.correct += part.correct;
            result.totals.samples += part.samples;
        }
    }
    const StepStatistics rest = step.takeStatistics();
    result.totals.lossSum += rest.lossSum;
    result.totals.correct += rest.correct;
    result.totals.samples += rest.samples;
    result.parameters = model->parametersToHost();
    result.statistics = model->statisticsToHost();
    result.replays = step.replays();
    result.abandoned = step.captureAbandoned();
    memory::WorkspaceManager::forCurrentThread().destroyAllWorkspacesForCurrentThread();
    return result;
}

RunResult reference(ModelKind kind, const std::vector<std::int64_t>& batches) {
    auto cpu = kernels::makeCpuBackend(1);
    return train(kind, batches, *cpu, true);  // the CPU backend cannot capture: normal steps
}

void expectBitwiseEqual(const RunResult& a, const RunResult& b) {
    ASSERT_EQ(a.parameters.size(), b.parameters.size());
    EXPECT_EQ(0, std::memcmp(a.parameters.data(), b.parameters.data(), a.parameters.size() * sizeof(double)));
    ASSERT_EQ(a.statistics.size(), b.statistics.size());
    EXPECT_EQ(0, std::memcmp(a.statistics.data(), b.statistics.data(), a.statistics.size() * sizeof(double)));
    EXPECT_EQ(a.totals.lossSum, b.totals.lossSum);
    EXPECT_EQ(a.totals.correct, b.totals.correct);
    EXPECT_EQ(a.totals.samples, b.totals.samples);
}

std::vector<std::int64_t> repeated(std::int64_t batch, int times) { return std::vector<std::int64_t>(std::size_t(times), batch); }

TEST(StepCapture, ReplayedStepsAreBitwiseNormalStepsWithDropout) {
    // 20 full batches, a partial one (runs normally), then 6 more full ones.
    std::vector<std::int64_t> batches = repeated(16, 20);
    batches.push_back(11);
    for (int i = 0; i < 6; ++i) batches.push_back(16);
    RecordingBackend backend;
    const RunResult captured = train(ModelKind::MlpWithDropout, batches, backend, true);
    expectBitwiseEqual(captured, reference(ModelKind::MlpWithDropout, batches));
    EXPECT_TRUE(captured.abandoned.empty()) << captured.abandoned;
    EXPECT_EQ(backend.recordings, 1);
    // Warm-up: the learning step (the workspaces size their blocks when it ends), then one step
    // that leaves memory as it was; the third full batch is recorded (and replayed), and so is
    // every later one.
    EXPECT_EQ(captured.replays, 26 - 2);
}

TEST(StepCapture, ConvolutionBatchNormAndPoolingReplayBitwise) {
    const std::vector<std::int64_t> batches = repeated(12, 15);
    RecordingBackend backend;
    const RunResult captured = train(ModelKind::ConvBatchNormPool, batches, backend, true);
    expectBitwiseEqual(captured, reference(ModelKind::ConvBatchNormPool, batches));
    EXPECT_GT(captured.replays, 10);
}

TEST(StepCapture, AWorkspaceThatMovesDropsTheRecordingAndRecordsAgain) {
    // A larger batch grows the workspaces; the recording refers to the old blocks, so it is
    // dropped and a new one made once memory is stable again.
    std::vector<std::int64_t> batches = repeated(8, 8);
    batches.push_back(40);
    for (int i = 0; i < 8; ++i) batches.push_back(8);
    RecordingBackend backend;
    const RunResult captured = train(ModelKind::MlpWithDropout, batches, backend, true);
    expectBitwiseEqual(captured, reference(ModelKind::MlpWithDropout, batches));
    EXPECT_EQ(backend.recordings, 2);
    EXPECT_GT(captured.replays, 6);
}

TEST(StepCapture, ABackendThatCannotFinishACaptureFallsBackAndSaysWhy) {
    const std::vector<std::int64_t> batches = repeated(16, 10);
    RecordingBackend backend(RecordingBackend::Faults{true, false});
    const RunResult result = train(ModelKind::MlpWithDropout, batches, backend, true);
    expectBitwiseEqual(result, reference(ModelKind::MlpWithDropout, batches));
    EXPECT_EQ(result.replays, 0);
    EXPECT_NE(result.abandoned.find("refuses to finish a capture"), std::string::npos) << result.abandoned;
}

TEST(StepCapture, AnOperationFailingWhileCapturingFallsBackToNormalSteps) {
    const std::vector<std::int64_t> batches = repeated(16, 10);
    RecordingBackend backend(RecordingBackend::Faults{false, true});
    const RunResult result = train(ModelKind::MlpWithDropout, batches, backend, true);
    expectBitwiseEqual(result, reference(ModelKind::MlpWithDropout, batches));
    EXPECT_EQ(result.replays, 0);
    EXPECT_NE(result.abandoned.find("not capturable"), std::string::npos) << result.abandoned;
}

TEST(StepCapture, AStepThatAllocatesOutsideItsWorkspacesIsNotReplayed) {
    const std::vector<std::int64_t> batches = repeated(16, 10);
    RecordingBackend backend;
    const RunResult result = train(ModelKind::AllocatingLayer, batches, backend, true);
    expectBitwiseEqual(result, reference(ModelKind::AllocatingLayer, batches));
    EXPECT_EQ(result.replays, 0);
    EXPECT_NE(result.abandoned.find("outside its workspaces"), std::string::npos) << result.abandoned;
}

TEST(StepCapture, CaptureOffRunsEveryStepNormally) {
    const std::vector<std::int64_t> batches = repeated(16, 10);
    RecordingBackend backend;
    const RunResult result = train(ModelKind::MlpWithDropout, batches, backend, false);
    expectBitwiseEqual(result, reference(ModelKind::MlpWithDropout, batches));
    EXPECT_EQ(result.replays, 0);
    EXPECT_EQ(backend.recordings, 0);
}

}  // namespace
}  // namespace cohort::train
