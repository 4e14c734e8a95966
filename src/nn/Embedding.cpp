#include "src/nn/Embedding.h"

#include <stdexcept>

#include "src/core/Errors.h"

namespace cohort::nn {

Embedding::Embedding(std::int64_t vocabulary, std::int64_t width) : vocabulary_(vocabulary), width_(width) {
    if (vocabulary < 1 || width < 1) throw InputError("an embedding needs a vocabulary and a width of at least 1");
}

std::string Embedding::describe() const {
    return "embedding(" + std::to_string(vocabulary_) + " tokens x " + std::to_string(positions_) + " positions -> " +
           std::to_string(width_) + ")";
}

Shape Embedding::outputShape(const Shape& inputSample) const {
    if (inputSample.rank() != 1) {
        throw InputError("an embedding reads a sequence of token ids (one dimension), got " +
                         std::to_string(inputSample.rank()) + " dimensions");
    }
    return Shape{inputSample[0], width_};
}

void Embedding::configure(const Shape& inputSample) {
    outputShape(inputSample);  // checks it
    positions_ = inputSample[0];
}

void Embedding::bindParameters(void* parameters, void* gradients) {
    parameters_ = parameters;
    gradients_ = gradients;
}

void Embedding::initializeParameters(double* hostParameters, std::mt19937_64& generator) const {
    std::normal_distribution<double> normal(0.0, 0.02);  // as GPT-2 draws its embeddings
    for (std::int64_t i = 0; i < parameterCount(); ++i) hostParameters[i] = normal(generator);
}

Tensor Embedding::forward(const Tensor& input, ExecutionContext& context) {
    requireSampleSize(input, positions_, "embedding");
    const DType dtype = input.dtype();
    const std::int64_t rows = input.dim(0) * positions_;
    const char* tokens = static_cast<const char*>(parameters_);
    Tensor output = Tensor::empty(Shape{input.dim(0), positions_, width_}, dtype, input.location());
    context.backend->embeddingForward(dtype, rows, positions_, width_, input.checked("embedding.forward", "input"), tokens,
                                      tokens + std::size_t(vocabulary_ * width_) * kernels::sizeOf(dtype), output.raw());
    if (context.training) input_ = input;
    return output;
}

Tensor Embedding::backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) {
    if (needInputGradient) throw std::logic_error("an embedding reads token ids, which have no gradient: it must come first");
    const DType dtype = gradOutput.dtype();
    char* gradTokens = static_cast<char*>(gradients_);
    Tensor own;  // with a tied head: this layer's part of the token gradient, added below
    if (accumulate_) own = Tensor::empty(Shape{vocabulary_, width_}, dtype, gradOutput.location());
    context.backend->embeddingBackward(dtype, input_.dim(0) * positions_, positions_, width_, vocabulary_,
                                       input_.checked("embedding.backward", "input"),
                                       gradOutput.checked("embedding.backward", "gradOutput"),
                                       accumulate_ ? own.raw() : gradTokens,
                                       gradTokens + std::size_t(vocabulary_ * width_) * kernels::sizeOf(dtype));
    if (accumulate_) context.backend->axpby(dtype, vocabulary_ * width_, 1.0, own.raw(), 1.0, gradTokens);
    return {};
}

void Embedding::workspaceRequests(const Shape& inputSample, const PassQuery& query, std::vector<std::size_t>& bytes) const {
    if (query.kind != PassQuery::Kind::Backward) {
        bytes.push_back(batchBytes(outputShape(inputSample), query.batch, query.dtype));
        return;
    }
    if (accumulate_) bytes.push_back(batchBytes(Shape{width_}, vocabulary_, query.dtype));
}

}  // namespace cohort::nn
