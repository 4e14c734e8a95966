#pragma once
// Shared by the kernel tests: a test type's DType and a convolution's buffer sizes (a shape's
// readable form for SCOPED_TRACE is kernels::toString, kernels/ShapeChecks.h).
#include <cstddef>
#include <type_traits>

#include "kernels/Backend.h"

namespace cohort::testing {

template <typename T>
constexpr kernels::DType dtypeOf() {
    return std::is_same_v<T, float> ? kernels::DType::Float32 : kernels::DType::Float64;
}

inline std::size_t inputSize(const kernels::ConvolutionShape& s) {
    return std::size_t(s.batch * s.inChannels * s.height * s.width);
}
inline std::size_t outputSize(const kernels::ConvolutionShape& s) {
    return std::size_t(s.batch * s.outChannels * s.outHeight() * s.outWidth());
}
inline std::size_t weightSize(const kernels::ConvolutionShape& s) { return std::size_t(s.outChannels * s.patch()); }

}  // namespace cohort::testing
