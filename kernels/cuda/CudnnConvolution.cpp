// Convolution and pooling through cuDNN's legacy (v7-style) API (see CudnnConvolution.cuh).
#include "kernels/cuda/CudnnConvolution.cuh"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/ShapeChecks.h"
#include "kernels/cuda/CudaCheck.cuh"
#include "kernels/cuda/CudaKernels.cuh"

namespace cohort::kernels::cuda_detail {

#ifdef COHORT_HAVE_CUDNN_HEADER
namespace {

// cuDNN indexes a packed tensor with int strides: its element count must fit an int. Each factor
// has passed intDimension, so every partial product (<= INT_MAX * INT_MAX) fits in int64.
void requireIntElements(const char* operation, const char* tensor, std::int64_t a, std::int64_t b, std::int64_t c,
                        std::int64_t d) {
    std::int64_t elements = 1;
    for (const std::int64_t factor : {a, b, c, d}) {
        elements *= factor;
        if (elements > INT_MAX) {
            throw std::invalid_argument(std::string(operation) + ": " + tensor + " of " + std::to_string(a) + "x" +
                                        std::to_string(b) + "x" + std::to_string(c) + "x" + std::to_string(d) +
                                        " elements exceeds " + std::to_string(INT_MAX) + " (" + kCudnnIntRemedy + ")");
        }
    }
}

// [batch, inChannels, height, width] -> [batch, outChannels, outH, outW] in cuDNN's ints.
struct ConvolutionDims {
    int batch = 0, inChannels = 0, height = 0, width = 0, outChannels = 0, outHeight = 0, outWidth = 0;
    int kernel = 0, stride = 0, padding = 0;
};

ConvolutionDims checkedDims(const ConvolutionShape& s, const char* operation) {
    requireShape(s, operation);
    ConvolutionDims d;
    d.batch = cudnnDimension(operation, "batch", s.batch);
    d.inChannels = cudnnDimension(operation, "inChannels", s.inChannels);
    d.height = cudnnDimension(operation, "height", s.height);
    d.width = cudnnDimension(operation, "width", s.width);
    d.outChannels = cudnnDimension(operation, "outChannels", s.outChannels);
    d.kernel = cudnnDimension(operation, "kernel", s.kernel);
    d.stride = cudnnDimension(operation, "stride", s.stride);
    d.padding = cudnnDimension(operation, "padding", s.padding);
    d.outHeight = cudnnDimension(operation, "outHeight", s.outHeight());
    d.outWidth = cudnnDimension(operation, "outWidth", s.outWidth());
    requireIntElements(operation, "input", s.batch, s.inChannels, s.height, s.width);
    requireIntElements(operation, "output", s.batch, s.outChannels, s.outHeight(), s.outWidth());
    requireIntElements(operation, "weights", s.outChannels, s.inChannels, s.kernel, s.kernel);
    return d;
}

struct PoolingDims {
    int batch = 0, channels = 0, height = 0, width = 0, outHeight = 0, outWidth = 0, window = 0, stride = 0;
};

PoolingDims checkedDims(const PoolingShape& s, const char* operation) {
    requireShape(s, operation);
    PoolingDims d;
    d.batch = cudnnDimension(operation, "batch", s.batch);
    d.channels = cudnnDimension(operation, "channels", s.channels);
    d.height = cudnnDimension(operation, "height", s.height);
    d.width = cudnnDimension(operation, "width", s.width);
    d.window = cudnnDimension(operation, "window", s.window);
    d.stride = cudnnDimension(operation, "stride", s.stride);
    d.outHeight = cudnnDimension(operation, "outHeight", s.outHeight());
    d.outWidth = cudnnDimension(operation, "outWidth", s.outWidth());
    requireIntElements(operation, "input", s.batch, s.channels, s.height, s.width);
    return d;
}

// x (and dx) as [batch, channels, height, width], y (and dy) as [batch, channels, outH, outW], the
// window without padding.
void describePooling(cudnnTensorDescriptor_t input, cudnnTensorDescriptor_t output, cudnnPoolingDescriptor_t pooling,
                     DType dtype, PoolingMode mode, const PoolingDims& d) {
    const cudnnDataType_t type = cudnnDataTypeOf(dtype);
    COHORT_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(input, CUDNN_TENSOR_NCHW, type, d.batch, d.channels, d.height, d.width));
    COHORT_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(output, CUDNN_TENSOR_NCHW, type, d.batch, d.channels, d.outHeight, d.outWidth));
    const cudnnPoolingMode_t cudnnMode =
        mode == PoolingMode::Max ? CUDNN_POOLING_MAX_DETERMINISTIC : CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING;
    COHORT_CUDNN_CHECK(cudnnSetPooling2dDescriptor(pooling, cudnnMode, CUDNN_NOT_PROPAGATE_NAN, d.window, d.window, 0,
                                                   0, d.stride, d.stride));
}

