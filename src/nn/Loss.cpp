#include "src/nn/Loss.h"

#include <algorithm>
#include <stdexcept>

namespace cohort::nn {

void SoftmaxCrossEntropy::compute(const Tensor& output, const std::int32_t* labels, const Tensor& targets,
                                  ExecutionContext& context, void* lossSum, Tensor* gradient,
                                  std::int64_t* correct) {
    (void)targets;
    if (!labels) throw std::invalid_argument("softmax-cross-entropy needs integer labels");
    // One row per prediction: a classifier's sample, or each token of a language model's
    // {positions, vocabulary} output (labels then hold one class per token).
    const Shape& shape = output.shape();
    const std::int64_t classes = shape.rank() > 2 ? shape[shape.rank() - 1] : shape.innerCount();
    const std::int64_t rows = output.elementCount() / std::max<std::int64_t>(1, classes);
    void* grad = nullptr;
    if (gradient) {
        *gradient = Tensor::empty(output.shape(), output.dtype(), output.location());
        grad = gradient->raw();
    }
    context.backend->softmaxCrossEntropy(output.dtype(), rows, classes,
                                         output.checked("softmax-cross-entropy", "logits"), labels,
                                         lossSum, grad, 1.0 / double(rows), correct);
}

void MeanSquaredError::compute(const Tensor& output, const std::int32_t* labels, const Tensor& targets,
                               ExecutionContext& context, void* lossSum, Tensor* gradient,
                               std::int64_t* correct) {
    (void)labels;
    (void)correct;
    if (targets.shape() != output.shape()) {
        throw std::invalid_argument("mse: targets " + targets.shape().toString() + " do not match output " +
                                    output.shape().toString());
    }
    void* grad = nullptr;
    if (gradient) {
        *gradient = Tensor::empty(output.shape(), output.dtype(), output.location());
        grad = gradient->raw();
    }
    context.backend->squaredError(output.dtype(), output.elementCount(), output.checked("mse", "output"),
                                  targets.checked("mse", "targets"), lossSum, grad, 1.0 / double(output.dim(0)));
}

}  // namespace cohort::nn
