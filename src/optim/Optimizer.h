#pragma once
// Optimizers over a model's flat buffers. The optimizer state (velocity for Nesterov, first and
// second moments for Adam) is ONE flat buffer laid out like the parameters (Adam: [m | v]), so a
// coordinator can average or checkpoint it in one call. Each step is one fused pass.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels/Backend.h"
#include "src/tensor/Tensor.h"

namespace cohort::optim {

enum class OptimizerKind { Sgd, Nesterov, Adam };
const char* toString(OptimizerKind kind);
// Elements of optimizer state per model: Adam 2P ([m | v]), Nesterov P (velocity), SGD 0.
std::int64_t stateElementCount(OptimizerKind kind, std::int64_t parameterCount);

struct OptimizerConfig {
    OptimizerKind kind = OptimizerKind::Adam;
    double learningRate = 1e-3;
    double momentum = 0.9;      // Nesterov
    double weightDecay = 0.0;   // L2 for SGD/Nesterov, decoupled (AdamW) for Adam
    double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
    // When not empty: the weight decay applies only to these [begin, end) element ranges of the
    // flat buffer (sorted, disjoint), e.g. a transformer's weight matrices and not its biases,
    // layer-norm gains or embeddings (AdamW as GPT-2 trainers use it). Empty: to every element.
    std::vector<std::pair<std::int64_t, std::int64_t>> decayRanges = {};
    bool decayMatricesOnly = false;  // --optimizer adamw: the ranges are the model's matrices

    void validate() const;      // throws SettingError naming the field
    std::string describe() const;
};

class Optimizer {
public:
    Optimizer(const OptimizerConfig& config, std::int64_t parameterCount, DType dtype, MemoryLocation location);

    // One update of `parameters` from `gradients` with the given learning rate (the schedule's
    // value for this step). Increments the step counter.
    void step(kernels::Backend& backend, Tensor& parameters, const Tensor& gradients, double learningRate);

    // step() in two parts, for a coordinator that updates several replicas slice by slice
    // (fused with averaging): beginStep() advances the step counter once, then update() applies
    // this step to elements [begin, end) of the flat buffers (and of each state segment). The
    // backend may be another worker's, as long as it can reach these buffers.
    void beginStep() { ++steps_; }
    void update(kernels::Backend& backend, void* parameters, const void* gradients, double learningRate,
                std::int64_t begin, std::int64_t end);
    // The state is `stateSegments()` segments of parameterCount elements each ([m | v] for Adam).
    int stateSegments() const { return int(state_.elementCount() / std::max<std::int64_t>(1, parameterCount_)); }

    const OptimizerConfig& config() const { return config_; }
    Tensor& state() { return state_; }              // empty for SGD
    const Tensor& state() const { return state_; }
    std::int64_t stepCount() const { return steps_; }
    void setStepCount(std::int64_t steps) { steps_ = steps; }
    void resetState();

private:
    // update() over [begin, end) with `weightDecay`, no range splitting.
    void updateRange(kernels::Backend& backend, void* parameters, const void* gradients, double learningRate,
                     std::int64_t begin, std::int64_t end, double weightDecay);

    OptimizerConfig config_;
    std::int64_t parameterCount_;
    Tensor state_;
    std::int64_t steps_ = 0;
};

}  // namespace cohort::optim
