#pragma once
// kernels/cuda/CudnnConvolution.cuh — the Backend's convolution and pooling on cuDNN.
//
// Same contract as Backend::convolution* / pooling* (kernels/Backend.h; the CPU backend is the
// reference), through cuDNN's legacy (v7-style) API. One CudnnConvolution belongs to one CUDA
// backend and uses its cuDNN handle (CudnnContext, bound to the backend's stream):
//
// - Descriptors are created once, here, and re-set by every call: x and dx as the NCHW tensor
//   [batch, inChannels, height, width], y and dy as [batch, outChannels, outHeight, outWidth], the
//   bias as [1, outChannels, 1, 1], the weights as the NCHW filter [outChannels, inChannels, kernel,
//   kernel], the convolution as 2-d cross-correlation with the shape's padding and stride, dilation
//   1 and the data type as compute type. Setting a descriptor neither allocates nor synchronises.
// - Math: CUDNN_FMA_MATH (true fp32, no TF32 tensor-op kernels) unless the backend allows TF32,
//   then CUDNN_DEFAULT_MATH (TF32 permitted; never CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, which
//   would down-convert to half precision). float64 uses CUDNN_DEFAULT_MATH (fp64 stays fp64).
// - Algorithms are chosen once per (dtype, shape), the first time any of the three convolution
//   operations sees that shape (so in the warm-up step of a training loop): cuDNN's heuristics
//   (cudnnGetConvolution*Algorithm_v7, which neither run kernels nor allocate) rank the candidates
//   for forward, backward-data and backward-filter; each pass takes the first one that cuDNN
//   reports supported and deterministic (bitwise-repeatable: this excludes the backward algorithms
//   that use atomics), that uses an acceptable math type and whose workspace size
//   (cudnnGetConvolution*WorkspaceSize, under the math type it will run with) cuDNN states, and
//   records the algorithm, its math type and that size. Later calls reuse the choice, so the
//   bytes asked for a shape never change.
//   Forward workspace = the forward algorithm's; Backward = max(backward-data, backward-filter).
// - convolutionForward: cudnnConvolutionForward into y, then the bias by cudnnAddTensor.
//   convolutionBackward: dbias by cudnnConvolutionBackwardBias, dweights by
//   cudnnConvolutionBackwardFilter, dx by cudnnConvolutionBackwardData; forwardWorkspace is not
//   used. Blend factors are float for float data, double for double data (cuDNN's rule).
// - Pooling: CUDNN_POOLING_MAX_DETERMINISTIC for max, CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
//   for average (there is no padding), CUDNN_NOT_PROPAGATE_NAN. Where a window holds several equal
//   maxima, cuDNN decides which one receives dy (the contract's "first maximum" is the CPU's rule).
//
// Errors: an impossible shape, a dimension or a tensor beyond cuDNN's int range, or a workspace
// smaller than convolutionWorkspaceBytes asks is std::invalid_argument naming the operation; a
// shape for which cuDNN offers no deterministic algorithm is std::runtime_error. Built without
// cudnn.h (COHORT_HAVE_CUDNN_HEADER unset) every operation throws std::runtime_error("convolution
// on CUDA needs cuDNN ...") or ("pooling on CUDA needs cuDNN ..."). The caller makes the backend's
// device current.
#include <cstddef>
#include <vector>

#include "kernels/Backend.h"
#include "kernels/cuda/CudnnContext.cuh"

namespace cohort::kernels::cuda_detail {

class CudnnConvolution {
public:
    // Creates the descriptors (nothing in a build without cuDNN). `cudnn` must outlive this object.
    CudnnConvolution(const CudnnContext& cudnn, bool allowTf32);
    ~CudnnConvolution();
    CudnnConvolution(const CudnnConvolution&) = delete;
    CudnnConvolution& operator=(const CudnnConvolution&) = delete;

    std::size_t workspaceBytes(DType dtype, const ConvolutionShape& shape, ConvolutionPass pass);
    void forward(DType dtype, const ConvolutionShape& shape, const void* x, const void* weights, const void* bias,
                 void* y, void* workspace, std::size_t workspaceBytes);
    void backward(DType dtype, const ConvolutionShape& shape, const void* x, const void* weights, const void* dy,
                  void* dx, void* dweights, void* dbias, void* workspace, std::size_t workspaceBytes);
    void poolingForward(DType dtype, PoolingMode mode, const PoolingShape& shape, const void* x, void* y);
    void poolingBackward(DType dtype, PoolingMode mode, const PoolingShape& shape, const void* x, const void* y,
                         const void* dy, void* dx);

#ifdef COHORT_HAVE_CUDNN_HEADER
private:
    // The algorithms chosen for one (dtype, shape), with the math type each was ranked under and
    // the workspace each needs.
    struct Selection {
        DType dtype = DType::Float32;
        ConvolutionShape shape;
        cudnnConvolutionFwdAlgo_t forward{};
        cudnnConvolutionBwdDataAlgo_t backwardData{};
        cudnnConvolutionBwdFilterAlgo_t backwardFilter{};
        cudnnMathType_t forwardMath = CUDNN_DEFAULT_MATH;
        cudnnMathType_t backwardDataMath = CUDNN_DEFAULT_MATH;
        cudnnMathType_t backwardFilterMath = CUDNN_DEFAULT_MATH;
        std::size_t forwardBytes = 0, backwardDataBytes = 0, backwardFilterBytes = 0;
        std::size_t backwardBytes() const {
            return backwardDataBytes > backwardFilterBytes ? backwardDataBytes : backwardFilterBytes;
        }
    };

    // Checks `shape` (std::invalid_argument naming `operation`) and sets the tensor, filter and
    // convolution descriptors for it (math type: the wanted one).
    void describe(DType dtype, const ConvolutionShape& shape, const char* operation);
    // The cached selection for (dtype, shape), made now on a miss; describe() must have run.
    const Selection& select(DType dtype, const ConvolutionShape& shape, const char* operation);
    // select()'s three passes, each recording its algorithm, math type and workspace in `chosen`
    // (whose dtype and shape are set).
    void chooseForward(Selection& chosen, const char* operation);
    void chooseBackwardData(Selection& chosen, const char* operation);
    void chooseBackwardFilter(Selection& chosen, const char* operation);
    // One pass, given its cuDNN calls (candidate count, ranking, workspace size); defined and used
    // in CudnnConvolution.cpp only.
    template <typename Perf, typename CandidateCount, typename Rank, typename WorkspaceSize>
    auto choose(DType dtype, const ConvolutionShape& shape, const char* operation, const char* pass,
                CandidateCount candidateCount, Rank rank, WorkspaceSize workspaceSize);
    cudnnMathType_t wantedMath(DType dtype) const;
    bool acceptableMath(DType dtype, cudnnMathType_t math) const;
    cudnnMathType_t runMath(DType dtype, cudnnMathType_t reported) const;  // what an accepted candidate runs under
    void release() noexcept;

    cudnnHandle_t handle_ = nullptr;
    bool allowTf32_ = false;
    cudnnTensorDescriptor_t input_ = nullptr;   // x, dx
    cudnnTensorDescriptor_t output_ = nullptr;  // y, dy
    cudnnTensorDescriptor_t bias_ = nullptr;    // bias, dbias: [1, outChannels, 1, 1]
    cudnnFilterDescriptor_t filter_ = nullptr;  // weights, dweights
    cudnnConvolutionDescriptor_t convolution_ = nullptr;
    cudnnPoolingDescriptor_t pooling_ = nullptr;
    std::vector<Selection> selections_;  // a handful of shapes per model: a linear search
#endif
};

}  // namespace cohort::kernels::cuda_detail
