#pragma once
// kernels/cuda/CudaBackend.h — what a CUDA backend offers beyond the Backend contract.
//
// makeCudaBackend(device, allowTf32) returns one of these: it owns one non-blocking stream on
// its device, a cuBLAS handle bound to that stream (fp32 GEMMs in CUBLAS_DEFAULT_MATH, i.e. true
// fp32; CUBLAS_TF32_TENSOR_OP_MATH only when allowTf32) with a fixed cuBLAS workspace, and a
// scratch area for reductions allocated once at construction. Every operation is enqueued on the
// stream and returns without waiting, except copyToHost (waits so the host value is ready) and
// synchronize(). Reductions (columnSum, sumOfSquares, the losses) use a fixed block count that
// depends only on the problem size and no floating-point atomics, so results are bitwise
// reproducible run to run on a given device.
//
// The header carries no CUDA types so code built without the toolkit can include it; the stream
// and cuBLAS handle come back as void* (cast to cudaStream_t / cublasHandle_t).
//
// CUDA-graph capture: after one warm-up step nothing in the backend allocates. The only
// allocation after construction is a staging area for average() over more than
// kMaxAverageSourcesPerLaunch buffers (grown once, on first use).
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
};

// The CUDA view of a backend, or nullptr when it is not a CUDA backend.
inline CudaBackend* asCudaBackend(Backend& backend) { return dynamic_cast<CudaBackend*>(&backend); }

}  // namespace cohort::kernels
