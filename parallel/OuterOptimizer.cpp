#include "parallel/OuterOptimizer.h"

#include <stdexcept>

namespace cohort::parallel {

OuterState::OuterState(const OuterOptimizerConfig& config, std::int64_t parameterCount, kernels::DType dtype,
                       memory::MemoryLocation location)
    : config_(config), dtype_(dtype), anchor_(Tensor::persistent(Shape({parameterCount}), dtype, location)) {
    if (!config.enabled()) throw std::invalid_argument("OuterState needs an outer optimizer");
    if (config.kind == OuterOptimizerKind::Nesterov) velocity_ = Tensor::persistent(Shape({parameterCount}), dtype, location);
}

memory::MemoryDemand OuterState::memoryFor(const OuterOptimizerConfig& config, std::int64_t parameterCount,
                                           kernels::DType dtype, memory::MemoryLocation location) {
    memory::MemoryDemand demand;
    if (!config.enabled()) return demand;
    const std::int64_t bytes = memory::saturatingMultiply(parameterCount, std::int64_t(kernels::sizeOf(dtype)));
    demand.charge(location, bytes);                                                     // anchor_
    if (config.kind == OuterOptimizerKind::Nesterov) demand.charge(location, bytes);   // velocity_
    return demand;
}

void OuterState::reset(kernels::Backend& backend, const Tensor& parameters, const std::vector<unsigned char>& velocity) {
    backend.copy(anchor_.byteCount(), parameters.raw(), anchor_.raw());
    if (!hasVelocity()) return;
    if (velocity.empty()) {
        backend.fill(dtype_, velocity_.elementCount(), 0.0, velocity_.raw());
    } else {
        if (velocity.size() != velocity_.byteCount()) throw std::invalid_argument("outer velocity bytes differ");
        backend.copyFromHost(velocity.size(), velocity.data(), velocity_.raw());
    }
}

void OuterState::step(kernels::Backend& backend, void* parameters, std::int64_t begin, std::int64_t end) {
    const std::size_t offset = std::size_t(begin) * kernels::sizeOf(dtype_);
    auto at = [offset](const Tensor& tensor) -> void* {
        return tensor.raw() == nullptr ? nullptr : static_cast<char*>(tensor.raw()) + offset;
    };
    backend.outerUpdate(dtype_, end - begin, config_.learningRate, config_.momentum, static_cast<char*>(parameters) + offset,
                        at(anchor_), at(velocity_));
}

}  // namespace cohort::parallel
