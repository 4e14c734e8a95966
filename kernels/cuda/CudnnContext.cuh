#pragma once
// kernels/cuda/CudnnContext.cuh — a CUDA backend's cuDNN state.
//
// One cuDNN handle per backend, created while the backend's device is current and bound to its
// stream (cudnnSetStream), so cuDNN work is ordered with cuBLAS and cohort's own kernels; plus
// tensor descriptors created once and re-set by every operation (setting a descriptor neither
// allocates nor synchronises, so a step that uses them stays capturable into a CUDA graph).
//
// Built without cudnn.h (COHORT_HAVE_CUDNN_HEADER unset, see CudaCheck.cuh) the context holds
// nothing, handle() is nullptr and requireCudnn() throws: the backend still builds, and every
// operation but the cuDNN ones works.
#include <cuda_runtime_api.h>

#include "kernels/Backend.h"
#include "kernels/cuda/CudaCheck.cuh"

namespace cohort::kernels::cuda_detail {

class CudnnContext {
public:
    // Throws std::runtime_error when cuDNN cannot be initialised on the current device.
    explicit CudnnContext(cudaStream_t stream);
    ~CudnnContext();
    CudnnContext(const CudnnContext&) = delete;
    CudnnContext& operator=(const CudnnContext&) = delete;

    void* handle() const;  // cudnnHandle_t; nullptr in a build without cuDNN

#ifdef COHORT_HAVE_CUDNN_HEADER
    cudnnHandle_t cudnn() const { return handle_; }
    // An activation-shaped tensor (x, y, dx, dy).
    cudnnTensorDescriptor_t dataDescriptor() const { return data_; }
    // Per-channel values (scale, bias, statistics), usually derived from dataDescriptor().
    cudnnTensorDescriptor_t channelDescriptor() const { return channel_; }

private:
    void release() noexcept;

    cudnnHandle_t handle_ = nullptr;
    cudnnTensorDescriptor_t data_ = nullptr;
    cudnnTensorDescriptor_t channel_ = nullptr;
#endif
};

#ifdef COHORT_HAVE_CUDNN_HEADER
// Shared by the cuDNN operations (batch norm, convolution, pooling).
inline cudnnDataType_t cudnnDataTypeOf(DType dtype) {
    return dtype == DType::Float32 ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE;
}

// cuDNN's blend factors (alpha, beta) are host values of type float for float data, double for
// double data.
struct BlendFactor {
    float single;
    double wide;
    const void* of(DType dtype) const {
        return dtype == DType::Float32 ? static_cast<const void*>(&single) : static_cast<const void*>(&wide);
    }
};
inline const BlendFactor kOne{1.0f, 1.0};
inline const BlendFactor kZero{0.0f, 0.0};
#endif

// Returns in a build with cuDNN; otherwise throws std::runtime_error("<operation> on CUDA needs
// cuDNN ...") saying how to get it.
void requireCudnn(const char* operation);

}  // namespace cohort::kernels::cuda_detail
