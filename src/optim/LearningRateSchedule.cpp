#include "src/optim/LearningRateSchedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace cohort::optim {

const char* toString(ScheduleKind kind) { return kind == ScheduleKind::Constant ? "constant" : "cosine"; }

double LearningRateSchedule::at(std::int64_t step) const {
    if (warmupSteps > 0 && step < warmupSteps) return baseRate * double(step + 1) / double(warmupSteps);
    if (kind == ScheduleKind::Constant) return baseRate;
    const double span = double(std::max<std::int64_t>(1, totalSteps - warmupSteps));
    const double progress = std::clamp(double(step - warmupSteps) / span, 0.0, 1.0);
    const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
    return baseRate * (finalFraction + (1.0 - finalFraction) * cosine);
}

}  // namespace cohort::optim
