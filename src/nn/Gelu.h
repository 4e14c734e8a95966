#pragma once
// GELU in GPT-2's tanh form, as a layer of its own (Backend::geluForward): its derivative needs the
// input, not the output, so unlike ActivationLayer it keeps its input for backward.
#include "src/nn/Layer.h"

namespace cohort::nn {

class Gelu final : public Layer {
public:
    std::string describe() const override { return "gelu"; }
    Shape outputShape(const Shape& inputSample) const override { return inputSample; }
    Tensor forward(const Tensor& input, ExecutionContext& context) override;
    Tensor backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) override;
    bool makesFreshInputGradient() const override { return true; }
    std::unique_ptr<Layer> clone() const override { return std::make_unique<Gelu>(); }
    void releaseCache() override { derivative_ = {}; }
    void workspaceRequests(const Shape& inputSample, const PassQuery& query,
                           std::vector<std::size_t>& bytes) const override;

private:
    Tensor derivative_;  // dy/dx at the training forward's input: backward is one multiplication
};

}  // namespace cohort::nn
