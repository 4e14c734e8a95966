#pragma once
// A language model's head that shares the token table of the model's embedding (its first layer),
// as GPT-2 ties them: logits = x E^T + b for every token, E the embedding's [vocabulary, width]
// token rows, b [vocabulary] the head's only parameters of its own. Backward writes E's gradient
// from the head (the head's backward runs before the embedding's) and the embedding adds its own
// (Embedding::accumulateTokenGradients). The table is bound by Model through bindShared().
#include "src/nn/Layer.h"

namespace cohort::nn {

class TiedHead final : public Layer {
public:
    explicit TiedHead(std::int64_t vocabulary);
    std::string describe() const override;
    Shape outputShape(const Shape& inputSample) const override;
    void configure(const Shape& inputSample) override;
    std::int64_t parameterCount() const override { return vocabulary_; }
    std::vector<ParameterBlock> parameterBlocks() const override { return {{"bias", {vocabulary_}}}; }
    void bindParameters(void* parameters, void* gradients) override;
    void bindShared(std::vector<std::unique_ptr<Layer>>& layers) override;
    void initializeParameters(double* hostParameters, std::mt19937_64& generator) const override;
    Tensor forward(const Tensor& input, ExecutionContext& context) override;
    Tensor backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) override;
    std::unique_ptr<Layer> clone() const override { return std::make_unique<TiedHead>(vocabulary_); }
    void releaseCache() override { input_ = {}; }

private:
    std::int64_t vocabulary_, width_ = 0, tokens_ = 1;
    Shape outputSample_;
    void* bias_ = nullptr;
    void* biasGradient_ = nullptr;
    const void* table_ = nullptr;
    void* tableGradient_ = nullptr;
    Tensor input_;
};

}  // namespace cohort::nn
