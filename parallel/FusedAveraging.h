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
// a second pass over memory.
#include <cstdint>
#include <vector>

#include "parallel/Communicator.h"
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
    // have been called for this step before run().
    UpdateAndAverage(std::vector<ReplicaBuffers> replicas, kernels::DType dtype, std::int64_t parameterCount,
                     bool averageState);

    void setLearningRate(double learningRate) { learningRate_ = learningRate; }
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
    double learningRate_ = 0.0;
    std::vector<void*> slices_;  // sized once
};

}  // namespace cohort::parallel
