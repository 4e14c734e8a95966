#pragma once
// BatchStager: puts a host batch (float32 features, int32 labels) where a model computes. For a
// float32 model on the host the batch is used in place (a view, no copy); otherwise the features
// are converted to the model's dtype and copied, with the labels, into buffers of the model's
// location that are allocated once here. The one place the trainer, the evaluator and the
// parallel workers share for this.
#include <cstdint>
#include <vector>

#include "kernels/Backend.h"
#include "src/nn/Model.h"

namespace cohort::train {

struct StagedBatch {
    Tensor input;                        // [rows, sample...] in the model's location and dtype
    const std::int32_t* labels = nullptr;  // in the model's location
};

class BatchStager {
public:
    BatchStager(const nn::Model& model, std::int64_t capacity);
    // What a stager for `capacity` rows holds when `model` computes in `location` (for memory
    // predictions: the model itself may not be there yet).
    static memory::MemoryDemand memoryFor(const nn::Model& model, memory::MemoryLocation location, std::int64_t capacity);
    // `features` holds rows x sample floats and `labels` rows values, both in host memory; they
    // must stay valid until the step that uses the result has finished when copying() is false.
    StagedBatch stage(kernels::Backend& backend, const float* features, const std::int32_t* labels,
                      std::int64_t rows);
    bool copying() const { return copying_; }

private:
    Shape batchShape_;
    std::int64_t labelSize_;  // labels per row (the model's predictions per sample)
    DType dtype_;
    bool copying_;
    Tensor input_;
    Tensor labels_;               // int32 values in the bytes of a float32 tensor
    std::vector<double> widened_;  // float64 models: conversion buffer, sized once
};

}  // namespace cohort::train
