#pragma once
// kernels/cpu/CpuOptimizers.h — the CPU backend's fused optimizer updates (SGD, Nesterov, AdamW;
// see Backend.h for the formulas): one pass over the flat buffer each, elementwise, so the loops
// vectorise (the kernels library is built with -fno-math-errno for Adam's sqrt).
#include <cstdint>

#include "kernels/Backend.h"

namespace cohort::kernels::cpu_detail {

void sgdUpdate(DType dtype, std::int64_t count, double learningRate, double weightDecay, const void* gradient,
               void* parameters);
void nesterovUpdate(DType dtype, std::int64_t count, double learningRate, double momentum, double weightDecay,
                    const void* gradient, void* velocity, void* parameters);
void outerUpdate(DType dtype, std::int64_t count, double learningRate, double momentum, void* parameters, void* anchor,
                 void* velocity);
void adamUpdate(DType dtype, std::int64_t count, const AdamHyper& hyper, const void* gradient, void* firstMoment,
                void* secondMoment, void* parameters);

}  // namespace cohort::kernels::cpu_detail
