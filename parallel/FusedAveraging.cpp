#include "parallel/FusedAveraging.h"

#include <algorithm>
#include <stdexcept>

namespace cohort::parallel {

UpdateAndAverage::UpdateAndAverage(std::vector<ReplicaBuffers> replicas, kernels::DType dtype,
                                   std::int64_t parameterCount, bool averageState, OuterState* outer)
    : replicas_(std::move(replicas)), dtype_(dtype), parameterCount_(parameterCount), averageState_(averageState),
      outer_(outer), slices_(replicas_.size()) {
    if (replicas_.empty()) throw std::invalid_argument("UpdateAndAverage needs at least one replica");
}

void UpdateAndAverage::averageInto(int localWorker, kernels::Backend& backend, std::size_t byteOffset,
                                   std::int64_t count, bool state, int segment) {
    const std::size_t element = kernels::sizeOf(dtype_);
    const std::size_t segmentBytes = std::size_t(segment) * std::size_t(parameterCount_) * element;
    auto base = [&](std::size_t r) -> char* {
        return state ? static_cast<char*>(replicas_[r].optimizer->state().raw()) + segmentBytes
                     : static_cast<char*>(replicas_[r].parameters);
    };
    for (std::size_t r = 0; r < replicas_.size(); ++r) slices_[r] = base(r) + byteOffset;
    const auto first = std::int64_t(byteOffset / element);
    averageSliceIntoEveryReplica(backend, dtype_, count, slices_.data(), int(replicas_.size()), localWorker, [&] {
        if (outer_ && !state) outer_->step(backend, replicas_[std::size_t(localWorker)].parameters, first, first + count);
    });
}

void UpdateAndAverage::run(int localWorker, kernels::Backend& backend, std::int64_t begin, std::int64_t end) {
    const std::int64_t block = backend.location().isDevice() ? std::max<std::int64_t>(1, end - begin) : kHostBlock;
    const int segments = replicas_[0].optimizer->stateSegments();
    const std::size_t element = kernels::sizeOf(dtype_);
    for (std::int64_t first = begin; first < end; first += block) {
        const std::int64_t last = std::min(end, first + block);
        if (applyUpdates_) {
            for (const ReplicaBuffers& replica : replicas_) {
                replica.optimizer->update(backend, replica.parameters, replica.gradients, learningRate_, first, last);
            }
        }
        if (replicas_.size() == 1) {
            if (outer_) outer_->step(backend, replicas_[0].parameters, first, last);
            continue;
        }
        const std::size_t offset = std::size_t(first) * element;
        averageInto(localWorker, backend, offset, last - first, false, 0);
        if (averageState_) {
            for (int s = 0; s < segments; ++s) averageInto(localWorker, backend, offset, last - first, true, s);
        }
    }
}

}  // namespace cohort::parallel
