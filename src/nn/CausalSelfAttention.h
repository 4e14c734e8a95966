#pragma once
// Causal multi-head self-attention (GPT-2's): per-sample input {positions, C}; a fused QKV
// projection (one per-token dense layer, C -> 3C), scores Q K^T / sqrt(C / heads) under the causal
// mask, a row softmax, the weighted sum of the values, and an output projection (C -> C). Parameters:
// [qkv.weight C x 3C | qkv.bias 3C | proj.weight C x C | proj.bias C], weights drawn from N(0, 0.02)
// and the output projection's from N(0, 0.02 / sqrt(2 * layers)) as GPT-2 scales the projections
// that end in a residual sum. The attention itself is the backend's (attentionForward/Backward).
#include "src/nn/Dense.h"
#include "src/nn/Layer.h"

namespace cohort::nn {

class CausalSelfAttention final : public Layer {
public:
    // `outputStd`: the output projection's initial standard deviation (0: 0.02).
    CausalSelfAttention(std::int64_t heads, double outputStd = 0.0);
    std::string describe() const override;
    Shape outputShape(const Shape& inputSample) const override { return inputSample; }
    void configure(const Shape& inputSample) override;
    std::int64_t parameterCount() const override { return qkv_.parameterCount() + projection_.parameterCount(); }
    std::vector<ParameterBlock> parameterBlocks() const override;
    void bindParameters(void* parameters, void* gradients) override;
    void initializeParameters(double* hostParameters, std::mt19937_64& generator) const override;
    // Forward: the QKV projection's output [B, T, 3C], the probabilities [B, H, T, T], the
    // weighted sums [B, T, C], the output [B, T, C]. Backward: the gradient of the weighted sums
    // [B, T, C], the scores' gradient [B, H, T, T], dqkv [B, T, 3C], then the input gradient when
    // asked for.
    void workspaceRequests(const Shape& inputSample, const PassQuery& query, std::vector<std::size_t>& bytes) const override;
    Tensor forward(const Tensor& input, ExecutionContext& context) override;
    Tensor backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) override;
    bool makesFreshInputGradient() const override { return true; }
    std::unique_ptr<Layer> clone() const override { return std::make_unique<CausalSelfAttention>(heads_, outputStd_); }
    void releaseCache() override;
    bool readsOutputInBackward() const override { return false; }  // its output projection is linear
    // The residual sum goes into the output projection's pass (Dense::forwardAdding).
    Tensor forwardAdding(const Tensor& input, const Tensor& addend, ExecutionContext& context) override;
    std::int64_t heads() const { return heads_; }

private:
    Tensor mixedHeads(const Tensor& input, ExecutionContext& context);
    std::int64_t heads_;
    double outputStd_;
    std::int64_t positions_ = 0, width_ = 0;
    void bindProjections(DType dtype);

    Dense qkv_;
    Dense projection_;
    void* parameters_ = nullptr;
    void* gradients_ = nullptr;
    Tensor qkvOutput_, probabilities_;
};

}  // namespace cohort::nn
