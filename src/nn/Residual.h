#pragma once
// Residual: y = x + f(x), f a sequence of layers whose output has the input's shape (a transformer
// block's two halves: layer norm -> attention, layer norm -> MLP). The body's parameters are packed
// one after another in the residual's own slice of the model's flat buffer (so averaging,
// checkpoints and gradient buckets see one layer), its blocks named "<index>.<block>". The input
// gradient is the output gradient plus the body's input gradient.
#include <memory>
#include <vector>

#include "src/nn/Layer.h"

namespace cohort::nn {

class Residual final : public Layer {
public:
    explicit Residual(std::vector<std::unique_ptr<Layer>> body);
    std::string describe() const override;
    Shape outputShape(const Shape& inputSample) const override { return inputSample; }
    void configure(const Shape& inputSample) override;
    std::int64_t parameterCount() const override { return parameters_; }
    std::vector<ParameterBlock> parameterBlocks() const override;
    void bindParameters(void* parameters, void* gradients) override;
    void initializeParameters(double* hostParameters, std::mt19937_64& generator) const override;
    std::int64_t workingElementsPerSample() const override;
    // The body's forward requests, then the sum; backward: the body's (each asked for its input
    // gradient), then the sum.
    void workspaceRequests(const Shape& inputSample, const PassQuery& query, std::vector<std::size_t>& bytes) const override;
    Tensor forward(const Tensor& input, ExecutionContext& context) override;
    Tensor backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) override;
    std::unique_ptr<Layer> clone() const override;
    void releaseCache() override;
    bool readsOutputInBackward() const override { return false; }
    bool makesFreshInputGradient() const override { return true; }

    std::size_t size() const { return body_.size(); }
    const Layer& layer(std::size_t index) const { return *body_[index]; }

private:
    std::vector<std::unique_ptr<Layer>> body_;
    std::vector<Shape> inputs_;            // each body layer's per-sample input
    std::vector<std::int64_t> offsets_;    // each body layer's first parameter
    std::int64_t parameters_ = 0;
    void* parameterBase_ = nullptr;
    void* gradientBase_ = nullptr;
    DType boundFor_ = DType::Float32;
    bool bound_ = false;
    void bindBody(DType dtype);
    bool sumsInPlace() const;
};

}  // namespace cohort::nn
