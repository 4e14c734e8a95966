// GELU and layer normalisation (the first transformer layers): values against their formulas,
// every gradient against central finite differences in double precision, and model files.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>
#include <type_traits>
#include <vector>

#include "kernels/Backend.h"
#include "src/core/Errors.h"
#include "src/nn/Dense.h"
#include "src/nn/Embedding.h"
#include "src/nn/Flatten.h"
#include "src/nn/Gelu.h"
#include "src/nn/LayerNorm.h"
#include "src/nn/ModelDescription.h"
#include "nn/GradientChecker.h"

namespace cohort::nn {
namespace {

using testing_support::chain;
using testing_support::GradientChecker;

using testing_support::kTolerance;

TEST(Gelu, MatchesGpt2sTanhForm) {
    auto cpu = kernels::makeCpuBackend(1);
    const std::vector<double> x = {0.0, 1.0, -1.0, 3.0, -6.0};
    std::vector<double> y(x.size());
    cpu->geluForward(DType::Float64, std::int64_t(x.size()), x.data(), y.data());
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double u = std::sqrt(2.0 / std::numbers::pi) * (x[i] + 0.044715 * x[i] * x[i] * x[i]);
        EXPECT_DOUBLE_EQ(y[i], 0.5 * x[i] * (1.0 + std::tanh(u))) << x[i];
    }
    EXPECT_NEAR(y[1], 0.8411919906082768, 1e-15);
    EXPECT_NEAR(y[2], -0.15880800939172324, 1e-15);
}

// The float path computes e^z itself (a polynomial after range reduction, vectorised): its GELU and
// GELU derivative stay within a few float roundings of the double formulas over the whole range,
// the clamped tails (|x| beyond 10: e^z would overflow or vanish) included.
TEST(Gelu, TheFloatPathFollowsTheDoubleFormulasToAFewRoundings) {
    auto cpu = kernels::makeCpuBackend(1);
    std::vector<float> x;
    for (double v = -30.0; v <= 30.0; v += 0.003) x.push_back(float(v));
    x.insert(x.end(), {0.0f, -0.0f, 1e-30f, -1e-30f, 88.0f, -88.0f, 1e6f, -1e6f});
    const auto count = std::int64_t(x.size());
    std::vector<float> y(x.size()), dx(x.size()), ones(x.size(), 1.0f);
    cpu->geluForward(DType::Float32, count, x.data(), y.data());
    cpu->geluBackward(DType::Float32, count, x.data(), ones.data(), dx.data());
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double v = x[i], u = std::sqrt(2.0 / std::numbers::pi) * (v + 0.044715 * v * v * v);
        // (x/2 (1 + tanh u) as x s, s = 1 / (1 + e^(-2u)): the tanh form cancels to 0 in double too
        // once tanh u rounds to -1)
        const double sigma = 1.0 / (1.0 + std::exp(-2.0 * u)), du = std::sqrt(2.0 / std::numbers::pi) * (1.0 + 3 * 0.044715 * v * v);
        const double gelu = v * sigma, slope = sigma + 2.0 * v * sigma * (1.0 - sigma) * du;
        // A float u has taken 4 roundings (x^3's two products, the sum, the scale) of 6e-8 each, so
        // e^(-2u) is off by up to 2|u| x 4 x 6e-8, the rest by a few roundings; below 1e-30 the
        // float path has clamped e^z (an absolute floor).
        const double relative = 6e-8 * (8.0 + 8.0 * std::abs(u));
        EXPECT_NEAR(y[i], gelu, relative * std::abs(gelu) + 1e-30) << "x = " << v;
        EXPECT_NEAR(dx[i], slope, relative * (1.0 + std::abs(slope) + std::abs(v * du)) + 1e-30) << "x = " << v;
    }
}

// Backend-level: d/dx of sum(w * f(x)) against central differences, for GELU and layer norm's dx.
// Training keeps GELU's derivative from the forward pass (backward is then one multiplication): the
// CPU's one-pass version must give exactly what geluForward and geluBackward of ones give, in float
// (the vectorised path, over blocks and threads) and in double.
TEST(Gelu, TheDerivativeKeptForBackwardIsBitwiseTheBackwardPasss) {
    auto cpu = kernels::makeCpuBackend(2);
    auto check = [&](auto zero) {
        using T = decltype(zero);
        const DType dtype = std::is_same_v<T, float> ? DType::Float32 : DType::Float64;
        std::vector<T> x;
        for (int i = 0; i < 70001; ++i) x.push_back(T(-12.0 + 24.0 * i / 70000.0));  // above the parallel threshold
        const auto count = std::int64_t(x.size());
        std::vector<T> y(x.size()), dydx(x.size(), T(7)), expectedY(x.size()), expectedSlope(x.size(), T(1));
        cpu->geluForwardWithDerivative(dtype, count, x.data(), y.data(), dydx.data());
        cpu->geluForward(dtype, count, x.data(), expectedY.data());
        cpu->geluBackward(dtype, count, x.data(), expectedSlope.data(), expectedSlope.data());
        for (std::size_t i = 0; i < x.size(); ++i) {
            ASSERT_EQ(y[i], expectedY[i]) << "x = " << x[i];
            ASSERT_EQ(dydx[i], expectedSlope[i]) << "x = " << x[i];
        }
    };
    check(0.0f);
    check(0.0);
}