const char* mathName(cudnnMathType_t math) {
    switch (math) {
        case CUDNN_DEFAULT_MATH:
            return "CUDNN_DEFAULT_MATH";
        case CUDNN_TENSOR_OP_MATH:
            return "CUDNN_TENSOR_OP_MATH";
        case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION:
            return "CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION";
        case CUDNN_FMA_MATH:
            return "CUDNN_FMA_MATH";
    }
    return "an unknown math type";
}

std::string describeShape(DType dtype, const ConvolutionShape& s) {
    return std::string(kernels::toString(dtype)) + " batch " + std::to_string(s.batch) + ", " +
           std::to_string(s.inChannels) + "x" + std::to_string(s.height) + "x" + std::to_string(s.width) + " -> " +
           std::to_string(s.outChannels) + ", kernel " + std::to_string(s.kernel) + ", stride " +
           std::to_string(s.stride) + ", padding " + std::to_string(s.padding);
}

}  // namespace

CudnnConvolution::CudnnConvolution(const CudnnContext& cudnn, bool allowTf32)
    : handle_(cudnn.cudnn()), allowTf32_(allowTf32) {
    try {
        COHORT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&input_));
        COHORT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&output_));
        COHORT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&bias_));
        COHORT_CUDNN_CHECK(cudnnCreateFilterDescriptor(&filter_));
        COHORT_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&convolution_));
        COHORT_CUDNN_CHECK(cudnnCreatePoolingDescriptor(&pooling_));
    } catch (...) {
        release();
        throw;
    }
}

CudnnConvolution::~CudnnConvolution() { release(); }

void CudnnConvolution::release() noexcept {
    if (pooling_) reportTeardownFailure(cudnnDestroyPoolingDescriptor(pooling_), "cudnnDestroyPoolingDescriptor");
    if (convolution_) {
        reportTeardownFailure(cudnnDestroyConvolutionDescriptor(convolution_), "cudnnDestroyConvolutionDescriptor");
    }
    if (filter_) reportTeardownFailure(cudnnDestroyFilterDescriptor(filter_), "cudnnDestroyFilterDescriptor");
    if (bias_) reportTeardownFailure(cudnnDestroyTensorDescriptor(bias_), "cudnnDestroyTensorDescriptor");
    if (output_) reportTeardownFailure(cudnnDestroyTensorDescriptor(output_), "cudnnDestroyTensorDescriptor");
    if (input_) reportTeardownFailure(cudnnDestroyTensorDescriptor(input_), "cudnnDestroyTensorDescriptor");
    pooling_ = nullptr;
    convolution_ = nullptr;
    filter_ = nullptr;
    bias_ = output_ = input_ = nullptr;
}

cudnnMathType_t CudnnConvolution::wantedMath(DType dtype) const {
    return dtype == DType::Float32 && !allowTf32_ ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
}

// True fp32 admits FMA kernels: candidates cuDNN ranks as FMA or as default math (which may be
// how it reports a plain fp32 kernel; not verified on a GPU yet) — they then run under
// CUDNN_FMA_MATH (runMath), so TF32 tensor cores stay off either way. Otherwise anything but a
// down-conversion to half precision: TF32 tensor ops for float when allowed, fp64 tensor ops
// (still fp64) for double.
bool CudnnConvolution::acceptableMath(DType dtype, cudnnMathType_t math) const {
    if (wantedMath(dtype) == CUDNN_FMA_MATH) return math == CUDNN_FMA_MATH || math == CUDNN_DEFAULT_MATH;
    return math != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

cudnnMathType_t CudnnConvolution::runMath(DType dtype, cudnnMathType_t reported) const {
    return wantedMath(dtype) == CUDNN_FMA_MATH ? CUDNN_FMA_MATH : reported;
}

void CudnnConvolution::describe(DType dtype, const ConvolutionShape& shape, const char* operation) {
    const ConvolutionDims d = checkedDims(shape, operation);
    const cudnnDataType_t type = cudnnDataTypeOf(dtype);
    COHORT_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(input_, CUDNN_TENSOR_NCHW, type, d.batch, d.inChannels, d.height, d.width));
    COHORT_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(output_, CUDNN_TENSOR_NCHW, type, d.batch, d.outChannels, d.outHeight, d.outWidth));
    COHORT_CUDNN_CHECK(cudnnSetTensor4dDescriptor(bias_, CUDNN_TENSOR_NCHW, type, 1, d.outChannels, 1, 1));
    COHORT_CUDNN_CHECK(
        cudnnSetFilter4dDescriptor(filter_, type, CUDNN_TENSOR_NCHW, d.outChannels, d.inChannels, d.kernel, d.kernel));
    COHORT_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(convolution_, d.padding, d.padding, d.stride, d.stride, 1, 1,
                                                       CUDNN_CROSS_CORRELATION, type));
    COHORT_CUDNN_CHECK(cudnnSetConvolutionMathType(convolution_, wantedMath(dtype)));
}

