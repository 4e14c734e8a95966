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
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/Backend.h"
#include "memory/Memory.h"
#include "src/nn/Loss.h"
#include "src/nn/Model.h"
#include "src/optim/Optimizer.h"

namespace cohort::train {

enum class WorkspaceMode { Enabled, None };
WorkspaceMode parseWorkspaceMode(const std::string& text);  // "enabled" | "none"; throws InputError

// The workspace configurations used for training, per thread.
memory::WorkspaceConfig activationsWorkspaceConfig();
inline constexpr const char* kActivationsWorkspace = "ACTIVATIONS";
inline constexpr const char* kGradientsWorkspace = "ACTIVATION_GRADIENTS";
inline constexpr const char* kInferenceWorkspace = "INFERENCE";

struct StepStatistics {
    double lossSum = 0.0;        // sum of per-sample losses
    std::int64_t correct = 0;    // samples whose argmax matched the label
    std::int64_t samples = 0;
    std::int64_t steps = 0;
    double meanLoss() const { return samples ? lossSum / double(samples) : 0.0; }
    double accuracy() const { return samples ? double(correct) / double(samples) : 0.0; }
};

class TrainingStep {
public:
    TrainingStep(nn::Model& model, optim::Optimizer& optimizer, nn::Loss& loss, kernels::Backend& backend,
                 WorkspaceMode mode, std::uint64_t seed);

    // Forward, loss and backward for `batch` samples: fills model.gradients(). `input` is a
    // [batch, ...] tensor and `labels` int32 values, both in the model's location.
    void computeGradients(const Tensor& input, const std::int32_t* labels, std::int64_t batch);
    // Optimizer update with the given learning rate.
    void applyUpdate(double learningRate);
    void run(const Tensor& input, const std::int32_t* labels, std::int64_t batch, double learningRate) {
        computeGradients(input, labels, batch);
        applyUpdate(learningRate);
    }

    // Loss and accuracy since the last call (synchronises with the backend). Throws
    // DivergenceError when the loss became NaN or infinite.
    StepStatistics takeStatistics();
    std::int64_t iteration() const { return iteration_; }
    void setIteration(std::int64_t iteration) { iteration_ = iteration; }
    WorkspaceMode mode() const { return mode_; }

private:
    void flushSlots();

    nn::Model& model_;
    optim::Optimizer& optimizer_;
    nn::Loss& loss_;
    kernels::Backend& backend_;
    WorkspaceMode mode_;
    std::uint64_t seed_;
    std::int64_t iteration_ = 0;

    static constexpr std::int64_t kSlots = 256;
    Tensor lossSlots_;      // kSlots values of the model's dtype
    Tensor correctSlots_;   // kSlots int64 values (stored in a float64 tensor's bytes)
    std::int64_t slotsUsed_ = 0;
    // Host copies of the slots, sized once: a flush allocates nothing.
    std::vector<float> hostLosses32_;
    std::vector<double> hostLosses64_;
    std::vector<std::int64_t> hostCorrect_;
    StepStatistics pending_;
    std::int64_t pendingSamples_ = 0;
};

}  // namespace cohort::train
