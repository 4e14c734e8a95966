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
    return optimizer == OptimizerKind::Adam ? LearningRateScaling::SquareRoot : LearningRateScaling::Linear;
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