namespace {

// The algorithms cudnn_ops.h marks non-deterministic (they accumulate with atomics). cuDNN reports
// them as such in the ranking; they are excluded by name as well.
bool knownNondeterministic(cudnnConvolutionFwdAlgo_t) { return false; }
bool knownNondeterministic(cudnnConvolutionBwdDataAlgo_t algo) { return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0; }
bool knownNondeterministic(cudnnConvolutionBwdFilterAlgo_t algo) {
    return algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 || algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
}

// One pass's choice: the algorithm, the math type it runs under and the workspace it needs.
template <typename Algorithm>
struct Choice {
    Algorithm algorithm{};
    cudnnMathType_t math = CUDNN_DEFAULT_MATH;
    std::size_t bytes = 0;
};

// The first of cuDNN's ranked candidates (best first) that it reports as supported and
// deterministic, whose math type is acceptable and whose workspace size cuDNN can state (it
// refuses to for an algorithm it cannot run on this configuration). `workspaceSize(candidate,
// &bytes)` sets the candidate's math type and asks. False when none qualifies; `refusal` then
// holds the last workspace-size refusal, if any.
template <typename Perf, typename Algorithm, typename Acceptable, typename WorkspaceSize>
bool chooseFirstUsable(const std::vector<Perf>& ranked, int returned, Acceptable acceptable,
                       WorkspaceSize workspaceSize, Choice<Algorithm>& choice, std::string& refusal) {
    for (int i = 0; i < returned && i < int(ranked.size()); ++i) {
        const Perf& candidate = ranked[std::size_t(i)];
        if (candidate.status != CUDNN_STATUS_SUCCESS || candidate.determinism != CUDNN_DETERMINISTIC ||
            knownNondeterministic(candidate.algo) || !acceptable(candidate.mathType)) {
            continue;
        }
        std::size_t bytes = 0;
        const cudnnStatus_t status = workspaceSize(candidate, &bytes);
        if (status != CUDNN_STATUS_SUCCESS) {
            refusal =
                std::string("; algorithm ") + std::to_string(int(candidate.algo)) + ": " + cudnnGetErrorString(status);
            continue;
        }
        choice.algorithm = candidate.algo;
        choice.math = candidate.mathType;
        choice.bytes = bytes;
        return true;
    }
    return false;
}

[[noreturn]] void throwNoAlgorithm(const char* operation, const char* pass, DType dtype, const ConvolutionShape& s,
                                   cudnnMathType_t math, int returned, const std::string& refusal) {
    throw std::runtime_error(std::string(operation) + ": cuDNN offers no deterministic " + pass +
                             " algorithm for this shape (" + describeShape(dtype, s) + ", asked under " +
                             mathName(math) + ", " + std::to_string(returned) + " candidates ranked" + refusal +
                             "); this cuDNN cannot run it reproducibly, use the CPU backend");
}

}  // namespace

const CudnnConvolution::Selection& CudnnConvolution::select(DType dtype, const ConvolutionShape& shape,
                                                            const char* operation) {
    for (const Selection& known : selections_) {
        if (known.dtype == dtype && known.shape == shape) return known;
    }
    // A miss: cuDNN ranks under the wanted math type (describe() left it on the descriptor); each
    // candidate's workspace is asked under the math type it would run with.
    Selection chosen;
    chosen.dtype = dtype;
    chosen.shape = shape;
    chooseForward(chosen, operation);
    chooseBackwardData(chosen, operation);
    chooseBackwardFilter(chosen, operation);
    selections_.push_back(chosen);
    return selections_.back();
}

