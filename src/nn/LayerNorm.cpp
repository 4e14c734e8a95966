#include "src/nn/LayerNorm.h"

#include <cstdio>

#include "src/core/Errors.h"

namespace cohort::nn {

std::string LayerNorm::describe() const {
    char text[64];
    std::snprintf(text, sizeof text, "layernorm(%lld, eps=%g)", static_cast<long long>(features_), epsilon_);
    return text;
}

void LayerNorm::configure(const Shape& inputSample) {
    if (inputSample.rank() < 1 || inputSample.elementCount() < 1) throw InputError("layer norm needs a non-empty input");
    features_ = inputSample[inputSample.rank() - 1];
    rowsPerSample_ = inputSample.elementCount() / features_;
}

void LayerNorm::bindParameters(void* parameters, void* gradients) {
    parameters_ = parameters;
    gradients_ = gradients;
}

void LayerNorm::initializeParameters(double* hostParameters, std::mt19937_64& generator) const {
    (void)generator;
    for (std::int64_t f = 0; f < features_; ++f) {
        hostParameters[f] = 1.0;              // gain
        hostParameters[features_ + f] = 0.0;  // bias
    }
}

Tensor LayerNorm::forward(const Tensor& input, ExecutionContext& context) {
    requireSampleSize(input, rowsPerSample_ * features_, "layer norm");
    const DType dtype = input.dtype();
    const std::size_t element = kernels::sizeOf(dtype);
    const std::int64_t rows = input.dim(0) * rowsPerSample_;
    const char* gain = static_cast<const char*>(parameters_);
    Tensor output = Tensor::empty(input.shape(), dtype, input.location());
    saved_ = Tensor::empty(Shape{2 * rows}, dtype, input.location());
    char* mean = static_cast<char*>(saved_.raw());
    context.backend->layerNormForward(dtype, rows, features_, epsilon_, input.checked("layernorm.forward", "input"), gain,
                                      gain + std::size_t(features_) * element, output.raw(), mean,
                                      mean + std::size_t(rows) * element);
    if (context.training) input_ = input;
    else saved_ = {};
    return output;
}

Tensor LayerNorm::backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) {
    const DType dtype = gradOutput.dtype();
    const std::size_t element = kernels::sizeOf(dtype);
    const std::int64_t rows = input_.dim(0) * rowsPerSample_;
    const char* gain = static_cast<const char*>(parameters_);
    char* gradGain = static_cast<char*>(gradients_);
    const char* mean = static_cast<const char*>(saved_.checked("layernorm.backward", "saved statistics"));
    Tensor gradInput;
    if (needInputGradient) gradInput = Tensor::empty(input_.shape(), dtype, gradOutput.location());
    context.backend->layerNormBackward(dtype, rows, features_, input_.checked("layernorm.backward", "input"), gain, mean,
                                       mean + std::size_t(rows) * element,
                                       gradOutput.checked("layernorm.backward", "gradOutput"),
                                       needInputGradient ? gradInput.raw() : nullptr, gradGain,
                                       gradGain + std::size_t(features_) * element);
    return gradInput;
}

// What forward() and backward() above take from the workspace: the output and each row's mean and
// rstd (in every pass: the forward keeps them only in training, but allocates them always),
// backward the input gradient.
void LayerNorm::workspaceRequests(const Shape& inputSample, const PassQuery& query, std::vector<std::size_t>& bytes) const {
    Layer::workspaceRequests(inputSample, query, bytes);
    if (query.kind != PassQuery::Kind::Backward) {
        bytes.push_back(batchBytes(Shape{2 * rowsPerSample_}, query.batch, query.dtype));
    }
}

}  // namespace cohort::nn
