// The parts of the Backend contract that belong to no one backend: names of the enumerations,
// element sizes, and the default (refusing) capture.
#include "kernels/Backend.h"

#include <stdexcept>

namespace cohort::kernels {

std::size_t sizeOf(DType dtype) { return dtype == DType::Float32 ? 4 : 8; }
void Backend::beginCapture() { throw std::logic_error(name() + " cannot capture work for replay"); }
std::unique_ptr<Backend::Captured> Backend::endCapture(std::string* whyNot) {
    if (whyNot) *whyNot = name() + " cannot capture work for replay";
    return nullptr;
}

const char* toString(PoolingMode mode) { return mode == PoolingMode::Max ? "max" : "average"; }
const char* toString(DType dtype) { return dtype == DType::Float32 ? "float32" : "float64"; }
const char* toString(Activation activation) {
    switch (activation) {
        case Activation::Relu: return "relu";
        case Activation::Tanh: return "tanh";
        case Activation::Sigmoid: return "sigmoid";
        case Activation::Identity: break;
    }
    return "identity";
}

}  // namespace cohort::kernels
