#include "src/nn/Conv2D.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "src/core/Errors.h"

namespace cohort::nn {
namespace {

// Working memory for one convolution pass, from the current workspace scope (bytes rounded up to
// whole float32 elements).
Shape workspaceShape(std::size_t bytes) { return Shape{std::max<std::int64_t>(1, std::int64_t((bytes + 3) / 4))}; }
Tensor workspaceFor(std::size_t bytes, MemoryLocation location) {
    return Tensor::empty(workspaceShape(bytes), DType::Float32, location);
}

}  // namespace

Conv2D::Conv2D(std::int64_t outChannels, std::int64_t kernel, std::int64_t stride, std::int64_t padding,
               kernels::Activation activation)
    : outChannels_(outChannels), kernel_(kernel), stride_(stride), padding_(padding), activation_(activation) {
    if (outChannels <= 0 || kernel <= 0 || stride <= 0 || padding < 0) {
        throw InputError("conv2d needs positive channels, kernel and stride and a non-negative padding, got " +
                         std::to_string(outChannels) + "," + std::to_string(kernel) + "," + std::to_string(stride) +
                         "," + std::to_string(padding));
    }
}

std::string Conv2D::describe() const {
    return "conv2d(" + std::to_string(inChannels_) + "x" + std::to_string(height_) + "x" + std::to_string(width_) +
           "->" + std::to_string(outChannels_) + ",k" + std::to_string(kernel_) + ",s" + std::to_string(stride_) +
           ",p" + std::to_string(padding_) + "," + kernels::toString(activation_) + ")";
}

Shape Conv2D::outputShape(const Shape& inputSample) const {
    if (inputSample.rank() != 3) {
        throw InputError("conv2d expects samples of shape {C,H,W}, got " + inputSample.toString());
    }
    const std::int64_t h = inputSample[1] + 2 * padding_ - kernel_, w = inputSample[2] + 2 * padding_ - kernel_;
    if (h < 0 || w < 0) {
        throw InputError("conv2d kernel " + std::to_string(kernel_) + " does not fit input " + inputSample.toString() +
                         " with padding " + std::to_string(padding_));
    }
    return Shape{outChannels_, h / stride_ + 1, w / stride_ + 1};
}

void Conv2D::configure(const Shape& inputSample) {
    const Shape out = outputShape(inputSample);
    inChannels_ = inputSample[0];
    height_ = inputSample[1];
    width_ = inputSample[2];
    outHeight_ = out[1];
    outWidth_ = out[2];
}

void Conv2D::bindParameters(void* parameters, void* gradients) {
    weights_ = parameters;
    weightGradients_ = gradients;
}

void Conv2D::initializeParameters(double* hostParameters, std::mt19937_64& generator) const {
    // As Dense: He uniform for ReLU, Glorot uniform otherwise (fan-in inC*k*k, fan-out outC*k*k).
    const double fanIn = double(patch()), fanOut = double(outChannels_ * kernel_ * kernel_);
    const double bound = activation_ == kernels::Activation::Relu ? std::sqrt(6.0 / fanIn)
                                                                   : std::sqrt(6.0 / (fanIn + fanOut));
    std::uniform_real_distribution<double> uniform(-bound, bound);
    for (std::int64_t i = 0; i < outChannels_ * patch(); ++i) hostParameters[i] = uniform(generator);
    for (std::int64_t i = 0; i < outChannels_; ++i) hostParameters[outChannels_ * patch() + i] = 0.0;
}

Tensor Conv2D::forward(const Tensor& input, ExecutionContext& context) {
    const std::int64_t batch = input.dim(0);
    requireSampleSize(input, inChannels_ * height_ * width_, "conv2d");
    const DType dtype = input.dtype();
    auto& backend = *context.backend;
    const auto shape = shapeFor(batch);
    const void* x = input.checked("conv2d.forward", "input");
    const std::size_t bytes = backend.convolutionWorkspaceBytes(dtype, shape, kernels::ConvolutionPass::Forward);
    Tensor workspace = workspaceFor(bytes, input.location());
    Tensor output = Tensor::empty(Shape{batch, outChannels_, outHeight_, outWidth_}, dtype, input.location());
    const void* bias = static_cast<const char*>(weights_) + std::size_t(outChannels_ * patch()) * kernels::sizeOf(dtype);
    backend.convolutionForward(dtype, shape, x, weights_, bias, output.raw(), workspace.raw(), bytes);
    if (activation_ != kernels::Activation::Identity) {
        backend.biasActivationForward(dtype, activation_, batch * outChannels_, outHeight_ * outWidth_, output.raw(),
                                      nullptr, output.raw());
    }
    if (context.training) {
        input_ = input;
        forwardWorkspace_ = workspace;
        output_ = output;
        batch_ = batch;
    }
    return output;
}

Tensor Conv2D::backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) {
    const std::int64_t batch = gradOutput.dim(0);
    if (batch != batch_) throw std::logic_error("conv2d.backward: batch differs from the cached forward");
    auto& backend = *context.backend;
    const DType dtype = gradOutput.dtype();
    const auto shape = shapeFor(batch);
    const void* delta = gradOutput.checked("conv2d.backward", "gradOutput");
    Tensor preActivation;
    if (activation_ != kernels::Activation::Identity && !reluGradientByNext_) {
        preActivation = Tensor::empty(gradOutput.shape(), dtype, gradOutput.location());
        backend.activationBackward(dtype, activation_, gradOutput.elementCount(),
                                   output_.checked("conv2d.backward", "output"), delta, preActivation.raw());
        delta = preActivation.raw();
    }
    void* biasGradient = static_cast<char*>(weightGradients_) + std::size_t(outChannels_ * patch()) * kernels::sizeOf(dtype);
    const std::size_t bytes = backend.convolutionWorkspaceBytes(dtype, shape, kernels::ConvolutionPass::Backward);
    Tensor workspace = workspaceFor(bytes, gradOutput.location());
    Tensor gradInput;
    if (needInputGradient) {
        gradInput = Tensor::empty(Shape{batch, inChannels_, height_, width_}, dtype, gradOutput.location());
    }
    backend.convolutionBackward(dtype, shape, input_.checked("conv2d.backward", "input"), weights_, delta,
                                needInputGradient ? gradInput.raw() : nullptr, weightGradients_, biasGradient,
                                forwardWorkspace_.checked("conv2d.backward", "forward workspace"), workspace.raw(),
                                bytes);
    return gradInput;
}

