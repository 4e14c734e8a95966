// CudaBackend against the CPU backend (the reference): every operation on random inputs of odd
// sizes, float and double. Skips itself where no CUDA device is visible; compiled only into
// builds with the CUDA toolkit.
#ifdef COHORT_WITH_CUDA
#include "kernels/cuda/CudaBackend.h"
#include "memory/CudaModule.h"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kernels/Backend.h"
#include "tests/kernels/DeviceBuffer.h"
#include "tests/kernels/KernelTestSupport.h"

namespace cohort::kernels {
namespace {

using cohort::testing::DeviceBuffer;

// The same values on the host (for the CPU backend) and on the device (for the CUDA backend).
template <typename T>
class Mirrored {
public:
    Mirrored(Backend& gpu, std::vector<T> values)
        : gpu_(gpu), host_(std::move(values)), device_(host_.size() * sizeof(T)) {
        gpu_.copyFromHost(device_.bytes(), host_.data(), device_.get());
        gpu_.synchronize();
    }
    T* host() { return host_.data(); }
    T* device() { return static_cast<T*>(device_.get()); }
    const std::vector<T>& hostValues() const { return host_; }
    std::vector<T> deviceValues() const {
        std::vector<T> values(host_.size());
        gpu_.copyToHost(device_.bytes(), device_.get(), values.data());
        return values;
    }

private:
    Backend& gpu_;
    std::vector<T> host_;
    DeviceBuffer device_;
};

using cohort::testing::dtypeOf;

template <typename T>
class CudaBackendTest : public ::testing::Test {
protected:
    static constexpr DType kDType = dtypeOf<T>();
    // Relative agreement expected between two correct implementations of the same formula.
    static constexpr double kRelative = std::is_same_v<T, float> ? 1e-5 : 1e-12;

    void SetUp() override {
        if (cudaDeviceCount() == 0) GTEST_SKIP() << "no CUDA device";
        cpu_ = makeCpuBackend(1);
        gpu_ = makeCudaBackend(0);
    }

    std::vector<T> random(std::size_t count, double low = -1.0, double high = 1.0) {
        std::uniform_real_distribution<double> distribution(low, high);
        std::vector<T> values(count);
        for (T& value : values) value = T(distribution(generator_));
        return values;
    }
    Mirrored<T> mirrored(std::vector<T> values) { return Mirrored<T>(*gpu_, std::move(values)); }

    // |gpu - cpu| <= relative * |cpu| + absolute, element by element; reports the first few.
    void expectClose(const std::vector<T>& expected, const std::vector<T>& actual,
                     const std::string& what, double absolute = 0.0) {
        ASSERT_EQ(expected.size(), actual.size()) << what;
        const double floor = absolute > 0.0 ? absolute : kRelative;
        int reported = 0;
        for (std::size_t i = 0; i < expected.size(); ++i) {
            const double e = double(expected[i]), a = double(actual[i]);
            if (std::isnan(e) && std::isnan(a)) continue;
            if (std::abs(a - e) <= kRelative * std::abs(e) + floor) continue;
            ADD_FAILURE() << what << "[" << i << "]: cpu " << e << ", cuda " << a;
            if (++reported == 5) return;
        }
    }
    void expectClose(const Mirrored<T>& both, const std::string& what, double absolute = 0.0) {
        expectClose(both.hostValues(), both.deviceValues(), what, absolute);
    }

