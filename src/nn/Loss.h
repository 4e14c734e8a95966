#pragma once
// Losses. Each writes the SUM of its per-sample losses into a one-element buffer in the
// backend's location (so a GPU step never synchronises) and, when asked, the gradient of the
// MEAN loss over the batch with respect to the model output.
#include <cstdint>
#include <memory>
#include <string>

#include "src/nn/Layer.h"

namespace cohort::nn {

class Loss {
public:
    virtual ~Loss() = default;
    virtual std::string describe() const = 0;
    // labels: int32 class indices in the backend's location (classification losses), or
    // targets: a tensor shaped like output (regression losses). Unused one may be null/empty.
    virtual void compute(const Tensor& output, const std::int32_t* labels, const Tensor& targets,
                         ExecutionContext& context, void* lossSum, Tensor* gradient,
                         std::int64_t* correct) = 0;
};

// softmax + cross-entropy, fused and numerically stable (log-sum-exp with the row maximum). An
// output of rank 3 ([batch, positions, classes]) has one prediction per position: the sum runs over
// every token and the gradient is of the mean over tokens.
class SoftmaxCrossEntropy final : public Loss {
public:
    std::string describe() const override { return "softmax-cross-entropy"; }
    void compute(const Tensor& output, const std::int32_t* labels, const Tensor& targets,
                 ExecutionContext& context, void* lossSum, Tensor* gradient,
                 std::int64_t* correct) override;
};

// mean over samples of the summed squared error: L = (1/B) sum_i sum_j (y_ij - t_ij)^2.
class MeanSquaredError final : public Loss {
public:
    std::string describe() const override { return "mse"; }
    void compute(const Tensor& output, const std::int32_t* labels, const Tensor& targets,
                 ExecutionContext& context, void* lossSum, Tensor* gradient,
                 std::int64_t* correct) override;
};

}  // namespace cohort::nn
