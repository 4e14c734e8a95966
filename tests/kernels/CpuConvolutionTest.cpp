// The CPU backend's convolution and pooling against naive direct loops written here: odd sizes,
// strides and paddings, forward and every gradient. The naive backward pass is the adjoint of the
// naive forward, itself checked by finite differences, so the reference does not rest on the code
// under test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/Backend.h"
#include "kernels/ShapeChecks.h"
#include "tests/kernels/KernelTestSupport.h"
#include "tests/kernels/RandomValues.h"

namespace cohort::kernels {
namespace {

using cohort::testing::randomVector;

using cohort::testing::inputSize;
using cohort::testing::outputSize;
using cohort::testing::weightSize;

// Calls f(xIndex, wIndex, yIndex) for every product x * w that contributes to an output.
template <typename F>
void forEachTerm(const ConvolutionShape& s, F f) {
    const std::int64_t outH = s.outHeight(), outW = s.outWidth();
    for (std::int64_t n = 0; n < s.batch; ++n) {
        for (std::int64_t o = 0; o < s.outChannels; ++o) {
            for (std::int64_t oy = 0; oy < outH; ++oy) {
                for (std::int64_t ox = 0; ox < outW; ++ox) {
                    const std::size_t yIndex = std::size_t(((n * s.outChannels + o) * outH + oy) * outW + ox);
                    for (std::int64_t c = 0; c < s.inChannels; ++c) {
                        for (std::int64_t ki = 0; ki < s.kernel; ++ki) {
                            const std::int64_t iy = oy * s.stride - s.padding + ki;
                            if (iy < 0 || iy >= s.height) continue;
                            for (std::int64_t kj = 0; kj < s.kernel; ++kj) {
                                const std::int64_t ix = ox * s.stride - s.padding + kj;
                                if (ix < 0 || ix >= s.width) continue;
                                f(std::size_t(((n * s.inChannels + c) * s.height + iy) * s.width + ix),
                                  std::size_t(((o * s.inChannels + c) * s.kernel + ki) * s.kernel + kj), yIndex);
                            }
                        }
                    }
                }
            }
        }
    }
}

// y[n][o][oy][ox] = bias[o] + sum_{c,ki,kj} x[n][c][oy*s - p + ki][ox*s - p + kj] * w[o][c][ki][kj]
std::vector<double> naiveForward(const ConvolutionShape& s, const std::vector<double>& x, const std::vector<double>& w,
                                 const std::vector<double>& bias) {
    std::vector<double> y(outputSize(s), 0.0);
    const std::size_t plane = std::size_t(s.outHeight() * s.outWidth());
    if (!bias.empty()) {
        for (std::size_t i = 0; i < y.size(); ++i) y[i] = bias[(i / plane) % std::size_t(s.outChannels)];
    }
    forEachTerm(s, [&](std::size_t xi, std::size_t wi, std::size_t yi) { y[yi] += x[xi] * w[wi]; });
    return y;
}

struct Gradients {
    std::vector<double> dx, dweights, dbias;
};

// The adjoint of naiveForward for the loss sum(y * dy).
Gradients naiveBackward(const ConvolutionShape& s, const std::vector<double>& x, const std::vector<double>& w,
                        const std::vector<double>& dy) {
    Gradients g{std::vector<double>(inputSize(s), 0.0), std::vector<double>(weightSize(s), 0.0),
                std::vector<double>(std::size_t(s.outChannels), 0.0)};
    forEachTerm(s, [&](std::size_t xi, std::size_t wi, std::size_t yi) {
        g.dx[xi] += w[wi] * dy[yi];
        g.dweights[wi] += x[xi] * dy[yi];
    });
    const std::size_t plane = std::size_t(s.outHeight() * s.outWidth());
    for (std::size_t i = 0; i < dy.size(); ++i) g.dbias[(i / plane) % std::size_t(s.outChannels)] += dy[i];
    return g;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
    double sum = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
    return sum;
}

void expectNear(const std::vector<double>& expected, const std::vector<double>& actual, double tolerance,
                const std::string& what) {
    ASSERT_EQ(expected.size(), actual.size()) << what;
    int reported = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        if (std::abs(expected[i] - actual[i]) <= tolerance * (1.0 + std::abs(expected[i]))) continue;
        ADD_FAILURE() << what << "[" << i << "]: expected " << expected[i] << ", got " << actual[i];
        if (++reported == 5) return;
    }
}

// Odd sizes; stride 1, 2 and 3; padding 0, 1 and 2; an even kernel whose last window hangs over
// the padded edge; a kernel larger than the stride and one smaller.
const std::vector<ConvolutionShape>& shapes() {
    static const std::vector<ConvolutionShape> all = {
        {3, 5, 13, 11, 7, 3, 2, 1},  // batch 3, 5x13x11 -> 7, kernel 3, stride 2, padding 1
        {2, 3, 9, 10, 4, 5, 2, 2},   // padding 2
        {2, 3, 9, 7, 5, 4, 3, 2},    // even kernel, stride 3
        {3, 2, 11, 9, 3, 2, 3, 0},   // stride larger than the kernel: inputs no window reads
        {2, 4, 7, 5, 6, 1, 1, 0},    // 1x1
        {1, 2, 6, 6, 3, 7, 1, 1},    // kernel larger than the input (padding makes it fit)
    };
    return all;
}

class Workspace {
public:
    explicit Workspace(std::size_t bytes) : storage_((bytes + sizeof(double) - 1) / sizeof(double) + 1) {}
    void* get() { return storage_.data(); }

private:
    std::vector<double> storage_;
};

TEST(CpuConvolution, NaiveBackwardIsTheGradientOfNaiveForward) {
    // Central differences of L = sum(forward(x, w, b) * dy) at a few entries of each input; the
    // loss is linear in each, so the difference is exact up to rounding.
    const ConvolutionShape s{2, 3, 7, 6, 4, 3, 2, 1};
    const auto x = randomVector(inputSize(s), 1), w = randomVector(weightSize(s), 2);
    const auto b = randomVector(std::size_t(s.outChannels), 3), dy = randomVector(outputSize(s), 4);
    const Gradients g = naiveBackward(s, x, w, dy);
    const double h = 1e-3;
    auto loss = [&](const std::vector<double>& xv, const std::vector<double>& wv, const std::vector<double>& bv) {
        return dot(naiveForward(s, xv, wv, bv), dy);
    };
    for (std::size_t i = 0; i < x.size(); i += 7) {
        auto plus = x, minus = x;
        plus[i] += h;
        minus[i] -= h;
        EXPECT_NEAR((loss(plus, w, b) - loss(minus, w, b)) / (2 * h), g.dx[i], 1e-9) << "dx[" << i << "]";
    }
    for (std::size_t i = 0; i < w.size(); i += 5) {
        auto plus = w, minus = w;
        plus[i] += h;
        minus[i] -= h;
        EXPECT_NEAR((loss(x, plus, b) - loss(x, minus, b)) / (2 * h), g.dweights[i], 1e-9) << "dweights[" << i << "]";
    }
    for (std::size_t i = 0; i < b.size(); ++i) {
        auto plus = b, minus = b;
        plus[i] += h;
        minus[i] -= h;
        EXPECT_NEAR((loss(x, w, plus) - loss(x, w, minus)) / (2 * h), g.dbias[i], 1e-9) << "dbias[" << i << "]";
    }
}

TEST(CpuConvolution, ForwardAndBackwardMatchNaiveLoopsInDouble) {
    auto backend = makeCpuBackend(1);
    std::uint64_t seed = 10;
    for (const ConvolutionShape& s : shapes()) {
        SCOPED_TRACE(toString(s));
        const auto x = randomVector(inputSize(s), ++seed), w = randomVector(weightSize(s), ++seed);
        const auto b = randomVector(std::size_t(s.outChannels), ++seed), dy = randomVector(outputSize(s), ++seed);
        const std::size_t forwardBytes =
            backend->convolutionWorkspaceBytes(DType::Float64, s, ConvolutionPass::Forward);
        const std::size_t backwardBytes =
            backend->convolutionWorkspaceBytes(DType::Float64, s, ConvolutionPass::Backward);
        Workspace forwardWorkspace(forwardBytes), backwardWorkspace(backwardBytes);

        for (bool withBias : {true, false}) {
            std::vector<double> y(outputSize(s), std::nan(""));
            backend->convolutionForward(DType::Float64, s, x.data(), w.data(), withBias ? b.data() : nullptr, y.data(),
                                        forwardWorkspace.get(), forwardBytes);
            expectNear(naiveForward(s, x, w, withBias ? b : std::vector<double>{}), y, 1e-12,
                       withBias ? "y with bias" : "y without bias");
        }

        const Gradients expected = naiveBackward(s, x, w, dy);
        // With the forward's workspace (the lowered input is reused) and without (recomputed).
        for (bool reuseForward : {true, false}) {
            SCOPED_TRACE(reuseForward ? "reusing the forward workspace" : "without the forward workspace");
            std::vector<double> dx(inputSize(s), std::nan("")), dw(weightSize(s), std::nan(""));
            std::vector<double> db(std::size_t(s.outChannels), std::nan(""));
            backend->convolutionBackward(DType::Float64, s, x.data(), w.data(), dy.data(), dx.data(), dw.data(),
                                         db.data(), reuseForward ? forwardWorkspace.get() : nullptr,
                                         backwardWorkspace.get(), backwardBytes);
            expectNear(expected.dx, dx, 1e-12, "dx");
            expectNear(expected.dweights, dw, 1e-12, "dweights");
            expectNear(expected.dbias, db, 1e-12, "dbias");
        }

        // dx and dbias are optional; dweights comes out the same without them.
        std::vector<double> dw(weightSize(s), std::nan(""));
        backend->convolutionBackward(DType::Float64, s, x.data(), w.data(), dy.data(), nullptr, dw.data(), nullptr,
                                     nullptr, backwardWorkspace.get(), backwardBytes);
        expectNear(expected.dweights, dw, 1e-12, "dweights without dx and dbias");
    }
}

TEST(CpuConvolution, FloatAgreesWithTheNaiveDoubleLoops) {
    auto backend = makeCpuBackend(1);
    const ConvolutionShape s{17, 20, 12, 12, 50, 5, 1, 0};  // LeNet's second convolution
    const auto x = randomVector(inputSize(s), 31), w = randomVector(weightSize(s), 32);
    const auto b = randomVector(std::size_t(s.outChannels), 33), dy = randomVector(outputSize(s), 34);
    auto asFloat = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
    auto asDouble = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
    const auto xf = asFloat(x), wf = asFloat(w), bf = asFloat(b), dyf = asFloat(dy);
    const auto xd = asDouble(xf), wd = asDouble(wf), bd = asDouble(bf), dyd = asDouble(dyf);

    const std::size_t forwardBytes = backend->convolutionWorkspaceBytes(DType::Float32, s, ConvolutionPass::Forward);
    const std::size_t backwardBytes = backend->convolutionWorkspaceBytes(DType::Float32, s, ConvolutionPass::Backward);
    Workspace forwardWorkspace(forwardBytes), backwardWorkspace(backwardBytes);
    std::vector<float> y(outputSize(s)), dx(inputSize(s)), dw(weightSize(s)), db(std::size_t(s.outChannels));
    backend->convolutionForward(DType::Float32, s, xf.data(), wf.data(), bf.data(), y.data(), forwardWorkspace.get(),
                                forwardBytes);
    backend->convolutionBackward(DType::Float32, s, xf.data(), wf.data(), dyf.data(), dx.data(), dw.data(), db.data(),
                                 forwardWorkspace.get(), backwardWorkspace.get(), backwardBytes);
    // Sums of up to batch * outH * outW = 1088 products of values in [-1, 1].
    expectNear(naiveForward(s, xd, wd, bd), asDouble(y), 1e-4, "y");
    const Gradients expected = naiveBackward(s, xd, wd, dyd);
    expectNear(expected.dx, asDouble(dx), 1e-4, "dx");
    expectNear(expected.dweights, asDouble(dw), 1e-3, "dweights");
    expectNear(expected.dbias, asDouble(db), 1e-3, "dbias");
}

TEST(CpuConvolution, ThreadedLargeShapeMatchesNaiveLoops) {
    auto backend = makeCpuBackend(2);
    const ConvolutionShape s{9, 6, 31, 29, 5, 3, 2, 1};  // above the loops' parallel threshold
    const auto x = randomVector(inputSize(s), 41), w = randomVector(weightSize(s), 42);
    const auto b = randomVector(std::size_t(s.outChannels), 43), dy = randomVector(outputSize(s), 44);
    const std::size_t forwardBytes = backend->convolutionWorkspaceBytes(DType::Float64, s, ConvolutionPass::Forward);
    const std::size_t backwardBytes = backend->convolutionWorkspaceBytes(DType::Float64, s, ConvolutionPass::Backward);
    Workspace forwardWorkspace(forwardBytes), backwardWorkspace(backwardBytes);
    std::vector<double> y(outputSize(s)), dx(inputSize(s)), dw(weightSize(s)), db(std::size_t(s.outChannels));
    backend->convolutionForward(DType::Float64, s, x.data(), w.data(), b.data(), y.data(), forwardWorkspace.get(),
                                forwardBytes);
    backend->convolutionBackward(DType::Float64, s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(),
                                 nullptr, backwardWorkspace.get(), backwardBytes);
    expectNear(naiveForward(s, x, w, b), y, 1e-12, "y");
    const Gradients expected = naiveBackward(s, x, w, dy);
    expectNear(expected.dx, dx, 1e-12, "dx");
    expectNear(expected.dweights, dw, 1e-11, "dweights");
    expectNear(expected.dbias, db, 1e-11, "dbias");
}

TEST(CpuConvolution, RejectsImpossibleShapesAndSmallWorkspaces) {
    auto backend = makeCpuBackend(1);
    const ConvolutionShape good{2, 3, 9, 9, 4, 3, 2, 1};
    std::vector<ConvolutionShape> bad(6, good);
    bad[0].batch = 0;
    bad[1].stride = 0;
    bad[2].padding = -1;
    bad[3].kernel = 12;  // larger than 9 + 2 * 1
    bad[4].inChannels = 0;
    bad[5].outChannels = -2;
    for (const ConvolutionShape& s : bad) {
        EXPECT_THROW(backend->convolutionWorkspaceBytes(DType::Float32, s, ConvolutionPass::Forward),
                     std::invalid_argument)
            << toString(s);
    }
    const std::size_t bytes = backend->convolutionWorkspaceBytes(DType::Float64, good, ConvolutionPass::Forward);
    ASSERT_GT(bytes, 0u);
    Workspace workspace(bytes);
    const auto x = randomVector(inputSize(good), 51), w = randomVector(weightSize(good), 52);
    std::vector<double> y(outputSize(good));
    try {
        backend->convolutionForward(DType::Float64, good, x.data(), w.data(), nullptr, y.data(), workspace.get(),
                                    bytes - 1);
        ADD_FAILURE() << "a workspace one byte short was accepted";
    } catch (const std::invalid_argument& error) {
        EXPECT_NE(std::string(error.what()).find("workspace"), std::string::npos) << error.what();
    }
}

// Pooling.

struct Pooled {
    std::vector<double> y, dx;
};

// Max: the first maximum of each window in row-major order takes dy; average: each input of the
// window takes dy / window^2.
Pooled naivePooling(PoolingMode mode, const PoolingShape& s, const std::vector<double>& x,
                    const std::vector<double>& dy) {
    const std::int64_t outH = s.outHeight(), outW = s.outWidth();
    Pooled p{std::vector<double>(std::size_t(s.batch * s.channels * outH * outW)), std::vector<double>(x.size(), 0.0)};
    for (std::int64_t plane = 0; plane < s.batch * s.channels; ++plane) {
        for (std::int64_t oy = 0; oy < outH; ++oy) {
            for (std::int64_t ox = 0; ox < outW; ++ox) {
                const std::size_t out = std::size_t((plane * outH + oy) * outW + ox);
                std::size_t best = 0;
                double sum = 0.0;
                bool first = true;
                for (std::int64_t ky = 0; ky < s.window; ++ky) {
                    for (std::int64_t kx = 0; kx < s.window; ++kx) {
                        const std::size_t in =
                            std::size_t((plane * s.height + oy * s.stride + ky) * s.width + ox * s.stride + kx);
                        sum += x[in];
                        if (first || x[in] > x[best]) best = in;
                        first = false;
                    }
                }
                const double area = double(s.window * s.window);
                if (mode == PoolingMode::Max) {
                    p.y[out] = x[best];
                    p.dx[best] += dy[out];
                } else {
                    p.y[out] = sum / area;
                    for (std::int64_t ky = 0; ky < s.window; ++ky) {
                        for (std::int64_t kx = 0; kx < s.window; ++kx) {
                            p.dx[std::size_t((plane * s.height + oy * s.stride + ky) * s.width + ox * s.stride + kx)] +=
                                dy[out] / area;
                        }
                    }
                }
            }
        }
    }
    return p;
}

TEST(CpuPooling, MatchesNaiveLoopsForBothModesAndOverlappingWindows) {
    auto backend = makeCpuBackend(2);
    const std::vector<PoolingShape> shapes = {
        {3, 5, 13, 11, 2, 2},    // odd sizes: the last row and column belong to no window
        {2, 4, 13, 11, 3, 2},    // overlapping windows
        {2, 3, 10, 14, 3, 3},    // window 3, stride 3: the last column belongs to no window
        {1, 2, 5, 7, 1, 1},      // the identity
        {17, 20, 24, 24, 2, 2},  // LeNet's first pooling, above the parallel threshold
    };
    std::uint64_t seed = 60;
    for (const PoolingShape& s : shapes) {
        for (PoolingMode mode : {PoolingMode::Max, PoolingMode::Average}) {
            SCOPED_TRACE(toString(s) + ", " + toString(mode));
            const auto x = randomVector(std::size_t(s.batch * s.channels * s.height * s.width), ++seed);
            const auto dy = randomVector(std::size_t(s.batch * s.channels * s.outHeight() * s.outWidth()), ++seed);
            const Pooled expected = naivePooling(mode, s, x, dy);
            std::vector<double> y(expected.y.size(), std::nan("")), dx(x.size(), std::nan(""));
            backend->poolingForward(DType::Float64, mode, s, x.data(), y.data());
            backend->poolingBackward(DType::Float64, mode, s, x.data(), y.data(), dy.data(), dx.data());
            expectNear(expected.y, y, 1e-14, "y");
            expectNear(expected.dx, dx, 1e-14, "dx");

            const std::vector<float> xf(x.begin(), x.end()), dyf(dy.begin(), dy.end());
            std::vector<float> yf(y.size()), dxf(dx.size());
            backend->poolingForward(DType::Float32, mode, s, xf.data(), yf.data());
            backend->poolingBackward(DType::Float32, mode, s, xf.data(), yf.data(), dyf.data(), dxf.data());
            expectNear(expected.y, std::vector<double>(yf.begin(), yf.end()), 1e-6, "float y");
            expectNear(expected.dx, std::vector<double>(dxf.begin(), dxf.end()), 1e-6, "float dx");
        }
    }
}

TEST(CpuPooling, MaxRoutesTiesToTheFirstMaximumInRowMajorOrder) {
    auto backend = makeCpuBackend(1);
    const PoolingShape s{1, 1, 4, 4, 2, 2};
    // Window (0,0) all equal; window (0,1) two maxima on its second row; window (1,0) maxima on
    // the first row's second column and the second row's first; window (1,1) a single maximum.
    const std::vector<double> x = {1, 1, 0, 0,  //
                                   1, 1, 5, 5,  //
                                   0, 3, 2, 0,  //
                                   3, 0, 0, 0};
    const std::vector<double> dy = {10, 20, 30, 40};
    std::vector<double> y(4), dx(16);
    backend->poolingForward(DType::Float64, PoolingMode::Max, s, x.data(), y.data());
    backend->poolingBackward(DType::Float64, PoolingMode::Max, s, x.data(), y.data(), dy.data(), dx.data());
    EXPECT_EQ(y, (std::vector<double>{1, 5, 3, 2}));
    EXPECT_EQ(dx, (std::vector<double>{10, 0, 0, 0,   //
                                       0, 0, 20, 0,   //
                                       0, 30, 40, 0,  //
                                       0, 0, 0, 0}));
}

TEST(CpuPooling, RejectsImpossibleShapes) {
    auto backend = makeCpuBackend(1);
    std::vector<double> buffer(64);
    const std::vector<PoolingShape> bad = {
        {0, 1, 4, 4, 2, 2}, {1, 0, 4, 4, 2, 2}, {1, 1, 4, 4, 5, 1}, {1, 1, 4, 4, 2, 0}, {1, 1, 4, 4, 0, 1},
    };
    for (const PoolingShape& s : bad) {
        EXPECT_THROW(backend->poolingForward(DType::Float64, PoolingMode::Max, s, buffer.data(), buffer.data()),
                     std::invalid_argument)
            << toString(s);
    }
}

}  // namespace
}  // namespace cohort::kernels
