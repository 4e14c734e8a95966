#pragma once
// Inverted dropout: in training each element is kept with probability 1 - rate and scaled by
// 1 / (1 - rate); in inference it is the identity. Masks come from a counter-based generator
// keyed by (seed, layer, iteration), so a run is reproducible and CPU and GPU agree.
#include "src/nn/Layer.h"

namespace cohort::nn {

class Dropout final : public Layer {
public:
    explicit Dropout(double rate);
    std::string describe() const override;
    Shape outputShape(const Shape& inputSample) const override { return inputSample; }
    Tensor forward(const Tensor& input, ExecutionContext& context) override;
    Tensor backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) override;
    void workspaceRequests(const Shape& inputSample, const PassQuery& query, std::vector<std::size_t>& bytes) const override;
    std::unique_ptr<Layer> clone() const override { return std::make_unique<Dropout>(rate_); }
    void releaseCache() override { mask_ = {}; }
    double rate() const { return rate_; }

private:
    double rate_;
    Tensor mask_;
};

}  // namespace cohort::nn
