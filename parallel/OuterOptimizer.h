#pragma once
// The outer optimizer of an averaging point (DiLoCo: Douillard et al. 2023, arXiv:2311.08105).
//
// Between averaging points each replica runs its own (inner) optimizer. At a point, plain
// averaging takes the replicas' mean as the new parameters. With an outer optimizer, the
// difference between the parameters of the previous point (the anchor) and the mean is treated
// as a gradient, the pseudo-gradient, and the outer optimizer steps from the anchor with it:
// SGD (outer learning rate 1: the mean itself, bit for bit) or Nesterov momentum (the paper's:
// learning rate 0.7, momentum 0.9). Kernels: Backend::outerUpdate.
//
// The state (the anchor and, for Nesterov, the velocity) is flat like the parameters and
// identical on every replica: after the average every replica holds the same mean, so the same
// arithmetic on the same values keeps every copy equal without sending it anywhere. Replicas that
// share memory (CPU threads, workers on one GPU) keep one copy per process, updated slice by
// slice inside the averaging pass (parallel/FusedAveraging.h); others keep one copy each.
//
// At every sync point of averaging mode the parameters equal the anchor (the outer step writes
// both), so a snapshot stores only the velocity.
#include <cstdint>

#include "kernels/Backend.h"
#include "parallel/ParallelConfig.h"
#include "src/tensor/Tensor.h"

namespace cohort::parallel {

class OuterState {
public:
    OuterState(const OuterOptimizerConfig& config, std::int64_t parameterCount, kernels::DType dtype,
               memory::MemoryLocation location);
    // What such a state holds (the anchor, the velocity), for memory predictions.
    static memory::MemoryDemand memoryFor(const OuterOptimizerConfig& config, std::int64_t parameterCount,
                                          kernels::DType dtype, memory::MemoryLocation location);

    // Starts from `parameters` (the anchor) with zero velocity, or with `velocity` (host bytes of a
    // snapshot; empty: zero).
    void reset(kernels::Backend& backend, const Tensor& parameters, const std::vector<unsigned char>& velocity = {});
    // The outer step on elements [begin, end) of `parameters`, which hold the replicas' mean.
    void step(kernels::Backend& backend, void* parameters, std::int64_t begin, std::int64_t end);

    const OuterOptimizerConfig& config() const { return config_; }
    bool hasVelocity() const { return config_.kind == OuterOptimizerKind::Nesterov; }
    const Tensor& velocity() const { return velocity_; }  // undefined for SGD

private:
    OuterOptimizerConfig config_;
    kernels::DType dtype_;
    Tensor anchor_;
    Tensor velocity_;
};

}  // namespace cohort::parallel
