#pragma once
// Token and position embeddings, a language model's first layer: a sample is `positions` token
// ids (per-sample shape {positions}, carried as floating-point values like every sample; exact
// below 2^24), the output one `width`-wide vector per token, y[t] = tokens[id_t] + positions[t]
// (per-sample shape {positions, width}). Parameters: [tokens: vocabulary x width | positions:
// positions x width], drawn from N(0, 0.02) as GPT-2 does. Ids are not differentiable: it must be
// a model's first layer (ModelDescription checks; backward refuses an input gradient).
#include "src/nn/Layer.h"

namespace cohort::nn {

class Embedding final : public Layer {
public:
    Embedding(std::int64_t vocabulary, std::int64_t width);
    std::string describe() const override;
    Shape outputShape(const Shape& inputSample) const override;
    void configure(const Shape& inputSample) override;
    std::int64_t parameterCount() const override { return (vocabulary_ + positions_) * width_; }
    std::vector<ParameterBlock> parameterBlocks() const override {
        return {{"tokens", {vocabulary_, width_}}, {"positions", {positions_, width_}}};
    }
    void bindParameters(void* parameters, void* gradients) override;
    void initializeParameters(double* hostParameters, std::mt19937_64& generator) const override;
    Tensor forward(const Tensor& input, ExecutionContext& context) override;
    Tensor backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) override;
    std::unique_ptr<Layer> clone() const override { return std::make_unique<Embedding>(vocabulary_, width_); }
    void releaseCache() override { input_ = {}; }
    // Backward requests, with a tied head: the token table's gradient before it is added.
    void workspaceRequests(const Shape& inputSample, const PassQuery& query, std::vector<std::size_t>& bytes) const override;

    std::int64_t vocabulary() const { return vocabulary_; }
    std::int64_t width() const { return width_; }
    const void* tokenTable() const { return parameters_; }
    void* tokenGradients() { return gradients_; }
    // A tied head wrote the token table's gradient first: backward adds to it instead of
    // overwriting it (the token part through a workspace buffer, then one sum).
    void accumulateTokenGradients() { accumulate_ = true; }

private:
    bool accumulate_ = false;
    std::int64_t vocabulary_, width_, positions_ = 0;
    void* parameters_ = nullptr;
    void* gradients_ = nullptr;
    Tensor input_;  // the ids, for backward
};

}  // namespace cohort::nn
