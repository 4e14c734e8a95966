#pragma once
// Learning-rate schedules, as a pure function of the step index (so resume and multi-worker
// runs agree): constant, or cosine decay from the base rate to `finalFraction` of it with an
// optional linear warm-up.
#include <cstdint>
#include <string>

namespace cohort::optim {

enum class ScheduleKind { Constant, Cosine };
const char* toString(ScheduleKind kind);  // "constant", "cosine"

struct LearningRateSchedule {
    ScheduleKind kind = ScheduleKind::Cosine;
    double baseRate = 1e-3;
    std::int64_t totalSteps = 1;
    std::int64_t warmupSteps = 0;
    double finalFraction = 0.0;

    double at(std::int64_t step) const;  // step is 0-based
};

}  // namespace cohort::optim
