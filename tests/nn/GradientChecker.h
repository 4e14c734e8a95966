#pragma once
// The generic gradient checker every layer test uses: a model in double precision, its analytic
// parameter gradients against a fourth-order central difference of the mean loss, worst relative
// error reported with the offending parameter. Input gradients of inner layers are covered
// through the parameters of the layers before them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "src/nn/Loss.h"
#include "src/nn/Model.h"

namespace cohort::nn::testing_support {

// The relative error every double-precision gradient check here is held to.
inline constexpr double kTolerance = 1e-6;

struct Problem {
    std::unique_ptr<Model> model;
    std::unique_ptr<Loss> loss;
    Tensor input;
    std::vector<std::int32_t> labels;  // classification losses
    Tensor targets;                    // regression losses
};

// How makeProblem draws its values: every parameter nudged by parameterNoise * N(0, spread) (so
// biases are exercised away from zero), inputs N(0, spread) * inputScale, then labels uniform in
// [0, classes) or, for regression, mean-squared-error targets N(0, spread).
struct ProblemOptions {
    double spread = 0.3;
    double parameterNoise = 0.1;
    double inputScale = 3.0;
    bool regression = false;
};

// A random double-precision problem for the checker, the model initialised from `seed`.
inline Problem makeProblem(std::vector<std::unique_ptr<Layer>> layers, const Shape& sample, std::int64_t batch,
                           int classes, std::uint64_t seed, const ProblemOptions& options = {}) {
    Problem problem;
    problem.model = std::make_unique<Model>(std::move(layers), sample, DType::Float64);
    problem.model->initialize(seed);
    std::mt19937_64 generator(seed + 1);
    std::normal_distribution<double> normal(0.0, options.spread);
    auto values = problem.model->parametersToHost();
    for (double& v : values) v += options.parameterNoise * normal(generator);
    problem.model->parametersFromHost(values);
    problem.input = Tensor::persistent(sample.withBatch(batch), DType::Float64);
    for (std::int64_t i = 0; i < problem.input.elementCount(); ++i) {
        problem.input.data<double>()[i] = normal(generator) * options.inputScale;
    }
    if (options.regression) {
        problem.loss = std::make_unique<MeanSquaredError>();
        problem.targets = Tensor::persistent(Shape{batch, problem.model->outputSample().elementCount()}, DType::Float64);
        for (std::int64_t i = 0; i < problem.targets.elementCount(); ++i) problem.targets.data<double>()[i] = normal(generator);
    } else {
        problem.loss = std::make_unique<SoftmaxCrossEntropy>();
        // One label per prediction: per sample, or per token of a {positions, vocabulary} output.
        const std::int64_t predictions = batch * problem.model->predictionsPerSample();
        for (std::int64_t i = 0; i < predictions; ++i) problem.labels.push_back(std::int32_t(generator() % std::uint64_t(classes)));
    }
    return problem;
}

class GradientChecker {
public:
    explicit GradientChecker(Problem& problem) : p_(problem), backend_(kernels::makeCpuBackend(1)) {}

    double loss(bool backward) {
        ExecutionContext context{backend_.get(), true, 42, 3};
        Tensor output = p_.model->forward(p_.input, context);
        double lossSum = 0.0;
        Tensor gradient;
        p_.loss->compute(output, p_.labels.empty() ? nullptr : p_.labels.data(), p_.targets, context, &lossSum,
                         backward ? &gradient : nullptr, nullptr);
        if (backward) p_.model->backward(gradient, context);
        p_.model->releaseCaches();
        // The mean over predictions (the loss's gradient is of that mean).
        return lossSum / double(p_.labels.empty() ? p_.input.dim(0) : std::int64_t(p_.labels.size()));
    }

    // Worst relative error over every parameter (input gradients of inner layers are covered
    // through the parameters of the layers before them).
    void expectGradientsMatch(double tolerance) {
        loss(true);
        const std::int64_t count = p_.model->parameterCount();
        auto* parameters = p_.model->parameters().data<double>();
        const std::vector<double> analytic(p_.model->gradients().data<double>(),
                                           p_.model->gradients().data<double>() + count);
        double worst = 0.0, worstAnalytic = 0.0, worstNumeric = 0.0;
        std::int64_t checked = 0, worstIndex = -1;
        for (std::int64_t i = 0; i < count; ++i) {
            const double numeric = centralDifference(parameters[i]);
            const double error = relativeError(analytic[std::size_t(i)], numeric);
            if (error > worst) {
                worst = error;
                worstIndex = i;
                worstAnalytic = analytic[std::size_t(i)];
                worstNumeric = numeric;
            }
            ++checked;
        }
        EXPECT_GT(checked, 0);
        EXPECT_LT(worst, tolerance) << "worst parameter-gradient relative error for " << p_.model->describe()
                                    << " at parameter " << worstIndex << ": analytic " << worstAnalytic
                                    << ", numeric " << worstNumeric;
    }

private:
    // Fourth-order central difference: truncation O(h^4) and a round-off floor near 1e-12 at
    // h = 1e-4 (the two-point form at h = 1e-6 has a ~1e-10 floor, too close to the 1e-6 bound
    // for the small per-weight gradients of conv models).
    double centralDifference(double& value) {
        const double original = value;
        const double step = 1e-4 * std::max(1.0, std::abs(original));
        auto at = [&](double offset) {
            value = original + offset;
            return loss(false);
        };
        const double plus = at(step), minus = at(-step), plus2 = at(2.0 * step), minus2 = at(-2.0 * step);
        value = original;
        return (8.0 * (plus - minus) - (plus2 - minus2)) / (12.0 * step);
    }
    static double relativeError(double a, double b) {
        const double scale = std::max({std::abs(a), std::abs(b), 1e-7});
        return std::abs(a - b) / scale;
    }
    Problem& p_;
    std::unique_ptr<kernels::Backend> backend_;
};

// Views a flat per-sample vector as `sample` (e.g. {C, H, W}): a Dense in front then gives every
// input value of the layer under test its own parameters, so the checker covers that layer's
// input gradient.
class Reshape final : public Layer {
public:
    explicit Reshape(Shape sample) : sample_(sample) {}
    std::string describe() const override { return "reshape" + sample_.toString(); }
    Shape outputShape(const Shape&) const override { return sample_; }
    Tensor forward(const Tensor& input, ExecutionContext&) override { return input.reshape(sample_.withBatch(input.dim(0))); }
    Tensor backward(const Tensor& gradOutput, ExecutionContext&, bool need) override {
        return need ? gradOutput.reshape(Shape{gradOutput.dim(0), sample_.elementCount()}) : Tensor();
    }
    std::unique_ptr<Layer> clone() const override { return std::make_unique<Reshape>(sample_); }

private:
    Shape sample_;
};

template <typename... Layers>
std::vector<std::unique_ptr<Layer>> chain(std::unique_ptr<Layers>... layers) {
    std::vector<std::unique_ptr<Layer>> result;
    (result.push_back(std::move(layers)), ...);
    return result;
}

}  // namespace cohort::nn::testing_support
