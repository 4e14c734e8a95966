#include "src/optim/Optimizer.h"

#include <cmath>
#include <cstdio>

#include "src/core/Errors.h"

namespace cohort::optim {

OptimizerKind parseOptimizerKind(const std::string& text) {
    if (text == "sgd") return OptimizerKind::Sgd;
    if (text == "nesterov") return OptimizerKind::Nesterov;
    if (text == "adam") return OptimizerKind::Adam;
    throw InputError("unknown --optimizer '" + text + "'; choose sgd, nesterov or adam");
}

const char* toString(OptimizerKind kind) {
    switch (kind) {
        case OptimizerKind::Sgd: return "sgd";
        case OptimizerKind::Nesterov: return "nesterov";
        case OptimizerKind::Adam: break;
    }
    return "adam";
}

std::int64_t stateElementCount(OptimizerKind kind, std::int64_t parameterCount) {
    switch (kind) {
        case OptimizerKind::Adam: return 2 * parameterCount;
        case OptimizerKind::Nesterov: return parameterCount;
        case OptimizerKind::Sgd: break;
    }
    return 0;
}

void OptimizerConfig::validate() const {
    if (!(learningRate > 0.0) || !std::isfinite(learningRate)) {
        throw InputError("--lr must be a positive finite number, got " + std::to_string(learningRate));
    }
    if (!(momentum >= 0.0 && momentum < 1.0)) {
        throw InputError("--momentum must be in [0, 1), got " + std::to_string(momentum));
    }
    if (!(weightDecay >= 0.0) || !std::isfinite(weightDecay)) {
        throw InputError("--weight-decay must be >= 0, got " + std::to_string(weightDecay));
    }
    if (!(beta1 >= 0.0 && beta1 < 1.0) || !(beta2 >= 0.0 && beta2 < 1.0) || !(epsilon > 0.0)) {
        throw InputError("Adam needs 0 <= beta1, beta2 < 1 and epsilon > 0");
    }
}

std::string OptimizerConfig::describe() const {
    char text[160];
    std::snprintf(text, sizeof text, "%s(lr=%g,momentum=%g,wd=%g,b1=%g,b2=%g,eps=%g)", toString(kind),
                  learningRate, momentum, weightDecay, beta1, beta2, epsilon);
    return text;
}

Optimizer::Optimizer(const OptimizerConfig& config, std::int64_t parameterCount, DType dtype,
                     MemoryLocation location)
    : config_(config), parameterCount_(parameterCount) {
    config_.validate();
    state_ = Tensor::persistent(Shape{stateElementCount(config.kind, parameterCount)}, dtype, location);
    resetState();
}

void Optimizer::resetState() {
    if (state_.elementCount() > 0) {
        defaultBackendFor(state_.location()).fill(state_.dtype(), state_.elementCount(), 0.0, state_.raw());
    }
    steps_ = 0;
}

void Optimizer::step(kernels::Backend& backend, Tensor& parameters, const Tensor& gradients, double learningRate) {
    ++steps_;
    const DType dtype = parameters.dtype();
    void* p = parameters.checked("optimizer.step", "parameters");
    const void* g = gradients.checked("optimizer.step", "gradients");
    switch (config_.kind) {
        case OptimizerKind::Sgd:
            backend.sgdUpdate(dtype, parameterCount_, learningRate, config_.weightDecay, g, p);
            break;
        case OptimizerKind::Nesterov:
            backend.nesterovUpdate(dtype, parameterCount_, learningRate, config_.momentum, config_.weightDecay, g,
                                   state_.raw(), p);
            break;
        case OptimizerKind::Adam: {
            kernels::AdamHyper hyper;
            hyper.learningRate = learningRate;
            hyper.beta1 = config_.beta1;
            hyper.beta2 = config_.beta2;
            hyper.epsilon = config_.epsilon;
            hyper.weightDecay = config_.weightDecay;
            hyper.step = steps_;
            char* moments = static_cast<char*>(state_.raw());
            backend.adamUpdate(dtype, parameterCount_, hyper, g, moments,
                               moments + std::size_t(parameterCount_) * kernels::sizeOf(dtype), p);
            break;
        }
    }
}

}  // namespace cohort::optim
