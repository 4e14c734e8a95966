#include "src/nn/ActivationLayer.h"

namespace cohort::nn {

Tensor ActivationLayer::forward(const Tensor& input, ExecutionContext& context) {
    Tensor output = Tensor::empty(input.shape(), input.dtype(), input.location());
    context.backend->biasActivationForward(input.dtype(), activation_, input.dim(0),
                                           input.shape().innerCount(),
                                           input.checked("activation.forward", "input"), nullptr,
                                           output.raw());
    if (context.training) output_ = output;
    return output;
}

Tensor ActivationLayer::backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) {
    if (!needInputGradient) return {};
    Tensor gradInput = Tensor::empty(gradOutput.shape(), gradOutput.dtype(), gradOutput.location());
    context.backend->activationBackward(gradOutput.dtype(), activation_, gradOutput.elementCount(),
                                        output_.checked("activation.backward", "output"),
                                        gradOutput.checked("activation.backward", "gradOutput"),
                                        gradInput.raw());
    return gradInput;
}

}  // namespace cohort::nn
