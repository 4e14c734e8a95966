#pragma once
// Flatten: per-sample {C, H, W} (any rank) -> {C*H*W}; a reshape view both ways, no copy.
#include "src/nn/Layer.h"

namespace cohort::nn {

class Flatten final : public Layer {
public:
    std::string describe() const override { return "flatten"; }
    Shape outputShape(const Shape& inputSample) const override { return Shape{inputSample.elementCount()}; }
    Tensor forward(const Tensor& input, ExecutionContext& context) override;
    Tensor backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) override;
    // A reshape: nothing from the workspace either way.
    void workspaceRequests(const Shape&, const PassQuery&, std::vector<std::size_t>&) const override {}
    std::unique_ptr<Layer> clone() const override { return std::make_unique<Flatten>(); }

private:
    Shape inputShape_;  // batch shape of the last training forward
};

}  // namespace cohort::nn
