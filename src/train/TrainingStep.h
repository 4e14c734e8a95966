#pragma once
// TrainingStep: one iteration of forward, loss, backward and optimizer update for one model
// replica on one backend — the unit both the single-worker Trainer and each parallel worker run.
//
// With WorkspaceMode::Enabled the step's activations live in the thread's "ACTIVATIONS"
// workspace and the backward pass's gradients in a nested "ACTIVATION_GRADIENTS" workspace;
// after the first step they have learned their size and a step asks the system allocator for
// nothing. WorkspaceMode::None allocates every tensor from the system allocator (debugging).
// Per-step loss sums and correct counts are written to slots in the backend's location and
// read back only by takeStatistics(), so a GPU step never waits for the host.
//
// Capture (CUDA graphs): on a backend that can capture, with workspaces enabled and capture on
// (the default; --cuda-graphs false turns it off), once a step at the current batch size has run
// without its workspaces growing or spilling, the next step's forward, loss and backward are
// captured once and replayed for every later step of that batch size. What changes per step
// is kept out of the recording: the batch is copied into fixed buffers first, the iteration
// goes to a step counter in backend memory (dropout reads it there), and the loss/correct
// record is copied from a fixed record into its slot afterwards. The optimizer update stays a
// normal call (its learning rate and step count change every step). A step of another batch size
// (the last, partial batch) runs normally; if a workspace moves (it grew for a larger batch) the
// recording is dropped and made again. Replayed steps compute bitwise what normal steps would.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/Backend.h"
#include "memory/Memory.h"
#include "src/nn/Loss.h"
#include "src/nn/Model.h"
#include "src/optim/Optimizer.h"

namespace cohort::train {

enum class WorkspaceMode { Enabled, None };

// The workspace configurations used for training, per thread.
// `location` is the model's: a workspace only serves allocations of its own location (any other
// goes to the system allocator), so a GPU model needs device workspaces.
memory::WorkspaceConfig activationsWorkspaceConfig(memory::MemoryLocation location = memory::MemoryLocation::host());
inline constexpr const char* kActivationsWorkspace = "ACTIVATIONS";
inline constexpr const char* kGradientsWorkspace = "ACTIVATION_GRADIENTS";
inline constexpr const char* kInferenceWorkspace = "INFERENCE";
// Adds to `demand` the most memory a workspace of `config` holds when each cycle makes the
// allocations `requests` (bytes, in order); without workspaces (WorkspaceMode::None) the
// allocations themselves, made from the system allocator and freed with the pass. For memory
// predictions.
void addWorkspaceMemory(memory::MemoryDemand& demand, const memory::WorkspaceConfig& config,
                        const std::vector<std::size_t>& requests, WorkspaceMode mode);

struct StepStatistics {
    // Per prediction: a classifier predicts once per sample, a language model once per token, so
    // for it `samples` counts tokens (and samples per second are tokens per second).
    double lossSum = 0.0;        // sum of per-prediction losses
    std::int64_t correct = 0;    // predictions whose argmax matched the label
    std::int64_t samples = 0;    // predictions
    std::int64_t steps = 0;
    double meanLoss() const { return samples ? lossSum / double(samples) : 0.0; }
    double accuracy() const { return samples ? double(correct) / double(samples) : 0.0; }
};

class TrainingStep {
public:
    TrainingStep(nn::Model& model, optim::Optimizer& optimizer, nn::Loss& loss, kernels::Backend& backend,
                 WorkspaceMode mode, std::uint64_t seed);

    // The most memory a step holds besides the model and its optimizer when `model` computes in
    // `location` (for memory predictions: the model itself may not be there yet): its loss
    // records, the workspaces of a step of up to `batch` samples (the forward pass; the loss's
    // gradient and the backward pass) and, when `capture` (a backend that captures, capture on),
    // the fixed buffers a recording reads. `backend` answers a convolution's working memory.
    static memory::MemoryDemand memoryFor(const nn::Model& model, memory::MemoryLocation location, std::int64_t batch,
                                          WorkspaceMode mode, bool capture, kernels::Backend& backend);