// One pass: cuDNN's ranking under the wanted math type, then the first usable candidate, which
// runs under runMath(); the descriptor is left under the wanted math type.
template <typename Perf, typename CandidateCount, typename Rank, typename WorkspaceSize>
auto CudnnConvolution::choose(DType dtype, const ConvolutionShape& shape, const char* operation, const char* pass,
                              CandidateCount candidateCount, Rank rank, WorkspaceSize workspaceSize) {
    const cudnnMathType_t math = wantedMath(dtype);
    const auto acceptable = [&](cudnnMathType_t candidate) { return acceptableMath(dtype, candidate); };
    std::vector<Perf> ranked(std::size_t(std::max(candidateCount(), 1)));
    const int returned = rank(ranked);
    const auto bytesOf = [&](const Perf& candidate, std::size_t* bytes) {
        COHORT_CUDNN_CHECK(cudnnSetConvolutionMathType(convolution_, runMath(dtype, candidate.mathType)));
        return workspaceSize(candidate.algo, bytes);
    };
    Choice<decltype(Perf{}.algo)> choice;
    std::string refusal;
    const bool found = chooseFirstUsable(ranked, returned, acceptable, bytesOf, choice, refusal);
    COHORT_CUDNN_CHECK(cudnnSetConvolutionMathType(convolution_, math));
    if (!found) throwNoAlgorithm(operation, pass, dtype, shape, math, returned, refusal);
    choice.math = runMath(dtype, choice.math);
    return choice;
}

void CudnnConvolution::chooseForward(Selection& chosen, const char* operation) {
    const auto forward = choose<cudnnConvolutionFwdAlgoPerf_t>(
        chosen.dtype, chosen.shape, operation, "forward",
        [&] {
            int most = 0;
            COHORT_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(handle_, &most));
            return most;
        },
        [&](std::vector<cudnnConvolutionFwdAlgoPerf_t>& ranked) {
            int returned = 0;
            COHORT_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle_, input_, filter_, convolution_, output_,
                                                                      int(ranked.size()), &returned, ranked.data()));
            return returned;
        },
        [&](cudnnConvolutionFwdAlgo_t algorithm, std::size_t* bytes) {
            return cudnnGetConvolutionForwardWorkspaceSize(handle_, input_, filter_, convolution_, output_, algorithm,
                                                           bytes);
        });
    chosen.forward = forward.algorithm;
    chosen.forwardMath = forward.math;
    chosen.forwardBytes = forward.bytes;
}

void CudnnConvolution::chooseBackwardData(Selection& chosen, const char* operation) {
    const auto backwardData = choose<cudnnConvolutionBwdDataAlgoPerf_t>(
        chosen.dtype, chosen.shape, operation, "backward-data",
        [&] {
            int most = 0;
            COHORT_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle_, &most));
            return most;
        },
        [&](std::vector<cudnnConvolutionBwdDataAlgoPerf_t>& ranked) {
            int returned = 0;
            COHORT_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
                handle_, filter_, output_, convolution_, input_, int(ranked.size()), &returned, ranked.data()));
            return returned;
        },
        [&](cudnnConvolutionBwdDataAlgo_t algorithm, std::size_t* bytes) {
            return cudnnGetConvolutionBackwardDataWorkspaceSize(handle_, filter_, output_, convolution_, input_,
                                                                algorithm, bytes);
        });
    chosen.backwardData = backwardData.algorithm;
    chosen.backwardDataMath = backwardData.math;
    chosen.backwardDataBytes = backwardData.bytes;
}

void CudnnConvolution::chooseBackwardFilter(Selection& chosen, const char* operation) {
    const auto backwardFilter = choose<cudnnConvolutionBwdFilterAlgoPerf_t>(
        chosen.dtype, chosen.shape, operation, "backward-filter",
        [&] {
            int most = 0;
            COHORT_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle_, &most));
            return most;
        },
        [&](std::vector<cudnnConvolutionBwdFilterAlgoPerf_t>& ranked) {
            int returned = 0;
            COHORT_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
                handle_, input_, output_, convolution_, filter_, int(ranked.size()), &returned, ranked.data()));
            return returned;
        },
        [&](cudnnConvolutionBwdFilterAlgo_t algorithm, std::size_t* bytes) {
            return cudnnGetConvolutionBackwardFilterWorkspaceSize(handle_, input_, output_, convolution_, filter_,
                                                                  algorithm, bytes);
        });
    chosen.backwardFilter = backwardFilter.algorithm;
    chosen.backwardFilterMath = backwardFilter.math;
    chosen.backwardFilterBytes = backwardFilter.bytes;
}

std::size_t CudnnConvolution::workspaceBytes(DType dtype, const ConvolutionShape& shape, ConvolutionPass pass) {
    constexpr const char* kOperation = "convolutionWorkspaceBytes";
    describe(dtype, shape, kOperation);
    const Selection& chosen = select(dtype, shape, kOperation);
    return pass == ConvolutionPass::Forward ? chosen.forwardBytes : chosen.backwardBytes();
}

