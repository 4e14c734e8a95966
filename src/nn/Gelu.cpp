#include "src/nn/Gelu.h"

namespace cohort::nn {

Tensor Gelu::forward(const Tensor& input, ExecutionContext& context) {
    Tensor output = Tensor::empty(input.shape(), input.dtype(), input.location());
    const void* x = input.checked("gelu.forward", "input");
    if (!context.training) {
        context.backend->geluForward(input.dtype(), input.elementCount(), x, output.raw());
        return output;
    }
    derivative_ = Tensor::empty(input.shape(), input.dtype(), input.location());
    context.backend->geluForwardWithDerivative(input.dtype(), input.elementCount(), x, output.raw(),
                                               derivative_.raw());
    return output;
}

Tensor Gelu::backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) {
    if (!needInputGradient) return {};
    Tensor gradInput = Tensor::empty(gradOutput.shape(), gradOutput.dtype(), gradOutput.location());
    context.backend->multiply(gradOutput.dtype(), gradOutput.elementCount(),
                              gradOutput.checked("gelu.backward", "gradOutput"),
                              derivative_.checked("gelu.backward", "derivative"), gradInput.raw());
    return gradInput;
}

// The output, and in training the derivative beside it; backward: the input gradient.
void Gelu::workspaceRequests(const Shape& inputSample, const PassQuery& query, std::vector<std::size_t>& bytes) const {
    Layer::workspaceRequests(inputSample, query, bytes);
    if (query.kind == PassQuery::Kind::TrainingForward) bytes.push_back(batchBytes(inputSample, query.batch, query.dtype));
}

}  // namespace cohort::nn
