#include "src/nn/Layer.h"

#include "src/core/Errors.h"

namespace cohort::nn {

void requireSampleSize(const Tensor& input, std::int64_t expected, const char* layer) {
    const std::int64_t got = input.shape().innerCount();
    if (got != expected) {
        throw InputError(std::string(layer) + " expects " + std::to_string(expected) + " inputs per sample, got " +
                         std::to_string(got));
    }
}

std::size_t batchBytes(const Shape& sample, std::int64_t batch, DType dtype) {
    return std::size_t(memory::saturatingMultiply(memory::saturatingMultiply(batch, sample.elementCount()),
                                                  std::int64_t(kernels::sizeOf(dtype))));
}

void Layer::workspaceRequests(const Shape& inputSample, const PassQuery& query, std::vector<std::size_t>& bytes) const {
    if (query.kind != PassQuery::Kind::Backward) {
        bytes.push_back(batchBytes(outputShape(inputSample), query.batch, query.dtype));  // the output
    } else if (query.needInputGradient) {
        bytes.push_back(batchBytes(inputSample, query.batch, query.dtype));  // the input gradient
    }
}

Tensor Layer::forwardAdding(const Tensor& input, const Tensor& addend, ExecutionContext& context) {
    Tensor output = forward(input, context);
    context.backend->axpby(addend.dtype(), addend.elementCount(), 1.0, addend.raw(), 1.0, output.raw());
    return output;
}

std::vector<ParameterBlock> Layer::parameterBlocks() const {
    if (parameterCount() == 0) return {};
    return {{"parameters", {parameterCount()}}};
}

std::vector<ParameterBlock> Layer::statisticsBlocks() const {
    if (statisticsCount() == 0) return {};
    return {{"statistics", {statisticsCount()}}};
}

}  // namespace cohort::nn