    std::unique_ptr<Backend> cpu_, gpu_;
    std::mt19937_64 generator_{20240611};
};

using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CudaBackendTest, FloatTypes);

TYPED_TEST(CudaBackendTest, GemmMatchesCpuForEveryTransposeAndPaddedStrides) {
    const std::int64_t m = 37, n = 53, k = 29;
    for (bool transposeA : {false, true}) {
        for (bool transposeB : {false, true}) {
            for (double beta : {0.0, 0.3}) {
                const std::int64_t lda = (transposeA ? m : k) + 3, ldb = (transposeB ? k : n) + 2;
                const std::int64_t ldc = n + 5;
                auto a = this->mirrored(this->random(std::size_t((transposeA ? k : m) * lda)));
                auto b = this->mirrored(this->random(std::size_t((transposeB ? n : k) * ldb)));
                auto c = this->mirrored(this->random(std::size_t(m * ldc)));
                for (Backend* backend : {this->cpu_.get(), this->gpu_.get()}) {
                    const bool onGpu = backend == this->gpu_.get();
                    backend->gemm(this->kDType, transposeA, transposeB, m, n, k, 0.7,
                                  onGpu ? a.device() : a.host(), lda,
                                  onGpu ? b.device() : b.host(), ldb, beta,
                                  onGpu ? c.device() : c.host(), ldc);
                }
                this->expectClose(c,
                                  "gemm tA=" + std::to_string(transposeA) +
                                      " tB=" + std::to_string(transposeB) +
                                      " beta=" + std::to_string(beta),
                                  this->kRelative * double(k));
            }
        }
    }
}

TYPED_TEST(CudaBackendTest, BiasActivationForwardMatchesCpu) {
    const std::int64_t rows = 77, cols = 53;
    for (Activation activation :
         {Activation::Identity, Activation::Relu, Activation::Tanh, Activation::Sigmoid}) {
        for (bool withBias : {false, true}) {
            auto x = this->mirrored(this->random(rows * cols, -3.0, 3.0));
            auto bias = this->mirrored(this->random(cols));
            auto y = this->mirrored(std::vector<TypeParam>(rows * cols));
            this->cpu_->biasActivationForward(this->kDType, activation, rows, cols, x.host(),
                                              withBias ? bias.host() : nullptr, y.host());
            this->gpu_->biasActivationForward(this->kDType, activation, rows, cols, x.device(),
                                              withBias ? bias.device() : nullptr, y.device());
            this->expectClose(y, std::string("biasActivationForward ") + toString(activation));
            // In place (y aliases x).
            this->cpu_->biasActivationForward(this->kDType, activation, rows, cols, x.host(),
                                              withBias ? bias.host() : nullptr, x.host());
            this->gpu_->biasActivationForward(this->kDType, activation, rows, cols, x.device(),
                                              withBias ? bias.device() : nullptr, x.device());
            this->expectClose(x, std::string("in-place ") + toString(activation));
        }
    }
}

TYPED_TEST(CudaBackendTest, ActivationBackwardMatchesCpu) {
    const std::int64_t count = 100003;
    for (Activation activation :
         {Activation::Identity, Activation::Relu, Activation::Tanh, Activation::Sigmoid}) {
        auto y = this->mirrored(this->random(count, -1.0, 1.0));
        auto dy = this->mirrored(this->random(count));
        auto dx = this->mirrored(std::vector<TypeParam>(count));
        this->cpu_->activationBackward(this->kDType, activation, count, y.host(), dy.host(),
                                       dx.host());
        this->gpu_->activationBackward(this->kDType, activation, count, y.device(), dy.device(),
                                       dx.device());
        this->expectClose(dx, std::string("activationBackward ") + toString(activation));
    }
}

TYPED_TEST(CudaBackendTest, ColumnSumMatchesCpu) {
    struct Shape {
        std::int64_t rows, cols;
    };
    for (Shape shape : {Shape{77, 53}, Shape{1001, 3}, Shape{1, 70}}) {
        for (bool accumulate : {false, true}) {
            auto x = this->mirrored(this->random(shape.rows * shape.cols));
            auto out = this->mirrored(this->random(shape.cols));
            this->cpu_->columnSum(this->kDType, shape.rows, shape.cols, x.host(), out.host(),
                                  accumulate);
            this->gpu_->columnSum(this->kDType, shape.rows, shape.cols, x.device(), out.device(),
                                  accumulate);
            this->expectClose(out, "columnSum " + std::to_string(shape.rows) + "x" +
                                       std::to_string(shape.cols),
                              this->kRelative * double(shape.rows));
        }
    }
}

TYPED_TEST(CudaBackendTest, SoftmaxCrossEntropyMatchesCpuIncludingCorrectCount) {
    using T = TypeParam;
    for (std::int64_t classes : {10, 100}) {
        const std::int64_t rows = 77;
        std::vector<T> logitValues = this->random(rows * classes, -4.0, 4.0);
        for (std::int64_t c = 0; c < classes; ++c) logitValues[c] = T(0.5);  // row 0: all tied
        std::vector<std::int32_t> labelValues(rows);
        std::mt19937 labelGenerator(7);
        for (auto& label : labelValues) label = std::int32_t(labelGenerator() % classes);
        labelValues[0] = 0;  // the tie resolves to the first column on both backends
        auto logits = this->mirrored(logitValues);
        auto grad = this->mirrored(std::vector<T>(rows * classes));
        DeviceBuffer labels(rows * sizeof(std::int32_t)), loss(sizeof(T)),
            correct(sizeof(std::int64_t));
        this->gpu_->copyFromHost(labels.bytes(), labelValues.data(), labels.get());

        for (bool withGrad : {true, false}) {
            T cpuLoss = 0;
            std::int64_t cpuCorrect = -1;
            this->cpu_->softmaxCrossEntropy(this->kDType, rows, classes, logits.host(),
                                            labelValues.data(), &cpuLoss,
                                            withGrad ? grad.host() : nullptr, 1.0 / rows,
                                            withGrad ? &cpuCorrect : nullptr);
            this->gpu_->softmaxCrossEntropy(
                this->kDType, rows, classes, logits.device(),
                static_cast<const std::int32_t*>(labels.get()), loss.get(),
                withGrad ? grad.device() : nullptr, 1.0 / rows,
                withGrad ? static_cast<std::int64_t*>(correct.get()) : nullptr);
            T gpuLoss = 0;
            this->gpu_->copyToHost(sizeof(T), loss.get(), &gpuLoss);
            EXPECT_NEAR(double(gpuLoss), double(cpuLoss), this->kRelative * std::abs(cpuLoss))
                << "classes " << classes;
            if (withGrad) {
                std::int64_t gpuCorrect = -1;
                this->gpu_->copyToHost(sizeof(gpuCorrect), correct.get(), &gpuCorrect);
                EXPECT_EQ(gpuCorrect, cpuCorrect) << "classes " << classes;
                this->expectClose(grad, "softmaxCrossEntropy grad, classes " +
                                            std::to_string(classes));
            }
        }
    }
}

TYPED_TEST(CudaBackendTest, SquaredErrorMatchesCpu) {
    using T = TypeParam;
    const std::int64_t count = 100003;
    auto prediction = this->mirrored(this->random(count));
    auto target = this->mirrored(this->random(count));
    auto grad = this->mirrored(std::vector<T>(count));
    DeviceBuffer loss(sizeof(T));
    for (bool withGrad : {true, false}) {
        T cpuLoss = 0, gpuLoss = 0;
        this->cpu_->squaredError(this->kDType, count, prediction.host(), target.host(), &cpuLoss,
                                 withGrad ? grad.host() : nullptr, 0.5);
        this->gpu_->squaredError(this->kDType, count, prediction.device(), target.device(),
                                 loss.get(), withGrad ? grad.device() : nullptr, 0.5);
        this->gpu_->copyToHost(sizeof(T), loss.get(), &gpuLoss);
        EXPECT_NEAR(double(gpuLoss), double(cpuLoss), this->kRelative * std::abs(cpuLoss));
        this->expectClose(grad, "squaredError grad");
    }
}

TYPED_TEST(CudaBackendTest, SoftmaxMatchesCpu) {
    for (std::int64_t classes : {10, 1000}) {
        const std::int64_t rows = 77;
        auto x = this->mirrored(this->random(rows * classes, -5.0, 5.0));
        auto y = this->mirrored(std::vector<TypeParam>(rows * classes));
        this->cpu_->softmax(this->kDType, rows, classes, x.host(), y.host());
        this->gpu_->softmax(this->kDType, rows, classes, x.device(), y.device());
        this->expectClose(y, "softmax, classes " + std::to_string(classes));
    }
}

TYPED_TEST(CudaBackendTest, DropoutStepCounterInDeviceMemoryMatchesTheCpu) {
    using T = TypeParam;
    const std::int64_t count = 4099;
    const std::uint64_t step = 37;
    auto x = this->mirrored(this->random(count));
    auto mask = this->mirrored(std::vector<T>(count));
    auto y = this->mirrored(std::vector<T>(count));
    void* counterMemory = nullptr;
    ASSERT_EQ(cudaSuccess, cudaMalloc(&counterMemory, sizeof step));
    auto* counter = static_cast<std::uint64_t*>(counterMemory);
    this->gpu_->copyFromHost(sizeof step, &step, counter);
    this->cpu_->dropoutForward(this->kDType, count, 0.4, 3, 11, &step, x.host(), mask.host(), y.host());
    this->gpu_->dropoutForward(this->kDType, count, 0.4, 3, 11, counter, x.device(), mask.device(), y.device());
    const auto gpuY = y.deviceValues();
    EXPECT_EQ(0, std::memcmp(gpuY.data(), y.hostValues().data(), count * sizeof(T)));
    this->gpu_->synchronize();
    cudaFree(counterMemory);
}

TYPED_TEST(CudaBackendTest, DropoutIsBitwiseIdenticalToCpu) {
    using T = TypeParam;
    const std::int64_t count = 100003;
    for (double rate : {0.0, 0.3, 0.9}) {
        auto x = this->mirrored(this->random(count));
        auto mask = this->mirrored(std::vector<T>(count));
        auto y = this->mirrored(std::vector<T>(count));
        this->cpu_->dropoutForward(this->kDType, count, rate, 42, 123456789, nullptr, x.host(), mask.host(),
                                   y.host());
        this->gpu_->dropoutForward(this->kDType, count, rate, 42, 123456789, nullptr, x.device(),
                                   mask.device(), y.device());
        const auto gpuMask = mask.deviceValues();
        const auto gpuY = y.deviceValues();
        EXPECT_EQ(0, std::memcmp(gpuMask.data(), mask.hostValues().data(), count * sizeof(T)))
            << "rate " << rate;
        EXPECT_EQ(0, std::memcmp(gpuY.data(), y.hostValues().data(), count * sizeof(T)))
            << "rate " << rate;
    }
}

TYPED_TEST(CudaBackendTest, GeluForwardAndBackwardMatchCpu) {
    const std::int64_t count = 100003;
    auto x = this->mirrored(this->random(count, -6.0, 6.0));
    auto dy = this->mirrored(this->random(count));
    auto y = this->mirrored(std::vector<TypeParam>(count));
    auto dx = this->mirrored(std::vector<TypeParam>(count));
    this->cpu_->geluForward(this->kDType, count, x.host(), y.host());
    this->gpu_->geluForward(this->kDType, count, x.device(), y.device());
    this->expectClose(y, "geluForward");
    this->cpu_->geluBackward(this->kDType, count, x.host(), dy.host(), dx.host());
    this->gpu_->geluBackward(this->kDType, count, x.device(), dy.device(), dx.device());
    this->expectClose(dx, "geluBackward");
    auto dydx = this->mirrored(std::vector<TypeParam>(count));
    this->cpu_->geluForwardWithDerivative(this->kDType, count, x.host(), y.host(), dydx.host());
    this->gpu_->geluForwardWithDerivative(this->kDType, count, x.device(), y.device(), dydx.device());
    this->expectClose(y, "geluForwardWithDerivative y");
    this->expectClose(dydx, "geluForwardWithDerivative dydx");
}

TYPED_TEST(CudaBackendTest, LayerNormForwardAndBackwardMatchCpu) {
    using T = TypeParam;
    for (const auto& [rows, features] : {std::pair<std::int64_t, std::int64_t>{768, 128}, {7, 1000}, {3, 1}}) {
        auto x = this->mirrored(this->random(std::size_t(rows * features), -3.0, 5.0));
        auto gain = this->mirrored(this->random(std::size_t(features), 0.5, 1.5));
        auto bias = this->mirrored(this->random(std::size_t(features)));
        auto dy = this->mirrored(this->random(std::size_t(rows * features)));
        auto y = this->mirrored(std::vector<T>(std::size_t(rows * features)));
        auto mean = this->mirrored(std::vector<T>(std::size_t(rows)));
        auto rstd = this->mirrored(std::vector<T>(std::size_t(rows)));
        auto dx = this->mirrored(std::vector<T>(std::size_t(rows * features)));
        auto dgain = this->mirrored(std::vector<T>(std::size_t(features)));
        auto dbias = this->mirrored(std::vector<T>(std::size_t(features)));
        this->cpu_->layerNormForward(this->kDType, rows, features, 1e-5, x.host(), gain.host(), bias.host(), y.host(),
                                     mean.host(), rstd.host());
        this->gpu_->layerNormForward(this->kDType, rows, features, 1e-5, x.device(), gain.device(), bias.device(),
                                     y.device(), mean.device(), rstd.device());
        const std::string shape = " " + std::to_string(rows) + "x" + std::to_string(features);
        this->expectClose(y, "layerNormForward y" + shape, 1e-5);
        this->expectClose(mean, "layerNormForward mean" + shape);
        this->expectClose(rstd, "layerNormForward rstd" + shape, 1e-3);  // features == 1: 1/sqrt(eps)
        this->cpu_->layerNormBackward(this->kDType, rows, features, x.host(), gain.host(), mean.host(), rstd.host(),
                                      dy.host(), dx.host(), dgain.host(), dbias.host());
        this->gpu_->layerNormBackward(this->kDType, rows, features, x.device(), gain.device(), mean.device(),
                                      rstd.device(), dy.device(), dx.device(), dgain.device(), dbias.device());
        this->expectClose(dx, "layerNormBackward dx" + shape, 1e-4);
        this->expectClose(dgain, "layerNormBackward dgain" + shape, 1e-4);
        this->expectClose(dbias, "layerNormBackward dbias" + shape, 1e-4);
    }
}

TYPED_TEST(CudaBackendTest, EmbeddingForwardAndBackwardMatchCpu) {
    using T = TypeParam;
    const std::int64_t vocabulary = 65, positions = 64, width = 128, rows = 12 * positions;
    std::vector<T> idValues(static_cast<std::size_t>(rows));
    for (std::size_t i = 0; i < idValues.size(); ++i) idValues[i] = T((i * 37 + i / 5) % std::size_t(vocabulary));
    auto ids = this->mirrored(idValues);
    auto tokens = this->mirrored(this->random(std::size_t(vocabulary * width)));
    auto table = this->mirrored(this->random(std::size_t(positions * width)));
    auto y = this->mirrored(std::vector<T>(std::size_t(rows * width)));
    this->cpu_->embeddingForward(this->kDType, rows, positions, width, ids.host(), tokens.host(), table.host(), y.host());
    this->gpu_->embeddingForward(this->kDType, rows, positions, width, ids.device(), tokens.device(), table.device(),
                                 y.device());
    this->expectClose(y, "embeddingForward");
    auto dy = this->mirrored(this->random(std::size_t(rows * width)));
    auto dTokens = this->mirrored(std::vector<T>(std::size_t(vocabulary * width), T(7)));
    auto dPositions = this->mirrored(std::vector<T>(std::size_t(positions * width), T(7)));
    this->cpu_->embeddingBackward(this->kDType, rows, positions, width, vocabulary, ids.host(), dy.host(), dTokens.host(),
                                  dPositions.host());
    this->gpu_->embeddingBackward(this->kDType, rows, positions, width, vocabulary, ids.device(), dy.device(),
                                  dTokens.device(), dPositions.device());
    // The same additions in the same order: bitwise.
    EXPECT_EQ(dTokens.hostValues(), dTokens.deviceValues());
    EXPECT_EQ(dPositions.hostValues(), dPositions.deviceValues());
}

// Both loop orders of the CUDA side's batched GEMMs: more sequences than heads (one call per head)
// and more heads than sequences (one per sequence), one sequence longer than a warp. The outputs
// start as garbage: every element is written, the masked probabilities as exact zeros.
TYPED_TEST(CudaBackendTest, AttentionForwardAndBackwardMatchCpu) {
    using T = TypeParam;
    struct Shape {
        std::int64_t batch, positions, heads, headWidth;
    };
    for (const Shape& s : {Shape{3, 7, 2, 5}, Shape{2, 37, 4, 8}}) {
        const std::int64_t width = s.heads * s.headWidth;
        const auto tokens = std::size_t(s.batch * s.positions);
        const auto squares = std::size_t(s.batch * s.heads * s.positions * s.positions);
        const std::string shape = " " + std::to_string(s.batch) + "x" + std::to_string(s.positions) + "x" +
                                  std::to_string(s.heads) + "x" + std::to_string(s.headWidth);
        auto qkv = this->mirrored(this->random(tokens * std::size_t(3 * width), -2.0, 2.0));
        auto probabilities = this->mirrored(std::vector<T>(squares, T(7)));
        auto y = this->mirrored(std::vector<T>(tokens * std::size_t(width), T(7)));
        auto forwardScratch = this->mirrored(std::vector<T>(tokens * std::size_t(width), T(7)));
        this->cpu_->attentionForward(this->kDType, s.batch, s.positions, s.heads, s.headWidth, qkv.host(),
                                     probabilities.host(), y.host(), forwardScratch.host());
        this->gpu_->attentionForward(this->kDType, s.batch, s.positions, s.heads, s.headWidth, qkv.device(),
                                     probabilities.device(), y.device(), forwardScratch.device());
        this->expectClose(probabilities, "attentionForward probabilities" + shape,
                          this->kRelative * double(s.headWidth));
        this->expectClose(y, "attentionForward y" + shape, this->kRelative * double(s.positions));
        const std::vector<T> deviceProbabilities = probabilities.deviceValues();
        int masked = 0;
        for (std::size_t i = 0; i < squares; ++i) {
            const auto query = std::int64_t(i / std::size_t(s.positions)) % s.positions;
            const auto key = std::int64_t(i % std::size_t(s.positions));
            if (key > query && deviceProbabilities[i] != T(0) && ++masked <= 5) {
                ADD_FAILURE() << "attentionForward probabilities" << shape << "[" << i << "] above the diagonal: "
                              << deviceProbabilities[i];
            }
        }

        // The backward pass from the same probabilities on both (the CPU's), so it is compared alone.
        auto sharedProbabilities = this->mirrored(probabilities.hostValues());
        auto dy = this->mirrored(this->random(tokens * std::size_t(width)));
        auto scratch = this->mirrored(
            std::vector<T>(std::size_t(s.batch * s.heads * s.positions * (s.positions + s.headWidth)), T(7)));
        auto dqkv = this->mirrored(std::vector<T>(tokens * std::size_t(3 * width), T(7)));
        this->cpu_->attentionBackward(this->kDType, s.batch, s.positions, s.heads, s.headWidth, qkv.host(),
                                      sharedProbabilities.host(), dy.host(), scratch.host(), dqkv.host());
        this->gpu_->attentionBackward(this->kDType, s.batch, s.positions, s.heads, s.headWidth, qkv.device(),
                                      sharedProbabilities.device(), dy.device(), scratch.device(), dqkv.device());
        this->expectClose(dqkv, "attentionBackward dqkv" + shape,
                          this->kRelative * double(s.positions * s.headWidth));
    }
}

TYPED_TEST(CudaBackendTest, MultiplyFillCopyAxpbyMatchCpu) {
    using T = TypeParam;
    const std::int64_t count = 100003;
    auto x = this->mirrored(this->random(count));
    auto y = this->mirrored(this->random(count));
    auto z = this->mirrored(std::vector<T>(count));
    this->cpu_->multiply(this->kDType, count, x.host(), y.host(), z.host());
    this->gpu_->multiply(this->kDType, count, x.device(), y.device(), z.device());
    this->expectClose(z, "multiply");

    this->cpu_->axpby(this->kDType, count, 0.25, x.host(), -1.5, y.host());
    this->gpu_->axpby(this->kDType, count, 0.25, x.device(), -1.5, y.device());
    this->expectClose(y, "axpby");

    for (double value : {0.0, -0.0, 2.5}) {
        this->cpu_->fill(this->kDType, count - 1, value, z.host());
        this->gpu_->fill(this->kDType, count - 1, value, z.device());
        const auto gpuZ = z.deviceValues();
        EXPECT_EQ(0, std::memcmp(gpuZ.data(), z.hostValues().data(), count * sizeof(T)))
            << "fill " << value;
    }

    this->cpu_->copy((count - 7) * sizeof(T), x.host() + 7, z.host());
    this->gpu_->copy((count - 7) * sizeof(T), x.device() + 7, z.device());
    this->expectClose(z, "copy", 0.0);
}

TYPED_TEST(CudaBackendTest, AverageMatchesCpuInPlaceAndBeyondOneLaunchOfSources) {
    using T = TypeParam;
    const std::int64_t length = 1001;
    for (int count : {1, 3, CudaBackend::kMaxAverageSourcesPerLaunch + 8}) {
        std::vector<Mirrored<T>> buffers;
        buffers.reserve(std::size_t(count));
        for (int s = 0; s < count; ++s) buffers.push_back(this->mirrored(this->random(length)));
        std::vector<const void*> hostSources, deviceSources;
        for (auto& buffer : buffers) {
            hostSources.push_back(buffer.host());
            deviceSources.push_back(buffer.device());
        }
        // Destination is one of the sources (the last one, read by the last chunk).
        Mirrored<T>& destination = buffers.back();
        this->cpu_->average(this->kDType, length, hostSources.data(), count, destination.host());
        this->gpu_->average(this->kDType, length, deviceSources.data(), count,
                            destination.device());
        this->expectClose(destination, "average of " + std::to_string(count));
    }
}

TYPED_TEST(CudaBackendTest, SumOfSquaresMatchesCpuAndPropagatesNan) {
    using T = TypeParam;
    for (std::int64_t count : {std::int64_t(0), std::int64_t(1), std::int64_t(100003),
                               std::int64_t(3000017)}) {
        auto x = this->mirrored(this->random(std::size_t(count)));
        DeviceBuffer out(sizeof(T));
        T cpuSum = -1, gpuSum = -1;
        this->cpu_->sumOfSquares(this->kDType, count, x.host(), &cpuSum);
        this->gpu_->sumOfSquares(this->kDType, count, x.device(), out.get());
        this->gpu_->copyToHost(sizeof(T), out.get(), &gpuSum);
        EXPECT_NEAR(double(gpuSum), double(cpuSum), this->kRelative * std::abs(cpuSum))
            << "count " << count;
    }
    std::vector<T> values = this->random(4099);
    values[4000] = std::numeric_limits<T>::quiet_NaN();
    auto x = this->mirrored(values);
    DeviceBuffer out(sizeof(T));
    T gpuSum = 0;
    this->gpu_->sumOfSquares(this->kDType, std::int64_t(values.size()), x.device(), out.get());
    this->gpu_->copyToHost(sizeof(T), out.get(), &gpuSum);
    EXPECT_TRUE(std::isnan(gpuSum));
}

// Optimizers over a few steps; an odd count exercises the float4 tail, an offset of one element
// the unaligned (scalar) path.
TYPED_TEST(CudaBackendTest, OptimizerUpdatesMatchCpu) {
    using T = TypeParam;
    const std::int64_t count = 100003;
    for (std::int64_t offset : {0, 1}) {
        const std::int64_t n = count - offset;
        auto gradient = this->mirrored(this->random(count));
        auto parameters = this->mirrored(this->random(count));
        auto velocity = this->mirrored(std::vector<T>(count));
        auto firstMoment = this->mirrored(std::vector<T>(count));
        auto secondMoment = this->mirrored(std::vector<T>(count));
        for (int step = 1; step <= 3; ++step) {
            this->cpu_->sgdUpdate(this->kDType, n, 0.05, 1e-3, gradient.host() + offset,
                                  parameters.host() + offset);
            this->gpu_->sgdUpdate(this->kDType, n, 0.05, 1e-3, gradient.device() + offset,
                                  parameters.device() + offset);
            this->cpu_->nesterovUpdate(this->kDType, n, 0.05, 0.9, 1e-4, gradient.host() + offset,
                                       velocity.host() + offset, parameters.host() + offset);
            this->gpu_->nesterovUpdate(this->kDType, n, 0.05, 0.9, 1e-4,
                                       gradient.device() + offset, velocity.device() + offset,
                                       parameters.device() + offset);
            AdamHyper hyper;
            hyper.learningRate = 1e-2;
            hyper.weightDecay = 1e-2;
            hyper.step = step;
            this->cpu_->adamUpdate(this->kDType, n, hyper, gradient.host() + offset,
                                   firstMoment.host() + offset, secondMoment.host() + offset,
                                   parameters.host() + offset);
            this->gpu_->adamUpdate(this->kDType, n, hyper, gradient.device() + offset,
                                   firstMoment.device() + offset, secondMoment.device() + offset,
                                   parameters.device() + offset);
        }
        // The outer step (DiLoCo) on the same buffers: parameters as the mean, moments as anchor.
        this->cpu_->outerUpdate(this->kDType, n, 0.7, 0.9, parameters.host() + offset, firstMoment.host() + offset,
                                velocity.host() + offset);
        this->gpu_->outerUpdate(this->kDType, n, 0.7, 0.9, parameters.device() + offset,
                                firstMoment.device() + offset, velocity.device() + offset);
        this->cpu_->outerUpdate(this->kDType, n, 0.5, 0.0, parameters.host() + offset, secondMoment.host() + offset,
                                nullptr);
        this->gpu_->outerUpdate(this->kDType, n, 0.5, 0.0, parameters.device() + offset,
                                secondMoment.device() + offset, nullptr);
        const std::string where = " (offset " + std::to_string(offset) + ")";
        this->expectClose(velocity, "nesterov velocity" + where);
        this->expectClose(firstMoment, "adam first moment" + where);
        this->expectClose(secondMoment, "adam second moment" + where);
        this->expectClose(parameters, "parameters" + where);
    }
}

// Batch norm over [n, channels, spatial]: a convolution's output (spatial > 1), a dense layer's
// (spatial = 1) and one value per channel (n = spatial = 1, handled without cuDNN). Ascending in
// size, so a backward pass without dx grows the backend's stand-in for it twice.
struct BatchNormShape {
    std::int64_t n, channels, spatial;
    std::int64_t valuesPerChannel() const { return n * spatial; }
    std::int64_t elements() const { return n * channels * spatial; }
    std::string text() const {
        return " [" + std::to_string(n) + ", " + std::to_string(channels) + ", " + std::to_string(spatial) + "]";
    }
};
constexpr BatchNormShape kBatchNormShapes[] = {{1, 5, 1}, {7, 5, 1}, {7, 5, 13}};
constexpr double kBatchNormEpsilon = 1e-3, kBatchNormMomentum = 0.1;

TYPED_TEST(CudaBackendTest, BatchNormForwardTrainingMatchesCpuIncludingRunningStatistics) {
    using T = TypeParam;
    for (const BatchNormShape& shape : kBatchNormShapes) {
        auto gamma = this->mirrored(this->random(shape.channels, 0.5, 1.5));
        auto beta = this->mirrored(this->random(shape.channels));
        auto runningMean = this->mirrored(this->random(shape.channels));
        auto runningVariance = this->mirrored(this->random(shape.channels, 0.5, 2.0));
        auto savedMean = this->mirrored(std::vector<T>(shape.channels));
        auto savedInverseStd = this->mirrored(std::vector<T>(shape.channels));
        auto y = this->mirrored(std::vector<T>(shape.elements()));
        for (int step = 0; step < 3; ++step) {  // the running statistics accumulate over the steps
            auto x = this->mirrored(this->random(shape.elements(), -2.0, 3.0));
            this->cpu_->batchNormForwardTraining(this->kDType, shape.n, shape.channels, shape.spatial, x.host(),
                                                 gamma.host(), beta.host(), kBatchNormEpsilon, kBatchNormMomentum,
                                                 runningMean.host(), runningVariance.host(), savedMean.host(),
                                                 savedInverseStd.host(), y.host());
            this->gpu_->batchNormForwardTraining(this->kDType, shape.n, shape.channels, shape.spatial, x.device(),
                                                 gamma.device(), beta.device(), kBatchNormEpsilon, kBatchNormMomentum,
                                                 runningMean.device(), runningVariance.device(), savedMean.device(),
                                                 savedInverseStd.device(), y.device());
        }
        // The CPU's y = a * x + b cancels terms as large as |gamma * x| / sqrt(epsilon) when a
        // channel has one value (variance 0); a floor of ten units covers that rounding.
        this->expectClose(y, "batch norm training y" + shape.text(), this->kRelative * 10);
        this->expectClose(savedMean, "saved mean" + shape.text());
        this->expectClose(savedInverseStd, "saved inverse std" + shape.text());
        this->expectClose(runningMean, "running mean" + shape.text());
        this->expectClose(runningVariance, "running variance" + shape.text());
    }
}

TYPED_TEST(CudaBackendTest, BatchNormForwardInferenceMatchesCpu) {
    using T = TypeParam;
    for (const BatchNormShape& shape : kBatchNormShapes) {
        auto x = this->mirrored(this->random(shape.elements(), -2.0, 3.0));
        auto gamma = this->mirrored(this->random(shape.channels, 0.5, 1.5));
        auto beta = this->mirrored(this->random(shape.channels));
        auto runningMean = this->mirrored(this->random(shape.channels));
        auto runningVariance = this->mirrored(this->random(shape.channels, 0.5, 2.0));
        auto y = this->mirrored(std::vector<T>(shape.elements()));
        this->cpu_->batchNormForwardInference(this->kDType, shape.n, shape.channels, shape.spatial, x.host(),
                                              gamma.host(), beta.host(), runningMean.host(), runningVariance.host(),
                                              kBatchNormEpsilon, y.host());
        this->gpu_->batchNormForwardInference(this->kDType, shape.n, shape.channels, shape.spatial, x.device(),
                                              gamma.device(), beta.device(), runningMean.device(),
                                              runningVariance.device(), kBatchNormEpsilon, y.device());
        this->expectClose(y, "batch norm inference y" + shape.text());
    }
}

// With and without dx; dgamma and dbeta start as garbage (they are overwritten, not accumulated);
// a repeated call gives the same bits.
TYPED_TEST(CudaBackendTest, BatchNormBackwardMatchesCpuWithAndWithoutInputGradient) {
    using T = TypeParam;
    for (const BatchNormShape& shape : kBatchNormShapes) {
        auto x = this->mirrored(this->random(shape.elements(), -2.0, 3.0));
        auto dy = this->mirrored(this->random(shape.elements()));
        auto gamma = this->mirrored(this->random(shape.channels, 0.5, 1.5));
        // Saved statistics from a CPU forward pass, shared by both backends.
        std::vector<T> mean(shape.channels), inverseStd(shape.channels), runningMean(shape.channels),
            runningVariance(shape.channels, T(1)), y(shape.elements());
        const std::vector<T> beta(shape.channels);
        this->cpu_->batchNormForwardTraining(this->kDType, shape.n, shape.channels, shape.spatial, x.host(),
                                             gamma.host(), beta.data(), kBatchNormEpsilon, kBatchNormMomentum,
                                             runningMean.data(), runningVariance.data(), mean.data(), inverseStd.data(),
                                             y.data());
        auto savedMean = this->mirrored(mean);
        auto savedInverseStd = this->mirrored(inverseStd);
        auto dx = this->mirrored(this->random(shape.elements()));
        auto dgamma = this->mirrored(this->random(shape.channels));
        auto dbeta = this->mirrored(this->random(shape.channels));
        this->cpu_->batchNormBackward(this->kDType, shape.n, shape.channels, shape.spatial, x.host(), dy.host(),
                                      gamma.host(), savedMean.host(), savedInverseStd.host(), 1e-5, dx.host(), dgamma.host(),
                                      dbeta.host());
        this->gpu_->batchNormBackward(this->kDType, shape.n, shape.channels, shape.spatial, x.device(), dy.device(),
                                      gamma.device(), savedMean.device(), savedInverseStd.device(), 1e-5, dx.device(),
                                      dgamma.device(), dbeta.device());
        // Sums over the channel's values, as columnSum's tolerance.
        const double floor = this->kRelative * double(shape.valuesPerChannel());
        this->expectClose(dx, "batch norm dx" + shape.text(), floor);
        this->expectClose(dgamma, "dgamma" + shape.text(), floor);
        this->expectClose(dbeta, "dbeta" + shape.text(), floor);

        auto dgammaOnly = this->mirrored(this->random(shape.channels));
        auto dbetaOnly = this->mirrored(this->random(shape.channels));
        this->gpu_->batchNormBackward(this->kDType, shape.n, shape.channels, shape.spatial, x.device(), dy.device(),
                                      gamma.device(), savedMean.device(), savedInverseStd.device(), 1e-5, nullptr,
                                      dgammaOnly.device(), dbetaOnly.device());
        this->expectClose(dgamma.hostValues(), dgammaOnly.deviceValues(), "dgamma without dx" + shape.text(), floor);
        this->expectClose(dbeta.hostValues(), dbetaOnly.deviceValues(), "dbeta without dx" + shape.text(), floor);

        const std::vector<T> firstDx = dx.deviceValues(), firstDgamma = dgamma.deviceValues();
        this->gpu_->batchNormBackward(this->kDType, shape.n, shape.channels, shape.spatial, x.device(), dy.device(),
                                      gamma.device(), savedMean.device(), savedInverseStd.device(), 1e-5, dx.device(),
                                      dgamma.device(), dbeta.device());
        EXPECT_EQ(0, std::memcmp(firstDx.data(), dx.deviceValues().data(), firstDx.size() * sizeof(T)))
            << "dx repeats bitwise" << shape.text();
        EXPECT_EQ(0, std::memcmp(firstDgamma.data(), dgamma.deviceValues().data(), firstDgamma.size() * sizeof(T)))
            << "dgamma repeats bitwise" << shape.text();
    }
}

TEST(CudaBackend, BatchNormRejectsAnEpsilonBelowCudnnsMinimum) {
    if (cudaDeviceCount() == 0) GTEST_SKIP() << "no CUDA device";
    auto backend = makeCudaBackend(0);
    const std::int64_t n = 4, channels = 3;
    DeviceBuffer x(n * channels * sizeof(float)), y(n * channels * sizeof(float));
    DeviceBuffer perChannel(6 * channels * sizeof(float));
    float* values = static_cast<float*>(perChannel.get());
    backend->fill(DType::Float32, 6 * channels, 1.0, values);
    try {
        backend->batchNormForwardTraining(DType::Float32, n, channels, 1, x.get(), values, values + channels, -1e-5,
                                          0.1, values + 2 * channels, values + 3 * channels, values + 4 * channels,
                                          values + 5 * channels, y.get());
        FAIL() << "a negative epsilon should be refused";
    } catch (const std::invalid_argument& error) {
        EXPECT_NE(std::string(error.what()).find("epsilon"), std::string::npos) << error.what();
    }
    EXPECT_THROW(backend->batchNormForwardInference(DType::Float32, n, channels, 1, x.get(), values, values + channels,
                                                    values + 2 * channels, values + 3 * channels, -1e-5, y.get()),
                 std::invalid_argument);
    backend->synchronize();
}

// Reductions have a fixed order: the same inputs give the same bits, run after run.
TYPED_TEST(CudaBackendTest, ReductionsAreBitwiseReproducible) {
    using T = TypeParam;
    const std::int64_t rows = 1024, classes = 10, count = 3000017;
    auto x = this->mirrored(this->random(count));
    std::vector<std::int32_t> labelValues(rows);
    for (std::int64_t r = 0; r < rows; ++r) labelValues[r] = std::int32_t(r % classes);
    DeviceBuffer labels(rows * sizeof(std::int32_t)), out(sizeof(T)), columns(classes * sizeof(T));
    this->gpu_->copyFromHost(labels.bytes(), labelValues.data(), labels.get());
    auto run = [&] {
        std::vector<T> results(2 + classes);
        this->gpu_->sumOfSquares(this->kDType, count, x.device(), out.get());
        this->gpu_->copyToHost(sizeof(T), out.get(), &results[0]);
        this->gpu_->softmaxCrossEntropy(this->kDType, rows, classes, x.device(),
                                        static_cast<const std::int32_t*>(labels.get()), out.get(),
                                        nullptr, 1.0, nullptr);
        this->gpu_->copyToHost(sizeof(T), out.get(), &results[1]);
        this->gpu_->columnSum(this->kDType, count / classes, classes, x.device(), columns.get(),
                              false);
        this->gpu_->copyToHost(classes * sizeof(T), columns.get(), &results[2]);
        return results;
    };
    const std::vector<T> first = run();
    for (int repeat = 0; repeat < 3; ++repeat) {
        const std::vector<T> again = run();
        EXPECT_EQ(0, std::memcmp(first.data(), again.data(), first.size() * sizeof(T)));
    }
}

TEST(CudaBackend, StagingCopiesOnItsOwnStreamInOrderWithMarkersAndTickets) {
    if (cudaDeviceCount() == 0) GTEST_SKIP() << "no CUDA device";
    auto gpu = makeCudaBackend(0);
    const std::size_t count = 1 << 20;
    std::vector<float> first(count, 1.0f), second(count, 2.0f), back(count);
    DeviceBuffer buffer(count * sizeof(float));
    // The device doubles what the first copy brought; the second copy may overwrite the buffer
    // only after that (marker), and the read-back only after the second copy (ticket).
    const auto one = gpu->stageFromHost(count * sizeof(float), first.data(), buffer.get(), 0);
    gpu->awaitStaged(one);
    gpu->axpby(DType::Float32, std::int64_t(count), 1.0, buffer.get(), 1.0, buffer.get());
    gpu->copyToHost(count * sizeof(float), buffer.get(), back.data());
    EXPECT_EQ(back.front(), 2.0f);
    EXPECT_EQ(back.back(), 2.0f);
    gpu->fill(DType::Float32, std::int64_t(count), 5.0, buffer.get());
    const auto afterFill = gpu->mark();
    const auto two = gpu->stageFromHost(count * sizeof(float), second.data(), buffer.get(), afterFill);
    gpu->stagedOnHost(two);
    gpu->awaitStaged(two);
    gpu->copyToHost(count * sizeof(float), buffer.get(), back.data());
    EXPECT_EQ(back.front(), 2.0f);
    EXPECT_EQ(back.back(), 2.0f);
    // Tokens are recycled after 16 newer ones: an old one is refused, not silently reused.
    std::uint64_t last = 0;
    for (int i = 0; i < 17; ++i) last = gpu->stageFromHost(0, nullptr, buffer.get(), 0);
    EXPECT_THROW(gpu->awaitStaged(two), std::logic_error);
    gpu->awaitStaged(last);
    gpu->synchronize();
}

TEST(CudaBackend, DescribesItsDeviceAndExposesItsStreamAndHandles) {
    if (cudaDeviceCount() == 0) GTEST_SKIP() << "no CUDA device";
    auto backend = makeCudaBackend(0, true);
    EXPECT_EQ(backend->location(), memory::MemoryLocation::onDevice(0));
    EXPECT_NE(backend->name().find("cuda:0"), std::string::npos) << backend->name();
    CudaBackend* cuda = asCudaBackend(*backend);
    ASSERT_NE(cuda, nullptr);
    EXPECT_NE(cuda->streamHandle(), nullptr);
    EXPECT_NE(cuda->cublasHandle(), nullptr);
#if __has_include(<cudnn.h>)
    EXPECT_NE(cuda->cudnnHandle(), nullptr);
#endif
    EXPECT_TRUE(cuda->tf32Allowed());
    EXPECT_EQ(cuda->device(), 0);
}

// Runs everywhere (no skip): the entry points must answer sanely without a driver or device.
TEST(CudaBackend, RejectsAnOrdinalThatIsNotVisible) {
    EXPECT_TRUE(cudaCompiledIn());
    const int visible = cudaDeviceCount();
    EXPECT_GE(visible, 0);
    try {
        makeCudaBackend(visible);
        FAIL() << "makeCudaBackend(" << visible << ") should throw";
    } catch (const std::runtime_error& error) {
        EXPECT_NE(std::string(error.what()).find("no CUDA device"), std::string::npos)
            << error.what();
    }
    EXPECT_THROW(makeCudaBackend(-1), std::runtime_error);
    auto cpu = makeCpuBackend(1);
    EXPECT_EQ(asCudaBackend(*cpu), nullptr);
}

// The kernels module loads in a program that links kernels/ and below, but not parallel/ (the
// executable exports what it calls back into), and names the CUDA libraries it resolved. Needs
// the CUDA libraries, not a device.
TEST(CudaBackend, KernelsModuleLoadsAndNamesItsLibraries) {
    EXPECT_EQ(cudaLibraries(), "") << "not loaded yet, and cudaLibraries() does not load it";
    const memory::CudaModuleStatus& status = memory::loadCudaModule(memory::CudaModule::Kernels);
    ASSERT_TRUE(status.loaded) << status.error;
    const std::string libraries = cudaLibraries();
    EXPECT_NE(libraries.find("cudart "), std::string::npos) << libraries;
    EXPECT_NE(libraries.find("libcublas.so"), std::string::npos) << libraries;
}

}  // namespace
}  // namespace cohort::kernels
#endif  // COHORT_WITH_CUDA
