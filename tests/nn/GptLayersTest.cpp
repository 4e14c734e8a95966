// The GPT's own layers: causal self-attention (values against a direct computation, causality),
// residual blocks, per-token dense layers and the per-token loss, every gradient against finite
// differences in double precision, up to a whole two-block GPT.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include "kernels/Backend.h"
#include "src/core/Errors.h"
#include "src/nn/Architectures.h"
#include "src/nn/CausalSelfAttention.h"
#include "src/nn/Dense.h"
#include "src/nn/Embedding.h"
#include "src/nn/Gelu.h"
#include "src/nn/LayerNorm.h"
#include "src/nn/ModelDescription.h"
#include "src/nn/Residual.h"
#include "src/nn/TiedHead.h"
#include "nn/GradientChecker.h"

namespace cohort::nn {
namespace {

using testing_support::chain;
using testing_support::GradientChecker;

using testing_support::kTolerance;
// Through attention the query and key weights' gradients are small (1e-7 at these sizes), where the
// difference quotient's round-off (about 1e-12 absolute) is 1e-5 of the value; a wrong formula is
// off by O(1).
constexpr double kAttentionTolerance = 1e-4;

std::vector<double> normals(std::size_t count, std::uint64_t seed) {
    std::mt19937_64 generator(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::vector<double> values(count);
    for (double& v : values) v = normal(generator);
    return values;
}

TEST(Attention, MatchesTheCausalSoftmaxOfScaledScores) {
    auto cpu = kernels::makeCpuBackend(2);
    const std::int64_t batch = 2, positions = 5, heads = 3, width = 4, channels = heads * width;
    const auto qkv = normals(std::size_t(batch * positions * 3 * channels), 3);
    std::vector<double> probabilities(std::size_t(batch * heads * positions * positions), -1.0);
    std::vector<double> y(std::size_t(batch * positions * channels)), scratch(y.size());
    cpu->attentionForward(DType::Float64, batch, positions, heads, width, qkv.data(), probabilities.data(), y.data(),
                          scratch.data());
    const auto at = [&](std::int64_t b, std::int64_t t, std::int64_t part, std::int64_t h, std::int64_t d) {
        return qkv[std::size_t((b * positions + t) * 3 * channels + part * channels + h * width + d)];
    };
    for (std::int64_t b = 0; b < batch; ++b) {
        for (std::int64_t h = 0; h < heads; ++h) {
            for (std::int64_t i = 0; i < positions; ++i) {
                std::vector<double> weights(std::size_t(i + 1));
                double total = 0.0;
                for (std::int64_t j = 0; j <= i; ++j) {
                    double score = 0.0;
                    for (std::int64_t d = 0; d < width; ++d) score += at(b, i, 0, h, d) * at(b, j, 1, h, d);
                    weights[std::size_t(j)] = std::exp(score / std::sqrt(double(width)));
                    total += weights[std::size_t(j)];
                }
                const double* row = probabilities.data() + ((b * heads + h) * positions + i) * positions;
                for (std::int64_t j = 0; j < positions; ++j) {
                    const double expected = j <= i ? weights[std::size_t(j)] / total : 0.0;
                    EXPECT_NEAR(row[j], expected, 1e-14) << b << "," << h << "," << i << "," << j;
                }
                for (std::int64_t d = 0; d < width; ++d) {
                    double sum = 0.0;
                    for (std::int64_t j = 0; j <= i; ++j) sum += weights[std::size_t(j)] / total * at(b, j, 2, h, d);
                    EXPECT_NEAR(y[std::size_t((b * positions + i) * channels + h * width + d)], sum, 1e-13);
                }
            }
        }
    }
}

// The finite-difference check of the backend's attention gradients for one shape.
void checkAttentionGradients(std::int64_t batch, std::int64_t positions, std::int64_t heads, std::int64_t width) {
    auto cpu = kernels::makeCpuBackend(1);
    const std::int64_t channels = heads * width;
    auto qkv = normals(std::size_t(batch * positions * 3 * channels), 5);
    const auto weights = normals(std::size_t(batch * positions * channels), 6);
    std::vector<double> probabilities(std::size_t(batch * heads * positions * positions));
    std::vector<double> y(weights.size()), forwardScratch(weights.size());
    const auto loss = [&] {
        cpu->attentionForward(DType::Float64, batch, positions, heads, width, qkv.data(), probabilities.data(), y.data(),
                              forwardScratch.data());
        double total = 0.0;
        for (std::size_t i = 0; i < y.size(); ++i) total += weights[i] * y[i];
        return total;
    };
    loss();
    std::vector<double> scratch(std::size_t(batch * heads * positions * (positions + width)), 3.0);
    std::vector<double> gradient(qkv.size(), 7.0);
    cpu->attentionBackward(DType::Float64, batch, positions, heads, width, qkv.data(), probabilities.data(),
                           weights.data(), scratch.data(), gradient.data());
    for (std::size_t i = 0; i < qkv.size(); ++i) {
        const double original = qkv[i], h = 1e-5;
        qkv[i] = original + h;
        const double plus = loss();
        qkv[i] = original - h;
        const double minus = loss();
        qkv[i] = original;
        const double numeric = (plus - minus) / (2 * h);
        EXPECT_NEAR(gradient[i], numeric, 1e-8 * (1.0 + std::abs(numeric)))
            << positions << "x" << heads << "x" << width << " qkv[" << i << "]";
    }
}

TEST(Attention, BackendGradientsMatchFiniteDifferences) {
    checkAttentionGradients(2, 4, 2, 3);  // entries one at a time (blocks narrower than a vector)
    // Heads 8 wide (two vectors of doubles) and 13 positions: full blocks of 6 rows, a 1-row block,
    // score rows whose band ends inside a vector block.
    checkAttentionGradients(2, 13, 2, 8);
}

// The float path (vector blocks of 16 and 8 columns, softmax rows in whole vectors, transposes in
// 8 x 8 tiles) against the double path on the same inputs, at the baby GPT's heads of 32 and 64
// positions and at shapes that leave remainders: the two share their structure, so they agree to
// float rounding (a misplaced band, mask or tile edge would be off by O(1)). Every buffer starts
// as NaN, so an entry read before it is written shows.
void checkFloatAgainstDouble(std::int64_t batch, std::int64_t positions, std::int64_t heads, std::int64_t width) {
    auto cpu = kernels::makeCpuBackend(2);
    const std::int64_t channels = heads * width;
    const auto qkv = normals(std::size_t(batch * positions * 3 * channels), 8);
    const auto dy = normals(std::size_t(batch * positions * channels), 9);
    const std::size_t squares = std::size_t(batch * heads * positions * positions);
    const std::size_t scratchSize = std::size_t(batch * heads * positions * (positions + width));
    auto run = [&](auto zero) {
        using T = decltype(zero);
        const DType dtype = std::is_same_v<T, float> ? DType::Float32 : DType::Float64;
        const T nan = std::numeric_limits<T>::quiet_NaN();
        std::vector<T> in(qkv.begin(), qkv.end()), gradOut(dy.begin(), dy.end());
        std::vector<T> p(squares, nan), y(dy.size(), nan), scratch(scratchSize, nan), dqkv(qkv.size(), nan);
        cpu->attentionForward(dtype, batch, positions, heads, width, in.data(), p.data(), y.data(), scratch.data());
        cpu->attentionBackward(dtype, batch, positions, heads, width, in.data(), p.data(), gradOut.data(),
                               scratch.data(), dqkv.data());
        std::vector<double> all(p.begin(), p.end());
        all.insert(all.end(), y.begin(), y.end());
        all.insert(all.end(), dqkv.begin(), dqkv.end());
        return all;
    };
    const std::vector<double> single = run(0.0f), reference = run(0.0);
    ASSERT_EQ(single.size(), reference.size());
    int failures = 0;
    for (std::size_t i = 0; i < single.size(); ++i) {
        if (!(std::abs(single[i] - reference[i]) <= 1e-4 * (1.0 + std::abs(reference[i]))) && ++failures <= 5) {
            ADD_FAILURE() << positions << "x" << heads << "x" << width << " element " << i << ": float " << single[i]
                          << ", double " << reference[i];
        }
    }
}

TEST(Attention, FloatPathAgreesWithDoubleAtTheBabyGptShapeAndWithRemainders) {
    checkFloatAgainstDouble(2, 64, 4, 32);  // the baby GPT: whole vectors and tiles everywhere
    checkFloatAgainstDouble(2, 16, 2, 8);   // heads one vector wide
    checkFloatAgainstDouble(1, 21, 3, 12);  // rows and heads that end inside a vector and a tile
}

// A problem whose inputs are token ids and whose labels are one per token.
testing_support::Problem tokenProblem(std::vector<std::unique_ptr<Layer>> layers, std::int64_t vocabulary,
                                      std::int64_t positions, std::int64_t batch, std::uint64_t seed) {
    testing_support::Problem problem =
        testing_support::makeProblem(std::move(layers), Shape{positions}, batch, int(vocabulary), seed, {0.3, 0.1, 3.0, false});
    std::mt19937_64 generator(seed + 7);
    for (std::int64_t i = 0; i < problem.input.elementCount(); ++i) {
        problem.input.data<double>()[i] = double(generator() % std::uint64_t(vocabulary));
    }
    return problem;
}

ArchitectureConfig gpt(std::int64_t layers, std::int64_t heads, std::int64_t embed, bool tied = false) {
    ArchitectureConfig config;
    config.name = "gpt";
    config.layers = layers;
    config.heads = heads;
    config.embed = embed;
    config.tieEmbeddings = tied;
    return config;
}

std::vector<std::unique_ptr<Layer>> body(std::unique_ptr<Layer> first, std::unique_ptr<Layer> second) {
    std::vector<std::unique_ptr<Layer>> layers;
    layers.push_back(std::move(first));
    layers.push_back(std::move(second));
    return layers;
}

TEST(GptGradients, AttentionInAResidualBlock) {
    auto problem = tokenProblem(chain(std::make_unique<Embedding>(5, 6),
                                      std::make_unique<Residual>(body(std::make_unique<LayerNorm>(),
                                                                      std::make_unique<CausalSelfAttention>(2))),
                                      std::make_unique<Dense>(5, kernels::Activation::Identity, true)),
                                5, 4, 3, 21);
    EXPECT_EQ(problem.labels.size(), 3u * 4u);  // one label per token
    GradientChecker(problem).expectGradientsMatch(kAttentionTolerance);
}

TEST(GptGradients, AnMlpInAResidualBlock) {
    std::vector<std::unique_ptr<Layer>> mlp;
    mlp.push_back(std::make_unique<LayerNorm>());
    mlp.push_back(std::make_unique<Dense>(12, kernels::Activation::Identity, true));
    mlp.push_back(std::make_unique<Gelu>());
    mlp.push_back(std::make_unique<Dense>(4, kernels::Activation::Identity, true));
    auto problem = tokenProblem(chain(std::make_unique<Embedding>(6, 4), std::make_unique<Residual>(std::move(mlp)),
                                      std::make_unique<Dense>(6, kernels::Activation::Identity, true)),
                                6, 3, 4, 17);
    GradientChecker(problem).expectGradientsMatch(kTolerance);
}

TEST(GptGradients, AWholeTwoBlockGpt) {
    auto problem = tokenProblem(buildLayers(gpt(2, 2, 8), 7), 7, 5, 3, 33);
    EXPECT_NE(problem.model->describe().find("residual(layernorm"), std::string::npos) << problem.model->describe();
    GradientChecker(problem).expectGradientsMatch(kAttentionTolerance);
}

TEST(GptGradients, AGptWhoseHeadSharesTheTokenTable) {
    // The table's gradient is the head's plus the embedding's: a wrong sum shows in every token row.
    auto problem = tokenProblem(buildLayers(gpt(1, 2, 8, true), 7), 7, 5, 3, 41);
    EXPECT_NE(problem.model->describe().find("tied-head(8->7)"), std::string::npos) << problem.model->describe();
    GradientChecker(problem).expectGradientsMatch(kAttentionTolerance);
}

TEST(Gpt, TyingTheHeadRemovesItsMatrixAndNeedsAnEmbedding) {
    ArchitectureConfig config;
    config.name = "gpt";
    const std::int64_t V = 65, C = 128;
    auto count = [](const Model& model) {
        std::int64_t total = 0;
        for (const auto& slice : model.parameterSlices()) total += slice.count;
        return total;
    };
    const Model untied(buildLayers(config, int(V)), Shape{64});
    config.tieEmbeddings = true;
    const Model tied(buildLayers(config, int(V)), Shape{64});
    EXPECT_EQ(count(untied) - count(tied), C * V);
    EXPECT_THROW(Model(chain(std::make_unique<LayerNorm>(), std::make_unique<TiedHead>(5)), Shape{3, 4}), InputError);
}

TEST(Gpt, APositionSeesNoLaterToken) {
    Model model(buildLayers(gpt(2, 2, 8), 7), Shape{6}, DType::Float64);
    model.initialize(4);
    auto backend = kernels::makeCpuBackend(1);
    ExecutionContext context{backend.get(), false, 0, 0};
    Tensor input = Tensor::persistent(Shape{1, 6}, DType::Float64);
    const std::vector<double> ids = {1, 2, 3, 4, 5, 6};
    std::copy(ids.begin(), ids.end(), input.data<double>());
    const Tensor first = model.forward(input, context);
    const std::vector<double> before(first.data<double>(), first.data<double>() + 6 * 7);
    input.data<double>()[4] = 0;  // change the fifth token
    const Tensor after = model.forward(input, context);
    for (std::int64_t i = 0; i < 6 * 7; ++i) {
        if (i < 4 * 7) {
            EXPECT_EQ(after.data<double>()[i], before[std::size_t(i)]) << "position " << i / 7;
        }
    }
    EXPECT_NE(after.data<double>()[4 * 7], before[4 * 7]);
}

TEST(Gpt, ParametersAreGpt2sCount) {
    // nanoGPT's count for the same shape (with biases, untied head): embeddings V*C + T*C, per block
    // 2 layer norms (4C), qkv (3C^2 + 3C), proj (C^2 + C), MLP (8C^2 + 5C), final layer norm 2C,
    // head C*V + V.
    ArchitectureConfig config;
    config.name = "gpt";
    const std::int64_t V = 65, T = 64, C = 128, L = 4;
    Model model(buildLayers(config, int(V)), Shape{T});
    const std::int64_t block = 4 * C + 3 * C * C + 3 * C + C * C + C + 8 * C * C + 5 * C;
    std::int64_t expected = 0;
    for (const auto& slice : model.parameterSlices()) expected += slice.count;
    EXPECT_EQ(expected, V * C + T * C + L * block + 2 * C + C * V + V);
    EXPECT_EQ(model.outputSample(), (Shape{T, V}));
    EXPECT_EQ(model.predictionsPerSample(), T);
}

TEST(Gpt, BadShapesAreRefusedWithTheirCause) {
    ArchitectureConfig config;
    config.name = "gpt";
    config.heads = 3;
    EXPECT_THROW(buildLayers(config, 10), SettingError);  // 128 is not a multiple of 3
    std::vector<std::unique_ptr<Layer>> grows;
    grows.push_back(std::make_unique<Dense>(3, kernels::Activation::Identity, true));
    try {
        Model model(chain(std::make_unique<Embedding>(5, 4), std::make_unique<Residual>(std::move(grows))), Shape{4});
        FAIL() << "a residual body that changes the shape was accepted";
    } catch (const InputError& error) {
        EXPECT_NE(std::string(error.what()).find("must keep its input's shape [4,4]"), std::string::npos) << error.what();
    }
}

TEST(Gpt, AModelFileDescribesTheSameTransformerAsTheFlags) {
    const ModelDescription description = readModelDescriptionFile(std::string(COHORT_SOURCE_DIR) + "/examples/models/gpt-2-blocks.json");
    const auto fromFile = description.buildModel(Shape{32}, 83);
    const auto fromFlags = buildModel(gpt(2, 4, 64), Shape{32}, 83);
    EXPECT_EQ(fromFile->describe(), fromFlags->describe());
    EXPECT_EQ(fromFile->parameterCount(), fromFlags->parameterCount());
    EXPECT_NE(description.text().find("residual(layernorm(epsilon=1e-05); attention(heads=4))"), std::string::npos)
        << description.text();
    std::string message;
    try {
        parseModelDescription(R"({"layers": [{"type": "embedding", "vocabulary": 5, "width": 4},
                                             {"type": "residual", "layers": [{"type": "dense", "units": 3, "per_token": true}]}]})",
                              "grows.json")
            .buildModel(Shape{6}, 5);
    } catch (const InputError& error) {
        message = error.what();
    }
    EXPECT_NE(message.find("must keep its input's shape"), std::string::npos) << message;
    EXPECT_THROW(parseModelDescription(R"({"layers": [{"type": "residual", "layers": []}]})", "empty.json"), InputError);
    EXPECT_THROW(parseModelDescription(R"({"layers": [{"type": "dense", "units": 3, "per_token": "yes"}]})", "flag.json"),
                 InputError);
}

}  // namespace
}  // namespace cohort::nn