void CudnnConvolution::forward(DType dtype, const ConvolutionShape& shape, const void* x, const void* weights,
                               const void* bias, void* y, void* workspace, std::size_t workspaceBytes) {
    constexpr const char* kOperation = "convolutionForward";
    describe(dtype, shape, kOperation);
    const Selection& chosen = select(dtype, shape, kOperation);
    requireWorkspace(chosen.forwardBytes, workspaceBytes, kOperation);
    COHORT_CUDNN_CHECK(cudnnSetConvolutionMathType(convolution_, chosen.forwardMath));
    COHORT_CUDNN_CHECK(cudnnConvolutionForward(handle_, kOne.of(dtype), input_, x, filter_, weights, convolution_,
                                               chosen.forward, workspace, chosen.forwardBytes, kZero.of(dtype), output_,
                                               y));
    if (bias) {
        COHORT_CUDNN_CHECK(cudnnAddTensor(handle_, kOne.of(dtype), bias_, bias, kOne.of(dtype), output_, y));
    }
}

void CudnnConvolution::backward(DType dtype, const ConvolutionShape& shape, const void* x, const void* weights,
                                const void* dy, void* dx, void* dweights, void* dbias, void* workspace,
                                std::size_t workspaceBytes) {
    constexpr const char* kOperation = "convolutionBackward";
    describe(dtype, shape, kOperation);
    const Selection& chosen = select(dtype, shape, kOperation);
    requireWorkspace(chosen.backwardBytes(), workspaceBytes, kOperation);
    // The three run one after another on the stream, so they share the workspace.
    if (dbias) {
        COHORT_CUDNN_CHECK(
            cudnnConvolutionBackwardBias(handle_, kOne.of(dtype), output_, dy, kZero.of(dtype), bias_, dbias));
    }
    COHORT_CUDNN_CHECK(cudnnSetConvolutionMathType(convolution_, chosen.backwardFilterMath));
    COHORT_CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle_, kOne.of(dtype), input_, x, output_, dy, convolution_,
                                                      chosen.backwardFilter, workspace, chosen.backwardFilterBytes,
                                                      kZero.of(dtype), filter_, dweights));
    if (dx) {
        COHORT_CUDNN_CHECK(cudnnSetConvolutionMathType(convolution_, chosen.backwardDataMath));
        COHORT_CUDNN_CHECK(cudnnConvolutionBackwardData(handle_, kOne.of(dtype), filter_, weights, output_, dy,
                                                        convolution_, chosen.backwardData, workspace,
                                                        chosen.backwardDataBytes, kZero.of(dtype), input_, dx));
    }
}

void CudnnConvolution::poolingForward(DType dtype, PoolingMode mode, const PoolingShape& shape, const void* x,
                                      void* y) {
    describePooling(input_, output_, pooling_, dtype, mode, checkedDims(shape, "poolingForward"));
    COHORT_CUDNN_CHECK(cudnnPoolingForward(handle_, pooling_, kOne.of(dtype), input_, x, kZero.of(dtype), output_, y));
}

void CudnnConvolution::poolingBackward(DType dtype, PoolingMode mode, const PoolingShape& shape, const void* x,
                                       const void* y, const void* dy, void* dx) {
    describePooling(input_, output_, pooling_, dtype, mode, checkedDims(shape, "poolingBackward"));
    COHORT_CUDNN_CHECK(cudnnPoolingBackward(handle_, pooling_, kOne.of(dtype), output_, y, output_, dy, input_, x,
                                            kZero.of(dtype), input_, dx));
}

#else  // built without cudnn.h: the operations exist and say what is missing

CudnnConvolution::CudnnConvolution(const CudnnContext&, bool) {}
CudnnConvolution::~CudnnConvolution() = default;

std::size_t CudnnConvolution::workspaceBytes(DType, const ConvolutionShape&, ConvolutionPass) {
    requireCudnn("convolution");
    return 0;
}

void CudnnConvolution::forward(DType, const ConvolutionShape&, const void*, const void*, const void*, void*, void*,
                               std::size_t) {
    requireCudnn("convolution");
}

void CudnnConvolution::backward(DType, const ConvolutionShape&, const void*, const void*, const void*, void*, void*,
                                void*, void*, std::size_t) {
    requireCudnn("convolution");
}

void CudnnConvolution::poolingForward(DType, PoolingMode, const PoolingShape&, const void*, void*) {
    requireCudnn("pooling");
}

void CudnnConvolution::poolingBackward(DType, PoolingMode, const PoolingShape&, const void*, const void*, const void*,
                                       void*) {
    requireCudnn("pooling");
}

#endif

}  // namespace cohort::kernels::cuda_detail
