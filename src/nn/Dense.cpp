#include "src/nn/Dense.h"

#include <algorithm>
#include <cmath>

#include "src/core/Errors.h"

namespace cohort::nn {

Dense::Dense(std::int64_t outputs, kernels::Activation activation, bool perToken, double initStd)
    : outputs_(outputs), activation_(activation), perToken_(perToken), initStd_(initStd) {
    if (outputs <= 0) throw InputError("dense layer needs a positive size, got " + std::to_string(outputs));
}

std::string Dense::describe() const {
    return "dense(" + std::to_string(inputs_) + "->" + std::to_string(outputs_) + "," +
           kernels::toString(activation_) + (perToken_ ? ",per-token" : "") + ")";
}

Shape Dense::outputShape(const Shape& inputSample) const {
    if (!perToken_ || inputSample.rank() == 0) return Shape{outputs_};
    Shape output = inputSample;
    output[inputSample.rank() - 1] = outputs_;
    return output;
}

void Dense::configure(const Shape& inputSample) {
    inputs_ = perToken_ && inputSample.rank() > 0 ? inputSample[inputSample.rank() - 1] : inputSample.elementCount();
    tokens_ = inputSample.elementCount() / std::max<std::int64_t>(1, inputs_);
    outputSample_ = outputShape(inputSample);
}

void Dense::bindParameters(void* parameters, void* gradients) {
    weights_ = parameters;
    weightGradients_ = gradients;
}

void Dense::initializeParameters(double* hostParameters, std::mt19937_64& generator) const {
    // N(0, initStd) when asked for; else He (Kaiming) uniform for ReLU, Glorot (Xavier) uniform
    // otherwise; biases start at zero.
    if (initStd_ > 0.0) {
        std::normal_distribution<double> normal(0.0, initStd_);
        for (std::int64_t i = 0; i < inputs_ * outputs_; ++i) hostParameters[i] = normal(generator);
        for (std::int64_t i = 0; i < outputs_; ++i) hostParameters[inputs_ * outputs_ + i] = 0.0;
        return;
    }
    const double bound = activation_ == kernels::Activation::Relu
                             ? std::sqrt(6.0 / double(inputs_))
                             : std::sqrt(6.0 / double(inputs_ + outputs_));
    std::uniform_real_distribution<double> uniform(-bound, bound);
    for (std::int64_t i = 0; i < inputs_ * outputs_; ++i) hostParameters[i] = uniform(generator);
    for (std::int64_t i = 0; i < outputs_; ++i) hostParameters[inputs_ * outputs_ + i] = 0.0;
}

Tensor Dense::forward(const Tensor& input, ExecutionContext& context) { return forwardOnto(input, nullptr, context); }

// Without an activation the addend goes into the output pass (Backend::denseForward); with one it
// is added after it (y then holds act(.) + addend, which backward, reading y, could not use: a
// residual block asks only layers that do not read their output, Residual::sumsInPlace).
Tensor Dense::forwardAdding(const Tensor& input, const Tensor& addend, ExecutionContext& context) {
    if (activation_ != kernels::Activation::Identity) return Layer::forwardAdding(input, addend, context);
    return forwardOnto(input, addend.checked("dense.forward", "addend"), context);
}

Tensor Dense::forwardOnto(const Tensor& input, const void* addend, ExecutionContext& context) {
    requireSampleSize(input, inputs_ * tokens_, "dense layer");
    const std::int64_t batch = input.dim(0) * tokens_;  // rows
    Tensor output = Tensor::empty(outputSample_.withBatch(input.dim(0)), input.dtype(), input.location());
    const std::size_t element = kernels::sizeOf(input.dtype());
    const char* bias = static_cast<const char*>(weights_) + std::size_t(inputs_ * outputs_) * element;
    auto& backend = *context.backend;
    backend.denseForward(input.dtype(), activation_, batch, outputs_, inputs_,
                         input.checked("dense.forward", "input"), weights_, bias, addend, output.raw());
    if (context.training) {
        input_ = input;
        output_ = output;
    }
    return output;
}

Tensor Dense::backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) {
    const std::int64_t batch = gradOutput.dim(0) * tokens_;  // rows
    auto& backend = *context.backend;
    const DType dtype = gradOutput.dtype();
    const void* delta = gradOutput.checked("dense.backward", "gradOutput");
    Tensor preActivation;
    if (activation_ != kernels::Activation::Identity) {
        preActivation = Tensor::empty(gradOutput.shape(), dtype, gradOutput.location());
        backend.activationBackward(dtype, activation_, gradOutput.elementCount(),
                                   output_.checked("dense.backward", "output"), delta, preActivation.raw());
        delta = preActivation.raw();
    }
    const std::size_t element = kernels::sizeOf(dtype);
    char* biasGradient = static_cast<char*>(weightGradients_) + std::size_t(inputs_ * outputs_) * element;
    // dW = x^T * delta, db = column sums of delta.
    backend.gemm(dtype, true, false, inputs_, outputs_, batch, 1.0, input_.checked("dense.backward", "input"),
                 inputs_, delta, outputs_, 0.0, weightGradients_, outputs_);
    backend.columnSum(dtype, batch, outputs_, delta, biasGradient, false);
    if (!needInputGradient) return {};
    Tensor gradInput = Tensor::empty(input_.shape(), dtype, gradOutput.location());
    backend.gemm(dtype, false, true, batch, inputs_, outputs_, 1.0, delta, outputs_, weights_, outputs_,
                 0.0, gradInput.raw(), inputs_);
    return gradInput;
}

// What forward() and backward() above take from the workspace.
void Dense::workspaceRequests(const Shape& inputSample, const PassQuery& query, std::vector<std::size_t>& bytes) const {
    const std::size_t output = batchBytes(outputShape(inputSample), query.batch, query.dtype);
    if (query.kind != PassQuery::Kind::Backward) {
        bytes.push_back(output);
        return;
    }
    if (activation_ != kernels::Activation::Identity) bytes.push_back(output);  // the pre-activation gradient
    if (query.needInputGradient) bytes.push_back(batchBytes(inputSample, query.batch, query.dtype));
}

std::unique_ptr<Layer> Dense::clone() const {
    return std::make_unique<Dense>(outputs_, activation_, perToken_, initStd_);
}

}  // namespace cohort::nn
