#pragma once
// 2-D max and average pooling over NCHW tensors (per-sample shape {C, H, W}), no padding:
// output {C, (H - size)/stride + 1, (W - size)/stride + 1}. The arithmetic is the backend's
// (poolingForward/Backward); in training the layer keeps its input and output for the backward
// pass (max pooling finds each window's maximum again there rather than saving indices).
#include "src/nn/Layer.h"

namespace cohort::nn {

class Pooling2D : public Layer {
public:
    enum class Kind : std::uint8_t { Max, Average };
    Pooling2D(Kind kind, std::int64_t size, std::int64_t stride);
    std::string describe() const override;
    Shape outputShape(const Shape& inputSample) const override;
    void configure(const Shape& inputSample) override;
    Tensor forward(const Tensor& input, ExecutionContext& context) override;
    Tensor backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) override;
    std::unique_ptr<Layer> clone() const override;
    void releaseCache() override { input_ = {}; output_ = {}; }
    bool foldsProducerRelu() const override { return true; }
    void foldProducerRelu() override { reluMask_ = true; }

private:
    Kind kind_;
    std::int64_t size_, stride_;
    std::int64_t channels_ = 0, height_ = 0, width_ = 0, outHeight_ = 0, outWidth_ = 0;
    kernels::PoolingShape shapeFor(std::int64_t batch) const;
    bool reluMask_ = false;  // the previous layer's ReLU derivative is folded into backward
    kernels::PoolingMode mode() const;

    Tensor input_, output_;  // kept from a training forward for the backward pass
};

class MaxPool2D final : public Pooling2D {
public:
    explicit MaxPool2D(std::int64_t size, std::int64_t stride = 0) : Pooling2D(Kind::Max, size, stride ? stride : size) {}
};

class AvgPool2D final : public Pooling2D {
public:
    explicit AvgPool2D(std::int64_t size, std::int64_t stride = 0)
        : Pooling2D(Kind::Average, size, stride ? stride : size) {}
};

}  // namespace cohort::nn
