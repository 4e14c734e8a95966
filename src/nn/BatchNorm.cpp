#include "src/nn/BatchNorm.h"

#include <cmath>
#include <cstdio>

#include "src/core/Errors.h"

namespace cohort::nn {

BatchNorm::BatchNorm(double momentum, double epsilon) : momentum_(momentum), epsilon_(epsilon) {
    if (!(momentum > 0.0 && momentum <= 1.0)) {
        throw InputError("batch norm momentum must be in (0, 1], got " + std::to_string(momentum));
    }
    if (!(epsilon > 0.0) || !std::isfinite(epsilon)) {
        throw InputError("batch norm epsilon must be a positive number, got " + std::to_string(epsilon));
    }
}

std::string BatchNorm::describe() const {
    char text[96];
    std::snprintf(text, sizeof text, "batchnorm(%lld,momentum=%g,eps=%g)", static_cast<long long>(channels_), momentum_,
                  epsilon_);
    return text;
}

void BatchNorm::configure(const Shape& inputSample) {
    if (inputSample.rank() < 1 || inputSample.elementCount() == 0) {
        throw InputError("batch norm needs a non-empty input, got " + inputSample.toString());
    }
    channels_ = inputSample[0];
    spatial_ = inputSample.elementCount() / channels_;
}

void BatchNorm::bindParameters(void* parameters, void* gradients) {
    parameters_ = parameters;
    gradients_ = gradients;
}

void BatchNorm::initializeParameters(double* hostParameters, std::mt19937_64& generator) const {
    (void)generator;
    for (std::int64_t c = 0; c < channels_; ++c) {
        hostParameters[c] = 1.0;              // gamma
        hostParameters[channels_ + c] = 0.0;  // beta
    }
}

void BatchNorm::initializeStatistics(double* hostStatistics) const {
    for (std::int64_t c = 0; c < channels_; ++c) {
        hostStatistics[c] = 0.0;              // running mean
        hostStatistics[channels_ + c] = 1.0;  // running variance
    }
}

Tensor BatchNorm::forward(const Tensor& input, ExecutionContext& context) {
    const std::int64_t batch = input.dim(0);
    if (input.shape().innerCount() != channels_ * spatial_) {
        throw InputError("batch norm expects " + std::to_string(channels_ * spatial_) + " values per sample, got " +
                         std::to_string(input.shape().innerCount()));
    }
    const DType dtype = input.dtype();
    const std::size_t element = kernels::sizeOf(dtype);
    const char* gamma = static_cast<const char*>(parameters_);
    const char* beta = gamma + std::size_t(channels_) * element;
    char* runningMean = static_cast<char*>(statistics_);
    char* runningVariance = runningMean + std::size_t(channels_) * element;
    Tensor output = Tensor::empty(input.shape(), dtype, input.location());
    auto& backend = *context.backend;
    const void* x = input.checked("batchnorm.forward", "input");
    if (context.training) {
        saved_ = Tensor::empty(Shape{2 * channels_}, dtype, input.location());
        char* savedMean = static_cast<char*>(saved_.raw());
        backend.batchNormForwardTraining(dtype, batch, channels_, spatial_, x, gamma, beta, epsilon_, momentum_,
                                         runningMean, runningVariance, savedMean,
                                         savedMean + std::size_t(channels_) * element, output.raw());
        input_ = input;
    } else {
        backend.batchNormForwardInference(dtype, batch, channels_, spatial_, x, gamma, beta, runningMean,
                                          runningVariance, epsilon_, output.raw());
    }
    return output;
}

Tensor BatchNorm::backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) {
    const DType dtype = gradOutput.dtype();
    const std::size_t element = kernels::sizeOf(dtype);
    const char* gamma = static_cast<const char*>(parameters_);
    char* gradGamma = static_cast<char*>(gradients_);
    const char* savedMean = static_cast<const char*>(saved_.checked("batchnorm.backward", "saved statistics"));
    Tensor gradInput;
    if (needInputGradient) gradInput = Tensor::empty(input_.shape(), dtype, gradOutput.location());
    context.backend->batchNormBackward(dtype, input_.dim(0), channels_, spatial_,
                                       input_.checked("batchnorm.backward", "input"),
                                       gradOutput.checked("batchnorm.backward", "gradOutput"), gamma, savedMean,
                                       savedMean + std::size_t(channels_) * element, epsilon_,
                                       needInputGradient ? gradInput.raw() : nullptr, gradGamma,
                                       gradGamma + std::size_t(channels_) * element);
    return gradInput;
}

// What forward() and backward() above take from the workspace: the output (and in training the
// batch's mean and inverse std), backward the input gradient.
void BatchNorm::workspaceRequests(const Shape& inputSample, const PassQuery& query, std::vector<std::size_t>& bytes) const {
    Layer::workspaceRequests(inputSample, query, bytes);
    if (query.kind == PassQuery::Kind::TrainingForward) bytes.push_back(batchBytes(Shape{2 * channels_}, 1, query.dtype));
}

std::unique_ptr<Layer> BatchNorm::clone() const { return std::make_unique<BatchNorm>(momentum_, epsilon_); }

}  // namespace cohort::nn
