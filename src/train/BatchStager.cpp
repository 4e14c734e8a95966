#include "src/train/BatchStager.h"

#include <stdexcept>

namespace cohort::train {
namespace {

bool copies(memory::MemoryLocation location, DType dtype) { return location.isDevice() || dtype != DType::Float32; }

}  // namespace

memory::MemoryDemand BatchStager::memoryFor(const nn::Model& model, memory::MemoryLocation location, std::int64_t capacity) {
    memory::MemoryDemand demand;
    if (!copies(location, model.dtype())) return demand;
    demand.charge(location, std::int64_t(nn::batchBytes(model.inputSample(), capacity, model.dtype())));  // input_
    demand.charge(location, std::int64_t(nn::batchBytes(Shape{model.predictionsPerSample()}, capacity, DType::Float32)));  // labels_
    if (model.dtype() == DType::Float64) {
        demand.outsideBudget(std::int64_t(nn::batchBytes(model.inputSample(), capacity, DType::Float64)));  // widened_
    }
    return demand;
}

BatchStager::BatchStager(const nn::Model& model, std::int64_t capacity)
    : batchShape_(model.inputSample().withBatch(capacity)),
      labelSize_(model.predictionsPerSample()),
      dtype_(model.dtype()),
      copying_(copies(model.location(), model.dtype())) {
    if (!copying_) return;
    input_ = Tensor::persistent(batchShape_, dtype_, model.location());
    labels_ = Tensor::persistent(Shape{capacity * labelSize_}, DType::Float32, model.location());
    if (dtype_ == DType::Float64) widened_.resize(static_cast<std::size_t>(batchShape_.elementCount()));
}

StagedBatch BatchStager::stage(kernels::Backend& backend, const float* features, const std::int32_t* labels,
                               std::int64_t rows) {
    if (rows > batchShape_[0]) {
        throw std::invalid_argument("BatchStager: " + std::to_string(rows) + " rows for a capacity of " +
                                    std::to_string(batchShape_[0]));
    }
    const Shape shape = batchShape_.withFirst(rows);
    if (!copying_) return {Tensor::view(const_cast<float*>(features), shape, DType::Float32), labels};
    const auto count = static_cast<std::size_t>(shape.elementCount());
    if (dtype_ == DType::Float64) {
        for (std::size_t i = 0; i < count; ++i) widened_[i] = features[i];
        backend.copyFromHost(count * sizeof(double), widened_.data(), input_.raw());
    } else {
        backend.copyFromHost(count * sizeof(float), features, input_.raw());
    }
    backend.copyFromHost(static_cast<std::size_t>(rows * labelSize_) * sizeof(std::int32_t), labels, labels_.raw());
    return {input_.slice(0, rows), reinterpret_cast<const std::int32_t*>(labels_.raw())};
}

}  // namespace cohort::train
