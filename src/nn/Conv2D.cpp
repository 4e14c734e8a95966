#include "src/nn/Conv2D.h"

#include <cmath>

#include "src/core/Errors.h"

namespace cohort::nn {
namespace {

struct Geometry {
    std::int64_t channels, height, width, kernel, stride, padding, outHeight, outWidth;
};

// columns[(c*k + ki)*k + kj][n*outHW + oy*outW + ox] = x[n][c][oy*s - p + ki][ox*s - p + kj] (0 outside).
template <typename T>
void im2col(const Geometry& g, std::int64_t batch, const T* input, T* columns) {
    const std::int64_t outHW = g.outHeight * g.outWidth, rowStride = batch * outHW;
    const std::int64_t sampleSize = g.channels * g.height * g.width;
    // Samples write disjoint columns: split them across the worker's OpenMP threads.
#pragma omp parallel for schedule(static) if (batch * sampleSize >= (1 << 15))
    for (std::int64_t n = 0; n < batch; ++n) {
        const T* x = input + n * sampleSize;
        for (std::int64_t c = 0; c < g.channels; ++c) {
            for (std::int64_t ki = 0; ki < g.kernel; ++ki) {
                for (std::int64_t kj = 0; kj < g.kernel; ++kj) {
                    T* row = columns + ((c * g.kernel + ki) * g.kernel + kj) * rowStride + n * outHW;
                    for (std::int64_t oy = 0; oy < g.outHeight; ++oy) {
                        const std::int64_t iy = oy * g.stride - g.padding + ki;
                        T* out = row + oy * g.outWidth;
                        if (iy < 0 || iy >= g.height) {
                            for (std::int64_t ox = 0; ox < g.outWidth; ++ox) out[ox] = T(0);
                            continue;
                        }
                        const T* line = x + (c * g.height + iy) * g.width;
                        for (std::int64_t ox = 0; ox < g.outWidth; ++ox) {
                            const std::int64_t ix = ox * g.stride - g.padding + kj;
                            out[ox] = (ix >= 0 && ix < g.width) ? line[ix] : T(0);
                        }
                    }
                }
            }
        }
    }
}

// The adjoint of im2col: gradInput (zeroed here) += scattered columns.
template <typename T>
void col2im(const Geometry& g, std::int64_t batch, const T* columns, T* gradInput) {
    const std::int64_t outHW = g.outHeight * g.outWidth, rowStride = batch * outHW;
    const std::int64_t sampleSize = g.channels * g.height * g.width;
    // Each sample scatters into its own gradient only: parallel over samples, deterministic.
#pragma omp parallel for schedule(static) if (batch * sampleSize >= (1 << 15))
    for (std::int64_t n = 0; n < batch; ++n) {
        T* dx = gradInput + n * sampleSize;
        for (std::int64_t i = 0; i < sampleSize; ++i) dx[i] = T(0);
        for (std::int64_t c = 0; c < g.channels; ++c) {
            for (std::int64_t ki = 0; ki < g.kernel; ++ki) {
                for (std::int64_t kj = 0; kj < g.kernel; ++kj) {
                    const T* row = columns + ((c * g.kernel + ki) * g.kernel + kj) * rowStride + n * outHW;
                    for (std::int64_t oy = 0; oy < g.outHeight; ++oy) {
                        const std::int64_t iy = oy * g.stride - g.padding + ki;
                        if (iy < 0 || iy >= g.height) continue;
                        const T* in = row + oy * g.outWidth;
                        T* line = dx + (c * g.height + iy) * g.width;
                        for (std::int64_t ox = 0; ox < g.outWidth; ++ox) {
                            const std::int64_t ix = ox * g.stride - g.padding + kj;
                            if (ix >= 0 && ix < g.width) line[ix] += in[ox];
                        }
                    }
                }
            }
        }
    }
}

// output[n][o][p] = product[o][n*HW + p] + bias[o]
template <typename T>
void scatterWithBias(std::int64_t batch, std::int64_t channels, std::int64_t hw, const T* product, const T* bias,
                     T* output) {
#pragma omp parallel for schedule(static) if (batch * channels * hw >= (1 << 15))
    for (std::int64_t n = 0; n < batch; ++n) {
        for (std::int64_t o = 0; o < channels; ++o) {
            const T* from = product + o * batch * hw + n * hw;
            T* to = output + (n * channels + o) * hw;
            const T b = bias[o];
            for (std::int64_t p = 0; p < hw; ++p) to[p] = from[p] + b;
        }
    }
}

// deltaT[o][n*HW + p] = delta[n][o][p]; biasGradient[o] = sum over n, p.
template <typename T>
void gatherWithBiasGradient(std::int64_t batch, std::int64_t channels, std::int64_t hw, const T* delta, T* deltaT,
                            T* biasGradient) {
    // Parallel over output channels; each channel sums its samples in order (deterministic).
#pragma omp parallel for schedule(static) if (batch * channels * hw >= (1 << 15))
    for (std::int64_t o = 0; o < channels; ++o) {
        biasGradient[o] = T(0);
        for (std::int64_t n = 0; n < batch; ++n) {
            const T* from = delta + (n * channels + o) * hw;
            T* to = deltaT + o * batch * hw + n * hw;
            T sum = T(0);
            for (std::int64_t p = 0; p < hw; ++p) {
                to[p] = from[p];
                sum += from[p];
            }
            biasGradient[o] += sum;
        }
    }
}

void requireHost(const Tensor& tensor, const char* what) {
    if (tensor.location().isDevice()) {
        throw InputError(std::string(what) + ": convolution and pooling layers run on the CPU only");
    }
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
    requireHost(input, "conv2d.forward");
    const std::int64_t batch = input.dim(0);
    if (input.shape().innerCount() != inChannels_ * height_ * width_) {
        throw InputError("conv2d expects " + std::to_string(inChannels_ * height_ * width_) +
                         " inputs per sample, got " + std::to_string(input.shape().innerCount()));
    }
    const DType dtype = input.dtype();
    const std::int64_t hw = outHeight_ * outWidth_, k = patch(), columnsWide = batch * hw;
    const Geometry g{inChannels_, height_, width_, kernel_, stride_, padding_, outHeight_, outWidth_};
    auto& backend = *context.backend;
    const void* x = input.checked("conv2d.forward", "input");
    Tensor columns = Tensor::empty(Shape{k, columnsWide}, dtype, input.location());
    Tensor product = Tensor::empty(Shape{outChannels_, columnsWide}, dtype, input.location());
    Tensor output = Tensor::empty(Shape{batch, outChannels_, outHeight_, outWidth_}, dtype, input.location());
    const std::size_t element = kernels::sizeOf(dtype);
    const void* bias = static_cast<const char*>(weights_) + std::size_t(outChannels_ * k) * element;
    if (dtype == DType::Float64) {
        im2col(g, batch, static_cast<const double*>(x), columns.data<double>());
    } else {
        im2col(g, batch, static_cast<const float*>(x), columns.data<float>());
    }
    backend.gemm(dtype, false, false, outChannels_, columnsWide, k, 1.0, weights_, k, columns.raw(), columnsWide,
                 0.0, product.raw(), columnsWide);
    if (dtype == DType::Float64) {
        scatterWithBias(batch, outChannels_, hw, product.data<double>(), static_cast<const double*>(bias),
                        output.data<double>());
    } else {
        scatterWithBias(batch, outChannels_, hw, product.data<float>(), static_cast<const float*>(bias),
                        output.data<float>());
    }
    if (activation_ != kernels::Activation::Identity) {
        backend.biasActivationForward(dtype, activation_, batch * outChannels_, hw, output.raw(), nullptr,
                                      output.raw());
    }
    if (context.training) {
        columns_ = columns;
        output_ = output;
        batch_ = batch;
    }
    return output;
}

Tensor Conv2D::backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) {
    requireHost(gradOutput, "conv2d.backward");
    const std::int64_t batch = gradOutput.dim(0);
    if (batch != batch_) throw std::logic_error("conv2d.backward: batch differs from the cached forward");
    auto& backend = *context.backend;
    const DType dtype = gradOutput.dtype();
    const std::int64_t hw = outHeight_ * outWidth_, k = patch(), columnsWide = batch * hw;
    const void* delta = gradOutput.checked("conv2d.backward", "gradOutput");
    Tensor preActivation;
    if (activation_ != kernels::Activation::Identity) {
        preActivation = Tensor::empty(gradOutput.shape(), dtype, gradOutput.location());
        backend.activationBackward(dtype, activation_, gradOutput.elementCount(),
                                   output_.checked("conv2d.backward", "output"), delta, preActivation.raw());
        delta = preActivation.raw();
    }
    const std::size_t element = kernels::sizeOf(dtype);
    void* biasGradient = static_cast<char*>(weightGradients_) + std::size_t(outChannels_ * k) * element;
    Tensor deltaT = Tensor::empty(Shape{outChannels_, columnsWide}, dtype, gradOutput.location());
    if (dtype == DType::Float64) {
        gatherWithBiasGradient(batch, outChannels_, hw, static_cast<const double*>(delta), deltaT.data<double>(),
                               static_cast<double*>(biasGradient));
    } else {
        gatherWithBiasGradient(batch, outChannels_, hw, static_cast<const float*>(delta), deltaT.data<float>(),
                               static_cast<float*>(biasGradient));
    }
    const void* columns = columns_.checked("conv2d.backward", "columns");
    // dW = deltaT * columns^T, summed over the batch by the GEMM's inner dimension.
    backend.gemm(dtype, false, true, outChannels_, k, columnsWide, 1.0, deltaT.raw(), columnsWide, columns,
                 columnsWide, 0.0, weightGradients_, k);
    if (!needInputGradient) return {};
    Tensor gradColumns = Tensor::empty(Shape{k, columnsWide}, dtype, gradOutput.location());
    backend.gemm(dtype, true, false, k, columnsWide, outChannels_, 1.0, weights_, k, deltaT.raw(), columnsWide, 0.0,
                 gradColumns.raw(), columnsWide);
    Tensor gradInput = Tensor::empty(Shape{batch, inChannels_, height_, width_}, dtype, gradOutput.location());
    const Geometry g{inChannels_, height_, width_, kernel_, stride_, padding_, outHeight_, outWidth_};
    if (dtype == DType::Float64) {
        col2im(g, batch, gradColumns.data<double>(), gradInput.data<double>());
    } else {
        col2im(g, batch, gradColumns.data<float>(), gradInput.data<float>());
    }
    return gradInput;
}

std::unique_ptr<Layer> Conv2D::clone() const {
    return std::make_unique<Conv2D>(outChannels_, kernel_, stride_, padding_, activation_);
}

}  // namespace cohort::nn
