#pragma once
// Learning-rate scaling with the replica count. R replicas with the same per-replica batch train
// on R times the samples per round, so each round should move further: the standard remedies
// multiply the peak learning rate by R (linear, for SGD: Goyal et al. 2017) or by sqrt(R)
// (square root, the rule derived for Adam: Malladi et al. 2022). Auto is the one that measured
// best for the optimizer, with a warm-up (docs/BENCHMARKS.md): linear for SGD and Adam, square
// root for Nesterov. A pure function of its arguments, so every process of a job, a resume and
// a planner compute the same factor.
#include "src/optim/Optimizer.h"

namespace cohort::optim {

enum class LearningRateScaling { None, Linear, SquareRoot, Auto };
const char* toString(LearningRateScaling scaling);  // "none", "linear", "sqrt", "auto"

// Auto made concrete (linear for SGD and Adam, square root for Nesterov); the others unchanged.
LearningRateScaling resolveScaling(LearningRateScaling scaling, OptimizerKind optimizer);

// The factor the learning rate is multiplied by for a job of `replicas` replicas (1 for None
// and for one replica). Throws SettingError naming {replicas} when it is below 1.
double learningRateScale(LearningRateScaling scaling, OptimizerKind optimizer, int replicas);

}  // namespace cohort::optim
