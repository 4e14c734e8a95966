// The CPU backend against naive reference loops on odd sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/Backend.h"
#include "tests/kernels/RandomValues.h"

namespace cohort::kernels {
namespace {

using cohort::testing::randomVector;

TEST(CpuBackend, GemmMatchesNaiveForEveryTransposeCombination) {
    auto backend = makeCpuBackend(2);
    const std::int64_t m = 37, n = 53, k = 29;
    for (bool ta : {false, true}) {
        for (bool tb : {false, true}) {
            const auto a = randomVector(std::size_t(m * k), 1), b = randomVector(std::size_t(k * n), 2);
            auto c = randomVector(std::size_t(m * n), 3);
            auto expected = c;
            const std::int64_t lda = ta ? m : k, ldb = tb ? k : n;
            for (std::int64_t i = 0; i < m; ++i) {
                for (std::int64_t j = 0; j < n; ++j) {
                    double sum = 0.0;
                    for (std::int64_t p = 0; p < k; ++p) {
                        const double av = ta ? a[std::size_t(p * lda + i)] : a[std::size_t(i * lda + p)];
                        const double bv = tb ? b[std::size_t(j * ldb + p)] : b[std::size_t(p * ldb + j)];
                        sum += av * bv;
                    }
                    expected[std::size_t(i * n + j)] = 0.5 * sum + 2.0 * expected[std::size_t(i * n + j)];
                }
            }
            backend->gemm(DType::Float64, ta, tb, m, n, k, 0.5, a.data(), lda, b.data(), ldb, 2.0, c.data(), n);
            for (std::size_t i = 0; i < c.size(); ++i) ASSERT_NEAR(c[i], expected[i], 1e-12) << ta << tb << i;
            // float path agrees with the double one
            std::vector<float> af(a.begin(), a.end()), bf(b.begin(), b.end()), cf(std::size_t(m * n), 0.0f);
            backend->gemm(DType::Float32, ta, tb, m, n, k, 1.0, af.data(), lda, bf.data(), ldb, 0.0, cf.data(), n);
            EXPECT_NEAR(cf[7], (expected[7] - 2.0 * randomVector(std::size_t(m * n), 3)[7]) / 0.5, 1e-4);
        }
    }
}

// beta = 0 never reads C (BLAS's rule), so NaN there is overwritten, not propagated; the dense
// forward (the CPU's starts y as the bias rows, plus a residual addend's) is the product plus the
// bias through the activation, plus the addend when given.
TEST(CpuBackend, ProductsIgnoreWhatTheirOutputHeldAndDenseForwardAddsTheBias) {
    auto backend = makeCpuBackend(2);
    const std::int64_t rows = 301, inputs = 29, outputs = 131;  // above the parallel threshold
    const auto x = randomVector(std::size_t(rows * inputs), 6), w = randomVector(std::size_t(inputs * outputs), 7);
    const auto bias = randomVector(std::size_t(outputs), 8);
    std::vector<double> product(std::size_t(rows * outputs));
    for (std::int64_t r = 0; r < rows; ++r) {
        for (std::int64_t c = 0; c < outputs; ++c) {
            double sum = 0.0;
            for (std::int64_t p = 0; p < inputs; ++p) sum += x[std::size_t(r * inputs + p)] * w[std::size_t(p * outputs + c)];
            product[std::size_t(r * outputs + c)] = sum;
        }
    }
    std::vector<double> c(product.size(), std::nan(""));
    backend->gemm(DType::Float64, false, false, rows, outputs, inputs, 1.0, x.data(), inputs, w.data(), outputs, 0.0,
                  c.data(), outputs);
    for (std::size_t i = 0; i < c.size(); ++i) ASSERT_NEAR(c[i], product[i], 1e-12) << i;
    const auto addend = randomVector(product.size(), 9);
    for (Activation activation : {Activation::Identity, Activation::Relu}) {
        for (const double* add : {static_cast<const double*>(nullptr), addend.data()}) {
            std::vector<double> y(product.size(), std::nan(""));
            backend->denseForward(DType::Float64, activation, rows, outputs, inputs, x.data(), w.data(), bias.data(),
                                  add, y.data());
            for (std::size_t i = 0; i < y.size(); ++i) {
                const double sum = product[i] + bias[i % std::size_t(outputs)];
                const double expected = (activation == Activation::Relu ? std::max(0.0, sum) : sum) + (add ? add[i] : 0.0);
                ASSERT_NEAR(y[i], expected, 1e-12) << toString(activation) << (add ? " with addend " : " ") << i;
            }
        }
    }
}

TEST(CpuBackend, ColumnSumAndBiasActivationOnLargeOddShapesUseThreadsCorrectly) {
    auto backend = makeCpuBackend(2);
    const std::int64_t rows = 301, cols = 257;  // above the parallel threshold
    const auto x = randomVector(std::size_t(rows * cols), 4), bias = randomVector(std::size_t(cols), 5);
    std::vector<double> sums(std::size_t(cols), 1.0), y(x.size());
    backend->columnSum(DType::Float64, rows, cols, x.data(), sums.data(), true);
    backend->biasActivationForward(DType::Float64, Activation::Relu, rows, cols, x.data(), bias.data(), y.data());
    for (std::int64_t c = 0; c < cols; ++c) {
        double expected = 1.0;
        for (std::int64_t r = 0; r < rows; ++r) expected += x[std::size_t(r * cols + c)];
        ASSERT_NEAR(sums[std::size_t(c)], expected, 1e-11);
    }
    for (std::size_t i = 0; i < y.size(); ++i) {
        ASSERT_DOUBLE_EQ(y[i], std::max(0.0, x[i] + bias[i % std::size_t(cols)]));
    }
}

TEST(CpuBackend, AverageOfReplicasIsTheArithmeticMean) {
    auto backend = makeCpuBackend(2);
    const std::int64_t length = 100003;
    std::vector<std::vector<float>> replicas;
    for (int r = 0; r < 4; ++r) replicas.emplace_back(std::size_t(length), float(r + 1));
    replicas[2][99] = 13.0f;
    const void* sources[4] = {replicas[0].data(), replicas[1].data(), replicas[2].data(), replicas[3].data()};
    backend->average(DType::Float32, length, sources, 4, replicas[0].data());  // in place into one source
    EXPECT_FLOAT_EQ(replicas[0][0], 2.5f);
    EXPECT_FLOAT_EQ(replicas[0][99], (1.0f + 2.0f + 13.0f + 4.0f) / 4.0f);
    EXPECT_FLOAT_EQ(replicas[0][std::size_t(length - 1)], 2.5f);
}

// The outer step against its definition in double precision: Nesterov momentum (PyTorch form)
// and plain SGD on the pseudo-gradient d = anchor - mean, stepping from the anchor.
TEST(CpuBackend, OuterUpdateStepsFromTheAnchorAlongThePseudoGradient) {
    auto backend = makeCpuBackend(2);
    const auto randomFloats = [](std::size_t count, std::uint64_t seed) {
        const std::vector<double> values = randomVector(count, seed);
        return std::vector<float>(values.begin(), values.end());
    };
    const std::int64_t n = 100003;
    const double lr = 0.7, mu = 0.9;
    std::vector<float> mean = randomFloats(std::size_t(n), 3), anchor = randomFloats(std::size_t(n), 4);
    std::vector<float> velocity = randomFloats(std::size_t(n), 5);
    std::vector<double> p(mean.begin(), mean.end()), a(anchor.begin(), anchor.end()), v(velocity.begin(), velocity.end());
    for (int step = 0; step < 3; ++step) {
        backend->outerUpdate(DType::Float32, n, lr, mu, mean.data(), anchor.data(), velocity.data());
        for (std::size_t i = 0; i < p.size(); ++i) {
            const double d = a[i] - p[i];
            v[i] = mu * v[i] + d;
            a[i] = p[i] = a[i] - lr * (d + mu * v[i]);
            p[i] += 0.01 * double(i % 7) - 0.03;  // the next point's mean: somewhere near
        }
        for (std::size_t i = 0; i < p.size(); ++i) mean[i] += float(0.01 * double(i % 7) - 0.03);
    }
    for (std::size_t i = 0; i < p.size(); i += 997) {
        EXPECT_NEAR(anchor[i], a[i], 1e-5 * (1 + std::abs(a[i]))) << i;
        EXPECT_NEAR(velocity[i], v[i], 1e-5 * (1 + std::abs(v[i]))) << i;
        EXPECT_NEAR(mean[i], p[i], 1e-5 * (1 + std::abs(p[i]))) << i;
    }
    // SGD (no velocity): anchor - lr * d; learning rate 1 leaves the mean bit for bit.
    std::vector<float> sgdMean = randomFloats(std::size_t(n), 6), sgdAnchor = randomFloats(std::size_t(n), 7);
    const std::vector<float> before = sgdMean, anchorBefore = sgdAnchor;
    backend->outerUpdate(DType::Float32, n, 1.0, 0.9, sgdMean.data(), sgdAnchor.data(), nullptr);
    EXPECT_EQ(sgdMean, before);
    EXPECT_EQ(sgdAnchor, before);
    sgdAnchor = anchorBefore;
    backend->outerUpdate(DType::Float32, n, 0.5, 0.0, sgdMean.data(), sgdAnchor.data(), nullptr);
    for (std::size_t i = 0; i < sgdMean.size(); i += 991) {
        EXPECT_NEAR(sgdMean[i], 0.5 * (double(before[i]) + double(anchorBefore[i])), 1e-6) << i;
        EXPECT_EQ(sgdAnchor[i], sgdMean[i]);
    }
}

TEST(CpuBackend, AverageIntoTheLastSourceReadsEverySourceFirst) {
    auto backend = makeCpuBackend(1);
    const std::int64_t length = 1037;  // several 256-element chunks and a partial one
    std::vector<std::vector<float>> replicas(3, std::vector<float>(std::size_t(length)));
    for (int r = 0; r < 3; ++r) {
        for (std::int64_t i = 0; i < length; ++i) replicas[std::size_t(r)][std::size_t(i)] = float((i * 7 + r * 13) % 101) - 50.0f;
    }
    const auto before = replicas;
    const void* sources[3] = {replicas[0].data(), replicas[1].data(), replicas[2].data()};
    backend->average(DType::Float32, length, sources, 3, replicas[2].data());
    for (std::size_t i = 0; i < std::size_t(length); ++i) {
        const float expected = (before[0][i] + before[1][i] + before[2][i]) * (1.0f / 3.0f);
        ASSERT_EQ(replicas[2][i], expected) << i;  // the sources' order of addition, bit for bit
        ASSERT_EQ(replicas[0][i], before[0][i]);
    }
}

TEST(CpuBackend, DropoutMaskIsDeterministicAndScaled) {
    auto backend = makeCpuBackend(1);
    std::vector<float> x(1001, 2.0f), mask(1001), y(1001), y2(1001), mask2(1001);
    backend->dropoutForward(DType::Float32, 1001, 0.5, 77, 1000, nullptr, x.data(), mask.data(), y.data());
    backend->dropoutForward(DType::Float32, 1001, 0.5, 77, 1000, nullptr, x.data(), mask2.data(), y2.data());
    EXPECT_EQ(y, y2);
    for (std::size_t i = 0; i < y.size(); ++i) {
        ASSERT_TRUE(y[i] == 0.0f || y[i] == 4.0f);
        ASSERT_EQ(mask[i] != 0.0f, counterUniform(77, 1000 + i) >= 0.5);
    }
}

TEST(CpuBackend, DropoutStepCounterAdvancesTheStreamByWholeSteps) {
    auto backend = makeCpuBackend(1);
    const std::int64_t count = 777;
    std::vector<double> x(count, 1.0), mask(count), y(count), maskCounted(count), yCounted(count);
    for (std::uint64_t step : {0ull, 1ull, 5ull, 123456ull}) {
        backend->dropoutForward(DType::Float64, count, 0.3, 9, 40 + step * count, nullptr, x.data(), mask.data(),
                                y.data());
        const std::uint64_t counter = step;
        backend->dropoutForward(DType::Float64, count, 0.3, 9, 40, &counter, x.data(), maskCounted.data(),
                                yCounted.data());
        EXPECT_EQ(mask, maskCounted) << "step " << step;
        EXPECT_EQ(y, yCounted) << "step " << step;
    }
}

TEST(CpuBackend, CannotCaptureAndSaysSo) {
    auto backend = makeCpuBackend(1);
    EXPECT_FALSE(backend->canCapture());
    EXPECT_THROW(backend->beginCapture(), std::logic_error);
    std::string why;
    EXPECT_EQ(backend->endCapture(&why), nullptr);
    EXPECT_NE(why.find("cannot capture"), std::string::npos);
}

TEST(CpuBackend, SumOfSquaresPropagatesNaN) {
    auto backend = makeCpuBackend(1);
    std::vector<float> x = {1.0f, 2.0f, 3.0f};
    float out = 0.0f;
    backend->sumOfSquares(DType::Float32, 3, x.data(), &out);
    EXPECT_FLOAT_EQ(out, 14.0f);
    x[1] = std::nanf("");
    backend->sumOfSquares(DType::Float32, 3, x.data(), &out);
    EXPECT_TRUE(std::isnan(out));
}

}  // namespace
}  // namespace cohort::kernels
