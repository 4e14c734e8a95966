#include "src/nn/TiedHead.h"

#include "src/core/Errors.h"
#include "src/nn/Embedding.h"

namespace cohort::nn {

TiedHead::TiedHead(std::int64_t vocabulary) : vocabulary_(vocabulary) {
    if (vocabulary < 1) throw InputError("a tied head needs a vocabulary of at least 1");
}

std::string TiedHead::describe() const {
    return "tied-head(" + std::to_string(width_) + "->" + std::to_string(vocabulary_) + ")";
}

Shape TiedHead::outputShape(const Shape& inputSample) const {
    if (inputSample.rank() != 2) {
        throw InputError("a tied head reads {positions, width} samples, got " + inputSample.toString());
    }
    return Shape{inputSample[0], vocabulary_};
}

void TiedHead::configure(const Shape& inputSample) {
    outputSample_ = outputShape(inputSample);
    width_ = inputSample[1];
    tokens_ = inputSample[0];
}

void TiedHead::bindParameters(void* parameters, void* gradients) {
    bias_ = parameters;
    biasGradient_ = gradients;
}

void TiedHead::bindShared(std::vector<std::unique_ptr<Layer>>& layers) {
    auto* embedding = layers.empty() ? nullptr : dynamic_cast<Embedding*>(layers.front().get());
    if (!embedding || embedding->vocabulary() != vocabulary_ || embedding->width() != width_) {
        throw InputError("a tied head needs the model to start with an embedding of " + std::to_string(vocabulary_) +
                         " tokens x " + std::to_string(width_) + " (it shares its token table)");
    }
    table_ = embedding->tokenTable();
    tableGradient_ = embedding->tokenGradients();
    embedding->accumulateTokenGradients();
}

void TiedHead::initializeParameters(double* hostParameters, std::mt19937_64& generator) const {
    (void)generator;
    for (std::int64_t i = 0; i < vocabulary_; ++i) hostParameters[i] = 0.0;
}

Tensor TiedHead::forward(const Tensor& input, ExecutionContext& context) {
    requireSampleSize(input, tokens_ * width_, "tied head");
    const DType dtype = input.dtype();
    const std::int64_t rows = input.dim(0) * tokens_;
    Tensor output = Tensor::empty(outputSample_.withBatch(input.dim(0)), dtype, input.location());
    auto& backend = *context.backend;
    // logits = x E^T: E is [vocabulary, width] row-major.
    backend.gemm(dtype, false, true, rows, vocabulary_, width_, 1.0, input.checked("tied-head.forward", "input"), width_,
                 table_, width_, 0.0, output.raw(), vocabulary_);
    backend.biasActivationForward(dtype, kernels::Activation::Identity, rows, vocabulary_, output.raw(), bias_, output.raw());
    if (context.training) input_ = input;
    return output;
}

Tensor TiedHead::backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) {
    const DType dtype = gradOutput.dtype();
    const std::int64_t rows = gradOutput.dim(0) * tokens_;
    const void* delta = gradOutput.checked("tied-head.backward", "gradOutput");
    auto& backend = *context.backend;
    // dE = dY^T x (written; the embedding adds its part later), db = column sums of dY.
    backend.gemm(dtype, true, false, vocabulary_, width_, rows, 1.0, delta, vocabulary_,
                 input_.checked("tied-head.backward", "input"), width_, 0.0, tableGradient_, width_);
    backend.columnSum(dtype, rows, vocabulary_, delta, biasGradient_, false);
    if (!needInputGradient) return {};
    Tensor gradInput = Tensor::empty(input_.shape(), dtype, gradOutput.location());
    backend.gemm(dtype, false, false, rows, width_, vocabulary_, 1.0, delta, vocabulary_, table_, width_, 0.0,
                 gradInput.raw(), width_);
    return gradInput;
}

}  // namespace cohort::nn
