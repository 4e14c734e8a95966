// The cuDNN handle and descriptors of one CUDA backend (see CudnnContext.cuh).
#include "kernels/cuda/CudnnContext.cuh"

#include <stdexcept>
#include <string>

namespace cohort::kernels::cuda_detail {

#ifdef COHORT_HAVE_CUDNN_HEADER

CudnnContext::CudnnContext(cudaStream_t stream) {
    try {
        COHORT_CUDNN_CHECK(cudnnCreate(&handle_));
        COHORT_CUDNN_CHECK(cudnnSetStream(handle_, stream));
        COHORT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&data_));
        COHORT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&channel_));
    } catch (...) {
        release();
        throw;
    }
}

CudnnContext::~CudnnContext() { release(); }

void* CudnnContext::handle() const { return handle_; }

void CudnnContext::release() noexcept {
    if (channel_) reportTeardownFailure(cudnnDestroyTensorDescriptor(channel_), "cudnnDestroyTensorDescriptor");
    if (data_) reportTeardownFailure(cudnnDestroyTensorDescriptor(data_), "cudnnDestroyTensorDescriptor");
    if (handle_) reportTeardownFailure(cudnnDestroy(handle_), "cudnnDestroy");
    channel_ = data_ = nullptr;
    handle_ = nullptr;
}

void requireCudnn(const char*) {}

#else  // built without cudnn.h

CudnnContext::CudnnContext(cudaStream_t) {}
CudnnContext::~CudnnContext() = default;
void* CudnnContext::handle() const { return nullptr; }

void requireCudnn(const char* operation) {
    throw std::runtime_error(std::string(operation) +
                             " on CUDA needs cuDNN, and cohort was built without it (cudnn.h was not found): "
                             "install cuDNN 9 for this CUDA toolkit and reconfigure (CMake cache variables "
                             "COHORT_CUDNN_INCLUDE / COHORT_CUDNN_LIBRARY), or run on the CPU backend");
}

#endif

}  // namespace cohort::kernels::cuda_detail