TEST(TransformerGradients, GeluAndLayerNormInputGradientsMatchFiniteDifferences) {
    auto cpu = kernels::makeCpuBackend(1);
    std::mt19937_64 generator(11);
    std::normal_distribution<double> normal(0.0, 1.0);
    const std::int64_t rows = 3, features = 5, count = rows * features;
    std::vector<double> x(count), w(count), gain(features), bias(features);
    for (double* v : {x.data(), w.data()}) for (std::int64_t i = 0; i < count; ++i) v[i] = normal(generator);
    for (std::int64_t f = 0; f < features; ++f) gain[f] = 1.0 + 0.3 * normal(generator), bias[f] = 0.2 * normal(generator);
    const auto loss = [&](const std::vector<double>& in, bool layerNorm) {
        std::vector<double> y(count), mean(rows), rstd(rows);
        if (layerNorm) cpu->layerNormForward(DType::Float64, rows, features, 1e-5, in.data(), gain.data(), bias.data(), y.data(), mean.data(), rstd.data());
        else cpu->geluForward(DType::Float64, count, in.data(), y.data());
        double total = 0.0;
        for (std::int64_t i = 0; i < count; ++i) total += w[i] * y[i];
        return total;
    };
    for (const bool layerNorm : {false, true}) {
        std::vector<double> y(count), mean(rows), rstd(rows), dx(count), dgain(features), dbias(features);
        if (layerNorm) {
            cpu->layerNormForward(DType::Float64, rows, features, 1e-5, x.data(), gain.data(), bias.data(), y.data(), mean.data(), rstd.data());
            cpu->layerNormBackward(DType::Float64, rows, features, x.data(), gain.data(), mean.data(), rstd.data(), w.data(), dx.data(), dgain.data(), dbias.data());
        } else {
            cpu->geluBackward(DType::Float64, count, x.data(), w.data(), dx.data());
        }
        for (std::int64_t i = 0; i < count; ++i) {
            const double h = 1e-5;
            std::vector<double> plus = x, minus = x;
            plus[i] += h;
            minus[i] -= h;
            const double numeric = (loss(plus, layerNorm) - loss(minus, layerNorm)) / (2 * h);
            EXPECT_NEAR(dx[i], numeric, 1e-7 * (1.0 + std::abs(numeric))) << (layerNorm ? "layernorm" : "gelu") << " x[" << i << "]";
        }
    }
}

TEST(TransformerGradients, LayerNormAndGeluInAModel) {
    // The first dense layer's parameters check layer norm's and GELU's input gradients through
    // the chain; layer norm's gain and bias are checked directly.
    auto problem = testing_support::makeProblem(
        chain(std::make_unique<Dense>(8), std::make_unique<LayerNorm>(), std::make_unique<Gelu>(), std::make_unique<Dense>(3)),
        Shape{5}, 4, 3, 3, {0.3, 0.1, 3.0, false});
    GradientChecker(problem).expectGradientsMatch(kTolerance);
}

TEST(TransformerGradients, LayerNormOverTheRowsOfEachSample) {
    // A sample of 3 rows of 4 features (a sequence of tokens): each row normalised on its own.
    auto problem = testing_support::makeProblem(
        chain(std::make_unique<LayerNorm>(), std::make_unique<Flatten>(), std::make_unique<Dense>(3)), Shape{3, 4}, 5, 3, 4,
        {0.3, 0.3, 3.0, false});
    GradientChecker(problem).expectGradientsMatch(kTolerance);
}

TEST(LayerNorm, EachRowComesOutWithMeanZeroAndUnitVarianceBeforeGainAndBias) {
    auto cpu = kernels::makeCpuBackend(1);
    const std::vector<double> x = {1, 2, 3, 4, 10, 10, 10, 14};
    const std::vector<double> gain(4, 1.0), bias(4, 0.0);
    std::vector<double> y(8), mean(2), rstd(2);
    cpu->layerNormForward(DType::Float64, 2, 4, 1e-5, x.data(), gain.data(), bias.data(), y.data(), mean.data(), rstd.data());
    EXPECT_DOUBLE_EQ(mean[0], 2.5);
    EXPECT_DOUBLE_EQ(mean[1], 11.0);
    EXPECT_NEAR(rstd[0], 1.0 / std::sqrt(1.25 + 1e-5), 1e-15);
    for (int r = 0; r < 2; ++r) {
        double sum = 0.0, squares = 0.0;
        for (int f = 0; f < 4; ++f) sum += y[r * 4 + f], squares += y[r * 4 + f] * y[r * 4 + f];
        EXPECT_NEAR(sum, 0.0, 1e-12);
        EXPECT_NEAR(squares / 4.0, 1.0, 1e-4);
    }
}

