// The CUDA backend's convolution and pooling (cuDNN) against the CPU backend (the reference, itself
// checked against naive loops in CpuConvolutionTest): random inputs of odd sizes, float and double,
// every gradient, bitwise repetition, the workspace contract and the true-fp32 promise. Skips
// itself where no CUDA device is visible; compiled only into builds with the CUDA toolkit.
#ifdef COHORT_WITH_CUDA
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/Backend.h"
#include "kernels/ShapeChecks.h"
#include "kernels/cuda/CudaBackend.h"
#include "tests/kernels/DeviceBuffer.h"
#include "tests/kernels/KernelTestSupport.h"

namespace cohort::kernels {
namespace {

using cohort::testing::DeviceBuffer;

template <typename T>
DeviceBuffer upload(Backend& gpu, const std::vector<T>& values) {
    DeviceBuffer buffer(values.size() * sizeof(T));
    gpu.copyFromHost(buffer.bytes(), values.data(), buffer.get());
    return buffer;
}

template <typename T>
std::vector<T> download(Backend& gpu, const DeviceBuffer& buffer) {
    std::vector<T> values(buffer.bytes() / sizeof(T));
    gpu.copyToHost(buffer.bytes(), buffer.get(), values.data());
    return values;
}

using cohort::testing::dtypeOf;
using cohort::testing::inputSize;
using cohort::testing::outputSize;
using cohort::testing::weightSize;

// Odd sizes with stride 2 and padding 1; LeNet's two convolutions at an odd batch; an even kernel
// with stride 3 and padding 2.
const std::vector<ConvolutionShape>& convolutionShapes() {
    static const std::vector<ConvolutionShape> all = {
        {3, 5, 13, 11, 7, 3, 2, 1},
        {17, 1, 28, 28, 20, 5, 1, 0},
        {17, 20, 12, 12, 50, 5, 1, 0},
        {2, 3, 9, 7, 5, 4, 3, 2},
    };
    return all;
}

template <typename T>
struct ConvolutionInputs {
    std::vector<T> x, weights, bias, dy;
};

template <typename T>
struct ConvolutionOutputs {
    std::vector<T> y, dx, dweights, dbias;  // dx and dbias empty when not asked for
};

// Forward then backward on the CPU backend (host memory).
template <typename T>
ConvolutionOutputs<T> runOnCpu(Backend& cpu, const ConvolutionShape& s, const ConvolutionInputs<T>& in) {
    constexpr DType dtype = dtypeOf<T>();
    const std::size_t forwardBytes = cpu.convolutionWorkspaceBytes(dtype, s, ConvolutionPass::Forward);
    const std::size_t backwardBytes = cpu.convolutionWorkspaceBytes(dtype, s, ConvolutionPass::Backward);
    std::vector<double> forwardWorkspace(forwardBytes / sizeof(double) + 1);
    std::vector<double> backwardWorkspace(backwardBytes / sizeof(double) + 1);
    ConvolutionOutputs<T> out{std::vector<T>(outputSize(s)), std::vector<T>(inputSize(s)),
                              std::vector<T>(weightSize(s)), std::vector<T>(std::size_t(s.outChannels))};
    cpu.convolutionForward(dtype, s, in.x.data(), in.weights.data(), in.bias.data(), out.y.data(),
                           forwardWorkspace.data(), forwardBytes);
    cpu.convolutionBackward(dtype, s, in.x.data(), in.weights.data(), in.dy.data(), out.dx.data(), out.dweights.data(),
                            out.dbias.data(), forwardWorkspace.data(), backwardWorkspace.data(), backwardBytes);
    return out;
}

// Forward then backward on a CUDA backend, with or without bias and dx.
template <typename T>
ConvolutionOutputs<T> runOnGpu(Backend& gpu, const ConvolutionShape& s, const ConvolutionInputs<T>& in, bool withBias,
                               bool withDx) {
    constexpr DType dtype = dtypeOf<T>();
    const DeviceBuffer x = upload(gpu, in.x), weights = upload(gpu, in.weights), bias = upload(gpu, in.bias);
    const DeviceBuffer dy = upload(gpu, in.dy);
    DeviceBuffer y(outputSize(s) * sizeof(T)), dx(inputSize(s) * sizeof(T)), dweights(weightSize(s) * sizeof(T));
    DeviceBuffer dbias(std::size_t(s.outChannels) * sizeof(T));
    const std::size_t forwardBytes = gpu.convolutionWorkspaceBytes(dtype, s, ConvolutionPass::Forward);
    const std::size_t backwardBytes = gpu.convolutionWorkspaceBytes(dtype, s, ConvolutionPass::Backward);
    DeviceBuffer forwardWorkspace(forwardBytes), backwardWorkspace(backwardBytes);
    gpu.convolutionForward(dtype, s, x.get(), weights.get(), withBias ? bias.get() : nullptr, y.get(),
                           forwardWorkspace.get(), forwardBytes);
    gpu.convolutionBackward(dtype, s, x.get(), weights.get(), dy.get(), withDx ? dx.get() : nullptr, dweights.get(),
                            withBias ? dbias.get() : nullptr, forwardWorkspace.get(), backwardWorkspace.get(),
                            backwardBytes);
    ConvolutionOutputs<T> out;
    out.y = download<T>(gpu, y);
    out.dweights = download<T>(gpu, dweights);
    if (withDx) out.dx = download<T>(gpu, dx);
    if (withBias) out.dbias = download<T>(gpu, dbias);
    return out;
}

template <typename T>
double maxAbs(const std::vector<T>& values) {
    double largest = 0.0;
    for (const T v : values) largest = std::max(largest, std::abs(double(v)));
    return largest;
}

// |actual - expected| <= relative * (|expected| + max |expected|): relative agreement for large
// values and a floor, relative to the tensor's scale, for values that are sums cancelling to
// near zero. Reports the first few misses.
template <typename T, typename U>
void expectClose(const std::vector<T>& expected, const std::vector<U>& actual, double relative,
                 const std::string& what) {
    ASSERT_EQ(expected.size(), actual.size()) << what;
    const double scale = maxAbs(expected);
    int reported = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const double e = double(expected[i]), a = double(actual[i]);
        if (std::abs(a - e) <= relative * (std::abs(e) + scale)) continue;
        ADD_FAILURE() << what << "[" << i << "]: cpu " << e << ", cuda " << a << " (scale " << scale << ")";
        if (++reported == 5) return;
    }
}

template <typename T>
bool bitwiseEqual(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

bool builtWithCudnn(Backend& gpu) {
    CudaBackend* cuda = asCudaBackend(gpu);
    return cuda && cuda->cudnnHandle() != nullptr;
}

template <typename T>
class CudaConvolutionTest : public ::testing::Test {
protected:
    static constexpr DType kDType = dtypeOf<T>();
    // Forward outputs are sums of patch() products; gradients sum over many more terms.
    static constexpr double kForwardRelative = std::is_same_v<T, float> ? 1e-4 : 1e-10;
    static constexpr double kGradientRelative = std::is_same_v<T, float> ? 1e-3 : 1e-10;

    void SetUp() override {
        if (cudaDeviceCount() == 0) GTEST_SKIP() << "no CUDA device";
        cpu_ = makeCpuBackend(1);
        gpu_ = makeCudaBackend(0);
        if (!builtWithCudnn(*gpu_)) GTEST_SKIP() << "built without cuDNN";
    }

    std::vector<T> random(std::size_t count) {
        std::uniform_real_distribution<double> distribution(-1.0, 1.0);
        std::vector<T> values(count);
        for (T& value : values) value = T(distribution(generator_));
        return values;
    }
    // Distinct values in (-1, 1) in random order: max pooling has no ties to break.
    std::vector<T> distinct(std::size_t count) {
        std::vector<std::size_t> order(count);
        std::iota(order.begin(), order.end(), std::size_t(0));
        std::shuffle(order.begin(), order.end(), generator_);
        std::vector<T> values(count);
        for (std::size_t i = 0; i < count; ++i) values[i] = T((double(order[i]) + 0.5) / double(count) * 2.0 - 1.0);
        return values;
    }
    ConvolutionInputs<T> inputs(const ConvolutionShape& s) {
        return {random(inputSize(s)), random(weightSize(s)), random(std::size_t(s.outChannels)), random(outputSize(s))};
    }

    std::unique_ptr<Backend> cpu_, gpu_;
    std::mt19937_64 generator_{20240612};
};

using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CudaConvolutionTest, FloatTypes);

TYPED_TEST(CudaConvolutionTest, ForwardAndBackwardMatchCpu) {
    for (const ConvolutionShape& s : convolutionShapes()) {
        SCOPED_TRACE(toString(s));
        const auto in = this->inputs(s);
        const auto expected = runOnCpu(*this->cpu_, s, in);
        const auto actual = runOnGpu(*this->gpu_, s, in, true, true);
        expectClose(expected.y, actual.y, this->kForwardRelative, "y");
        expectClose(expected.dx, actual.dx, this->kGradientRelative, "dx");
        expectClose(expected.dweights, actual.dweights, this->kGradientRelative, "dweights");
        expectClose(expected.dbias, actual.dbias, this->kGradientRelative, "dbias");

        // Without bias and dx: y is the bare convolution, dweights unchanged.
        auto unbiased = in;
        std::fill(unbiased.bias.begin(), unbiased.bias.end(), TypeParam(0));
        const auto expectedUnbiased = runOnCpu(*this->cpu_, s, unbiased);
        const auto bare = runOnGpu(*this->gpu_, s, in, false, false);
        expectClose(expectedUnbiased.y, bare.y, this->kForwardRelative, "y without bias");
        expectClose(expected.dweights, bare.dweights, this->kGradientRelative, "dweights without dx and dbias");
    }
}

TYPED_TEST(CudaConvolutionTest, RepeatsBitwiseOnOneBackendAndAcrossBackends) {
    auto other = makeCudaBackend(0);
    for (const ConvolutionShape& s : convolutionShapes()) {
        SCOPED_TRACE(toString(s));
        const auto in = this->inputs(s);
        const auto first = runOnGpu(*this->gpu_, s, in, true, true);
        for (Backend* backend : {this->gpu_.get(), this->gpu_.get(), other.get()}) {
            const auto again = runOnGpu(*backend, s, in, true, true);
            EXPECT_TRUE(bitwiseEqual(first.y, again.y)) << "y";
            EXPECT_TRUE(bitwiseEqual(first.dx, again.dx)) << "dx";
            EXPECT_TRUE(bitwiseEqual(first.dweights, again.dweights)) << "dweights";
            EXPECT_TRUE(bitwiseEqual(first.dbias, again.dbias)) << "dbias";
        }
    }
}

TYPED_TEST(CudaConvolutionTest, WorkspaceBytesAreStablePerShape) {
    const auto& shapes = convolutionShapes();
    std::vector<std::size_t> forward, backward;
    for (const ConvolutionShape& s : shapes) {
        forward.push_back(this->gpu_->convolutionWorkspaceBytes(this->kDType, s, ConvolutionPass::Forward));
        backward.push_back(this->gpu_->convolutionWorkspaceBytes(this->kDType, s, ConvolutionPass::Backward));
    }
    auto other = makeCudaBackend(0);
    for (std::size_t i = 0; i < shapes.size(); ++i) {
        SCOPED_TRACE(toString(shapes[i]));
        runOnGpu(*this->gpu_, shapes[i], this->inputs(shapes[i]), true, true);  // running changes nothing
        for (Backend* backend : {this->gpu_.get(), other.get()}) {
            EXPECT_EQ(forward[i],
                      backend->convolutionWorkspaceBytes(this->kDType, shapes[i], ConvolutionPass::Forward));
            EXPECT_EQ(backward[i],
                      backend->convolutionWorkspaceBytes(this->kDType, shapes[i], ConvolutionPass::Backward));
        }
    }
}

// Pooling: both modes, windows that tile (2, stride 2) and that overlap (3, stride 2), odd sizes
// whose last rows and columns no window reads.
TYPED_TEST(CudaConvolutionTest, PoolingMatchesCpuAndRepeatsBitwise) {
    using T = TypeParam;
    const std::vector<PoolingShape> shapes = {
        {3, 5, 13, 11, 2, 2},
        {3, 5, 13, 11, 3, 2},
        {17, 20, 24, 24, 2, 2},
        {17, 50, 8, 8, 2, 2},
    };
    const double relative = std::is_same_v<T, float> ? 1e-6 : 1e-14;
    for (const PoolingShape& s : shapes) {
        for (PoolingMode mode : {PoolingMode::Max, PoolingMode::Average}) {
            SCOPED_TRACE(toString(s) + ", " + toString(mode));
            const std::size_t inputs = std::size_t(s.batch * s.channels * s.height * s.width);
            const std::size_t outputs = std::size_t(s.batch * s.channels * s.outHeight() * s.outWidth());
            const std::vector<T> x = this->distinct(inputs), dy = this->random(outputs);
            std::vector<T> y(outputs), dx(inputs);
            this->cpu_->poolingForward(this->kDType, mode, s, x.data(), y.data());
            this->cpu_->poolingBackward(this->kDType, mode, s, x.data(), y.data(), dy.data(), dx.data());

            const DeviceBuffer xDevice = upload(*this->gpu_, x), dyDevice = upload(*this->gpu_, dy);
            DeviceBuffer yDevice(outputs * sizeof(T)), dxDevice(inputs * sizeof(T));
            auto run = [&] {
                this->gpu_->poolingForward(this->kDType, mode, s, xDevice.get(), yDevice.get());
                this->gpu_->poolingBackward(this->kDType, mode, s, xDevice.get(), yDevice.get(), dyDevice.get(),
                                            dxDevice.get());
                return std::make_pair(download<T>(*this->gpu_, yDevice), download<T>(*this->gpu_, dxDevice));
            };
            const auto first = run();
            expectClose(y, first.first, relative, "y");
            expectClose(dx, first.second, relative, "dx");
            const auto again = run();
            EXPECT_TRUE(bitwiseEqual(first.first, again.first)) << "y repeats bitwise";
            EXPECT_TRUE(bitwiseEqual(first.second, again.second)) << "dx repeats bitwise";
        }
    }
}

// float32 convolutions are true fp32 (no TF32 tensor-op kernels) unless the backend allows TF32:
// against the CPU in double on the same (float-rounded) values, fp32 accumulation stays near 1e-6
// of the output's scale (the bound allows 1e-4) while TF32's 10-bit mantissa lands near 1e-4 to
// 1e-3 at the largest outputs.
TEST(CudaConvolution, Float32IsTrueFp32UnlessTf32IsAllowed) {
    if (cudaDeviceCount() == 0) GTEST_SKIP() << "no CUDA device";
    auto cpu = makeCpuBackend(1);
    auto fp32 = makeCudaBackend(0, false);
    auto tf32 = makeCudaBackend(0, true);
    if (!builtWithCudnn(*fp32)) GTEST_SKIP() << "built without cuDNN";
    std::mt19937_64 generator(77);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    for (const ConvolutionShape& s : convolutionShapes()) {
        SCOPED_TRACE(toString(s));
        auto draw = [&](std::size_t count) {
            std::vector<float> values(count);
            for (float& value : values) value = float(uniform(generator));
            return values;
        };
        auto widen = [](const std::vector<float>& values) { return std::vector<double>(values.begin(), values.end()); };
        const ConvolutionInputs<float> single{draw(inputSize(s)), draw(weightSize(s)), draw(std::size_t(s.outChannels)),
                                              draw(outputSize(s))};
        const ConvolutionInputs<double> wide{widen(single.x), widen(single.weights), widen(single.bias),
                                             widen(single.dy)};
        const auto reference = runOnCpu(*cpu, s, wide);
        const auto exact = runOnGpu(*fp32, s, single, true, true);
        expectClose(reference.y, exact.y, 5e-5, "fp32 y");
        expectClose(reference.dx, exact.dx, 5e-5, "fp32 dx");
        expectClose(reference.dweights, exact.dweights, 5e-5, "fp32 dweights");
        expectClose(reference.dbias, exact.dbias, 5e-5, "fp32 dbias");
        // TF32 allowed: right to TF32's precision (whether cuDNN uses tensor cores or not).
        const auto relaxed = runOnGpu(*tf32, s, single, true, true);
        expectClose(reference.y, relaxed.y, 1e-2, "tf32 y");
        expectClose(reference.dx, relaxed.dx, 1e-2, "tf32 dx");
        expectClose(reference.dweights, relaxed.dweights, 1e-2, "tf32 dweights");
    }
}

TEST(CudaConvolution, RejectsAWorkspaceSmallerThanItAskedFor) {
    if (cudaDeviceCount() == 0) GTEST_SKIP() << "no CUDA device";
    auto gpu = makeCudaBackend(0);
    if (!builtWithCudnn(*gpu)) GTEST_SKIP() << "built without cuDNN";
    int checked = 0;
    for (DType dtype : {DType::Float32, DType::Float64}) {
        for (const ConvolutionShape& s : convolutionShapes()) {
            const std::size_t element = sizeOf(dtype);
            DeviceBuffer x(inputSize(s) * element), weights(weightSize(s) * element), y(outputSize(s) * element);
            DeviceBuffer dweights(weightSize(s) * element);
            for (ConvolutionPass pass : {ConvolutionPass::Forward, ConvolutionPass::Backward}) {
                const std::size_t bytes = gpu->convolutionWorkspaceBytes(dtype, s, pass);
                if (bytes == 0) continue;  // cuDNN chose an algorithm that needs none
                DeviceBuffer workspace(bytes);
                const bool forward = pass == ConvolutionPass::Forward;
                try {
                    if (forward) {
                        gpu->convolutionForward(dtype, s, x.get(), weights.get(), nullptr, y.get(), workspace.get(),
                                                bytes - 1);
                    } else {
                        gpu->convolutionBackward(dtype, s, x.get(), weights.get(), y.get(), nullptr, dweights.get(),
                                                 nullptr, nullptr, workspace.get(), bytes - 1);
                    }
                    ADD_FAILURE() << toString(s) << ": a workspace one byte short was accepted";
                } catch (const std::invalid_argument& error) {
                    const std::string message = error.what();
                    EXPECT_NE(message.find(forward ? "convolutionForward" : "convolutionBackward"), std::string::npos)
                        << message;
                    EXPECT_NE(message.find("workspace"), std::string::npos) << message;
                }
                ++checked;
            }
        }
    }
    gpu->synchronize();
    if (checked == 0) GTEST_SKIP() << "cuDNN chose workspace-free algorithms for every shape";
}

TEST(CudaConvolution, RejectsImpossibleShapesAndDimensionsBeyondCudnnsInts) {
    if (cudaDeviceCount() == 0) GTEST_SKIP() << "no CUDA device";
    auto gpu = makeCudaBackend(0);
    if (!builtWithCudnn(*gpu)) GTEST_SKIP() << "built without cuDNN";
    const ConvolutionShape good{2, 3, 9, 9, 4, 3, 2, 1};
    std::vector<ConvolutionShape> bad(8, good);
    bad[0].batch = 0;
    bad[1].stride = 0;
    bad[2].padding = -1;
    bad[3].kernel = 12;                        // larger than 9 + 2 * 1
    bad[4].batch = std::int64_t(INT_MAX) + 1;  // one dimension beyond int
    bad[5].batch = 1 << 16;                    // every dimension an int, the input's elements not
    bad[5].inChannels = 1 << 8;
    bad[5].height = bad[5].width = 1 << 8;
    bad[6].outChannels = 1 << 20;  // the weights' elements beyond int
    bad[6].inChannels = 1 << 12;
    bad[7].outChannels = 0;
    for (const ConvolutionShape& s : bad) {
        SCOPED_TRACE(toString(s));
        EXPECT_THROW(gpu->convolutionWorkspaceBytes(DType::Float32, s, ConvolutionPass::Forward),
                     std::invalid_argument);
        EXPECT_THROW(gpu->convolutionForward(DType::Float32, s, nullptr, nullptr, nullptr, nullptr, nullptr, 0),
                     std::invalid_argument);
        EXPECT_THROW(gpu->convolutionBackward(DType::Float64, s, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                                              nullptr, nullptr, 0),
                     std::invalid_argument);
    }
    const std::vector<PoolingShape> badPooling = {
        {0, 1, 4, 4, 2, 2},
        {1, 1, 4, 4, 5, 1},
        {1, 1, 4, 4, 2, 0},
        {1 << 16, 1 << 8, 1 << 8, 1 << 8, 2, 2},
    };
    for (const PoolingShape& s : badPooling) {
        SCOPED_TRACE(toString(s));
        EXPECT_THROW(gpu->poolingForward(DType::Float32, PoolingMode::Max, s, nullptr, nullptr), std::invalid_argument);
        EXPECT_THROW(gpu->poolingBackward(DType::Float32, PoolingMode::Average, s, nullptr, nullptr, nullptr, nullptr),
                     std::invalid_argument);
    }
    gpu->synchronize();  // nothing was enqueued, and the backend is still usable
}

// In a build without cuDNN the backend still works, and these operations say what is missing.
TEST(CudaConvolution, WithoutCudnnEveryOperationSaysWhatIsMissing) {
    if (cudaDeviceCount() == 0) GTEST_SKIP() << "no CUDA device";
    auto gpu = makeCudaBackend(0);
    if (builtWithCudnn(*gpu)) GTEST_SKIP() << "built with cuDNN";
    const ConvolutionShape s{2, 3, 9, 9, 4, 3, 2, 1};
    const PoolingShape p{2, 3, 8, 8, 2, 2};
    auto expectMissing = [](auto operation, const char* name) {
        try {
            operation();
            ADD_FAILURE() << name << " ran without cuDNN";
        } catch (const std::runtime_error& error) {
            EXPECT_NE(std::string(error.what()).find("cuDNN"), std::string::npos) << error.what();
        }
    };
    expectMissing([&] { gpu->convolutionWorkspaceBytes(DType::Float32, s, ConvolutionPass::Forward); },
                  "convolutionWorkspaceBytes");
    expectMissing([&] { gpu->convolutionForward(DType::Float32, s, nullptr, nullptr, nullptr, nullptr, nullptr, 0); },
                  "convolutionForward");
    expectMissing(
        [&] {
            gpu->convolutionBackward(DType::Float32, s, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                                     nullptr, 0);
        },
        "convolutionBackward");
    expectMissing([&] { gpu->poolingForward(DType::Float32, PoolingMode::Max, p, nullptr, nullptr); },
                  "poolingForward");
    expectMissing(
        [&] { gpu->poolingBackward(DType::Float32, PoolingMode::Max, p, nullptr, nullptr, nullptr, nullptr); },
        "poolingBackward");
}

}  // namespace
}  // namespace cohort::kernels

#endif  // COHORT_WITH_CUDA
