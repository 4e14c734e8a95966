#pragma once
// Shared by the kernel tests: a test type's DType, and the sizes and a readable description of a
// convolution or pooling shape (for SCOPED_TRACE).
#include <cstddef>
#include <string>
#include <type_traits>

#include "kernels/Backend.h"

namespace cohort::testing {

template <typename T>
constexpr kernels::DType dtypeOf() {
    return std::is_same_v<T, float> ? kernels::DType::Float32 : kernels::DType::Float64;
}

inline std::string describe(const kernels::ConvolutionShape& s) {
    return "batch " + std::to_string(s.batch) + ", " + std::to_string(s.inChannels) + "x" + std::to_string(s.height) +
           "x" + std::to_string(s.width) + " -> " + std::to_string(s.outChannels) + ", kernel " +
           std::to_string(s.kernel) + ", stride " + std::to_string(s.stride) + ", padding " + std::to_string(s.padding);
}

inline std::string describe(const kernels::PoolingShape& s) {
    return "batch " + std::to_string(s.batch) + ", " + std::to_string(s.channels) + "x" + std::to_string(s.height) +
           "x" + std::to_string(s.width) + ", window " + std::to_string(s.window) + ", stride " +
           std::to_string(s.stride);
}

inline std::size_t inputSize(const kernels::ConvolutionShape& s) {
    return std::size_t(s.batch * s.inChannels * s.height * s.width);
}
inline std::size_t outputSize(const kernels::ConvolutionShape& s) {
    return std::size_t(s.batch * s.outChannels * s.outHeight() * s.outWidth());
}
inline std::size_t weightSize(const kernels::ConvolutionShape& s) { return std::size_t(s.outChannels * s.patch()); }

}  // namespace cohort::testing
