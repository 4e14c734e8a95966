#include "src/nn/Residual.h"

#include "src/core/Errors.h"

namespace cohort::nn {

Residual::Residual(std::vector<std::unique_ptr<Layer>> body) : body_(std::move(body)) {
    if (body_.empty()) throw InputError("a residual block needs at least one layer");
}

std::string Residual::describe() const {
    std::string text = "residual(";
    for (std::size_t i = 0; i < body_.size(); ++i) text += (i ? " | " : "") + body_[i]->describe();
    return text + ")";
}

void Residual::configure(const Shape& inputSample) {
    inputs_.clear();
    offsets_.clear();
    parameters_ = 0;
    Shape shape = inputSample;
    for (auto& layer : body_) {
        inputs_.push_back(shape);
        layer->configure(shape);
        if (layer->statisticsCount() > 0) throw InputError("a residual block cannot hold " + layer->describe());
        offsets_.push_back(parameters_);
        parameters_ += layer->parameterCount();
        shape = layer->outputShape(shape);
    }
    if (!(shape == inputSample)) {
        throw InputError("a residual block must keep its input's shape " + inputSample.toString() + ", its body gives " +
                         shape.toString());
    }
}

std::vector<ParameterBlock> Residual::parameterBlocks() const {
    std::vector<ParameterBlock> blocks;
    for (std::size_t i = 0; i < body_.size(); ++i) {
        if (body_[i]->parameterCount() == 0) continue;
        for (auto block : body_[i]->parameterBlocks()) {
            block.name = std::to_string(i) + "." + block.name;
            blocks.push_back(std::move(block));
        }
    }
    return blocks;
}

void Residual::bindParameters(void* parameters, void* gradients) {
    parameterBase_ = parameters;
    gradientBase_ = gradients;
    bound_ = false;
}

// The body's slices for elements of `dtype` (learnt from the input, as the layers learn it).
void Residual::bindBody(DType dtype) {
    if (bound_ && boundFor_ == dtype) return;
    const std::size_t element = kernels::sizeOf(dtype);
    for (std::size_t i = 0; i < body_.size(); ++i) {
        const std::size_t offset = std::size_t(offsets_[i]) * element;
        body_[i]->bindParameters(static_cast<char*>(parameterBase_) + offset, static_cast<char*>(gradientBase_) + offset);
    }
    boundFor_ = dtype;
    bound_ = true;
}

void Residual::initializeParameters(double* hostParameters, std::mt19937_64& generator) const {
    for (std::size_t i = 0; i < body_.size(); ++i) body_[i]->initializeParameters(hostParameters + offsets_[i], generator);
}

std::int64_t Residual::workingElementsPerSample() const {
    std::int64_t elements = 0;
    for (std::size_t i = 0; i < body_.size(); ++i) {
        elements += body_[i]->outputShape(inputs_[i]).elementCount() + body_[i]->workingElementsPerSample();
    }
    return elements;
}

Tensor Residual::forward(const Tensor& input, ExecutionContext& context) {
    bindBody(input.dtype());
    Tensor x = input;
    if (sumsInPlace()) {  // the body's output is nobody's but ours: the sum goes into it
        for (std::size_t i = 0; i + 1 < body_.size(); ++i) x = body_[i]->forward(x, context);
        return body_.back()->forwardAdding(x, input, context);
    }
    for (auto& layer : body_) x = layer->forward(x, context);
    Tensor output = Tensor::empty(input.shape(), input.dtype(), input.location());
    context.backend->copy(input.byteCount(), input.raw(), output.raw());
    context.backend->axpby(input.dtype(), input.elementCount(), 1.0, x.raw(), 1.0, output.raw());
    return output;
}

Tensor Residual::backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) {
    Tensor gradient = gradOutput;
    for (std::size_t i = body_.size(); i-- > 0;) gradient = body_[i]->backward(gradient, context, true);
    if (!needInputGradient) return {};
    if (sumsInPlace()) {  // the body's input gradient is a fresh tensor: the sum goes into it
        context.backend->axpby(gradOutput.dtype(), gradOutput.elementCount(), 1.0, gradOutput.raw(), 1.0, gradient.raw());
        return gradient;
    }
    Tensor gradInput = Tensor::empty(gradOutput.shape(), gradOutput.dtype(), gradOutput.location());
    context.backend->copy(gradOutput.byteCount(), gradOutput.raw(), gradInput.raw());
    context.backend->axpby(gradOutput.dtype(), gradOutput.elementCount(), 1.0, gradient.raw(), 1.0, gradInput.raw());
    return gradInput;
}

void Residual::workspaceRequests(const Shape& inputSample, const PassQuery& query, std::vector<std::size_t>& bytes) const {
    if (query.kind != PassQuery::Kind::Backward) {
        for (std::size_t i = 0; i < body_.size(); ++i) body_[i]->workspaceRequests(inputs_[i], query, bytes);
        if (!sumsInPlace()) bytes.push_back(batchBytes(inputSample, query.batch, query.dtype));
        return;
    }
    PassQuery withInput = query;
    withInput.needInputGradient = true;
    for (std::size_t i = body_.size(); i-- > 0;) body_[i]->workspaceRequests(inputs_[i], withInput, bytes);
    if (query.needInputGradient && !sumsInPlace()) bytes.push_back(batchBytes(inputSample, query.batch, query.dtype));
}

// The sums go into the body's own tensors (its output forward, its input gradient backward) when
// its last layer does not read its output again and its first makes a fresh input gradient (a
// layer that passes its gradient through unchanged would hand back the caller's tensor).
bool Residual::sumsInPlace() const {
    return !body_.back()->readsOutputInBackward() && body_.front()->makesFreshInputGradient();
}

std::unique_ptr<Layer> Residual::clone() const {
    std::vector<std::unique_ptr<Layer>> body;
    for (const auto& layer : body_) body.push_back(layer->clone());
    return std::make_unique<Residual>(std::move(body));
}

void Residual::releaseCache() {
    for (auto& layer : body_) layer->releaseCache();
}

}  // namespace cohort::nn
