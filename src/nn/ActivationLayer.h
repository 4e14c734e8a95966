#pragma once
// Standalone elementwise activation layers: ReLU, Tanh, Sigmoid.
#include "src/nn/Layer.h"

namespace cohort::nn {

class ActivationLayer final : public Layer {
public:
    explicit ActivationLayer(kernels::Activation activation) : activation_(activation) {}
    std::string describe() const override { return kernels::toString(activation_); }
    Shape outputShape(const Shape& inputSample) const override { return inputSample; }
    Tensor forward(const Tensor& input, ExecutionContext& context) override;
    Tensor backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) override;
    std::unique_ptr<Layer> clone() const override { return std::make_unique<ActivationLayer>(activation_); }
    void releaseCache() override { output_ = {}; }

private:
    kernels::Activation activation_;
    Tensor output_;
};

}  // namespace cohort::nn
