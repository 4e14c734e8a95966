#pragma once
// Calls function(float{}) or function(double{}) as `dtype` says, so a backend writes each
// operation once as a template over the element type. Shared by the CPU and CUDA backends.
#include "kernels/Backend.h"

namespace cohort::kernels {

template <typename Function>
void dispatch(DType dtype, Function&& function) {
    if (dtype == DType::Float32) {
        function(float{});
    } else {
        function(double{});
    }
}

}  // namespace cohort::kernels