    // Forward, loss and backward for `batch` samples: fills model.gradients(). `input` is a
    // [batch, ...] tensor and `labels` int32 values, both in the model's location.
    void computeGradients(const Tensor& input, const std::int32_t* labels, std::int64_t batch);
    // Passed to Model::backward() by the steps that run normally (null: none). A recorded step
    // (a capture, a replay) tells it nothing: whoever listens takes the layers it has not heard
    // of as written once computeGradients() returned and the backend was synchronised.
    void setGradientListener(nn::GradientListener* listener) { gradientListener_ = listener; }
    // Optimizer update with the given learning rate.
    void applyUpdate(double learningRate);
    // Gradient clipping by the global norm (--grad-clip): computeGradients() scales the gradients
    // by maxNorm / (norm + 1e-6) when that is below 1, unless `deferred` (shared gradients: the
    // coordinator calls clipGradients() on the averaged gradients, so every replica clips alike).
    // The norm is read back to the host, a synchronisation per step on a device.
    void setGradientClip(double maxNorm, bool deferred = false) {
        clipNorm_ = maxNorm;
        clipDeferred_ = deferred;
    }
    // Clips now; returns the norm before clipping (0 without clipping).
    double clipGradients();
    void run(const Tensor& input, const std::int32_t* labels, std::int64_t batch, double learningRate) {
        computeGradients(input, labels, batch);
        applyUpdate(learningRate);
    }

    // Loss and accuracy since the last call (synchronises with the backend). Throws
    // DivergenceError when the loss became NaN or infinite.
    StepStatistics takeStatistics();
    // What takeStatistics() would return, without taking it (synchronises; for checkpoints), and
    // its restoration (resume): sums continue exactly as if the run had never stopped.
    StepStatistics peekStatistics();
    // What has been read back so far, without waiting (CPU workers read every step).
    const StepStatistics& recordedStatistics() const { return pending_; }
    void restoreStatistics(const StepStatistics& pending);
    // Steps whose records are read back together (1..256, default 256). Each read checks every
    // step's loss: a NaN or infinite loss throws DivergenceError naming its iteration at the
    // first read after it. On the host a read costs nothing, so CPU workers read every step.
    void setRecordBatch(std::int64_t steps);
    std::int64_t iteration() const { return iteration_; }
    void setIteration(std::int64_t iteration) { iteration_ = iteration; }
    WorkspaceMode mode() const { return mode_; }

    // Capture on/off (on by default; it only takes effect on a backend that can capture).
    void setCapture(bool enabled);
    bool captureActive() const;
    // Replays of a captured step so far, and why capture was given up (empty while it is not).
    std::int64_t replays() const { return replays_; }
    const std::string& captureAbandoned() const { return captureAbandoned_; }

private:
    // Identity of the memory a recording refers to: the workspaces' blocks, the fixed buffers and
    // the backend's own scratch areas (batch norm's stand-in dx, average()'s staging).
    struct MemorySignature {
        memory::WorkspacePlacement activations, gradients;
        const void* input = nullptr;
        std::uint64_t backendScratch = 0;  // kernels::Backend::scratchGeneration()
        bool operator==(const MemorySignature&) const = default;
    };
    MemorySignature signature() const;
    void runBody(const Tensor& input, const std::int32_t* labels, void* record, bool recording = false);
    void computeCaptured(const Tensor& input, const std::int32_t* labels, std::int64_t batch);
    void stageFixedInputs(const Tensor& input, const std::int32_t* labels, std::int64_t batch);
    void abandonCapture(const std::string& why);
    void* record(std::int64_t index) const;
    void flushSlots();

    nn::Model& model_;
    optim::Optimizer& optimizer_;
    nn::Loss& loss_;
    kernels::Backend& backend_;
    WorkspaceMode mode_;
    std::uint64_t seed_;
    std::int64_t iteration_ = 0;
    nn::GradientListener* gradientListener_ = nullptr;

    // Records of 16 bytes, one per step until the next flush: the loss sum (model dtype) at byte 0,
    // the correct count (int64) at byte 8. Record kSlots is the fixed one a captured step writes;
    // record kSlots + 1 receives the gradients' sum of squares (clipping).
    static constexpr std::int64_t kSlots = 256;
    static constexpr std::size_t kRecordBytes = 16;
    Tensor records_;
    std::int64_t slotsUsed_ = 0;
    std::int64_t recordBatch_ = kSlots;
    std::vector<unsigned char> hostRecords_;  // sized once: a flush allocates nothing

    // Capture state (see the header comment).
    bool captureEnabled_ = true;
    std::string captureAbandoned_;
    Tensor stepCounter_;       // one uint64 in the backend's memory
    Tensor counterValues_;     // kSlots uint64 in pinned host memory: the source of each step's counter copy
    Tensor fixedInput_;        // the batch a recording reads
    Tensor fixedLabels_;       // int32 labels (bytes of a float32 tensor)
    std::unique_ptr<kernels::Backend::Captured> captured_;
    std::int64_t capturedBatch_ = 0;
    MemorySignature capturedSignature_;
    std::int64_t stableBatch_ = 0;  // batch size of the last normal step that left memory unchanged
    std::int64_t replays_ = 0;
    StepStatistics pending_;
    std::int64_t pendingSamples_ = 0;
    double clipNorm_ = 0.0;
    bool clipDeferred_ = false;
};

}  // namespace cohort::train
