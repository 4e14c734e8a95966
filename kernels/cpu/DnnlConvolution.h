#pragma once
// kernels/cpu/DnnlConvolution.h — float convolutions of the CPU backend through oneDNN (the
// library PyTorch itself runs its CPU convolutions on), when cohort is built with it
// (COHORT_WITH_DNNL; Debian's libdnnl-dev). Doubles keep the im2col path (CpuConvolution), which
// the gradient checks use.
//
// Per shape, once (when the layer asks for its workspace size, before the first step): the
// forward, backward-data and backward-weights primitives, in the memory formats oneDNN prefers
// for them (blocked), the reorders between those and cohort's NCHW / OIHW, and the argument lists.
// Every step then only points the prepared memory objects at the caller's buffers and runs: all
// working memory (reordered tensors and each primitive's scratchpad, in user scratchpad mode)
// comes from the caller's workspace, so a step asks the system allocator for nothing.
//
// Working memory:
//   forward:  [x, weights, y in oneDNN's formats] [scratchpad]
//   backward: [x, dy (for weights), dy (for data), weights, dweights, dx in oneDNN's formats]
//             [scratchpad]
// The backward pass takes x in oneDNN's format from the forward's workspace when given.
#include <cstddef>
#include <memory>

#include "kernels/Backend.h"

namespace cohort::kernels::cpu_detail {

class DnnlConvolutions {
public:
    DnnlConvolutions();
    ~DnnlConvolutions();
    DnnlConvolutions(const DnnlConvolutions&) = delete;
    DnnlConvolutions& operator=(const DnnlConvolutions&) = delete;

    std::size_t workspaceBytes(const ConvolutionShape& shape, ConvolutionPass pass);
    void forward(const ConvolutionShape& shape, const float* x, const float* weights, const float* bias, float* y,
                 void* workspace, std::size_t workspaceBytes);
    void backward(const ConvolutionShape& shape, const float* x, const float* weights, const float* dy, float* dx,
                  float* dweights, float* dbias, const void* forwardWorkspace, void* workspace,
                  std::size_t workspaceBytes);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// True when this build has oneDNN (its float convolutions are then the CPU backend's).
bool haveDnnl();

}  // namespace cohort::kernels::cpu_detail
