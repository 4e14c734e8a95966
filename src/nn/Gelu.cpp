#include "src/nn/Gelu.h"

namespace cohort::nn {

Tensor Gelu::forward(const Tensor& input, ExecutionContext& context) {
    Tensor output = Tensor::empty(input.shape(), input.dtype(), input.location());
    context.backend->geluForward(input.dtype(), input.elementCount(), input.checked("gelu.forward", "input"),
                                 output.raw());
    if (context.training) input_ = input;
    return output;
}

Tensor Gelu::backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) {
    if (!needInputGradient) return {};
    Tensor gradInput = Tensor::empty(gradOutput.shape(), gradOutput.dtype(), gradOutput.location());
    context.backend->geluBackward(gradOutput.dtype(), gradOutput.elementCount(), input_.checked("gelu.backward", "input"),
                                  gradOutput.checked("gelu.backward", "gradOutput"), gradInput.raw());
    return gradInput;
}

}  // namespace cohort::nn
