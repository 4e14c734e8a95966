#pragma once
// Batch normalisation per channel: for an input of per-sample shape {C} (after a dense layer) or
// {C, H, W} (after a convolution, NCHW), each channel c is normalised over the batch and the
// spatial positions, then scaled and shifted: y = gamma_c * (x - mean_c) / sqrt(var_c + eps) +
// beta_c. gamma and beta are parameters (in the model's flat parameter buffer); the running mean
// and variance are statistics (in the model's flat statistics buffer, not touched by the
// optimizer, averaged across replicas like the parameters).
//
// Training mode normalises with the batch's statistics (biased variance) and updates the running
// ones: running = (1 - momentum) * running + momentum * batch (unbiased variance), as PyTorch and
// cuDNN do. Inference mode (ExecutionContext::training == false) uses the running statistics.
// The math is the backend's (batchNormForwardTraining / ...Inference / batchNormBackward).
#include "src/nn/Layer.h"

namespace cohort::nn {

class BatchNorm final : public Layer {
public:
    explicit BatchNorm(double momentum = 0.1, double epsilon = 1e-5);
    std::string describe() const override;
    Shape outputShape(const Shape& inputSample) const override { return inputSample; }
    void configure(const Shape& inputSample) override;
    std::int64_t parameterCount() const override { return 2 * channels_; }  // [gamma | beta]
    std::vector<ParameterBlock> parameterBlocks() const override { return {{"weight", {channels_}}, {"bias", {channels_}}}; }
    std::vector<ParameterBlock> statisticsBlocks() const override {
        return {{"running_mean", {channels_}}, {"running_var", {channels_}}};
    }
    void bindParameters(void* parameters, void* gradients) override;
    void initializeParameters(double* hostParameters, std::mt19937_64& generator) const override;
    std::int64_t statisticsCount() const override { return 2 * channels_; }  // [mean | variance]
    void bindStatistics(void* statistics) override { statistics_ = statistics; }
    void initializeStatistics(double* hostStatistics) const override;
    Tensor forward(const Tensor& input, ExecutionContext& context) override;
    Tensor backward(const Tensor& gradOutput, ExecutionContext& context, bool needInputGradient) override;
    void workspaceRequests(const Shape& inputSample, const PassQuery& query, std::vector<std::size_t>& bytes) const override;
    std::unique_ptr<Layer> clone() const override;
    void releaseCache() override { input_ = {}; saved_ = {}; }

    std::int64_t channels() const { return channels_; }

private:
    double momentum_, epsilon_;
    std::int64_t channels_ = 0, spatial_ = 1;
    void* parameters_ = nullptr;
    void* gradients_ = nullptr;
    void* statistics_ = nullptr;
    Tensor input_;  // kept for backward
    Tensor saved_;  // [mean | inverse std] of the batch, per channel
};

}  // namespace cohort::nn
