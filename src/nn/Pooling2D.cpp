#include "src/nn/Pooling2D.h"

#include "src/core/Errors.h"

namespace cohort::nn {

Pooling2D::Pooling2D(Kind kind, std::int64_t size, std::int64_t stride) : kind_(kind), size_(size), stride_(stride) {
    if (size <= 0 || stride <= 0) {
        throw InputError("pooling needs a positive size and stride, got " + std::to_string(size) + "," +
                         std::to_string(stride));
    }
}

std::string Pooling2D::describe() const {
    return std::string(kind_ == Kind::Max ? "maxpool2d(" : "avgpool2d(") + std::to_string(size_) + ",s" +
           std::to_string(stride_) + ")";
}

Shape Pooling2D::outputShape(const Shape& inputSample) const {
    if (inputSample.rank() != 3) {
        throw InputError("pooling expects samples of shape {C,H,W}, got " + inputSample.toString());
    }
    if (inputSample[1] < size_ || inputSample[2] < size_) {
        throw InputError("pooling window " + std::to_string(size_) + " does not fit input " + inputSample.toString());
    }
    if (inputSample.elementCount() > (std::int64_t(1) << 31) - 1) {
        throw InputError("pooling input " + inputSample.toString() + " is too large");
    }
    return Shape{inputSample[0], (inputSample[1] - size_) / stride_ + 1, (inputSample[2] - size_) / stride_ + 1};
}

void Pooling2D::configure(const Shape& inputSample) {
    const Shape out = outputShape(inputSample);
    channels_ = inputSample[0];
    height_ = inputSample[1];
    width_ = inputSample[2];
    outHeight_ = out[1];
    outWidth_ = out[2];
}

kernels::PoolingShape Pooling2D::shapeFor(std::int64_t batch) const {
    return kernels::PoolingShape{batch, channels_, height_, width_, size_, stride_, reluMask_};
}

kernels::PoolingMode Pooling2D::mode() const {
    return kind_ == Kind::Max ? kernels::PoolingMode::Max : kernels::PoolingMode::Average;
}

Tensor Pooling2D::forward(const Tensor& input, ExecutionContext& context) {
    const std::int64_t batch = input.dim(0);
    requireSampleSize(input, channels_ * height_ * width_, "pooling");
    Tensor output = Tensor::empty(Shape{batch, channels_, outHeight_, outWidth_}, input.dtype(), input.location());
    context.backend->poolingForward(input.dtype(), mode(), shapeFor(batch), input.checked("pooling.forward", "input"),
                                    output.raw());
    if (context.training) {
        input_ = input;
        output_ = output;
    }
    return output;
}

Tensor Pooling2D::backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) {
    if (!needInputGradient) return {};
    const std::int64_t batch = gradOutput.dim(0);
    const DType dtype = gradOutput.dtype();
    Tensor gradInput = Tensor::empty(Shape{batch, channels_, height_, width_}, dtype, gradOutput.location());
    context.backend->poolingBackward(dtype, mode(), shapeFor(batch), input_.checked("pooling.backward", "input"),
                                     output_.checked("pooling.backward", "output"),
                                     gradOutput.checked("pooling.backward", "gradOutput"), gradInput.raw());
    return input_.elementCount() == gradInput.elementCount() ? gradInput.reshape(input_.shape()) : gradInput;
}

std::unique_ptr<Layer> Pooling2D::clone() const {
    if (kind_ == Kind::Max) return std::make_unique<MaxPool2D>(size_, stride_);
    return std::make_unique<AvgPool2D>(size_, stride_);
}

}  // namespace cohort::nn
