#pragma once
// kernels/cuda/CudaBackend.h — what a CUDA backend offers beyond the Backend contract.
//
// makeCudaBackend(device, allowTf32) returns one of these: it owns one non-blocking stream on
// its device, a cuBLAS handle bound to that stream (fp32 GEMMs in CUBLAS_DEFAULT_MATH, i.e. true
// fp32; CUBLAS_TF32_TENSOR_OP_MATH only when allowTf32) with a fixed cuBLAS workspace, a cuDNN
// handle bound to the same stream (batch norm, convolution, pooling; absent in a build without
// cuDNN, where those operations throw), and a scratch area for reductions allocated once at
// construction.
// Every operation is enqueued on the stream and returns without waiting, except copyToHost (waits
// so the host value is ready) and synchronize(). Reductions (columnSum, sumOfSquares, the losses)
// use a fixed block count that depends only on the problem size and no floating-point atomics, so
// results are bitwise reproducible run to run on a given device. Batch norm, convolution and
// pooling are cuDNN's, restricted to its deterministic algorithms (convolutions in true fp32
// unless allowTf32): the tests check that they repeat bitwise as well.
//
// The header carries no CUDA types so code built without the toolkit can include it; the stream
// and the cuBLAS and cuDNN handles come back as void* (cast to cudaStream_t / cublasHandle_t /
// cudnnHandle_t).
//
// CUDA-graph capture: after one warm-up step nothing in the backend allocates. The only
// allocations after construction are two areas grown on first use and then kept: a staging area
// for average() over more than kMaxAverageSourcesPerLaunch buffers, and a stand-in for dx when
// batchNormBackward is called without one (cuDNN always writes dx), sized to the largest input.
// Convolution algorithms are chosen (cuDNN's heuristics, host-side) on the first call for a shape,
// i.e. in the warm-up step, and remembered; the convolution working memory is the caller's.
#include "kernels/Backend.h"

namespace cohort::kernels {

class CudaBackend : public Backend {
public:
    // average() folds this many sources per kernel launch (pointers travel by value).
    static constexpr int kMaxAverageSourcesPerLaunch = 32;

    virtual int device() const = 0;
    virtual bool tf32Allowed() const = 0;
    virtual void* streamHandle() const = 0;  // cudaStream_t
    virtual void* cublasHandle() const = 0;  // cublasHandle_t
    virtual void* cudnnHandle() const = 0;   // cudnnHandle_t bound to the stream; nullptr without cuDNN
};

// The CUDA view of a backend, or nullptr when it is not a CUDA backend.
inline CudaBackend* asCudaBackend(Backend& backend) { return dynamic_cast<CudaBackend*>(&backend); }

}  // namespace cohort::kernels
