#include "parallel/DeviceStaging.h"

#include <stdexcept>
#include <string>

namespace cohort::parallel {

memory::MemoryDemand DeviceStaging::memoryFor(const nn::Model& model, memory::MemoryLocation location, std::int64_t capacity) {
    memory::MemoryDemand buffer;
    buffer.charge(location, std::int64_t(nn::batchBytes(model.inputSample(), capacity, DType::Float32)));  // input
    buffer.charge(location, std::int64_t(nn::batchBytes(Shape{model.predictionsPerSample()}, capacity, DType::Float32)));  // labels
    return buffer.times(2);
}

DeviceStaging::DeviceStaging(const nn::Model& model, std::int64_t capacity, kernels::Backend& backend,
                             PrefetchBuffer& prefetch, bool releaseAtOnce)
    : batchShape_(model.inputSample().withBatch(capacity)), labelSize_(model.predictionsPerSample()), backend_(backend),
      prefetch_(prefetch),
      releaseAtOnce_(releaseAtOnce) {
    if (model.dtype() != DType::Float32) throw std::invalid_argument("DeviceStaging stages float32 batches only");
    for (Buffer& buffer : buffers_) {
        buffer.input = Tensor::persistent(batchShape_, DType::Float32, model.location());
        buffer.labels = Tensor::persistent(Shape{capacity * labelSize_}, DType::Float32, model.location());
    }
}

train::StagedBatch DeviceStaging::stage(const PrefetchedBatch& prefetched) {
    if (current_) throw std::logic_error("DeviceStaging: stage() twice without consumed()");
    const auto rows = std::int64_t(prefetched.batch.size);
    if (rows <= 0 || rows > batchShape_[0]) {
        throw std::invalid_argument("DeviceStaging: " + std::to_string(rows) + " rows for a capacity of " +
                                    std::to_string(batchShape_[0]));
    }
    Buffer& buffer = buffers_[staged_ % 2];
    const Shape shape = batchShape_.withFirst(rows);
    backend_.stageFromHost(std::size_t(shape.elementCount()) * sizeof(float), prefetched.batch.features,
                           buffer.input.raw(), buffer.lastReader);
    // The labels follow on the same queue: their ticket covers both copies.
    currentTicket_ = backend_.stageFromHost(std::size_t(rows * labelSize_) * sizeof(std::int32_t), prefetched.batch.labels,
                                            buffer.labels.raw(), 0);
    backend_.awaitStaged(currentTicket_);
    current_ = true;
    return {buffer.input.slice(0, rows), static_cast<const std::int32_t*>(buffer.labels.raw())};
}

void DeviceStaging::consumed() {
    if (!current_) throw std::logic_error("DeviceStaging: consumed() without stage()");
    buffers_[staged_ % 2].lastReader = backend_.mark();
    ++staged_;
    current_ = false;
    if (holding_) {
        backend_.stagedOnHost(heldTicket_);
        prefetch_.release();
        holding_ = false;
    }
    if (releaseAtOnce_) {
        backend_.stagedOnHost(currentTicket_);
        prefetch_.release();
    } else {
        heldTicket_ = currentTicket_;
        holding_ = true;
    }
}

void DeviceStaging::releaseAll() {
    if (current_) throw std::logic_error("DeviceStaging: releaseAll() while a batch is staged but not consumed");
    if (holding_) {
        backend_.stagedOnHost(heldTicket_);
        prefetch_.release();
        holding_ = false;
    }
}

}  // namespace cohort::parallel