TEST(LayerNorm, ModelFilesNameTheNewLayers) {
    const ModelDescription description = parseModelDescription(
        R"({"layers": [{"type": "dense", "units": 16}, {"type": "layernorm", "epsilon": 1e-6}, {"type": "gelu"},
                       {"type": "dense", "units": "classes"}]})",
        "transformer.json");
    const auto model = description.buildModel(Shape{8}, 4, DType::Float32, memory::MemoryLocation::host());
    EXPECT_NE(model->describe().find("layernorm(16, eps=1e-06)"), std::string::npos) << model->describe();
    EXPECT_NE(model->describe().find("gelu"), std::string::npos) << model->describe();
    const auto plain = parseModelDescription(
        R"({"layers": [{"type": "dense", "units": 16}, {"type": "gelu"}, {"type": "dense", "units": "classes"}]})", "plain.json");
    // A gain and a bias per feature (16 each; every layer's block is 64-byte aligned, 32 floats are).
    EXPECT_EQ(model->parameterCount() - plain.buildModel(Shape{8}, 4, DType::Float32, memory::MemoryLocation::host())->parameterCount(),
              2 * 16);
    EXPECT_NE(description.text().find("layernorm(epsilon="), std::string::npos) << description.text();
    EXPECT_NE(description.text().find("gelu()"), std::string::npos) << description.text();
}

// A problem whose inputs are token ids (the embedding reads ids, not values).
testing_support::Problem tokenProblem(std::int64_t vocabulary, std::int64_t positions, std::int64_t width,
                                      std::int64_t batch, std::uint64_t seed) {
    testing_support::Problem problem = testing_support::makeProblem(
        chain(std::make_unique<Embedding>(vocabulary, width), std::make_unique<LayerNorm>(), std::make_unique<Gelu>(),
              std::make_unique<Flatten>(), std::make_unique<Dense>(3)),
        Shape{positions}, batch, 3, seed, {0.3, 0.1, 3.0, false});
    std::mt19937_64 generator(seed + 7);
    for (std::int64_t i = 0; i < problem.input.elementCount(); ++i) {
        problem.input.data<double>()[i] = double(generator() % std::uint64_t(vocabulary));
    }
    return problem;
}

TEST(TransformerGradients, TokenAndPositionEmbeddings) {
    // 4 sequences of 6 tokens from a vocabulary of 5: ids repeat, so token rows gather several
    // gradients; every position's row is checked too.
    auto problem = tokenProblem(5, 6, 4, 4, 9);
    GradientChecker(problem).expectGradientsMatch(kTolerance);
}

TEST(Embedding, AddsTheTokensAndThePositionsRows) {
    auto cpu = kernels::makeCpuBackend(1);
    const std::vector<double> ids = {2, 0, 2};  // one sequence of 3 positions
    const std::vector<double> tokens = {1, 1, 2, 2, 3, 3};     // 3 tokens x 2
    const std::vector<double> positions = {10, 20, 30, 40, 50, 60};  // 3 positions x 2
    std::vector<double> y(6);
    cpu->embeddingForward(DType::Float64, 3, 3, 2, ids.data(), tokens.data(), positions.data(), y.data());
    EXPECT_EQ(y, (std::vector<double>{13, 23, 31, 41, 53, 63}));
    const std::vector<double> dy = {1, 2, 3, 4, 5, 6};
    std::vector<double> dTokens(6, -1.0), dPositions(6, -1.0);
    cpu->embeddingBackward(DType::Float64, 3, 3, 2, 3, ids.data(), dy.data(), dTokens.data(), dPositions.data());
    EXPECT_EQ(dTokens, (std::vector<double>{3, 4, 0, 0, 6, 8}));  // token 1 unused: zero, not left as it was
    EXPECT_EQ(dPositions, dy);
}

TEST(Embedding, ModelFilesPutItFirstAndSizeItFromTheClasses) {
    const ModelDescription description = parseModelDescription(
        R"({"layers": [{"type": "embedding", "vocabulary": "classes", "width": 8}, {"type": "layernorm"},
                       {"type": "flatten"}, {"type": "dense", "units": "classes"}]})",
        "lm.json");
    const auto model = description.buildModel(Shape{16}, 65, DType::Float32, memory::MemoryLocation::host());
    EXPECT_NE(model->describe().find("embedding(65 tokens x 16 positions -> 8)"), std::string::npos) << model->describe();
    EXPECT_NE(description.text().find("embedding(vocabulary=classes,width=8)"), std::string::npos) << description.text();
    std::string message;
    try {
        parseModelDescription(R"({"layers": [{"type": "dense", "units": 4}, {"type": "embedding", "vocabulary": 9, "width": 2}]})",
                              "late.json");
    } catch (const InputError& error) {
        message = error.what();
    }
    EXPECT_NE(message.find("layers[1] (embedding) must be the first layer"), std::string::npos) << message;
}

}  // namespace
}  // namespace cohort::nn
