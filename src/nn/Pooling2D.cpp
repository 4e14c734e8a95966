#include "src/nn/Pooling2D.h"

#include <algorithm>

#include "src/core/Errors.h"

namespace cohort::nn {
namespace {

// Planes (one channel of one sample) are independent: the loops split them over the worker's
// OpenMP threads once a batch is large enough to pay for the team.
constexpr std::int64_t kParallelElements = 1 << 15;

struct Geometry {
    std::int64_t planes, height, width, size, stride, outHeight, outWidth;
};

template <typename T>
void maxForward(const Geometry& g, const T* x, T* y, std::int32_t* indices) {
#pragma omp parallel for schedule(static) if (g.planes * g.height * g.width >= kParallelElements)
    for (std::int64_t plane = 0; plane < g.planes; ++plane) {
        const T* in = x + plane * g.height * g.width;
        T* out = y + plane * g.outHeight * g.outWidth;
        std::int32_t* index = indices + plane * g.outHeight * g.outWidth;
        for (std::int64_t oy = 0; oy < g.outHeight; ++oy) {
            for (std::int64_t ox = 0; ox < g.outWidth; ++ox) {
                std::int64_t best = oy * g.stride * g.width + ox * g.stride;
                for (std::int64_t ky = 0; ky < g.size; ++ky) {
                    const std::int64_t row = (oy * g.stride + ky) * g.width + ox * g.stride;
                    for (std::int64_t kx = 0; kx < g.size; ++kx) {
                        if (in[row + kx] > in[best]) best = row + kx;
                    }
                }
                out[oy * g.outWidth + ox] = in[best];
                index[oy * g.outWidth + ox] = std::int32_t(best);
            }
        }
    }
}

template <typename T>
void maxBackward(const Geometry& g, const T* dy, const std::int32_t* indices, T* dx) {
    const std::int64_t outPlane = g.outHeight * g.outWidth;
#pragma omp parallel for schedule(static) if (g.planes * g.height * g.width >= kParallelElements)
    for (std::int64_t plane = 0; plane < g.planes; ++plane) {
        T* grad = dx + plane * g.height * g.width;
        std::fill(grad, grad + g.height * g.width, T(0));
        for (std::int64_t p = 0; p < outPlane; ++p) grad[indices[plane * outPlane + p]] += dy[plane * outPlane + p];
    }
}

template <typename T>
void averageForward(const Geometry& g, const T* x, T* y) {
    const T scale = T(1) / T(g.size * g.size);
#pragma omp parallel for schedule(static) if (g.planes * g.height * g.width >= kParallelElements)
    for (std::int64_t plane = 0; plane < g.planes; ++plane) {
        const T* in = x + plane * g.height * g.width;
        T* out = y + plane * g.outHeight * g.outWidth;
        for (std::int64_t oy = 0; oy < g.outHeight; ++oy) {
            for (std::int64_t ox = 0; ox < g.outWidth; ++ox) {
                T sum = T(0);
                for (std::int64_t ky = 0; ky < g.size; ++ky) {
                    const T* row = in + (oy * g.stride + ky) * g.width + ox * g.stride;
                    for (std::int64_t kx = 0; kx < g.size; ++kx) sum += row[kx];
                }
                out[oy * g.outWidth + ox] = sum * scale;
            }
        }
    }
}

template <typename T>
void averageBackward(const Geometry& g, const T* dy, T* dx) {
    const T scale = T(1) / T(g.size * g.size);
#pragma omp parallel for schedule(static) if (g.planes * g.height * g.width >= kParallelElements)
    for (std::int64_t plane = 0; plane < g.planes; ++plane) {
        T* grad = dx + plane * g.height * g.width;
        std::fill(grad, grad + g.height * g.width, T(0));
        const T* delta = dy + plane * g.outHeight * g.outWidth;
        for (std::int64_t oy = 0; oy < g.outHeight; ++oy) {
            for (std::int64_t ox = 0; ox < g.outWidth; ++ox) {
                const T value = delta[oy * g.outWidth + ox] * scale;
                for (std::int64_t ky = 0; ky < g.size; ++ky) {
                    T* row = grad + (oy * g.stride + ky) * g.width + ox * g.stride;
                    for (std::int64_t kx = 0; kx < g.size; ++kx) row[kx] += value;
                }
            }
        }
    }
}

}  // namespace

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

Tensor Pooling2D::forward(const Tensor& input, ExecutionContext& context) {
    if (input.location().isDevice()) throw InputError("pooling layers run on the CPU only");
    const std::int64_t batch = input.dim(0);
    if (input.shape().innerCount() != channels_ * height_ * width_) {
        throw InputError("pooling expects " + std::to_string(channels_ * height_ * width_) +
                         " inputs per sample, got " + std::to_string(input.shape().innerCount()));
    }
    const DType dtype = input.dtype();
    const Geometry g{batch * channels_, height_, width_, size_, stride_, outHeight_, outWidth_};
    const void* x = input.checked("pooling.forward", "input");
    Tensor output = Tensor::empty(Shape{batch, channels_, outHeight_, outWidth_}, dtype, input.location());
    if (kind_ == Kind::Max) {
        // int32 indices in the bytes of a float32 workspace tensor of the output's shape.
        Tensor indices = Tensor::empty(output.shape(), DType::Float32, input.location());
        auto* index = static_cast<std::int32_t*>(indices.raw());
        if (dtype == DType::Float64) {
            maxForward(g, static_cast<const double*>(x), output.data<double>(), index);
        } else {
            maxForward(g, static_cast<const float*>(x), output.data<float>(), index);
        }
        if (context.training) indices_ = indices;
    } else if (dtype == DType::Float64) {
        averageForward(g, static_cast<const double*>(x), output.data<double>());
    } else {
        averageForward(g, static_cast<const float*>(x), output.data<float>());
    }
    if (context.training) inputShape_ = input.shape();
    return output;
}

Tensor Pooling2D::backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) {
    (void)context;
    if (!needInputGradient) return {};
    const std::int64_t batch = gradOutput.dim(0);
    const DType dtype = gradOutput.dtype();
    const Geometry g{batch * channels_, height_, width_, size_, stride_, outHeight_, outWidth_};
    const void* dy = gradOutput.checked("pooling.backward", "gradOutput");
    Tensor gradInput = Tensor::empty(Shape{batch, channels_, height_, width_}, dtype, gradOutput.location());
    if (kind_ == Kind::Max) {
        const auto* index = static_cast<const std::int32_t*>(indices_.checked("pooling.backward", "indices"));
        if (dtype == DType::Float64) {
            maxBackward(g, static_cast<const double*>(dy), index, gradInput.data<double>());
        } else {
            maxBackward(g, static_cast<const float*>(dy), index, gradInput.data<float>());
        }
    } else if (dtype == DType::Float64) {
        averageBackward(g, static_cast<const double*>(dy), gradInput.data<double>());
    } else {
        averageBackward(g, static_cast<const float*>(dy), gradInput.data<float>());
    }
    return inputShape_.elementCount() == gradInput.elementCount() ? gradInput.reshape(inputShape_) : gradInput;
}

std::unique_ptr<Layer> Pooling2D::clone() const {
    if (kind_ == Kind::Max) return std::make_unique<MaxPool2D>(size_, stride_);
    return std::make_unique<AvgPool2D>(size_, stride_);
}

}  // namespace cohort::nn
