#pragma once
// Evaluation of a model on a data set: mean loss, accuracy and confusion matrix, in batches
// inside the thread's "INFERENCE" workspace (dropout off).
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/Backend.h"
#include "src/data/Dataset.h"
#include "src/nn/Loss.h"
#include "src/nn/Model.h"
#include "src/train/BatchStager.h"
#include "src/train/TrainingStep.h"

namespace cohort::train {

struct EvaluationResult {
    double loss = 0.0;
    double accuracy = 0.0;
    std::int64_t samples = 0;
    int classes = 0;
    // classes x classes, row = true label, column = predicted; empty for a language model (whose
    // samples, loss and accuracy are per token)
    std::vector<std::int64_t> confusion;
    std::string confusionTable() const;   // printable matrix
};

class Evaluator {
public:
    // Buffers for `batchSize` samples are allocated once here and reused by every evaluate().
    Evaluator(nn::Model& model, kernels::Backend& backend, std::int64_t batchSize, WorkspaceMode mode);
    EvaluationResult evaluate(const data::Dataset& dataset);
    // The most memory an evaluator holds while it evaluates `dataset` when `model` computes in
    // `location` (its buffers, its workspace, the host copies evaluate() makes), for memory
    // predictions. `backend` answers a convolution's working memory.
    static memory::MemoryDemand memoryFor(const nn::Model& model, memory::MemoryLocation location, std::int64_t batchSize,
                                          WorkspaceMode mode, const data::Dataset& dataset, kernels::Backend& backend);

private:
    nn::Model& model_;
    kernels::Backend& backend_;
    std::int64_t batchSize_;
    WorkspaceMode mode_;
    Tensor hostInput_;   // [batch, sample...] host staging
    std::vector<std::int32_t> hostLabels_;
    BatchStager stager_;
    Tensor lossSlot_;
    Tensor correctSlot_;
    std::vector<float> hostLogits_;
    std::vector<double> wideLogits_;
    double readLoss();
    void countPredictions(const Tensor& logits, std::int64_t rows, std::int64_t classes, EvaluationResult& result);
};

}  // namespace cohort::train
