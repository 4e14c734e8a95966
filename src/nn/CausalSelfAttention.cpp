#include "src/nn/CausalSelfAttention.h"

#include "src/core/Errors.h"

namespace cohort::nn {
namespace {

constexpr double kGpt2Std = 0.02;

}  // namespace

CausalSelfAttention::CausalSelfAttention(std::int64_t heads, double outputStd)
    : heads_(heads),
      outputStd_(outputStd),
      qkv_(1, kernels::Activation::Identity, true, kGpt2Std),
      projection_(1, kernels::Activation::Identity, true, outputStd > 0.0 ? outputStd : kGpt2Std) {
    if (heads <= 0) throw InputError("attention needs a positive number of heads, got " + std::to_string(heads));
}

std::string CausalSelfAttention::describe() const {
    return "attention(" + std::to_string(positions_) + "x" + std::to_string(width_) + ",heads=" +
           std::to_string(heads_) + ")";
}

void CausalSelfAttention::configure(const Shape& inputSample) {
    if (inputSample.rank() != 2) {
        throw InputError("attention expects samples of {positions, width}, got " + inputSample.toString());
    }
    positions_ = inputSample[0];
    width_ = inputSample[1];
    if (width_ % heads_ != 0) {
        throw InputError("attention: width " + std::to_string(width_) + " is not a multiple of " +
                         std::to_string(heads_) + " heads");
    }
    qkv_ = Dense(3 * width_, kernels::Activation::Identity, true, kGpt2Std);
    projection_ = Dense(width_, kernels::Activation::Identity, true, outputStd_ > 0.0 ? outputStd_ : kGpt2Std);
    qkv_.configure(inputSample);
    projection_.configure(inputSample);
}

std::vector<ParameterBlock> CausalSelfAttention::parameterBlocks() const {
    return {{"qkv.weight", {width_, 3 * width_}},
            {"qkv.bias", {3 * width_}},
            {"proj.weight", {width_, width_}},
            {"proj.bias", {width_}}};
}

void CausalSelfAttention::bindParameters(void* parameters, void* gradients) {
    parameters_ = parameters;
    gradients_ = gradients;
}

// The two projections' slices for elements of `dtype` (the layer learns its dtype from its input).
void CausalSelfAttention::bindProjections(DType dtype) {
    const std::size_t offset = std::size_t(qkv_.parameterCount()) * kernels::sizeOf(dtype);
    qkv_.bindParameters(parameters_, gradients_);
    projection_.bindParameters(static_cast<char*>(parameters_) + offset, static_cast<char*>(gradients_) + offset);
}

void CausalSelfAttention::initializeParameters(double* hostParameters, std::mt19937_64& generator) const {
    qkv_.initializeParameters(hostParameters, generator);
    projection_.initializeParameters(hostParameters + qkv_.parameterCount(), generator);
}

Tensor CausalSelfAttention::forward(const Tensor& input, ExecutionContext& context) {
    return projection_.forward(mixedHeads(input, context), context);
}

Tensor CausalSelfAttention::forwardAdding(const Tensor& input, const Tensor& addend, ExecutionContext& context) {
    return projection_.forwardAdding(mixedHeads(input, context), addend, context);
}

// The QKV projection and the attention itself: the heads' outputs side by side, before the output
// projection.
Tensor CausalSelfAttention::mixedHeads(const Tensor& input, ExecutionContext& context) {
    requireSampleSize(input, positions_ * width_, "attention");
    const DType dtype = input.dtype();
    const std::int64_t batch = input.dim(0);
    bindProjections(dtype);
    Tensor qkv = qkv_.forward(input, context);
    Tensor probabilities = Tensor::empty(Shape{batch, heads_, positions_, positions_}, dtype, input.location());
    Tensor mixed = Tensor::empty(input.shape(), dtype, input.location());
    {
        Tensor scratch = Tensor::empty(input.shape(), dtype, input.location());  // batch * heads * headWidth * positions
        context.backend->attentionForward(dtype, batch, positions_, heads_, width_ / heads_, qkv.raw(),
                                          probabilities.raw(), mixed.raw(), scratch.raw());
    }
    if (context.training) {
        qkvOutput_ = qkv;
        probabilities_ = probabilities;
    }
    return mixed;
}

Tensor CausalSelfAttention::backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) {
    const DType dtype = gradOutput.dtype();
    const std::int64_t batch = gradOutput.dim(0);
    Tensor gradMixed = projection_.backward(gradOutput, context, true);
    Tensor scratch = Tensor::empty(Shape{batch, heads_, positions_, positions_ + width_ / heads_}, dtype,
                                   gradOutput.location());
    Tensor gradQkv = Tensor::empty(qkvOutput_.shape(), dtype, gradOutput.location());
    context.backend->attentionBackward(dtype, batch, positions_, heads_, width_ / heads_,
                                       qkvOutput_.checked("attention.backward", "qkv"),
                                       probabilities_.checked("attention.backward", "probabilities"),
                                       gradMixed.raw(), scratch.raw(), gradQkv.raw());
    return qkv_.backward(gradQkv, context, needInputGradient);
}

void CausalSelfAttention::workspaceRequests(const Shape& inputSample, const PassQuery& query,
                                            std::vector<std::size_t>& bytes) const {
    const Shape qkvSample{positions_, 3 * width_};
    const std::size_t scores = batchBytes(Shape{heads_, positions_, positions_}, query.batch, query.dtype);
    if (query.kind != PassQuery::Kind::Backward) {
        qkv_.workspaceRequests(inputSample, query, bytes);
        bytes.push_back(scores);
        bytes.push_back(batchBytes(inputSample, query.batch, query.dtype));  // the heads' outputs
        bytes.push_back(batchBytes(inputSample, query.batch, query.dtype));  // the backend's scratch
        projection_.workspaceRequests(inputSample, query, bytes);
        return;
    }
    PassQuery withInput = query;
    withInput.needInputGradient = true;
    projection_.workspaceRequests(inputSample, withInput, bytes);
    bytes.push_back(batchBytes(Shape{heads_, positions_, positions_ + width_ / heads_}, query.batch, query.dtype));
    bytes.push_back(batchBytes(qkvSample, query.batch, query.dtype));
    qkv_.workspaceRequests(inputSample, query, bytes);
}

void CausalSelfAttention::releaseCache() {
    qkv_.releaseCache();
    projection_.releaseCache();
    qkvOutput_ = {};
    probabilities_ = {};
}

}  // namespace cohort::nn
