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

std::vector<ParameterBlock> Layer::parameterBlocks() const {
    if (parameterCount() == 0) return {};
    return {{"parameters", {parameterCount()}}};
}

std::vector<ParameterBlock> Layer::statisticsBlocks() const {
    if (statisticsCount() == 0) return {};
    return {{"statistics", {statisticsCount()}}};
}

}  // namespace cohort::nn
