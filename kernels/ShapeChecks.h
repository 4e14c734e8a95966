#pragma once
// Argument checks every backend's convolution and pooling share, so a bad shape or a short
// workspace gets the same one-line std::invalid_argument (naming the operation) on the CPU and on
// a GPU.
#include <cstddef>
#include <stdexcept>
#include <string>

#include "kernels/Backend.h"

namespace cohort::kernels {

// "batch 2, 3x9x7 -> 4, kernel 3, stride 2, padding 1": how the checks below (and tests) name a shape.
inline std::string toString(const ConvolutionShape& s) {
    return "batch " + std::to_string(s.batch) + ", " + std::to_string(s.inChannels) + "x" + std::to_string(s.height) +
           "x" + std::to_string(s.width) + " -> " + std::to_string(s.outChannels) + ", kernel " +
           std::to_string(s.kernel) + ", stride " + std::to_string(s.stride) + ", padding " + std::to_string(s.padding);
}

// "batch 2, 3x8x8, window 2, stride 2"
inline std::string toString(const PoolingShape& s) {
    return "batch " + std::to_string(s.batch) + ", " + std::to_string(s.channels) + "x" + std::to_string(s.height) +
           "x" + std::to_string(s.width) + ", window " + std::to_string(s.window) + ", stride " +
           std::to_string(s.stride);
}

inline void requireShape(const ConvolutionShape& s, const char* operation) {
    if (s.batch <= 0 || s.inChannels <= 0 || s.height <= 0 || s.width <= 0 || s.outChannels <= 0 || s.kernel <= 0 ||
        s.stride <= 0 || s.padding < 0 || s.height + 2 * s.padding < s.kernel || s.width + 2 * s.padding < s.kernel ||
        s.outHeight() <= 0 || s.outWidth() <= 0) {
        throw std::invalid_argument(std::string(operation) + ": impossible convolution shape (" + toString(s) + ")");
    }
}

inline void requireShape(const PoolingShape& s, const char* operation) {
    if (s.batch <= 0 || s.channels <= 0 || s.window <= 0 || s.stride <= 0 || s.height < s.window ||
        s.width < s.window) {
        throw std::invalid_argument(std::string(operation) + ": impossible pooling shape (" + toString(s) + ")");
    }
}

inline void requireWorkspace(std::size_t needed, std::size_t given, const char* operation) {
    if (given < needed) {
        throw std::invalid_argument(std::string(operation) + ": workspace of " + std::to_string(given) +
                                    " bytes, needs " + std::to_string(needed) + " (ask convolutionWorkspaceBytes)");
    }
}

}  // namespace cohort::kernels
