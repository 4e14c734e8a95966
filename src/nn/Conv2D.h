#pragma once
// 2-D convolution over NCHW tensors (per-sample shape {C, H, W}) with an optional fused
// activation: y = act(W * im2col(x) + b). W is [outC, inC*k*k] row-major, b is [outC]; both live
// in the model's flat buffer. The arithmetic is the backend's (convolutionForward/Backward: im2col
// + OpenBLAS on the CPU, cuDNN on a GPU); its working memory comes from the current workspace
// scope, and in training the forward's working memory is kept for the backward pass (the CPU
// backend leaves the lowered input there).
#include "src/nn/Layer.h"

namespace cohort::nn {

class Conv2D final : public Layer {
public:
    Conv2D(std::int64_t outChannels, std::int64_t kernel, std::int64_t stride = 1, std::int64_t padding = 0,
           kernels::Activation activation = kernels::Activation::Identity);
    std::string describe() const override;
    Shape outputShape(const Shape& inputSample) const override;
    void configure(const Shape& inputSample) override;
    std::int64_t parameterCount() const override { return outChannels_ * patch() + outChannels_; }
    // weight [out channels, in channels, kernel, kernel] (as torch.nn.Conv2d's), bias [out channels]
    std::vector<ParameterBlock> parameterBlocks() const override {
        return {{"weight", {outChannels_, inChannels_, kernel_, kernel_}}, {"bias", {outChannels_}}};
    }
    void bindParameters(void* parameters, void* gradients) override;
    void initializeParameters(double* hostParameters, std::mt19937_64& generator) const override;
    Tensor forward(const Tensor& input, ExecutionContext& context) override;
    Tensor backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) override;
    void workspaceRequests(const Shape& inputSample, const PassQuery& query, std::vector<std::size_t>& bytes) const override;
    bool reluOnOutput() const override { return activation_ == kernels::Activation::Relu; }
    void leaveReluGradientToNext() override { reluGradientByNext_ = true; }
    std::unique_ptr<Layer> clone() const override;
    // The CPU backend's forward working memory: the im2col columns and the GEMM product.
    std::int64_t workingElementsPerSample() const override {
        return (patch() + outChannels_) * outHeight_ * outWidth_;
    }
    void releaseCache() override { input_ = {}; forwardWorkspace_ = {}; output_ = {}; }

    // Geometry after configure(), for callers and tests.
    std::int64_t outHeight() const { return outHeight_; }
    std::int64_t outWidth() const { return outWidth_; }

private:
    std::int64_t patch() const { return inChannels_ * kernel_ * kernel_; }
    kernels::ConvolutionShape shapeFor(std::int64_t batch) const {
        return {batch, inChannels_, height_, width_, outChannels_, kernel_, stride_, padding_};
    }

    std::int64_t outChannels_, kernel_, stride_, padding_;
    kernels::Activation activation_;
    bool reluGradientByNext_ = false;  // the next layer's backward applies the ReLU's derivative
    std::int64_t inChannels_ = 0, height_ = 0, width_ = 0, outHeight_ = 0, outWidth_ = 0;
    void* weights_ = nullptr;
    void* weightGradients_ = nullptr;
    Tensor input_;             // the batch input (for the weight gradient)
    Tensor forwardWorkspace_;  // the forward pass's working memory, handed to the backward pass
    Tensor output_;   // post-activation output (for activation backward)
    std::int64_t batch_ = 0;
};

}  // namespace cohort::nn
