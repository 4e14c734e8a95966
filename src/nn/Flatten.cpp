#include "src/nn/Flatten.h"

namespace cohort::nn {

Tensor Flatten::forward(const Tensor& input, ExecutionContext& context) {
    if (context.training) inputShape_ = input.shape();
    return input.reshape(Shape{input.dim(0), input.shape().innerCount()});
}

Tensor Flatten::backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) {
    (void)context;
    if (!needInputGradient) return {};
    return gradOutput.reshape(inputShape_);
}

}  // namespace cohort::nn
