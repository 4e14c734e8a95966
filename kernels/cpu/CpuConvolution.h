#pragma once
// kernels/cpu/CpuConvolution.h — the CPU backend's convolution and pooling (see Backend.h for the
// contract). Convolution lowers the whole batch with im2col into one column matrix
// [patch, batch*outH*outW] so forward and each backward product are one GEMM, through `gemm`
// (the CPU backend itself: OpenBLAS with the worker's thread count). The loops around the GEMMs
// split samples, channels or planes over the caller's OpenMP threads; every output element is
// written by one thread in a fixed order, so results do not depend on the thread count.
//
// Working memory (from the caller's workspace):
//   forward:  columns [patch, N*HW] | product [outC, N*HW]
//   backward: deltaT  [outC, N*HW]  | columns or column gradients [patch, N*HW]
// The backward pass reads the forward's columns from forwardWorkspace when given, and lowers x
// again otherwise.
#include <cstddef>

#include "kernels/Backend.h"

namespace cohort::kernels::cpu_detail {

// A part of a convolution's workspace, rounded up so the next part starts 64-byte aligned.
inline std::size_t alignUp(std::size_t bytes) { return (bytes + 63) / 64 * 64; }

std::size_t convolutionWorkspaceBytes(DType dtype, const ConvolutionShape& shape, ConvolutionPass pass);
void convolutionForward(Backend& gemm, DType dtype, const ConvolutionShape& shape, const void* x, const void* weights,
                        const void* bias, void* y, void* workspace, std::size_t workspaceBytes);
void convolutionBackward(Backend& gemm, DType dtype, const ConvolutionShape& shape, const void* x,
                         const void* weights, const void* dy, void* dx, void* dweights, void* dbias,
                         const void* forwardWorkspace, void* workspace, std::size_t workspaceBytes);
void poolingForward(DType dtype, PoolingMode mode, const PoolingShape& shape, const void* x, void* y);
void poolingBackward(DType dtype, PoolingMode mode, const PoolingShape& shape, const void* x, const void* dy,
                     void* dx);

}  // namespace cohort::kernels::cpu_detail
