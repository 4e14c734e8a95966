#include "src/train/EpochReport.h"

#include "src/train/Evaluation.h"
#include "src/train/Trainer.h"

namespace cohort::train {

bool evaluatesAfterEpoch(const TrainerConfig& config, int epoch) {
    return config.evaluateEachEpoch || epoch == config.epochs;
}

EpochMetrics closeEpoch(const TrainerConfig& config, const EpochEnd& end, Evaluator& evaluator,
                        const data::Dataset& test) {
    EpochMetrics metrics;
    metrics.epoch = end.epoch;
    const EpochTotals& totals = end.totals;
    metrics.trainLoss = totals.samples > 0 ? totals.lossSum / totals.samples : 0.0;
    metrics.trainAccuracy = totals.samples > 0 ? totals.correct / totals.samples : 0.0;
    metrics.samplesPerSecond = end.trainSeconds > 0 ? totals.samples / end.trainSeconds : 0.0;
    metrics.iterations = end.iterations;
    metrics.learningRate = end.learningRate;
    if (evaluatesAfterEpoch(config, end.epoch)) {
        const EvaluationResult result = evaluator.evaluate(test);
        metrics.testLoss = result.loss;
        metrics.testAccuracy = result.accuracy;
        metrics.classes = result.classes;
        metrics.confusion = result.confusion;
    }
    metrics.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - end.started).count();
    return metrics;
}

void recordEpoch(RunSummary& summary, const EpochMetrics& metrics) {
    summary.testAccuracy = metrics.testAccuracy;
    summary.testLoss = metrics.testLoss;
    summary.epochs = metrics.epoch;
    summary.iterations = metrics.iterations;
    if (!metrics.confusion.empty()) {
        summary.classes = metrics.classes;
        summary.confusion = metrics.confusion;
    }
}

}  // namespace cohort::train
