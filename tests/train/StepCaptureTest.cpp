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

#include "kernels/ForwardingBackend.h"
#include "memory/Memory.h"
#include "src/data/Data.h"
#include "src/nn/Architectures.h"
#include "src/nn/ModelDescription.h"
#include "src/train/TrainingStep.h"

namespace cohort::train {
namespace {

class RecordingBackend final : public kernels::ForwardingBackend {
public:
    struct Faults {
        bool refuseEndCapture = false;         // endCapture() reports failure
        bool throwInLossWhileCapturing = false;  // an operation fails during the recording
    };
    RecordingBackend() : RecordingBackend(Faults{false, false}) {}
    explicit RecordingBackend(Faults faults) : ForwardingBackend(kernels::makeCpuBackend(1)), faults_(faults) {}

    int recordings = 0;
    std::uint64_t scratch = 0;  // scratchGeneration(): a test raises it as a grown scratch area would

    std::string name() const override { return "recording(" + ForwardingBackend::name() + ")"; }
    bool canCapture() const override { return true; }
    std::uint64_t scratchGeneration() const override { return scratch; }
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

    void softmaxCrossEntropy(DType d, std::int64_t rows, std::int64_t classes, const void* logits,
                             const std::int32_t* labels, void* lossSum, void* grad, double gradScale,
                             std::int64_t* correct) override {
        if (recording_ && faults_.throwInLossWhileCapturing) throw std::runtime_error("operation not capturable");
        ForwardingBackend::softmaxCrossEntropy(d, rows, classes, logits, labels, lossSum, grad, gradScale, correct);
    }
    void average(DType d, std::int64_t length, const void* const* sources, int count, void* destination) override {
        if (!recording_) return ForwardingBackend::average(d, length, sources, count, destination);
        // The recording keeps its own copy of the list of sources.
        std::vector<const void*> list(sources, sources + count);
        work_.emplace_back([=, this] { inner().average(d, length, list.data(), count, destination); });
    }
    void copyToHost(std::size_t bytes, const void* source, void* hostDestination) override {
        refuseWhileRecording("copyToHost");
        ForwardingBackend::copyToHost(bytes, source, hostDestination);
    }
    void synchronize() override {
        refuseWhileRecording("synchronize");
        ForwardingBackend::synchronize();
    }

protected:
    // Every other operation (copyFromHost included, like a graph's memcpy node: the host bytes are
    // read when it runs) is recorded while capturing.
    void forward(Operation& operation) override {
        if (recording_) {
            work_.push_back(operation.keep());
        } else {
            operation.run();
        }
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

    void refuseWhileRecording(const char* what) const {
        if (recording_) throw std::logic_error(std::string(what) + " while capturing");
    }

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
RunResult train(ModelKind kind, const std::vector<std::int64_t>& batches, kernels::Backend& backend, bool capture,
                const std::function<void(std::size_t)>& afterStep = {}) {
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
        if (afterStep) afterStep(i);
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
    // Bytes, not values (a NaN would never equal itself); an empty buffer (no statistics) is
    // never handed to memcmp, whose pointers must not be null.
    const auto sameBytes = [](const std::vector<double>& x, const std::vector<double>& y) {
        return x.size() == y.size() && (x.empty() || std::memcmp(x.data(), y.data(), x.size() * sizeof(double)) == 0);
    };
    EXPECT_TRUE(sameBytes(a.parameters, b.parameters));
    EXPECT_TRUE(sameBytes(a.statistics, b.statistics));
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

TEST(StepCapture, ABackendScratchThatGrowsDropsTheRecordingAndRecordsAgain) {
    // The backend replaced one of its own areas (a CUDA backend's batch-norm dx stand-in or
    // average() staging, grown for a larger call): the recording refers to freed memory, so it is
    // dropped and a new one made, as for a workspace that moves.
    const std::vector<std::int64_t> batches = repeated(8, 16);
    RecordingBackend backend;
    const RunResult captured = train(ModelKind::MlpWithDropout, batches, backend, true, [&backend](std::size_t step) {
        if (step == 7) ++backend.scratch;
    });
    expectBitwiseEqual(captured, reference(ModelKind::MlpWithDropout, batches));
    EXPECT_EQ(backend.recordings, 2);
    EXPECT_GT(captured.replays, 8);
    EXPECT_TRUE(captured.abandoned.empty()) << captured.abandoned;
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
