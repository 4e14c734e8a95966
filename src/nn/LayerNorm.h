#pragma once
// Layer normalisation over the last dimension of each sample: an input of per-sample shape
// {..., F} is F-feature rows (a token's embedding in a transformer), each normalised with its own
// mean and biased variance, then scaled and shifted: y = gain * (x - mean) / sqrt(var + eps) +
// bias. gain and bias (F each) are parameters; there are no running statistics, so training and
// inference compute the same thing. The math is the backend's (layerNormForward / ...Backward).
#include "src/nn/Layer.h"

namespace cohort::nn {

class LayerNorm final : public Layer {
public:
    explicit LayerNorm(double epsilon = 1e-5) : epsilon_(epsilon) {}
    std::string describe() const override;
    Shape outputShape(const Shape& inputSample) const override { return inputSample; }
    void configure(const Shape& inputSample) override;
    std::int64_t parameterCount() const override { return 2 * features_; }  // [gain | bias]
    std::vector<ParameterBlock> parameterBlocks() const override { return {{"weight", {features_}}, {"bias", {features_}}}; }
    void bindParameters(void* parameters, void* gradients) override;
    void initializeParameters(double* hostParameters, std::mt19937_64& generator) const override;
    Tensor forward(const Tensor& input, ExecutionContext& context) override;
    Tensor backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) override;
    void workspaceRequests(const Shape& inputSample, const PassQuery& query, std::vector<std::size_t>& bytes) const override;
    bool makesFreshInputGradient() const override { return true; }
    std::unique_ptr<Layer> clone() const override { return std::make_unique<LayerNorm>(epsilon_); }
    void releaseCache() override { input_ = {}; saved_ = {}; }

private:
    double epsilon_;
    std::int64_t features_ = 0, rowsPerSample_ = 1;
    void* parameters_ = nullptr;
    void* gradients_ = nullptr;
    Tensor input_;  // kept for backward
    Tensor saved_;  // [mean | rstd], one per row
};

}  // namespace cohort::nn
