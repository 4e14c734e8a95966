#pragma once
// UpdateAndAverage: the optimizer update of an averaging step fused with the averaging itself.
//
// At an averaging point of averaging mode, every replica would first apply its own optimizer
// update (reading parameters, gradients and state, writing parameters and state) and then the
// communicator would read and write the same buffers again to average them. When all replicas
// share memory (Communicator::sharesReplicaMemory), each worker instead takes one slice of the
// flat index range and, block by block, applies every replica's update to that block and
// averages the block across replicas while it is still in cache. The result is bitwise the one
// of "update, then average" (the same kernels on the same values); the averaging stops costing
// a second pass over memory. The outer optimizer's step (parallel/OuterOptimizer.h) joins the
// same pass: each block's mean steps before it is copied into the replicas.
#include <cstdint>
#include <vector>

#include "parallel/Communicator.h"
#include "parallel/OuterOptimizer.h"
#include "src/optim/Optimizer.h"

namespace cohort::parallel {

struct ReplicaBuffers {
    void* parameters = nullptr;
    const void* gradients = nullptr;
    optim::Optimizer* optimizer = nullptr;
};

class UpdateAndAverage final : public SliceWork {
public:
    // `replicas`: every local replica, index = local worker. The optimizers' beginStep() must
    // have been called for this step before run(). With `outer` (the replicas' one outer state),
    // each block's mean takes the outer step before it is copied into every replica.
    UpdateAndAverage(std::vector<ReplicaBuffers> replicas, kernels::DType dtype, std::int64_t parameterCount,
                     bool averageState, OuterState* outer = nullptr);

    void setLearningRate(double learningRate) { learningRate_ = learningRate; }
    // false: the updates were applied already (fusing off); only average (and the outer step).
    void setApplyUpdates(bool apply) { applyUpdates_ = apply; }
    void run(int localWorker, kernels::Backend& backend, std::int64_t begin, std::int64_t end) override;

    // Elements per block on the host: every replica's parameters, gradients and state for one
    // block stay in a core's L2 cache between the update and the averaging.
    static constexpr std::int64_t kHostBlock = 4096;

private:
    void averageInto(int localWorker, kernels::Backend& backend, std::size_t byteOffset, std::int64_t count, bool state,
                     int segment);

    std::vector<ReplicaBuffers> replicas_;
    kernels::DType dtype_;
    std::int64_t parameterCount_;
    bool averageState_;
    OuterState* outer_;
    bool applyUpdates_ = true;
    double learningRate_ = 0.0;
    std::vector<void*> slices_;  // sized once
};

}  // namespace cohort::parallel
