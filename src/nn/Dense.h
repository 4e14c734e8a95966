#pragma once
// Dense (fully connected) layer with an optional fused activation: y = act(x W + b).
// W is [inputs, outputs] row-major, b is [outputs]; both live in the model's flat buffer.
// Per token (a transformer's projections): a per-sample input {..., F} is rows of F features (one
// per token), each mapped to `outputs`, so the output is {..., outputs}; otherwise the whole sample
// is one row. Initial weights: He or Glorot uniform, or N(0, initStd) when initStd > 0 (GPT-2's
// 0.02, scaled down for the projections that end in a residual sum).
#include "src/nn/Layer.h"

namespace cohort::nn {

class Dense final : public Layer {
public:
    explicit Dense(std::int64_t outputs, kernels::Activation activation = kernels::Activation::Identity,
                   bool perToken = false, double initStd = 0.0);
    std::string describe() const override;
    Shape outputShape(const Shape& inputSample) const override;
    void configure(const Shape& inputSample) override;
    std::int64_t parameterCount() const override { return inputs_ * outputs_ + outputs_; }
    // weight [inputs, outputs] (y = x W + b: the transpose of torch.nn.Linear's), bias [outputs]
    std::vector<ParameterBlock> parameterBlocks() const override {
        return {{"weight", {inputs_, outputs_}}, {"bias", {outputs_}}};
    }
    void bindParameters(void* parameters, void* gradients) override;
    void initializeParameters(double* hostParameters, std::mt19937_64& generator) const override;
    Tensor forward(const Tensor& input, ExecutionContext& context) override;
    Tensor forwardAdding(const Tensor& input, const Tensor& addend, ExecutionContext& context) override;
    Tensor backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) override;
    void workspaceRequests(const Shape& inputSample, const PassQuery& query, std::vector<std::size_t>& bytes) const override;
    bool makesFreshInputGradient() const override { return true; }
    std::unique_ptr<Layer> clone() const override;
    bool readsOutputInBackward() const override { return activation_ != kernels::Activation::Identity; }
    void releaseCache() override { input_ = {}; output_ = {}; }

private:
    Tensor forwardOnto(const Tensor& input, const void* addend, ExecutionContext& context);

    std::int64_t inputs_ = 0;
    std::int64_t outputs_;
    kernels::Activation activation_;
    bool perToken_;
    double initStd_;
    std::int64_t tokens_ = 1;  // rows per sample
    Shape outputSample_;
    void* weights_ = nullptr;
    void* weightGradients_ = nullptr;
    Tensor input_;
    Tensor output_;
};

}  // namespace cohort::nn