// What forward() and backward() above take from the workspace: forward the working memory, then
// the output; backward the pre-activation gradient, the working memory, the input gradient.
void Conv2D::workspaceRequests(const Shape& inputSample, const PassQuery& query, std::vector<std::size_t>& bytes) const {
    (void)inputSample;
    const auto shape = shapeFor(query.batch);
    const std::size_t output = batchBytes(Shape{outChannels_, outHeight_, outWidth_}, query.batch, query.dtype);
    auto working = [&](kernels::ConvolutionPass pass) {
        return batchBytes(workspaceShape(query.backend->convolutionWorkspaceBytes(query.dtype, shape, pass)), 1,
                          DType::Float32);
    };
    if (query.kind != PassQuery::Kind::Backward) {
        bytes.insert(bytes.end(), {working(kernels::ConvolutionPass::Forward), output});
        return;
    }
    if (activation_ != kernels::Activation::Identity && !reluGradientByNext_) bytes.push_back(output);
    bytes.push_back(working(kernels::ConvolutionPass::Backward));
    if (query.needInputGradient) bytes.push_back(batchBytes(Shape{inChannels_, height_, width_}, query.batch, query.dtype));
}

std::unique_ptr<Layer> Conv2D::clone() const {
    return std::make_unique<Conv2D>(outChannels_, kernel_, stride_, padding_, activation_);
}

}  // namespace cohort::nn
