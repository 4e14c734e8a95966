#include "src/optim/Optimizer.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "src/core/Errors.h"

namespace cohort::optim {

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
        throw SettingError("{learningRate} must be a positive finite number, got " + std::to_string(learningRate));
    }
    if (!(momentum >= 0.0 && momentum < 1.0)) {
        throw SettingError("{momentum} must be in [0, 1), got " + std::to_string(momentum));
    }
    if (!(weightDecay >= 0.0) || !std::isfinite(weightDecay)) {
        throw SettingError("{weightDecay} must be >= 0, got " + std::to_string(weightDecay));
    }
    if (!(beta1 >= 0.0 && beta1 < 1.0) || !(beta2 >= 0.0 && beta2 < 1.0) || !(epsilon > 0.0)) {
        throw SettingError("Adam needs 0 <= {beta1}, {beta2} < 1 and {epsilon} > 0");
    }
}

std::string OptimizerConfig::describe() const {
    char text[160];
    std::snprintf(text, sizeof text, "%s(lr=%g,momentum=%g,wd=%g,b1=%g,b2=%g,eps=%g)",
                  decayMatricesOnly ? "adamw" : toString(kind),
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
    void* p = parameters.checked("optimizer.step", "parameters");
    const void* g = gradients.checked("optimizer.step", "gradients");
    beginStep();
    update(backend, p, g, learningRate, 0, parameterCount_);
}

void Optimizer::update(kernels::Backend& backend, void* parameters, const void* gradients, double learningRate,
                       std::int64_t begin, std::int64_t end) {
    if (begin < 0 || end > parameterCount_ || begin > end) {
        throw std::out_of_range("optimizer update range [" + std::to_string(begin) + ", " + std::to_string(end) +
                                ") outside " + std::to_string(parameterCount_) + " parameters");
    }
    if (config_.decayRanges.empty() || config_.weightDecay == 0.0) {
        updateRange(backend, parameters, gradients, learningRate, begin, end, config_.weightDecay);
        return;
    }
    // Alternating pieces without and with decay, in buffer order.
    std::int64_t at = begin;
    for (const auto& [first, last] : config_.decayRanges) {
        if (last <= at) continue;
        if (first >= end) break;
        if (first > at) updateRange(backend, parameters, gradients, learningRate, at, first, 0.0);
        const std::int64_t stop = std::min(last, end);
        updateRange(backend, parameters, gradients, learningRate, std::max(first, at), stop, config_.weightDecay);
        at = stop;
    }
    if (at < end) updateRange(backend, parameters, gradients, learningRate, at, end, 0.0);
}

void Optimizer::updateRange(kernels::Backend& backend, void* parameters, const void* gradients, double learningRate,
                            std::int64_t begin, std::int64_t end, double weightDecay) {
    const DType dtype = state_.dtype();
    const std::size_t element = kernels::sizeOf(dtype);
    const std::size_t offset = std::size_t(begin) * element;
    const std::int64_t count = end - begin;
    if (count == 0) return;
    void* p = static_cast<char*>(parameters) + offset;
    const void* g = static_cast<const char*>(gradients) + offset;
    // State segment s of this slice starts at (s * parameterCount + begin) elements.
    auto segment = [&](int s) {
        return static_cast<char*>(state_.raw()) + (std::size_t(s) * std::size_t(parameterCount_)) * element + offset;
    };
    switch (config_.kind) {
        case OptimizerKind::Sgd:
            backend.sgdUpdate(dtype, count, learningRate, weightDecay, g, p);
            break;
        case OptimizerKind::Nesterov:
            backend.nesterovUpdate(dtype, count, learningRate, config_.momentum, weightDecay, g, segment(0), p);
            break;
        case OptimizerKind::Adam: {
            kernels::AdamHyper hyper;
            hyper.learningRate = learningRate;
            hyper.beta1 = config_.beta1;
            hyper.beta2 = config_.beta2;
            hyper.epsilon = config_.epsilon;
            hyper.weightDecay = weightDecay;
            hyper.step = steps_;
            backend.adamUpdate(dtype, count, hyper, g, segment(0), segment(1), p);
            break;
        }
    }
}

}  // namespace cohort::optim
