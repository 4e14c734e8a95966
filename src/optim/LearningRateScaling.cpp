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

LearningRateScaling resolveScaling(LearningRateScaling scaling, OptimizerKind optimizer) {
    if (scaling != LearningRateScaling::Auto) return scaling;
    // Measured on Fashion-MNIST with 2 to 8 replicas and a one-epoch warm-up (docs/BENCHMARKS.md):
    // linear was best for SGD and, against the square-root rule derived for it, for Adam (by 0.3
    // to 1.1 points); with Nesterov's momentum, 8 times the rate was too large (0.9 points below
    // the square root at 8 replicas, level at 4).
    return optimizer == OptimizerKind::Nesterov ? LearningRateScaling::SquareRoot : LearningRateScaling::Linear;
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
