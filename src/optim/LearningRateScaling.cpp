#include "src/optim/LearningRateScaling.h"

#include <cmath>
#include <string>

#include "src/core/Errors.h"

namespace cohort::optim {

const char* toString(LearningRateScaling scaling) {
    switch (scaling) {
        case LearningRateScaling::None: return "none";
        case LearningRateScaling::Linear: return "linear";
        case LearningRateScaling::SquareRoot: return "sqrt";
        case LearningRateScaling::Auto: break;
    }
    return "auto";
}

LearningRateScaling resolveScaling(LearningRateScaling scaling, [[maybe_unused]] OptimizerKind optimizer) {
    if (scaling != LearningRateScaling::Auto) return scaling;
    // Measured on Fashion-MNIST with 2 to 8 replicas (docs/BENCHMARKS.md): for Adam, linear with
    // a one-epoch warm-up was 0.7 to 1.2 points above the square-root rule, averaging or sharing
    // gradients; for SGD and Nesterov linear is the standard rule and measured best too. The
    // choice stays per optimizer, for an optimizer that measures otherwise.
    return LearningRateScaling::Linear;
}

double learningRateScale(LearningRateScaling scaling, OptimizerKind optimizer, int replicas) {
    if (replicas < 1) throw SettingError("{replicas} must be >= 1, got " + std::to_string(replicas));
    switch (resolveScaling(scaling, optimizer)) {
        case LearningRateScaling::Linear: return double(replicas);
        case LearningRateScaling::SquareRoot: return std::sqrt(double(replicas));
        case LearningRateScaling::None:
        case LearningRateScaling::Auto: break;
    }
    return 1.0;
}

}  // namespace cohort::optim
