#include "src/nn/Dropout.h"

#include <cstdio>

#include "src/core/Errors.h"

namespace cohort::nn {

Dropout::Dropout(double rate) : rate_(rate) {
    if (!(rate >= 0.0 && rate < 1.0)) {
        throw InputError("dropout rate must be in [0, 1), got " + std::to_string(rate));
    }
}

std::string Dropout::describe() const {
    char text[48];
    std::snprintf(text, sizeof text, "dropout(%g)", rate_);
    return text;
}

Tensor Dropout::forward(const Tensor& input, ExecutionContext& context) {
    if (!context.training || rate_ == 0.0) return input;
    Tensor output = Tensor::empty(input.shape(), input.dtype(), input.location());
    mask_ = Tensor::empty(input.shape(), input.dtype(), input.location());
    // Offset the counter by iteration so every step draws a fresh mask (the same mask whether
    // the iteration comes from the host or from the step counter in backend memory).
    const std::uint64_t offset = context.stepCounter ? 0 : context.iteration * std::uint64_t(input.elementCount());
    context.backend->dropoutForward(input.dtype(), input.elementCount(), rate_, context.seed, offset,
                                    context.stepCounter, input.checked("dropout.forward", "input"), mask_.raw(),
                                    output.raw());
    return output;
}

Tensor Dropout::backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) {
    if (!needInputGradient) return {};
    if (rate_ == 0.0) return gradOutput;
    Tensor gradInput = Tensor::empty(gradOutput.shape(), gradOutput.dtype(), gradOutput.location());
    context.backend->multiply(gradOutput.dtype(), gradOutput.elementCount(),
                              gradOutput.checked("dropout.backward", "gradOutput"),
                              mask_.checked("dropout.backward", "mask"), gradInput.raw());
    return gradInput;
}

// What forward() and backward() above take from the workspace: in training the output and the
// mask, backward the input gradient; nothing at rate 0 or in inference.
void Dropout::workspaceRequests(const Shape& inputSample, const PassQuery& query, std::vector<std::size_t>& bytes) const {
    if (rate_ == 0.0) return;
    const std::size_t input = batchBytes(inputSample, query.batch, query.dtype);
    if (query.kind == PassQuery::Kind::TrainingForward) bytes.insert(bytes.end(), {input, input});
    if (query.kind == PassQuery::Kind::Backward && query.needInputGradient) bytes.push_back(input);
}

}  // namespace cohort::nn
